// Bundles the command line into dist/cli after `tsc`: main.js with every module it imports
// statically (zod included) in one file, and each command loaded on demand (serve, eval,
// bench, gen) in its own chunk beside it. Node then starts by reading a handful of files
// instead of about 170 ES modules: measured 0.08-0.1 CPU-s less per `analyze`, the largest
// part of its fixed start-up cost (see BENCHMARKS.md). Chunks stay in dist/cli so that the
// paths they resolve from import.meta.url are those of dist/cli/main.js. Packages other than
// zod (native better-sqlite3, fastify, pino and their plugins) stay external.
import { build } from "esbuild";
import { readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

const out = "dist/cli";
// Plain JavaScript: the JSDoc type is not enforced here, so the parse stays `any`.
// eslint-disable-next-line @typescript-eslint/no-unsafe-assignment
const pkg = /** @type {{ dependencies: Record<string, string> }} */ (
  JSON.parse(readFileSync("package.json", "utf8"))
);
const external = Object.keys(pkg.dependencies)
  .filter((name) => name !== "zod")
  .flatMap((name) => [name, `${name}/*`]);
// Chunks of an earlier build (their names carry a content hash).
for (const f of readdirSync(out)) if (/-[A-Z0-9]{8}\.js$/.test(f)) rmSync(join(out, f));
await build({
  entryPoints: [join(out, "main.js")],
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  outdir: out,
  allowOverwrite: true,
  external,
  sourcemap: true,
  logLevel: "warning",
});
