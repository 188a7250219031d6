/**
 * Test media for `video.blockiness`: a clean H.264 + AAC MPEG-TS with a fixed GOP, then
 * `corrupt@T:D` windows damaged in the bitstream (see ts-corruptor.ts). Writes the clip and
 * `<out>.truth.json` (the expected incidents). Near misses are the same clip without windows:
 * clean high-detail content and modest-bitrate encodes must give no incident.
 */
import { spawn } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { StreamqcError } from "../errors.js";
import { corruptTransportStream, type CorruptTruth, type CorruptWindow } from "./ts-corruptor.js";

export type CorruptClipContent = "testsrc2" | "mandelbrot" | "noise" | "life";

export interface CorruptClipOptions {
  /** Seconds. Default 10. */
  readonly duration?: number;
  /** Default "1280x720". */
  readonly size?: string;
  /** Default 25. */
  readonly fps?: number;
  /** Seconds between keyframes (fixed GOP, no scene-cut keyframes). Default 2. */
  readonly gop?: number;
  /** Video bitrate, as ffmpeg takes it. Default "3M". */
  readonly bitrate?: string;
  /** Default "testsrc2": moving shapes on flat colours, where damage shows plainly. */
  readonly content?: CorruptClipContent;
  /** Re-encode this file (its first `duration` seconds) instead of a synthetic picture and tone. */
  readonly base?: string;
  readonly corrupt?: readonly CorruptWindow[];
  readonly seed?: number;
  readonly ffmpegPath?: string;
}

export interface ClipTruth {
  readonly incidents: readonly CorruptTruth[];
  /** Keyframe interval of the clean encode, seconds. */
  readonly gop: number;
}

function videoSource(
  content: CorruptClipContent,
  size: string,
  fps: number,
  d: number,
  seed: number,
): string {
  switch (content) {
    case "testsrc2":
      return `testsrc2=s=${size}:r=${fps}:d=${d}`;
    case "mandelbrot":
      return `mandelbrot=s=${size}:r=${fps},trim=duration=${d}`;
    case "life":
      // Seeded: unseeded, its first grid is random, and so was every clip made from it.
      return `life=s=${size}:r=${fps}:mold=10:ratio=0.5:seed=${seed}:death_color=#202020:life_color=#e0e0e0,trim=duration=${d}`;
    case "noise":
      // Fresh noise on a moving pattern: the worst case for a block-edge measure.
      return `testsrc2=s=${size}:r=${fps}:d=${d},noise=alls=40:allf=t+u`;
  }
}

export function runFfmpeg(ffmpegPath: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath, ["-hide_banner", "-loglevel", "error", "-y", ...args], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve();
      else reject(new StreamqcError("SQM_ERR_INPUT_UNREADABLE", `ffmpeg failed (${code}): ${err.trim()}`));
    });
  });
}

/** Parses `corrupt@T:D` items of a defect list; other kinds are left to their own parsers. */
export function parseCorruptWindows(spec: string): CorruptWindow[] {
  const out: CorruptWindow[] = [];
  for (const item of spec.split(",").map((s) => s.trim())) {
    if (!item.startsWith("corrupt@")) continue;
    const m = /^corrupt@(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(item);
    if (!m || !(Number(m[2]) > 0)) {
      throw new StreamqcError(
        "SQM_ERR_DEFECT_SPEC",
        `defect "${item}" is not of the form corrupt@start:duration`,
      );
    }
    out.push({ start: Number(m[1]), duration: Number(m[2]) });
  }
  return out;
}

export async function generateCorruptClip(out: string, opts: CorruptClipOptions = {}): Promise<ClipTruth> {
  const ffmpeg = opts.ffmpegPath ?? "ffmpeg";
  const d = opts.duration ?? 10;
  const fps = opts.fps ?? 25;
  const gop = opts.gop ?? 2;
  const size = opts.size ?? "1280x720";
  const g = String(Math.round(gop * fps));
  const clean = opts.corrupt && opts.corrupt.length > 0 ? `${out}.clean.ts` : out;
  const inputs = opts.base
    ? ["-t", String(d), "-i", opts.base, "-vf", `scale=${size.replace("x", ":")}`, "-r", String(fps)]
    : [
        "-f",
        "lavfi",
        "-i",
        videoSource(opts.content ?? "testsrc2", size, fps, d, opts.seed ?? 1),
        "-f",
        "lavfi",
        "-i",
        `sine=f=440:sample_rate=48000:d=${d}`,
      ];
  await runFfmpeg(ffmpeg, [
    ...inputs,
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-b:v",
    opts.bitrate ?? "3M",
    "-maxrate",
    opts.bitrate ?? "3M",
    "-bufsize",
    opts.bitrate ?? "3M",
    "-g",
    g,
    "-keyint_min",
    g,
    "-sc_threshold",
    "0",
    "-pix_fmt",
    "yuv420p",
    "-c:a",
    "aac",
    "-b:a",
    "96k",
    "-f",
    "mpegts",
    clean,
  ]);
  let incidents: CorruptTruth[] = [];
  if (clean !== out) {
    const res = corruptTransportStream(await readFile(clean), opts.corrupt ?? [], opts.seed ?? 1);
    await writeFile(out, res.data);
    await rm(clean, { force: true });
    incidents = res.truths;
  }
  const truth: ClipTruth = { incidents, gop };
  await writeFile(`${out}.truth.json`, JSON.stringify(truth, null, 2));
  return truth;
}
