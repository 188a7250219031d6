/**
 * `streamqc eval [--suite DIR] [--jobs N] [--real FILE]`: generates the evaluation suite into
 * DIR (or reuses the clips already there), runs every clip through streamqc and through the
 * FFmpeg-only baseline, and prints both tables and the targets check as markdown.
 * Exit status 0 when every target is met, 1 when one is missed.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readEnvironment } from "../config/env.js";
import { StreamqcError } from "../errors.js";
import { runEvaluation } from "../eval/eval-runner.js";
import { defaultSuite, REAL_MEDIA } from "../eval/eval-suite.js";
import { checkTargets, renderReport } from "../eval/report-table.js";
import type { EvalOptions, Io } from "./command-options.js";

function usage(message: string): StreamqcError {
  return new StreamqcError("SQM_ERR_USAGE", `${message} (see streamqc eval --help)`);
}

/** The project root: two levels above this module, in src/cli as in dist/cli. */
const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export async function runEval(values: EvalOptions, io: Io): Promise<number> {
  const { out } = io;
  const jobs = values.jobs === undefined ? 2 : Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64)
    throw usage(`--jobs must be an integer 1..64, got "${values.jobs}"`);
  const dir = resolve(values.suite ?? ".streamqc-eval");
  const realCandidate = values.real ?? resolve(PROJECT_ROOT, REAL_MEDIA);
  let realMedia: string | null = null;
  if (existsSync(realCandidate)) realMedia = realCandidate;
  else if (values.real !== undefined) throw usage(`--real ${values.real} does not exist`);
  else out.write(`note: ${realCandidate} is absent; the real-content clips are skipped\n`);

  const started = Date.now();
  const result = await runEvaluation({
    dir,
    suite: defaultSuite(realMedia),
    realMedia,
    ffmpegPath: readEnvironment().ffmpegPath,
    jobs,
    onProgress: (m) => out.write(`  ${m}\n`),
  });
  out.write(`\n${renderReport(result)}\n`);
  out.write(`${result.runs.length} clips, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  return checkTargets(result).every((c) => c.pass) ? 0 : 1;
}
