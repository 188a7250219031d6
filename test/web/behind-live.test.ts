/**
 * An overloaded monitor must say so: a live channel whose decoder cannot keep up (here: its
 * real ffmpeg stopped with SIGSTOP) shows "BEHIND LIVE" on its tile and how far behind on its
 * page, and both clear when it has caught up. Real service in this process, real UDP
 * publisher, real Chromium.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningService } from "../../src/cli/serve-command.js";
import { freeUdpPorts, udpLoopArgs } from "../../src/demo/loopback.js";
import { makeClip, waitFor } from "../helpers/media.js";
import { startInProcess } from "../service/helpers.js";
import { ensureWebBuild, HAVE_CHROMIUM, launchChromium } from "./browser.js";

describe.skipIf(!HAVE_CHROMIUM)("a channel whose monitoring falls behind live, in Chromium", () => {
  const dir = mkdtempSync(join(tmpdir(), "streamqc-behind-"));
  let running: RunningService;
  let browser: Browser;
  let page: Page;
  let sender: ChildProcess | null = null;

  beforeAll(async () => {
    ensureWebBuild();
    const clip = makeClip(join(dir, "c.ts"), { duration: 4 });
    const port = (await freeUdpPorts(1))[0]!;
    sender = spawn("ffmpeg", ["-hide_banner", "-loglevel", "error", ...udpLoopArgs(clip, port)], {
      stdio: "ignore",
    });
    running = await startInProcess({
      dataDir: join(dir, "data"),
      // The pause below must not look like a stalled decoder to the watchdog.
      stallTimeoutMs: 60_000,
      streams: [
        { name: "slow-1", url: `udp://127.0.0.1:${port}`, profile: "default", labels: {}, enabled: true },
      ],
    });
    browser = await launchChromium();
    page = await (await browser.newContext({ reducedMotion: "reduce" })).newPage();
  }, 60_000);

  afterAll(async () => {
    sender?.kill("SIGKILL");
    await browser?.close();
    await running?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("shows BEHIND LIVE on the tile and the delay on the channel page, then clears both", async () => {
    const stream = (await running.store.listStreams())[0]!;
    const runner = running.service.runner(stream.id)!;
    await waitFor(() => runner.state().mediaTime > 3, 20_000, "3 s of media");
    await page.goto(`${running.url}/#/channel/${encodeURIComponent(runner.id)}`);
    const fact = page.locator('[data-fact="behind-live"]');
    await expect.poll(() => fact.textContent(), { timeout: 10_000 }).toBe("keeping up");

    const pid = runner.decoderPidNow!;
    process.kill(pid, "SIGSTOP");
    try {
      await expect
        .poll(() => fact.textContent(), { timeout: 20_000, interval: 250 })
        .toMatch(/^1\d s behind: this monitor cannot decode its streams in real time/);
      await page.goto(`${running.url}/#/`);
      const badge = page.locator('[data-stream="slow-1"] [data-behind-live]');
      await badge.waitFor({ timeout: 10_000 });
      expect(await badge.textContent()).toMatch(/^BEHIND LIVE \d+ s$/);
    } finally {
      process.kill(pid, "SIGCONT");
    }
    // The bytes waited in the service; the decoder reads them and catches up.
    await page
      .locator('[data-stream="slow-1"] [data-behind-live]')
      .waitFor({ state: "detached", timeout: 20_000 });
    await page.goto(`${running.url}/#/channel/${encodeURIComponent(runner.id)}`);
    await expect.poll(() => fact.textContent(), { timeout: 10_000 }).toBe("keeping up");
  }, 90_000);
});
