/**
 * The import-direction check (beside madge's cycle check, `npm run cycles`): imports run down
 * the data path. Each top-level folder of src/ may import only the folders listed for it
 * below; anything else fails with the offending file and import. A new edge between folders
 * is a design decision: add it here with the reason, or move the shared code down.
 *
 *   errors, incident            the contract every stage shares; import no stage
 *   gen, config                 media generation and configuration
 *   ingest → detect → monitor   the data path: sources, detectors, one stream's monitor
 *   store, alert                where incidents are kept and sent
 *   service, api                the single-process service and its HTTP face (the facade
 *                               types and the API schemas are their shared contract)
 *   eval, demo                  tools over the data path
 *   fleet, bench, cli           the outer layers: nothing below imports them
 *   web                         the browser bundle: the API's types and the incident only
 */
// @ts-expect-error madge ships no type declarations
import madgeUntyped from "madge";

type Madge = (path: string, config: Record<string, unknown>) => Promise<{ obj(): Record<string, string[]> }>;
const madge = madgeUntyped as Madge;

const ALLOWED: Record<string, readonly string[]> = {
  errors: [],
  incident: [],
  gen: ["errors"],
  // config → detect: profiles name detectors and their options; ingest → config: ffmpeg paths.
  config: ["detect", "errors", "incident"],
  ingest: ["config", "errors"],
  detect: ["incident", "ingest"],
  monitor: ["config", "detect", "errors", "incident", "ingest"],
  store: ["errors", "incident"],
  alert: ["config", "errors", "incident", "store"],
  service: ["alert", "api", "config", "errors", "incident", "ingest", "monitor", "store"],
  api: ["detect", "errors", "incident", "service"],
  // eval → detect: the music channel times gain errors on the loudness detector alone.
  eval: ["detect", "errors", "gen", "monitor"],
  demo: ["errors", "gen", "ingest"],
  fleet: ["alert", "api", "config", "demo", "errors", "incident", "ingest", "monitor", "service", "store"],
  bench: ["alert", "cli", "config", "detect", "errors", "gen", "incident", "ingest", "service", "store"],
  cli: [
    "alert",
    "api",
    "bench",
    "config",
    "demo",
    "errors",
    "eval",
    "fleet",
    "gen",
    "incident",
    "ingest",
    "monitor",
    "service",
    "store",
  ],
  web: ["api", "incident"],
};

const folder = (file: string): string =>
  file.includes("/") ? file.slice(0, file.indexOf("/")) : file.replace(/\.tsx?$/, "");

const result = await madge("src", {
  fileExtensions: ["ts", "tsx"],
  tsConfig: "tsconfig.json",
  detectiveOptions: { ts: { skipTypeImports: false }, tsx: { skipTypeImports: false } },
});
const problems: string[] = [];
for (const [file, deps] of Object.entries(result.obj())) {
  const from = folder(file);
  const allowed = ALLOWED[from];
  if (!allowed) {
    problems.push(`${file}: the folder "${from}" has no entry in scripts/import-direction.ts`);
    continue;
  }
  for (const dep of deps) {
    const to = folder(dep);
    if (to !== from && !allowed.includes(to))
      problems.push(`${file} imports ${dep} (${from} → ${to} is not allowed)`);
  }
}
if (problems.length > 0) {
  console.error(`import direction: ${problems.length} import(s) against the data path:`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log(
  `✔ import direction: ${Object.keys(result.obj()).length} files, every import runs down the data path`,
);
