/**
 * Screenshots of the wall in the states that matter, kept in docs/screenshots and checked for
 * visual regressions: all clear, mixed alarms, the event stream disconnected, the channel
 * page. The service is real (in this process, real SQLite, real HTTP); its streams are
 * configured but stopped and its incidents written through its own store, so every run shows
 * the same thing. Clocks, ages, pictures, meters and plot canvases are masked. A run with
 * STREAMQC_UPDATE_SCREENSHOTS=1 writes new baselines.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningService } from "../../src/cli/serve-command.js";
import { ROOT } from "../helpers/cli.js";
import { startInProcess } from "../service/helpers.js";
import { ensureWebBuild, HAVE_CHROMIUM, launchChromium } from "./browser.js";
import { compareWithBaseline } from "./png-diff.js";

const UPDATE = process.env["STREAMQC_UPDATE_SCREENSHOTS"] === "1";
/** Share of pixels allowed to differ (fonts and anti-aliasing vary between machines). */
const MAX_DIFF_RATIO = 0.03;
const MASKED = [
  "[data-clock]",
  ".pic",
  ".meters",
  ".plot-canvas",
  ".age",
  "time",
  ".since",
  ".when",
  ".timeline svg",
];

const STREAMS = [
  ["news-1", "news"],
  ["news-2", "news"],
  ["sport-1", "sport"],
  ["sport-2", "sport"],
  ["movies-1", "movies"],
  ["kids-1", "kids"],
] as const;

describe.skipIf(!HAVE_CHROMIUM)("the wall's screenshots", () => {
  const dir = mkdtempSync(join(tmpdir(), "streamqc-visual-"));
  let running: RunningService;
  let browser: Browser;
  let page: Page;
  let url = "";

  async function shoot(name: string, fullPage = false): Promise<void> {
    // Two frames after the last change: the batched render has landed.
    await page.evaluate(
      () =>
        new Promise<void>((r) => {
          const g = globalThis as unknown as { requestAnimationFrame(cb: () => void): void };
          g.requestAnimationFrame(() => g.requestAnimationFrame(r));
        }),
    );
    const png = await page.screenshot({
      fullPage,
      animations: "disabled",
      mask: MASKED.map((s) => page.locator(s)),
      maskColor: "#444a55",
    });
    const baseline = join(ROOT, "docs/screenshots", `${name}.png`);
    const r = compareWithBaseline(png, baseline, UPDATE);
    console.log(r.created ? `wrote ${baseline}` : `${name}: ${(r.ratio * 100).toFixed(3)}% of pixels differ`);
    expect(
      r.ratio,
      `${name}: ${(r.ratio * 100).toFixed(2)}% of pixels differ (diff: ${r.diffFile})`,
    ).toBeLessThanOrEqual(MAX_DIFF_RATIO);
  }

  beforeAll(async () => {
    ensureWebBuild();
    running = await startInProcess({
      dataDir: join(dir, "data"),
      streams: STREAMS.map(([name, team]) => ({
        name,
        url: "udp://127.0.0.1:9",
        profile: "default",
        labels: { team },
        enabled: false,
      })),
    });
    url = running.url;
    browser = await launchChromium();
    const context = await browser.newContext({
      viewport: { width: 1280, height: 720 },
      deviceScaleFactor: 1,
      reducedMotion: "reduce",
      timezoneId: "UTC",
      locale: "en-GB",
    });
    page = await context.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await running?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function openWall(): Promise<void> {
    // A new document each time (a hash change alone would not load anything again).
    await page.goto("about:blank");
    await page.goto(`${url}/#/`);
    await page.waitForSelector('[data-connection="live"]', { timeout: 30_000 });
    await page
      .locator("[data-stream]")
      .nth(STREAMS.length - 1)
      .waitFor({ timeout: 30_000 });
  }

  it("all clear", async () => {
    await openWall();
    expect(await page.locator("[data-alarm]").count()).toBe(0);
    await shoot("wall-all-clear");
  });

  it("mixed alarms", async () => {
    const streams = await running.store.listStreams();
    const id = (name: string): string => streams.find((s) => s.name === name)!.id;
    const ago = (s: number): string => new Date(Date.now() - s * 1000).toISOString();
    const seed: [string, string, "critical" | "major" | "minor" | "info"][] = [
      ["news-2", "stream.down", "critical"],
      ["sport-1", "video.freeze", "major"],
      ["sport-1", "audio.silence", "major"],
      ["movies-1", "audio.loudness", "minor"],
      ["kids-1", "hls.stale-playlist", "minor"],
    ];
    for (const [name, type, severity] of seed) {
      await running.store.recordIncident(
        { streamId: id(name), type, severity, start: 10, startedAt: ago(120) },
        [],
      );
    }
    await openWall();
    await page.locator('[data-stream="sport-1"] [data-alarm="audio.silence"]').waitFor();
    // Worst first: the critical stream leads.
    expect(await page.locator("[data-stream]").first().getAttribute("data-stream")).toBe("news-2");
    expect(await page.locator('[data-severity="major"] b').textContent()).toBe("2");
    await shoot("wall-mixed-alarms");
  });

  it("channel page", async () => {
    const streams = await running.store.listStreams();
    await page.goto("about:blank");
    await page.goto(`${url}/#/channel/${streams.find((s) => s.name === "sport-1")!.id}`);
    await page.waitForSelector('[data-connection="live"]', { timeout: 30_000 });
    await page.locator('[data-timeline-rows="2"]').waitFor({ timeout: 15_000 });
    await shoot("channel-page", true);
  });

  it("disconnected", async () => {
    await openWall();
    await running.close();
    await page.waitForSelector('[data-connection="disconnected"]', { timeout: 15_000 });
    await shoot("wall-disconnected");
  });
});
