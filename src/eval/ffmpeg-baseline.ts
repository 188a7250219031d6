/**
 * The FFmpeg-only baseline: ONE ffmpeg per clip running only FFmpeg's own filters, their log
 * lines and metadata parsed into incidents of our types. What each type uses:
 *
 * - video.freeze: `freezedetect=n=0.003:d=2` (FFmpeg's documented defaults, -50 dB noise).
 * - video.black: `blackdetect=d=2:pix_th=0.1` (pic_th stays at its default 0.98).
 * - audio.silence: `silencedetect=n=-60dB:d=2`.
 * - audio.loudness: `ebur128`'s momentary loudness (400 ms blocks every 100 ms, its per-frame
 *   log), gated (BS.1770: -70 LUFS absolute, -10 LU relative) over the sliding 30 s window our
 *   detector uses by default; out of -23 ± 1 LUFS opens, back within 0.8 LU closes, judged
 *   after 3 s of audio, as our defaults.
 * - audio.clipping: `astats` per audio frame (1024 samples): a frame whose Peak_level reaches
 *   0.999 of full scale is clipped; clipped frames within 0.25 s form an episode, reported
 *   when it spans 0.5 s (our detector's hold and minimum). astats has no run length, so a
 *   single full-scale sample counts.
 * - video.blockiness: `blockdetect` (defaults) per frame. Its value is dominated by content
 *   (testsrc2 scores 13 clean, Big Buck Bunny 2 to 15), so an absolute threshold is
 *   meaningless: a frame is blocky when its value exceeds 1.25 x the median of the previous
 *   2 s; 2 such frames in a row open, the first frame back under closes.
 * - av.sync, stream.gap, ts.*, hls.*: FFmpeg has no filter for them ("n/a").
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StreamqcError } from "../errors.js";
import type { Interval } from "./match-scorer.js";

/** The types the baseline can judge; every other scored type is "n/a". */
export const BASELINE_TYPES = [
  "video.freeze",
  "video.black",
  "video.blockiness",
  "audio.silence",
  "audio.clipping",
  "audio.loudness",
] as const;

export const BASELINE_SETTINGS = {
  loudness: { target: -23, tolerance: 1, hysteresis: 0.2, windowSeconds: 30, minSeconds: 3 },
  clipping: { level: 0.999, holdSeconds: 0.25, minDuration: 0.5 },
  blockiness: { ratio: 1.25, historySeconds: 2, minFrames: 2 },
} as const;

/** The filter graph; the two metadata files are written by `metadata=mode=print`. */
export function baselineArguments(input: string, blockFile: string, peakFile: string): string[] {
  const video =
    `[0:v]freezedetect=n=0.003:d=2,blackdetect=d=2:pix_th=0.1,blockdetect,` +
    `metadata=mode=print:key=lavfi.block:file=${blockFile}[vo]`;
  const audio =
    `[0:a]silencedetect=n=-60dB:d=2,ebur128=framelog=info,` +
    `astats=metadata=1:reset=1:measure_perchannel=none:measure_overall=Peak_level,` +
    `ametadata=mode=print:key=lavfi.astats.Overall.Peak_level:file=${peakFile}[ao]`;
  return [
    "-hide_banner",
    "-nostdin",
    "-nostats",
    "-loglevel",
    "info",
    "-i",
    input,
    "-filter_complex",
    `${video};${audio}`,
    "-map",
    "[vo]",
    "-map",
    "[ao]",
    "-f",
    "null",
    "-",
  ];
}

function runCollect(ffmpegPath: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // stdout unused (null muxer); stderr: the filters' log lines, kept whole for parsing.
    const child = spawn(ffmpegPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    const chunks: Buffer[] = [];
    child.stderr.on("data", (c: Buffer) => chunks.push(c));
    child.on("error", (err: NodeJS.ErrnoException) =>
      reject(
        new StreamqcError(
          err.code === "ENOENT" ? "SQM_ERR_FFMPEG_MISSING" : "SQM_ERR_EVAL_FAILED",
          `baseline ffmpeg could not start: ${err.message}`,
          { cause: err },
        ),
      ),
    );
    child.on("close", (code, signal) => {
      const text = Buffer.concat(chunks).toString("utf8");
      if (code === 0) resolve(text);
      else {
        const tail = text.trim().split("\n").slice(-3).join(" | ");
        reject(
          new StreamqcError("SQM_ERR_EVAL_FAILED", `baseline ffmpeg exited with ${signal ?? code}: ${tail}`),
        );
      }
    });
  });
}

const NUM = "(-?\\d+(?:\\.\\d+)?(?:e-?\\d+)?)";

/** Start/end pairs from lines like `freeze_start: 3.04` ... `freeze_end: 6`. */
function pairs(log: string, startKey: string, endKey: string, type: string, mediaEnd: number): Interval[] {
  const re = new RegExp(`(${startKey}|${endKey})[:=]\\s*${NUM}`, "g");
  const out: Interval[] = [];
  let open: number | null = null;
  for (const m of log.matchAll(re)) {
    const v = Number(m[2]);
    if (m[1] === startKey) open = v;
    else if (open !== null) {
      out.push({ type, start: open, end: v });
      open = null;
    }
  }
  // A defect lasting to the end of the input is logged without its end.
  if (open !== null) out.push({ type, start: open, end: Math.max(open, mediaEnd) });
  return out;
}

/** `frame:N pts:P pts_time:T` followed by `key=value`, as metadata=mode=print writes them. */
export function parseMetadataPrint(text: string, key: string): { t: number; v: number }[] {
  const out: { t: number; v: number }[] = [];
  let t = NaN;
  for (const line of text.split("\n")) {
    const time = /pts_time:\s*(\S+)/.exec(line);
    if (time) {
      t = Number(time[1]);
      continue;
    }
    if (line.startsWith(`${key}=`)) out.push({ t, v: Number(line.slice(key.length + 1)) });
  }
  return out;
}

/** ebur128's per-100 ms lines: `t: 1.2 TARGET:-23 LUFS M: -21.6 S: ...`. */
export function parseMomentary(log: string): { t: number; m: number }[] {
  const out: { t: number; m: number }[] = [];
  const re = new RegExp(`\\bt:\\s*${NUM}\\s+TARGET:\\S+\\s+LUFS\\s+M:\\s*${NUM}`, "g");
  for (const m of log.matchAll(re)) out.push({ t: Number(m[1]), m: Number(m[2]) });
  return out;
}

/** Gated loudness (BS.1770-4 §2.8) of 400 ms block loudnesses. */
function gated(blocks: readonly number[]): number {
  let sum = 0;
  let n = 0;
  for (const l of blocks) {
    if (l > -70) {
      sum += 10 ** ((l + 0.691) / 10);
      n++;
    }
  }
  if (n === 0) return -Infinity;
  const relative = -0.691 + 10 * Math.log10(sum / n) - 10;
  sum = 0;
  n = 0;
  for (const l of blocks) {
    if (l > -70 && l > relative) {
      sum += 10 ** ((l + 0.691) / 10);
      n++;
    }
  }
  return n === 0 ? -Infinity : -0.691 + 10 * Math.log10(sum / n);
}

export function loudnessIncidents(steps: readonly { t: number; m: number }[], mediaEnd: number): Interval[] {
  const { target, tolerance, hysteresis, windowSeconds, minSeconds } = BASELINE_SETTINGS.loudness;
  const out: Interval[] = [];
  let open: number | null = null;
  const first = steps[0]?.t ?? 0;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    if (step.t - first + 0.1 < minSeconds) continue;
    const from = step.t - windowSeconds;
    const blocks: number[] = [];
    for (let j = i; j >= 0 && steps[j]!.t > from; j--) blocks.push(steps[j]!.m);
    const lufs = gated(blocks);
    // All silence is not judged: that is audio.silence's business, as in our detector.
    if (!Number.isFinite(lufs)) continue;
    const dev = Math.abs(lufs - target);
    if (open === null && dev > tolerance) open = step.t;
    else if (open !== null && dev <= tolerance - hysteresis) {
      out.push({ type: "audio.loudness", start: open, end: step.t });
      open = null;
    }
  }
  if (open !== null) out.push({ type: "audio.loudness", start: open, end: Math.max(open, mediaEnd) });
  return out;
}

export function clippingIncidents(
  frames: readonly { t: number; v: number }[],
  frameSeconds: number,
): Interval[] {
  const { level, holdSeconds, minDuration } = BASELINE_SETTINGS.clipping;
  const threshold = 20 * Math.log10(level);
  const out: Interval[] = [];
  let start: number | null = null;
  let last = 0;
  const close = (): void => {
    if (start !== null && last - start >= minDuration) out.push({ type: "audio.clipping", start, end: last });
    start = null;
  };
  for (const f of frames) {
    if (!(f.v >= threshold)) continue;
    if (start !== null && f.t - last > holdSeconds) close();
    if (start === null) start = f.t;
    last = f.t + frameSeconds;
  }
  close();
  return out;
}

export function blockinessIncidents(frames: readonly { t: number; v: number }[]): Interval[] {
  const { ratio, historySeconds, minFrames } = BASELINE_SETTINGS.blockiness;
  const out: Interval[] = [];
  let run = 0;
  let runStart = 0;
  let open = false;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!;
    const history: number[] = [];
    for (let j = i - 1; j >= 0 && frames[j]!.t >= f.t - historySeconds; j--) history.push(frames[j]!.v);
    if (history.length < 5) continue;
    history.sort((a, b) => a - b);
    const median = history[history.length >> 1]!;
    if (f.v > ratio * median) {
      if (run === 0) runStart = f.t;
      run++;
      if (run >= minFrames && !open) open = true;
    } else {
      if (open) out.push({ type: "video.blockiness", start: runStart, end: f.t });
      open = false;
      run = 0;
    }
  }
  if (open)
    out.push({ type: "video.blockiness", start: runStart, end: frames[frames.length - 1]?.t ?? runStart });
  return out;
}

export interface BaselineResult {
  readonly detections: Interval[];
  readonly mediaEnd: number;
}

/** Runs the baseline on one file: one ffmpeg, all filters at once. */
export async function runBaseline(input: string, ffmpegPath = "ffmpeg"): Promise<BaselineResult> {
  const dir = await mkdtemp(join(tmpdir(), "streamqc-baseline-"));
  try {
    const blockFile = join(dir, "block.txt");
    const peakFile = join(dir, "peak.txt");
    const log = await runCollect(ffmpegPath, baselineArguments(input, blockFile, peakFile));
    const blocks = parseMetadataPrint(await readFile(blockFile, "utf8"), "lavfi.block");
    const peaks = parseMetadataPrint(await readFile(peakFile, "utf8"), "lavfi.astats.Overall.Peak_level");
    const steps = parseMomentary(log);
    const mediaEnd = Math.max(blocks.at(-1)?.t ?? 0, peaks.at(-1)?.t ?? 0, steps.at(-1)?.t ?? 0);
    // Audio frames are 1024 samples at the input rate; the gap between prints measures it.
    const frameSeconds = peaks.length > 1 ? peaks[1]!.t - peaks[0]!.t : 1024 / 48_000;
    const detections = [
      ...pairs(log, "freeze_start", "freeze_end", "video.freeze", mediaEnd),
      ...pairs(log, "black_start", "black_end", "video.black", mediaEnd),
      ...pairs(log, "silence_start", "silence_end", "audio.silence", mediaEnd),
      ...loudnessIncidents(steps, mediaEnd),
      ...clippingIncidents(peaks, frameSeconds),
      ...blockinessIncidents(blocks),
    ].sort((a, b) => a.start - b.start);
    return { detections, mediaEnd };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
