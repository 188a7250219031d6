/**
 * Test media for `av.sync`: the `sync` pattern, white flashes with 1 kHz beeps at irregular
 * times (so that no wrong lag lines up many pairs), with a clip-wide audio offset and
 * `avoffset@T:D:MS` windows. Offsets follow the incident schema: positive when audio lags
 * video (the beep comes after its flash). Flashes start on frame boundaries; beeps start at
 * the exact sample of flash time + offset. Also the near miss with no usable events: a steady
 * tone over a static or smoothly moving picture.
 */
import { rm, writeFile } from "node:fs/promises";
import { StreamqcError } from "../errors.js";
import { runFfmpeg } from "./corrupt-clip.js";
import { seededRandom } from "./ts-corruptor.js";

export interface AvOffsetWindow {
  /** Seconds: flashes in [start, start + duration) get this offset instead of the clip's. */
  readonly start: number;
  readonly duration: number;
  readonly offsetMs: number;
}

export interface SyncClipOptions {
  /** Seconds. Default 20. */
  readonly duration?: number;
  /** Default 25. */
  readonly fps?: number;
  /** Default "640x360". */
  readonly size?: string;
  /** Audio offset of the whole clip, ms, positive when audio lags. Default 0. */
  readonly offsetMs?: number;
  readonly windows?: readonly AvOffsetWindow[];
  readonly seed?: number;
  readonly ffmpegPath?: string;
}

export interface SyncEvent {
  /** Seconds of the first flash frame. */
  readonly flash: number;
  /** Seconds of the beep's first sample. */
  readonly beep: number;
  readonly offsetMs: number;
}

export interface SyncTruth {
  readonly events: readonly SyncEvent[];
  /** av.sync incidents expected with the default tolerance (BT.1359: -45..+125 ms). */
  readonly incidents: readonly { type: "av.sync"; start: number; end: number; offsetMs: number }[];
}

const SAMPLE_RATE = 48_000;
const BEEP_SECONDS = 0.1;

export function parseAvOffsetWindows(spec: string): AvOffsetWindow[] {
  const out: AvOffsetWindow[] = [];
  for (const item of spec.split(",").map((s) => s.trim())) {
    if (!item.startsWith("avoffset@")) continue;
    const m = /^avoffset@(\d+(?:\.\d+)?):(\d+(?:\.\d+)?):(-?\d+(?:\.\d+)?)$/.exec(item);
    if (!m || !(Number(m[2]) > 0)) {
      throw new StreamqcError(
        "SQM_ERR_DEFECT_SPEC",
        `defect "${item}" is not of the form avoffset@start:duration:offsetMs`,
      );
    }
    out.push({ start: Number(m[1]), duration: Number(m[2]), offsetMs: Number(m[3]) });
  }
  return out;
}

/** Flash frames at irregular intervals of 0.6 to 1.5 s, each 1 to 4 frames long. */
export function syncEvents(opts: SyncClipOptions = {}): { events: SyncEvent[]; flashFrames: number[][] } {
  const d = opts.duration ?? 20;
  const fps = opts.fps ?? 25;
  const rand = seededRandom(opts.seed ?? 7);
  const events: SyncEvent[] = [];
  const flashFrames: number[][] = [];
  let frame = Math.round(0.8 * fps);
  while (frame / fps < d - 1) {
    const flash = frame / fps;
    const w = opts.windows?.find((x) => flash >= x.start && flash < x.start + x.duration);
    const offsetMs = w ? w.offsetMs : (opts.offsetMs ?? 0);
    const beep = flash + offsetMs / 1000;
    // Irregular flash lengths keep flash-off changes from forming a second consistent lag.
    const len = 1 + Math.floor(rand() * 4);
    if (beep > 0.05 && beep + BEEP_SECONDS < d) {
      events.push({ flash, beep, offsetMs });
      flashFrames.push([frame, frame + len - 1]);
    }
    frame += Math.round((0.6 + rand() * 0.9) * fps);
  }
  return { events, flashFrames };
}

function beepTrack(events: readonly SyncEvent[], duration: number): Float32Array {
  const pcm = new Float32Array(Math.round(duration * SAMPLE_RATE));
  const n = Math.round(BEEP_SECONDS * SAMPLE_RATE);
  for (const e of events) {
    const s0 = Math.round(e.beep * SAMPLE_RATE);
    for (let i = 0; i < n && s0 + i < pcm.length; i++) {
      // A 2 ms fade-out only: the onset stays abrupt, as a sync beep's is.
      const fade = Math.min(1, (n - i) / (0.002 * SAMPLE_RATE));
      pcm[s0 + i] = 0.5 * fade * Math.sin((2 * Math.PI * 1000 * i) / SAMPLE_RATE);
    }
  }
  return pcm;
}

/** The expected incidents: each run of events whose offset is outside -45..+125 ms. */
function expectedIncidents(events: readonly SyncEvent[]): SyncTruth["incidents"] {
  const out: { type: "av.sync"; start: number; end: number; offsetMs: number }[] = [];
  let run: SyncEvent[] = [];
  const flushRun = (end: number): void => {
    const first = run[0];
    if (first) out.push({ type: "av.sync", start: first.flash, end, offsetMs: first.offsetMs });
    run = [];
  };
  for (const e of events) {
    const bad = e.offsetMs > 125 || e.offsetMs < -45;
    if (bad && run.length > 0 && run[0]?.offsetMs !== e.offsetMs) flushRun(e.flash);
    if (bad) run.push(e);
    else if (run.length > 0) flushRun(e.flash);
  }
  if (run.length > 0) flushRun(Infinity);
  return out;
}

export async function generateSyncClip(out: string, opts: SyncClipOptions = {}): Promise<SyncTruth> {
  const d = opts.duration ?? 20;
  const fps = opts.fps ?? 25;
  const { events, flashFrames } = syncEvents(opts);
  const pcmPath = `${out}.pcm`;
  await writeFile(pcmPath, beepTrack(events, d));
  const enable = flashFrames.map(([a, b]) => `between(n,${a},${b})`).join("+");
  try {
    await runFfmpeg(opts.ffmpegPath ?? "ffmpeg", [
      "-f",
      "lavfi",
      "-i",
      `color=c=0x303030:s=${opts.size ?? "640x360"}:r=${fps}:d=${d}`,
      "-f",
      "f32le",
      "-ar",
      String(SAMPLE_RATE),
      "-ac",
      "1",
      "-i",
      pcmPath,
      "-vf",
      `drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='${enable || "0"}'`,
      "-c:v",
      "libx264",
      "-preset",
      "veryfast",
      "-g",
      String(2 * fps),
      "-pix_fmt",
      "yuv420p",
      "-c:a",
      "aac",
      "-b:a",
      "128k",
      "-f",
      "mpegts",
      out,
    ]);
  } finally {
    await rm(pcmPath, { force: true });
  }
  const truth: SyncTruth = { events, incidents: expectedIncidents(events) };
  await writeFile(`${out}.truth.json`, JSON.stringify(truth, null, 2));
  return truth;
}

/** The near miss: a steady tone over a static picture (`static`) or a smooth zoom (`pan`). */
export async function generateNoEventClip(
  out: string,
  opts: { duration?: number; picture?: "static" | "pan"; ffmpegPath?: string } = {},
): Promise<void> {
  const d = opts.duration ?? 20;
  const video =
    opts.picture === "pan"
      ? `mandelbrot=s=640x360:r=25,trim=duration=${d}`
      : `smptebars=s=640x360:r=25:d=${d}`;
  await runFfmpeg(opts.ffmpegPath ?? "ffmpeg", [
    "-f",
    "lavfi",
    "-i",
    video,
    "-f",
    "lavfi",
    "-i",
    `sine=f=1000:sample_rate=48000:d=${d}`,
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-pix_fmt",
    "yuv420p",
    "-c:a",
    "aac",
    "-b:a",
    "128k",
    "-f",
    "mpegts",
    out,
  ]);
}
