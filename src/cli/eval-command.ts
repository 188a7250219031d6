/**
 * `streamqc eval [--suite DIR] [--jobs N] [--real FILE] [--part all|synthetic|real-lossy]
 * [--false-alarms] [--minutes M]`: generates the evaluation suite into DIR (or reuses the clips
 * already there), runs every clip through streamqc and through the FFmpeg-only baseline, and
 * prints the tables and the targets check as markdown: the synthetic part, then the
 * real-content lossy part's held-out half and its tune half. With `--false-alarms` it instead
 * loops clean real content through `analyze` and prints incidents per hour by type.
 * Exit status 0 when every target is met (synthetic part and held-out half), 1 when one is missed.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { readEnvironment } from "../config/env.js";
import { StreamqcError } from "../errors.js";
import { runEvaluation } from "../eval/eval-runner.js";
import { defaultSuite, realLossyClips, REAL_MEDIA, type ClipSpec } from "../eval/eval-suite.js";
import { renderFalseAlarms, runFalseAlarms } from "../eval/false-alarm-runner.js";
import { checkTargets, judgedParts, renderReport } from "../eval/report-table.js";

export const EVAL_USAGE = `usage: streamqc eval [--suite DIR] [--jobs N] [--real FILE] [--part all|synthetic|real-lossy]
       streamqc eval --false-alarms [--minutes M] [--suite DIR] [--jobs N] [--real FILE]

  --suite DIR      where the clips and their truths are generated and cached (default .streamqc-eval)
  --jobs N         clips worked on at once (default 2)
  --real FILE      the real recording used as a clean clip, as a base for defects and for the
                   real-content lossy part (default ${REAL_MEDIA} from the project root;
                   the real-content clips are skipped when absent)
  --part P         all (default), synthetic (the generated suite) or real-lossy (real content
                   re-encoded as broadcast, scored per half: held-out, then tune)
  --false-alarms   loop clean real content through analyze and report incidents per hour by type
  --minutes M      minutes of clean content for --false-alarms, over 5 encodes (default 10)
`;

function usage(message: string): StreamqcError {
  return new StreamqcError("SQM_ERR_USAGE", `${message}\n${EVAL_USAGE}`);
}

/** The project root: two levels above this module, in src/cli as in dist/cli. */
const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));

const PARTS = ["all", "synthetic", "real-lossy"] as const;

export async function runEval(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        suite: { type: "string" },
        jobs: { type: "string" },
        real: { type: "string" },
        part: { type: "string" },
        "false-alarms": { type: "boolean" },
        minutes: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    throw usage(err instanceof Error ? err.message : String(err));
  }
  const { values } = parsed;
  if (values.help === true) {
    out.write(EVAL_USAGE);
    return 0;
  }
  const jobs = values.jobs === undefined ? 2 : Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64)
    throw usage(`--jobs must be an integer 1..64, got "${values.jobs}"`);
  const part = values.part ?? "all";
  if (!(PARTS as readonly string[]).includes(part))
    throw usage(`--part must be one of ${PARTS.join(", ")}, got "${part}"`);
  const minutes = values.minutes === undefined ? 10 : Number(values.minutes);
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 600)
    throw usage(`--minutes must be a number of minutes in (0, 600], got "${values.minutes}"`);
  if (values.minutes !== undefined && values["false-alarms"] !== true)
    throw usage("--minutes goes with --false-alarms");
  const dir = resolve(values.suite ?? ".streamqc-eval");
  const realCandidate = values.real ?? resolve(PROJECT_ROOT, REAL_MEDIA);
  let realMedia: string | null = null;
  if (existsSync(realCandidate)) realMedia = realCandidate;
  else if (values.real !== undefined) throw usage(`--real ${values.real} does not exist`);
  else out.write(`note: ${realCandidate} is absent; the real-content clips are skipped\n`);

  const ffmpegPath = readEnvironment().ffmpegPath;
  const started = Date.now();
  const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(0)} s`;
  if (values["false-alarms"] === true) {
    if (realMedia === null) throw usage("--false-alarms needs the real recording (--real FILE)");
    const r = await runFalseAlarms({
      dir,
      realMedia,
      ffmpegPath,
      minutes,
      jobs,
      onProgress: (m) => out.write(`  ${m}\n`),
    });
    out.write(`\n${renderFalseAlarms(r)}\n${r.clips.length} programmes, ${elapsed()}\n`);
    return 0;
  }

  const suite: ClipSpec[] = [
    ...(part === "real-lossy" ? [] : defaultSuite(realMedia)),
    ...(part === "synthetic" || realMedia === null ? [] : realLossyClips()),
  ];
  const result = await runEvaluation({
    dir,
    suite,
    realMedia,
    ffmpegPath,
    jobs,
    onProgress: (m) => out.write(`  ${m}\n`),
  });
  out.write(`\n${renderReport(result)}\n`);
  out.write(`${result.runs.length} clips, ${elapsed()}\n`);
  return judgedParts(result).every((p) => checkTargets(p).every((c) => c.pass)) ? 0 : 1;
}
