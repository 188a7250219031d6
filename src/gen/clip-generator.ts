/**
 * `streamqc gen`: a test clip (H.264 + AAC in MPEG-TS) of moving pictures and continuous
 * sound, with defects injected at known times, and its ground truth beside it.
 *
 * One ffmpeg invocation builds everything in one filter graph: sources, then one injector
 * per defect (see VIDEO_INJECTORS / AUDIO_INJECTORS), then the encoders. The injectors never
 * shift time, so the truth is the spec itself (freezes quantised to frames).
 */
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { StreamqcError } from "../errors.js";
import {
  checkOverlaps,
  DEFECT_KINDS,
  expectedIncident,
  formatDefect,
  type Defect,
  type DefectType,
} from "./defect-spec.js";
import { gapAudioFilter, gapVideoFilter } from "./gap-defect.js";
import { loudFilter } from "./loud-defect.js";

export interface GenerateOptions {
  /** Seconds. */
  duration: number;
  defects: Defect[];
  /** Default 640. */
  width?: number;
  /** Default 360. */
  height?: number;
  /** Default 25. */
  fps?: number;
  /** Default `ffmpeg` on PATH. */
  ffmpegPath?: string;
  /** Seeds the noise sources, so the same options give the same clip. Default 1. */
  seed?: number;
  /**
   * A real recording to inject the defects into instead of synthetic content: scaled and
   * padded to the size, converted to the frame rate and 48 kHz stereo, looped if short. It
   * must have a video and an audio stream, and no defect of its own where none is declared.
   */
  base?: string;
}

interface Resolved {
  readonly duration: number;
  readonly defects: readonly Defect[];
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly seed: number;
  readonly base: string | null;
}

export interface TruthDefect {
  readonly type: DefectType;
  readonly start: number;
  readonly end: number;
  /** The incident type detectors should report, or null for a near miss. */
  readonly expect: string | null;
}

export interface GroundTruth {
  readonly duration: number;
  readonly defects: TruthDefect[];
}

/** `clip.ts` -> `clip.truth.json`. */
export function truthPathFor(out: string): string {
  const dot = out.lastIndexOf(".");
  const slash = Math.max(out.lastIndexOf("/"), out.lastIndexOf("\\"));
  const stem = dot > slash ? out.slice(0, dot) : out;
  return `${stem}.truth.json`;
}

/**
 * Pink noise amplitude. With the tones and the pan gains the sound measures -23.2 LUFS
 * integrated (EBU R128's target, so a clean clip raises no audio.loudness incident) and about
 * -24 dBFS RMS: loud enough that no stretch is silent by accident.
 */
const PINK_AMPLITUDE = 0.3;

export interface VideoContext {
  readonly fps: number;
  readonly seed: number;
}

/**
 * A video injector takes the label of the picture so far and returns filter-graph text
 * ending in `[out]`, plus the truth window it actually produced.
 */
type VideoInjector = (
  d: Defect,
  input: string,
  output: string,
  ctx: VideoContext,
) => { graph: string; start: number; end: number };

type AudioInjector = (d: Defect, ctx: { readonly seed: number }) => string;

/** `enable` expression for [start, end): half-open so the frame at `end` is clean. */
function during(start: number, end: number): string {
  return `'gte(t,${start})*lt(t,${end})'`;
}

function frozenWindow(d: Defect, fps: number): { first: number; last: number; start: number; end: number } {
  const first = Math.round(d.start * fps);
  const last = Math.max(first, Math.round((d.start + d.duration) * fps) - 1);
  return { first, last, start: first / fps, end: (last + 1) / fps };
}

function freezeGraph(
  d: Defect,
  input: string,
  output: string,
  fps: number,
): { graph: string; w: ReturnType<typeof frozenWindow> } {
  const w = frozenWindow(d, fps);
  const a = `${output}a`;
  const b = `${output}b`;
  // freezeframes replaces frames first..last with frame `first` of its second input: the
  // picture stops without shifting any timestamp.
  const graph = `[${input}]split[${a}][${b}];[${a}][${b}]freezeframes=first=${w.first}:last=${w.last}:replace=${w.first}`;
  return { graph, w };
}

const VIDEO_INJECTORS: Partial<Record<DefectType, VideoInjector>> = {
  freeze(d, input, output, ctx) {
    const { graph, w } = freezeGraph(d, input, output, ctx.fps);
    return { graph: `${graph}[${output}]`, start: w.start, end: w.end };
  },
  "freeze-noisy"(d, input, output, ctx) {
    const { graph, w } = freezeGraph(d, input, output, ctx.fps);
    // Fresh temporal noise on every frozen frame: a sensor or encoder that keeps "moving"
    // while the picture itself is stuck.
    const noise = `noise=alls=24:allf=t:all_seed=${ctx.seed + 7}:enable=${during(w.start, w.end)}`;
    return { graph: `${graph},${noise}[${output}]`, start: w.start, end: w.end };
  },
  black(d, input, output) {
    const end = d.start + d.duration;
    return {
      graph: `[${input}]drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable=${during(d.start, end)}[${output}]`,
      start: d.start,
      end,
    };
  },
  "logo-black"(d, input, output) {
    const end = d.start + d.duration;
    const on = during(d.start, end);
    // A bright channel logo of under 1% of the picture, as broadcasters keep on a black slate.
    return {
      graph:
        `[${input}]drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable=${on},` +
        `drawbox=x=iw*0.86:y=ih*0.06:w=iw*0.08:h=ih*0.07:color=white:t=fill:enable=${on}[${output}]`,
      start: d.start,
      end,
    };
  },
  dark(d, input, output) {
    const end = d.start + d.duration;
    // Luma squeezed into about 14..42 (limited range): a night scene whose mean is near
    // black but whose moving texture is still visible.
    return {
      graph: `[${input}]lutyuv=y='val*0.13+12':enable=${during(d.start, end)}[${output}]`,
      start: d.start,
      end,
    };
  },
};

const AUDIO_INJECTORS: Partial<Record<DefectType, AudioInjector>> = {
  // -70 dB on a -24 dBFS signal leaves a noise floor near -94 dBFS: silence that is not digital zero.
  silence: (d) => `volume=volume=0.0003:enable=${during(d.start, d.start + d.duration)}`,
  // About -24 dB (to -48 dBFS RMS, peaks near -36), gated off for 0.6 s of every 1.5 s and modulated at a syllable rate:
  // quiet speech with pauses well under a second.
  quiet: (d) =>
    `volume=volume='0.063*(0.6+0.4*sin(2*PI*4*t))*gt(sin(2*PI*(t-${d.start})/1.5),-0.3)':eval=frame:enable=${during(
      d.start,
      d.start + d.duration,
    )}`,
  // +30 dB; the s16 conversion after the injectors clips every sample beyond full scale.
  clipping: (d) => `volume=volume=31.6:enable=${during(d.start, d.start + d.duration)}`,
  loud: (d) => loudFilter(d),
};

/**
 * The picture defects of `defects` (the video kinds; others are ignored) as filter-graph
 * parts from the label `input`; returns the label of the result and each defect's truth.
 * Shared by `gen` and the real-content clips (real-lossy-clip.ts).
 */
export function injectVideoDefects(
  defects: readonly Defect[],
  input: string,
  ctx: VideoContext,
): { parts: string[]; label: string; truth: TruthDefect[] } {
  const parts: string[] = [];
  const truth: TruthDefect[] = [];
  let label = input;
  let n = 0;
  const ordered = [...defects].sort((a, b) => a.start - b.start);
  // Freezes first: they repeat a picture, and a later overlay (noise) must stay on top.
  const videoOrder = [
    ...ordered.filter((d) => d.type === "freeze" || d.type === "freeze-noisy"),
    ...ordered.filter(
      (d) => DEFECT_KINDS[d.type].media === "video" && d.type !== "freeze" && d.type !== "freeze-noisy",
    ),
  ];
  for (const d of videoOrder) {
    const inject = VIDEO_INJECTORS[d.type];
    if (inject === undefined)
      throw new StreamqcError("SQM_ERR_DEFECT_SPEC", `no video injector for ${d.type}`);
    const next = `${input}i${++n}`;
    const r = inject(d, label, next, ctx);
    parts.push(r.graph);
    label = next;
    truth.push({
      type: d.type,
      start: r.start,
      end: r.end,
      expect: expectedIncident(d.type, r.end - r.start),
    });
  }
  return { parts, label, truth };
}

function buildGraph(opts: Resolved): {
  graph: string;
  truth: TruthDefect[];
} {
  const { duration, width, height, fps, seed, defects, base } = opts;
  const parts: string[] = [];
  const truth: TruthDefect[] = [];

  if (base === null) {
    // Moving content everywhere: testsrc2's own animation plus a slow pan, and a light grain
    // so that the picture is never perfectly clean.
    parts.push(
      `testsrc2=size=${width}x${height}:rate=${fps}:duration=${duration},` +
        `scroll=h=0.002:v=0.0013,noise=alls=4:allf=t+u:all_seed=${seed}[v0]`,
    );
  } else {
    // Input 0 is the base recording. Times restart at zero so the injectors' windows and
    // freezeframes' frame numbers count from the clip's start.
    parts.push(
      `[0:v]scale=${width}:${height}:force_original_aspect_ratio=decrease,` +
        `pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=${fps},` +
        `trim=duration=${duration},setpts=PTS-STARTPTS[v0]`,
    );
  }
  const ordered = [...defects].sort((a, b) => a.start - b.start);
  const injected = injectVideoDefects(ordered, "v0", { fps, seed });
  parts.push(...injected.parts);
  truth.push(...injected.truth);
  const label = injected.label;
  const gaps = ordered.filter((d) => DEFECT_KINDS[d.type].media === "both");
  const videoGap = gaps.length > 0 ? `${gapVideoFilter(gaps)},` : "";
  parts.push(`[${label}]${videoGap}format=yuv420p[vout]`);
  for (const d of gaps) {
    truth.push({
      type: d.type,
      start: d.start,
      end: d.start + d.duration,
      expect: expectedIncident(d.type, d.duration),
    });
  }

  const audio: string[] = [];
  for (const d of ordered) {
    if (DEFECT_KINDS[d.type].media !== "audio") continue;
    const inject = AUDIO_INJECTORS[d.type];
    if (inject === undefined)
      throw new StreamqcError("SQM_ERR_DEFECT_SPEC", `no audio injector for ${d.type}`);
    audio.push(inject(d, { seed }));
    truth.push({
      type: d.type,
      start: d.start,
      end: d.start + d.duration,
      expect: expectedIncident(d.type, d.duration),
    });
  }
  const sr = 48_000;
  const sound =
    base === null
      ? // tremolo keeps the level moving (never silent: depth 0.3), the pan makes two channels.
        `[an][as1][as2]amix=inputs=3:normalize=0,tremolo=f=0.4:d=0.3,pan=stereo|c0=0.78*c0|c1=0.7*c0`
      : `[0:a]aresample=${sr},aformat=sample_fmts=flt:channel_layouts=stereo,` +
        `atrim=duration=${duration},asetpts=PTS-STARTPTS`;
  if (base === null) {
    parts.push(
      `anoisesrc=color=pink:amplitude=${PINK_AMPLITUDE}:sample_rate=${sr}:seed=${seed}:duration=${duration}[an]`,
      `sine=frequency=220:sample_rate=${sr}:duration=${duration},volume=0.6[as1]`,
      `sine=frequency=331:sample_rate=${sr}:duration=${duration},volume=0.4[as2]`,
    );
  }
  parts.push(
    sound +
      audio.map((a) => `,${a}`).join("") +
      // Hard clipping happens here: float samples beyond full scale are clipped by the conversion.
      `,aformat=sample_fmts=s16:sample_rates=${sr}:channel_layouts=stereo` +
      (gaps.length > 0 ? `,${gapAudioFilter(gaps)}` : "") +
      `[aout]`,
  );
  truth.sort((a, b) => a.start - b.start);
  return { graph: parts.join(";"), truth };
}

function validate(opts: GenerateOptions): Resolved {
  const width = opts.width ?? 640;
  const height = opts.height ?? 360;
  const fps = opts.fps ?? 25;
  const seed = opts.seed ?? 1;
  const { duration, defects } = opts;
  if (!(duration > 0) || !Number.isFinite(duration)) {
    throw new StreamqcError(
      "SQM_ERR_USAGE",
      `duration must be a positive number of seconds, got ${duration}`,
    );
  }
  for (const [name, v] of [
    ["width", width],
    ["height", height],
  ] as const) {
    // yuv420p needs even sizes.
    if (!Number.isInteger(v) || v < 16 || v % 2 !== 0) {
      throw new StreamqcError("SQM_ERR_USAGE", `${name} must be an even integer >= 16, got ${v}`);
    }
  }
  if (!(fps > 0) || fps > 120)
    throw new StreamqcError("SQM_ERR_USAGE", `fps must be in (0, 120], got ${fps}`);
  if (!Number.isInteger(seed) || seed < 0)
    throw new StreamqcError("SQM_ERR_USAGE", `seed must be an integer >= 0`);
  for (const d of defects) {
    if (d.start < 0 || d.start + d.duration > duration) {
      throw new StreamqcError(
        "SQM_ERR_DEFECT_SPEC",
        `defect "${formatDefect(d)}" does not fit in a clip of ${duration} s`,
      );
    }
  }
  checkOverlaps(defects);
  return { duration, defects, width, height, fps, seed, base: opts.base ?? null };
}

/** The ffmpeg arguments for a clip; exposed so tests and the benchmark can see what runs. */
export function clipArguments(out: string, opts: GenerateOptions): { args: string[]; truth: GroundTruth } {
  const v = validate(opts);
  const { graph, truth } = buildGraph(v);
  const gop = Math.max(1, Math.round(v.fps * 2));
  const hasGap = v.defects.some((d) => DEFECT_KINDS[d.type].media === "both");
  const args = [
    "-hide_banner",
    "-nostdin",
    "-loglevel",
    "error",
    "-y",
    // A short base recording loops until the clip's duration.
    ...(v.base === null ? [] : ["-stream_loop", "-1", "-i", v.base]),
    "-filter_complex",
    graph,
    "-map",
    "[vout]",
    "-map",
    "[aout]",
    "-t",
    String(v.duration),
    // A gap must stay a hole in the timeline: no duplicated frames to fill it.
    ...(hasGap ? ["-fps_mode", "passthrough"] : []),
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-pix_fmt",
    "yuv420p",
    "-g",
    String(gop),
    "-c:a",
    "aac",
    "-b:a",
    "128k",
    "-ar",
    "48000",
    "-ac",
    "2",
    "-f",
    "mpegts",
    out,
  ];
  return { args, truth: { duration: v.duration, defects: truth } };
}

function run(ffmpegPath: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // stdin ignored, stdout unused (the clip goes to a file), stderr: ffmpeg's errors only.
    const child = spawn(ffmpegPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      // Keep the tail: the last lines say why ffmpeg failed.
      stderr = (stderr + chunk).slice(-4000);
    });
    child.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") {
        reject(
          new StreamqcError("SQM_ERR_FFMPEG_MISSING", `ffmpeg not found at "${ffmpegPath}"`, { cause: err }),
        );
      } else {
        reject(
          new StreamqcError("SQM_ERR_GEN_FAILED", `ffmpeg could not start: ${err.message}`, { cause: err }),
        );
      }
    });
    child.on("close", (code, signal) => {
      if (code === 0) resolve();
      else {
        reject(
          new StreamqcError(
            "SQM_ERR_GEN_FAILED",
            `ffmpeg exited with ${signal ?? `code ${code}`}: ${stderr.trim().split("\n").slice(-5).join(" | ")}`,
          ),
        );
      }
    });
  });
}

/** Writes the clip to `out` and its ground truth to `truthPathFor(out)`; returns the truth. */
export async function generateClip(out: string, opts: GenerateOptions): Promise<GroundTruth> {
  const { args, truth } = clipArguments(out, opts);
  await run(opts.ffmpegPath ?? "ffmpeg", args);
  await writeFile(truthPathFor(out), `${JSON.stringify(truth, null, 2)}\n`);
  return truth;
}
