// Bundles the dashboard (src/web, Preact + signals + uPlot, TSX) into dist/web: index.html,
// one JS and one CSS file under assets/, their names carrying a content hash so they can be
// cached for good while index.html is always revalidated. Everything is local: monitoring
// networks are often closed, so no CDN. Prints the page weight (gzip) that the bench checks.
import { build } from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import process, { stderr } from "node:process";
import { gzipSync } from "node:zlib";

const out = "dist/web";
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });
const result = await build({
  entryPoints: { app: "src/web/main.tsx" },
  bundle: true,
  format: "esm",
  // Browsers of the last few years (dialog, :focus-visible, aspect-ratio, ResizeObserver).
  target: ["chrome109", "firefox115", "safari16"],
  jsx: "automatic",
  jsxImportSource: "preact",
  // WEB_NOMINIFY=1 keeps names readable for profiling (scripts/wall-bench.ts with WALL_PROFILE=1).
  minify: process.env.WEB_NOMINIFY !== "1",
  outdir: join(out, "assets"),
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  metafile: true,
  legalComments: "linked",
  logLevel: "warning",
});
const files = Object.keys(result.metafile.outputs).map((f) => basename(f));
const js = files.find((f) => f.endsWith(".js"));
const css = files.find((f) => f.endsWith(".css"));
if (!js || !css) throw new Error(`dashboard bundle incomplete: ${files.join(", ")}`);
const html = readFileSync("src/web/index.html", "utf8").replace("%JS%", js).replace("%CSS%", css);
writeFileSync(join(out, "index.html"), html);
const gz = (/** @type {string} */ f) => gzipSync(readFileSync(join(out, "assets", f)), { level: 9 }).length;
const weight = { js: gz(js), css: gz(css) };
writeFileSync(join(out, "weight.json"), JSON.stringify({ ...weight, total: weight.js + weight.css }) + "\n");
stderr.write(
  `dashboard: ${js} ${(weight.js / 1024).toFixed(1)} KiB + ${css} ${(weight.css / 1024).toFixed(1)} KiB gzip\n`,
);
