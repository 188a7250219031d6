/**
 * Debian's Chromium through playwright-core (never a downloaded browser): headless, no
 * network side channels, a fresh profile per launch (playwright makes a temporary
 * --user-data-dir for every launch and removes it on close). Plus the dashboard build that the
 * service serves, made here when it is missing or older than its sources.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { ROOT } from "../helpers/cli.js";

export const CHROMIUM = process.env["STREAMQC_CHROMIUM"] ?? "/usr/bin/chromium";
export const HAVE_CHROMIUM = existsSync(CHROMIUM);

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // Timers and frames of a page in a background tab would be throttled: every page here is watched.
  "--disable-background-timer-throttling",
  "--disable-renderer-backgrounding",
  "--disable-backgrounding-occluded-windows",
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds dist/web (scripts/bundle-web.mjs) when it is missing or older than src/web. */
export function ensureWebBuild(): void {
  const index = join(ROOT, "dist/web/index.html");
  if (existsSync(index) && statSync(index).mtimeMs >= newestMtime(join(ROOT, "src/web"))) return;
  execFileSync(process.execPath, ["scripts/bundle-web.mjs"], { cwd: ROOT, stdio: "ignore" });
}

let axeSource: string | null = null;

export interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: readonly { readonly target: readonly string[]; readonly failureSummary?: string }[];
}

/**
 * Runs axe-core (the package's own browser build, evaluated in the page: evaluation is not
 * subject to the page's CSP) and answers the serious and critical violations.
 */
export async function axeSerious(page: Page, include?: string): Promise<AxeViolation[]> {
  axeSource ??= readFileSync(join(ROOT, "node_modules/axe-core/axe.min.js"), "utf8");
  const loaded = await page.evaluate(() => typeof (globalThis as { axe?: unknown }).axe !== "undefined");
  if (!loaded) await page.evaluate(`${axeSource};void 0`);
  const violations = await page.evaluate(async (context) => {
    const g = globalThis as unknown as {
      axe: { run: (c: unknown, o: unknown) => Promise<{ violations: AxeViolation[] }> };
      document: unknown;
    };
    const r = await g.axe.run(context ?? g.document, { resultTypes: ["violations"] });
    return r.violations;
  }, include ?? null);
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

export function describeViolations(vs: readonly AxeViolation[]): string {
  return vs
    .map(
      (v) =>
        `${v.impact ?? ""} ${v.id}: ${v.help}\n  ${v.nodes.map((n) => `${n.target.join(" ")} ${n.failureSummary ?? ""}`).join("\n  ")}`,
    )
    .join("\n");
}
