/**
 * Long programmes: a music channel. Real recorded music from Debian's packages (ASC's, Battle
 * for Wesnoth's and Drascula's soundtracks: orchestral, rock and game music, loudness ranges of
 * 1 to 22 LU), fetched by scripts/real-media.sh into `.media/music/`. Each piece is normalised
 * to -23 LUFS integrated by one gain measured with FFmpeg's own meter (as EBU R128 asks of every
 * programme) and the pieces are played back to back, as one channel an hour and a half long, encoded as broadcasters send radio and music channels (AAC 192 kb/s and MP2
 * 256 kb/s in MPEG-TS).
 *
 * The pieces of 60 s or more, sorted by file name, are split: the odd ones are the tune half
 * (the loudness rules were designed on it), the even ones the held-out half (measured only).
 *
 * Two measurements per half:
 * - `analyze` of each encode with the default profile: every incident, by type, per hour;
 * - the `audio.loudness` detector alone on the channel's decoded sound, clean and with gain
 *   errors of +6 and -6 dB (240 s each, every 540 s from 360 s): how long each takes to be
 *   reported, and what else is reported; with the learnt limits (the default) and without.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, rename } from "node:fs/promises";
import { basename, join } from "node:path";
import { LoudnessOptionsSchema, loudnessDetector } from "../detect/loudness/loudness-detector.js";
import { StreamqcError } from "../errors.js";
import { runFfmpeg } from "../gen/corrupt-clip.js";
import { probeLoudness } from "../gen/loudness-probe.js";
import { analyzeInput } from "../monitor/analyze.js";
import { pool } from "./eval-runner.js";

export const MUSIC_DIR = ".media/music";
/** Pieces shorter than this (jingles, stings) are left out: a channel plays programmes. */
const MIN_PIECE_SECONDS = 60;
const TARGET = -23;
const RATE = 48000;
/** The encodes of the channel. */
const CODECS = {
  aac: ["-c:a", "aac", "-b:a", "192k"],
  mp2: ["-c:a", "mp2", "-b:a", "256k"],
} as const;
export type Codec = keyof typeof CODECS;
/** Gain errors: ±6 dB (the "6 LU off target"), 240 s each, every 540 s from 360 s. */
const STEP_DB = 6;
const STEP_FIRST = 360;
const STEP_EVERY = 540;
const STEP_LENGTH = 240;
/** A silence beginning this near a piece's end (or 5 s into the next) is its fade-out. */
const PIECE_END_SECONDS = 15;

export interface MusicPiece {
  readonly path: string;
  readonly seconds: number;
}

export interface StepResult {
  readonly at: number;
  readonly gainDb: number;
  /** Seconds from the error's start to the first incident of its direction; null when none in its 240 s. */
  readonly latency: number | null;
}

export interface DetectorPass {
  readonly adaptive: boolean;
  /** `audio.loudness` incidents on the clean channel. */
  readonly clean: number;
  readonly steps: StepResult[];
  /** Incidents on the stepped channel that began outside every error. */
  readonly outside: number;
}

export interface MusicHalfResult {
  readonly half: "held-out" | "tune";
  readonly pieces: string[];
  readonly seconds: number;
  /** Per encode: incidents of `analyze` by type. */
  readonly analyze: { readonly codec: Codec; readonly counts: Record<string, number> }[];
  readonly passes: DetectorPass[];
}

/** The music pieces under `root`'s `.media/music`, or null when none were fetched. */
export function findMusic(root: string): string[] | null {
  const dir = join(root, MUSIC_DIR);
  if (!existsSync(dir)) return null;
  const files = readdirSync(dir)
    .filter((f) => /\.(ogg|mp3)$/i.test(f))
    .sort()
    .map((f) => join(dir, f));
  return files.length > 0 ? files : null;
}

/** Seconds of `path`, from ffprobe. */
function duration(ffprobe: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      ffprobe,
      ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    child.on("error", reject);
    child.on("close", (code) => {
      const s = Number(out.trim());
      if (code === 0 && Number.isFinite(s)) resolve(s);
      else reject(new StreamqcError("SQM_ERR_GEN_FAILED", `ffprobe could not read the length of ${path}`));
    });
  });
}

/** The pieces of at least a minute, by file name, in halves: odd ones tune, even ones held out. */
export async function musicHalves(
  files: readonly string[],
  ffprobe: string,
): Promise<{ tune: MusicPiece[]; heldOut: MusicPiece[] }> {
  const pieces: MusicPiece[] = [];
  // By name without its extension, in code-unit order (the order the split was first made in).
  const name = (path: string): string => basename(path).replace(/\.[^.]+$/, "");
  for (const path of [...files].sort((a, b) => (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0))) {
    const seconds = await duration(ffprobe, path);
    if (seconds >= MIN_PIECE_SECONDS) pieces.push({ path, seconds });
  }
  return { tune: pieces.filter((_, k) => k % 2 === 1), heldOut: pieces.filter((_, k) => k % 2 === 0) };
}

/** The channel: every piece at -23 LUFS, back to back, in one MPEG-TS. Reused when present. */
export async function channel(
  ffmpeg: string,
  pieces: readonly MusicPiece[],
  out: string,
  codec: Codec,
  gainsOf: () => Promise<readonly number[]> = () => pieceGains(ffmpeg, pieces),
): Promise<void> {
  if (existsSync(out)) return;
  const gains = await gainsOf();
  const chain: string[] = [];
  for (const [k, gain] of gains.entries()) {
    chain.push(
      `[${k}:a:0]aresample=${RATE},aformat=sample_fmts=flt:channel_layouts=stereo,volume=${gain}dB[a${k}]`,
    );
  }
  const joined = pieces.map((_, k) => `[a${k}]`).join("");
  chain.push(`${joined}concat=n=${pieces.length}:v=0:a=1[out]`);
  const partial = `${out}.part`;
  await runFfmpeg(ffmpeg, [
    "-nostdin",
    ...pieces.flatMap((p) => ["-i", p.path]),
    "-filter_complex",
    chain.join(";"),
    "-map",
    "[out]",
    ...CODECS[codec],
    "-f",
    "mpegts",
    "-y",
    partial,
  ]);
  await rename(partial, out);
}

/** Each piece's gain to -23 LUFS, dB, from FFmpeg's `ebur128` (not from the meter judged). */
async function pieceGains(ffmpeg: string, pieces: readonly MusicPiece[]): Promise<number[]> {
  const gains: number[] = [];
  for (const p of pieces) {
    const { integrated } = await probeLoudness(ffmpeg, p.path);
    gains.push(Math.round((TARGET - integrated) * 100) / 100);
  }
  return gains;
}

/** When gain error `k` starts, seconds. */
function stepStart(k: number): number {
  return STEP_FIRST + k * STEP_EVERY;
}

/**
 * The `audio.loudness` detector over the channel's decoded sound, with the gain errors applied
 * (`stepped`) or not: its incidents, with the media time at which each was first reported.
 */
async function detectorRun(
  ffmpeg: string,
  input: string,
  adaptive: boolean,
  stepped: boolean,
): Promise<{ start: number; reason: string; at: number }[]> {
  const found: { start: number; reason: string; at: number }[] = [];
  let at = 0;
  const det = loudnessDetector.create(LoudnessOptionsSchema.parse({ adaptive }), (e) => {
    if (e.phase === "start" && e.condition.type === "audio.loudness")
      found.push({ start: e.condition.start, reason: String(e.condition.details["reason"]), at });
  });
  const child = spawn(
    ffmpeg,
    ["-v", "error", "-i", input, "-vn", "-ac", "2", "-ar", String(RATE), "-f", "f32le", "-"],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  let frame = 0;
  let carry = Buffer.alloc(0);
  const gain = Math.pow(10, STEP_DB / 20);
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    const bytes = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    const usable = bytes.length - (bytes.length % 8);
    // A copy: aligned for a Float32Array, and free to be scaled.
    const samples = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + usable));
    carry = Buffer.from(bytes.subarray(usable));
    const frames = samples.length / 2;
    if (stepped)
      for (let f = 0; f < frames; f++) {
        const t = (frame + f) / RATE;
        const k = Math.floor((t - STEP_FIRST) / STEP_EVERY);
        if (k < 0 || t - stepStart(k) >= STEP_LENGTH) continue;
        const g = k % 2 === 0 ? gain : 1 / gain;
        samples[2 * f] = samples[2 * f]! * g;
        samples[2 * f + 1] = samples[2 * f + 1]! * g;
      }
    at = (frame + frames) / RATE;
    det.pushAudio!({ pts: frame / RATE, sampleRate: RATE, channels: 2, frames, samples });
    frame += frames;
  }
  const code = await exited;
  if (code !== 0)
    throw new StreamqcError("SQM_ERR_GEN_FAILED", `ffmpeg could not decode ${input} (exit ${code})`);
  det.flush(frame / RATE);
  return found;
}

async function detectorPass(
  ffmpeg: string,
  input: string,
  seconds: number,
  adaptive: boolean,
): Promise<DetectorPass> {
  const clean = await detectorRun(ffmpeg, input, adaptive, false);
  const stepped = await detectorRun(ffmpeg, input, adaptive, true);
  const steps: StepResult[] = [];
  for (let k = 0; stepStart(k) + STEP_LENGTH <= seconds; k++) {
    const t = stepStart(k);
    const reason = k % 2 === 0 ? "loud" : "quiet";
    const hit = stepped.find((i) => i.reason === reason && i.at >= t && i.at <= t + STEP_LENGTH);
    steps.push({ at: t, gainDb: k % 2 === 0 ? STEP_DB : -STEP_DB, latency: hit ? hit.at - t : null });
  }
  const outside = stepped.filter(
    (i) => !steps.some((s) => i.start >= s.at - 5 && i.start <= s.at + STEP_LENGTH + 10),
  );
  return { adaptive, clean: clean.length, steps, outside: outside.length };
}

export interface MusicOptions {
  readonly dir: string;
  readonly files: readonly string[];
  readonly ffmpegPath: string;
  readonly ffprobePath: string;
  readonly jobs?: number;
  readonly onProgress?: (message: string) => void;
}

export async function runMusicChannel(opts: MusicOptions): Promise<MusicHalfResult[]> {
  await mkdir(opts.dir, { recursive: true });
  const halves = await musicHalves(opts.files, opts.ffprobePath);
  const results: MusicHalfResult[] = [];
  for (const [half, pieces] of [
    ["held-out", halves.heldOut],
    ["tune", halves.tune],
  ] as const) {
    if (pieces.length === 0) continue;
    const seconds = pieces.reduce((s, p) => s + p.seconds, 0);
    const ends: number[] = [];
    for (const p of pieces) ends.push((ends[ends.length - 1] ?? 0) + p.seconds);
    const encodes = (Object.keys(CODECS) as Codec[]).map((codec) => ({
      codec,
      path: join(opts.dir, `music-${half}-${pieces.length}-${codec}-v2.ts`),
    }));
    // Measured once for both encodes, and only when one is to be made.
    let gains: Promise<number[]> | null = null;
    const gainsOf = (): Promise<number[]> => (gains ??= pieceGains(opts.ffmpegPath, pieces));
    const analyzed = await pool(encodes, opts.jobs ?? 2, async ({ codec, path }) => {
      await channel(opts.ffmpegPath, pieces, path, codec, gainsOf);
      const res = await analyzeInput(path, { ffmpegPath: opts.ffmpegPath, threads: 1 });
      const counts: Record<string, number> = {};
      for (const i of res.incidents) {
        // A silence where one piece fades out and the next begins is the content's own.
        const between =
          i.type === "audio.silence" &&
          ends.some((e) => i.start >= e - PIECE_END_SECONDS && i.start <= e + 5);
        const rule = i.type === "audio.loudness" ? ` (${String(i.details["rule"])})` : "";
        const type = between ? `${i.type} (a piece's end)` : `${i.type}${rule}`;
        counts[type] = (counts[type] ?? 0) + 1;
      }
      opts.onProgress?.(
        `music ${half} ${codec} (${(seconds / 60).toFixed(1)} min): ${res.incidents.length} incidents`,
      );
      return { codec, counts };
    });
    const aac = encodes[0]!.path;
    const passes = await pool([true, false], opts.jobs ?? 2, (adaptive) =>
      detectorPass(opts.ffmpegPath, aac, seconds, adaptive),
    );
    results.push({ half, pieces: pieces.map((p) => basename(p.path)), seconds, analyze: analyzed, passes });
  }
  return results;
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** The markdown report: per half, incidents per hour by type, then the gain errors' reporting times. */
export function renderMusic(results: readonly MusicHalfResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    const hours = r.seconds / 3600;
    lines.push(
      `### Music channel, ${r.half.toUpperCase()} half: ${r.pieces.length} pieces, ${(r.seconds / 60).toFixed(1)} minutes\n`,
    );
    lines.push("`analyze`, default profile, incidents per hour by type:\n");
    lines.push("| encode | type | incidents | per hour |\n| --- | --- | ---: | ---: |");
    for (const a of r.analyze) {
      const types = Object.keys(a.counts).sort();
      if (types.length === 0) lines.push(`| ${a.codec} | (none) | 0 | 0 |`);
      for (const t of types)
        lines.push(`| ${a.codec} | ${t} | ${a.counts[t]} | ${((a.counts[t] ?? 0) / hours).toFixed(1)} |`);
    }
    lines.push(
      "\n`audio.loudness` alone (AAC encode), clean and with ±6 dB gain errors of 240 s:\n",
      "| limits | clean: incidents (per hour) | errors | reported within 60 s | median s | slowest s | not reported | other incidents |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const p of r.passes) {
      const lat = p.steps.flatMap((s) => (s.latency === null ? [] : [s.latency]));
      const fmt = (v: number | undefined): string => (v === undefined ? "-" : v.toFixed(0));
      lines.push(
        `| ${p.adaptive ? "learnt (default)" : "fixed"} | ${p.clean} (${(p.clean / hours).toFixed(1)}) | ${p.steps.length} | ` +
          `${lat.filter((x) => x <= 60).length} | ${fmt(lat.length ? quantile(lat, 0.5) : undefined)} | ` +
          `${fmt(lat.length ? Math.max(...lat) : undefined)} | ${p.steps.length - lat.length} | ${p.outside} |`,
      );
    }
    lines.push("");
  }
  return lines.join("\n");
}
