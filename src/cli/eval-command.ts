/**
 * `streamqc eval [--suite DIR] [--jobs N] [--real FILE] [--part all|synthetic|real-lossy]
 * [--false-alarms] [--minutes M]`: generates the evaluation suite into DIR (or reuses the clips
 * already there), runs every clip through streamqc and through the FFmpeg-only baseline, and
 * prints the tables and the targets check as markdown: the synthetic part, then the
 * real-content lossy part's held-out half and its tune half. With `--false-alarms` it instead
 * loops clean real content through `analyze` and prints incidents per hour by type; with
 * `--music` it plays real music as a channel an hour and a half long per half (held-out, then
 * tune) and prints incidents per hour and how soon gain errors are reported.
 * Exit status 0 when every target is met (synthetic part and held-out half), 1 when one is missed.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readEnvironment } from "../config/env.js";
import { StreamqcError } from "../errors.js";
import type { DecodeChoice } from "../ingest/decode-policy.js";
import { runEvaluation } from "../eval/eval-runner.js";
import { defaultSuite, realLossyClips, REAL_MEDIA, type ClipSpec } from "../eval/eval-suite.js";
import { renderFalseAlarms, runFalseAlarms } from "../eval/false-alarm-runner.js";
import { EXTRA_MEDIA_HINT, findExtraMedia } from "../eval/extra-media.js";
import { findMusic, MUSIC_DIR, renderMusic, runMusicChannel } from "../eval/music-channel.js";
import { checkTargets, judgedParts, renderReport } from "../eval/report-table.js";
import type { EvalOptions, Io } from "./command-options.js";

function usage(message: string): StreamqcError {
  return new StreamqcError("SQM_ERR_USAGE", `${message} (see streamqc eval --help)`);
}

/** The project root: two levels above this module, in src/cli as in dist/cli. */
const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));

const PARTS = ["all", "synthetic", "real-lossy"] as const;

export async function runEval(values: EvalOptions, io: Io): Promise<number> {
  const { out } = io;
  const falseAlarms = values.falseAlarms === true;
  const jobs = values.jobs === undefined ? 2 : Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64)
    throw usage(`--jobs must be an integer 1..64, got "${values.jobs}"`);
  const mode = values.mode ?? "full";
  if (mode !== "full" && mode !== "light") throw usage(`--mode must be full or light, got "${mode}"`);
  // commander has checked --decode against DECODE_CHOICES.
  const decodePolicy = values.decode as DecodeChoice | undefined;
  // The report says "default profile"; a chosen decode policy is said here, at the top.
  if (decodePolicy !== undefined && decodePolicy !== "auto")
    out.write(`note: full decoding with --decode ${decodePolicy} for every clip\n`);
  const detectors = values.avSyncNatural === true ? { "av.sync": { naturalContent: true } } : undefined;
  if (detectors) out.write("note: av.sync's natural-content correlation is on for every clip\n");
  const part = values.part ?? "all";
  if (!(PARTS as readonly string[]).includes(part))
    throw usage(`--part must be one of ${PARTS.join(", ")}, got "${part}"`);
  const minutes = values.minutes === undefined ? 10 : Number(values.minutes);
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 600)
    throw usage(`--minutes must be a number of minutes in (0, 600], got "${values.minutes}"`);
  if (values.minutes !== undefined && !falseAlarms) throw usage("--minutes goes with --false-alarms");
  const dir = resolve(values.suite ?? ".streamqc-eval");
  const realCandidate = values.real ?? resolve(PROJECT_ROOT, REAL_MEDIA);
  let realMedia: string | null = null;
  if (existsSync(realCandidate)) realMedia = realCandidate;
  else if (values.real !== undefined) throw usage(`--real ${values.real} does not exist`);
  else out.write(`note: ${realCandidate} is absent; the real-content clips are skipped\n`);

  const extraMedia = findExtraMedia(PROJECT_ROOT);
  if (extraMedia === null && part !== "synthetic")
    out.write(
      `note: the camera, music and trailer recordings are absent (${EXTRA_MEDIA_HINT}); their clips are skipped\n`,
    );

  const { ffmpegPath, ffprobePath } = readEnvironment();
  const started = Date.now();
  const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(0)} s`;
  if (values.music === true) {
    if (falseAlarms) throw usage("--music and --false-alarms are separate runs");
    const files = findMusic(PROJECT_ROOT);
    if (files === null) throw usage(`--music needs the pieces in ${MUSIC_DIR} (run scripts/real-media.sh)`);
    const r = await runMusicChannel({
      dir,
      files,
      ffmpegPath,
      ffprobePath,
      jobs,
      onProgress: (m) => out.write(`  ${m}\n`),
    });
    out.write(`\n${renderMusic(r)}\n${elapsed()}\n`);
    return 0;
  }
  if (falseAlarms) {
    if (realMedia === null) throw usage("--false-alarms needs the real recording (--real FILE)");
    const r = await runFalseAlarms({
      dir,
      realMedia,
      extraMedia,
      ffmpegPath,
      minutes,
      jobs,
      ...(decodePolicy ? { decodePolicy } : {}),
      ...(detectors ? { detectors } : {}),
      onProgress: (m) => out.write(`  ${m}\n`),
    });
    out.write(`\n${renderFalseAlarms(r)}\n${r.clips.length} programmes, ${elapsed()}\n`);
    return 0;
  }

  const suite: ClipSpec[] = [
    ...(part === "real-lossy" ? [] : defaultSuite(realMedia)),
    ...(part === "synthetic" || realMedia === null ? [] : realLossyClips(["bbb"])),
    ...(part === "synthetic" || extraMedia === null ? [] : realLossyClips(["camera"])),
  ];
  const result = await runEvaluation({
    dir,
    suite,
    realMedia,
    extraMedia,
    ffmpegPath,
    jobs,
    mode,
    ...(decodePolicy ? { decodePolicy } : {}),
    ...(detectors ? { detectors } : {}),
    onProgress: (m) => out.write(`  ${m}\n`),
  });
  out.write(`\n${renderReport(result)}\n`);
  out.write(`${result.runs.length} clips, ${elapsed()}\n`);
  // The synthetic part and the held-out half must meet every target; the tune half is shown.
  return judgedParts(result).every((p) => checkTargets(p).every((c) => c.pass)) ? 0 : 1;
}
