/**
 * The evaluation suite: clips made by the generators in src/gen/, each with its ground truth
 * as incidents (`type`, `start`, `end`). Defects and near misses (which must give nothing)
 * sit side by side; synthetic content and, when present, a real recording as the base.
 *
 * A clip may name types it is NOT scored for (`unscored`), with the reason: only where the
 * generator cannot say what the truth is (the tone and beep tracks of the corruption and sync
 * clips are not programme audio at a loudness target; a real recording's own loudness varies
 * by 18 LU and has no independent truth). Every other type is scored on every clip, so a
 * detection of it where the truth has none is a false positive.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { StreamqcError } from "../errors.js";
import { generateClip } from "../gen/clip-generator.js";
import { generateCorruptClip, type CorruptClipContent } from "../gen/corrupt-clip.js";
import { parseDefectSpec } from "../gen/defect-spec.js";
import { generateSyncClip, type AvOffsetWindow } from "../gen/sync-clip.js";
import type { CorruptWindow } from "../gen/ts-corruptor.js";
import type { Interval } from "./match-scorer.js";
import { generateRealLossyClip } from "../gen/real-lossy-clip.js";
import { realLossySuite, type RealLossySpec, type RealSource } from "./real-lossy-suite.js";
import { EXTRA_MEDIA_HINT, type ExtraMedia } from "./extra-media.js";

/** The types the targets apply to, in table order. */
export const SCORED_TYPES = [
  "video.freeze",
  "video.black",
  "video.blockiness",
  "audio.silence",
  "audio.clipping",
  "audio.loudness",
  "av.sync",
  "stream.gap",
] as const;

export type ClipSpec =
  | {
      readonly kind: "gen";
      readonly name: string;
      readonly duration: number;
      /** A `streamqc gen --defects` list. */
      readonly defects: string;
      /** Use the shared real recording as the picture and sound. */
      readonly base?: "real";
      readonly seed?: number;
      readonly unscored?: readonly string[];
    }
  | {
      readonly kind: "corrupt";
      readonly name: string;
      readonly duration: number;
      readonly size: string;
      readonly bitrate: string;
      readonly content?: CorruptClipContent;
      readonly base?: "real";
      readonly corrupt: readonly CorruptWindow[];
      readonly unscored?: readonly string[];
    }
  | {
      /** Real content, lossy codecs, new defect injections (real-lossy-suite.ts). */
      readonly kind: "real-lossy";
      readonly name: string;
      readonly real: RealLossySpec;
      readonly unscored?: readonly string[];
    }
  | {
      readonly kind: "sync";
      readonly name: string;
      readonly duration: number;
      readonly offsetMs: number;
      readonly windows?: readonly AvOffsetWindow[];
      readonly unscored?: readonly string[];
    };

export interface SuiteClip {
  readonly spec: ClipSpec;
  readonly path: string;
  readonly truths: readonly Interval[];
  /** Types not judged on this clip (see the module comment). */
  readonly unscored: readonly string[];
}

/** The shared real recording, relative to the project root (see /work/shared/media/README.md). */
export const REAL_MEDIA = "../shared/media/big-buck-bunny-60s-360p.mp4";

const TONE_AUDIO = ["audio.loudness", "audio.true-peak"];
const REAL_AUDIO = ["audio.loudness", "audio.true-peak"];
/**
 * Sync patterns are a still flat picture with flashes at irregular times: the stills between
 * flashes last over 2 s and are frozen pictures by video.freeze's definition (a still slate is
 * a freeze), with no truth written for them. The clips are built to judge av.sync.
 */
const SYNC_UNSCORED = [...TONE_AUDIO, "video.freeze"];

/** The default suite: about 8 minutes of media, a few minutes of work on 2 cores. */
export function defaultSuite(realMedia: string | null): ClipSpec[] {
  const clips: ClipSpec[] = [
    {
      kind: "gen",
      name: "syn-picture-sound",
      duration: 40,
      // Defects, then near misses: a noisy freeze and a logo on black still count; a dark
      // textured scene, quiet speech and 1.2 s defects do not.
      defects:
        "freeze@3:3,black@9:3,freeze-noisy@15:3,logo-black@21:3,dark@27:3,freeze@33:1.2,black@36.5:1.2," +
        "silence@4:3,quiet@10:5,silence@20:1.2,silence@26:2.5",
    },
    {
      kind: "gen",
      name: "syn-picture-sound-2",
      duration: 38,
      defects:
        "black@2:2.5,freeze@6:4,logo-black@12:2,freeze-noisy@17:2.5,dark@22:4,freeze@28:1.5,black@31:1.5,freeze@34:2.2," +
        "silence@3:2.2,quiet@8:6,silence@16:4,silence@23:1.5,silence@30:2",
      seed: 2,
    },
    { kind: "gen", name: "syn-clean", duration: 20, defects: "", seed: 5 },
    // One clipping per clip: each is also a loudness excursion that the 30 s window holds.
    { kind: "gen", name: "syn-clipping", duration: 20, defects: "clipping@8:2" },
    { kind: "gen", name: "syn-clipping-2", duration: 12, defects: "clipping@4:0.8", seed: 2 },
    { kind: "gen", name: "syn-clipping-3", duration: 16, defects: "clipping@10:3", seed: 3 },
    // Loud but unclipped: an audio.loudness and a clipping near miss at once.
    { kind: "gen", name: "syn-loud", duration: 30, defects: "loud@10:6" },
    { kind: "gen", name: "syn-loud-2", duration: 30, defects: "loud@20:4", seed: 2 },
    { kind: "gen", name: "syn-loud-3", duration: 25, defects: "loud@5:10", seed: 3 },
    { kind: "gen", name: "syn-gap", duration: 30, defects: "gap@10:2,gap@20:0.3", seed: 3 },
    { kind: "gen", name: "syn-gap-2", duration: 25, defects: "gap@5:0.6,gap@15:3", seed: 6 },
    {
      kind: "gen",
      name: "syn-freeze-gap",
      duration: 24,
      defects: "freeze@4:2.5,gap@12:1,freeze-noisy@16:4",
      seed: 4,
    },
    {
      kind: "corrupt",
      name: "corrupt-testsrc",
      duration: 20,
      size: "640x360",
      bitrate: "1M",
      corrupt: [
        { start: 5, duration: 0.4 },
        { start: 13, duration: 0.4 },
      ],
      unscored: TONE_AUDIO,
    },
    {
      kind: "corrupt",
      name: "corrupt-mandelbrot",
      duration: 20,
      size: "640x360",
      bitrate: "1M",
      content: "mandelbrot",
      corrupt: [{ start: 9, duration: 0.3 }],
      unscored: TONE_AUDIO,
    },
    {
      kind: "corrupt",
      name: "corrupt-life",
      duration: 20,
      size: "640x360",
      bitrate: "1M",
      content: "life",
      corrupt: [
        { start: 4, duration: 0.2 },
        { start: 10, duration: 0.6 },
        { start: 16, duration: 0.3 },
      ],
      unscored: TONE_AUDIO,
    },
    // Near miss: clean content at a modest bitrate, its coding artefacts are not corruption.
    {
      kind: "corrupt",
      name: "clean-lowrate",
      duration: 15,
      size: "640x360",
      bitrate: "300k",
      content: "mandelbrot",
      corrupt: [],
      unscored: TONE_AUDIO,
    },
    // Audio 200 ms late, outside BT.1359's +125 ms.
    { kind: "sync", name: "sync-late-200", duration: 24, offsetMs: 200, unscored: SYNC_UNSCORED },
    // In sync, then 120 ms early for 10 s (outside -45 ms), then in sync again.
    {
      kind: "sync",
      name: "sync-early-window",
      duration: 30,
      offsetMs: 0,
      windows: [{ start: 10, duration: 10, offsetMs: -120 }],
      unscored: SYNC_UNSCORED,
    },
    { kind: "sync", name: "sync-early-300", duration: 20, offsetMs: -300, unscored: SYNC_UNSCORED },
    {
      kind: "sync",
      name: "sync-late-window",
      duration: 30,
      offsetMs: 0,
      windows: [{ start: 12, duration: 10, offsetMs: 250 }],
      unscored: SYNC_UNSCORED,
    },
    // Near miss: 80 ms late is inside the tolerance.
    { kind: "sync", name: "sync-late-80", duration: 20, offsetMs: 80, unscored: SYNC_UNSCORED },
  ];
  if (realMedia !== null) {
    clips.push(
      { kind: "gen", name: "real-clean", duration: 40, defects: "", base: "real", unscored: REAL_AUDIO },
      {
        kind: "gen",
        name: "real-defects",
        duration: 40,
        // The +30 dB clipping injector clips only where the recording peaks above about -30 dBFS:
        // in Big Buck Bunny's first minute, 9-22 s and 34-37 s (astats, 1 s windows), not at 30 s.
        defects: "freeze@5:3,black@12:3,freeze@20:1.2,dark@25:4,silence@8:3,silence@16:1,clipping@18:1.5",
        base: "real",
        unscored: REAL_AUDIO,
      },
      {
        kind: "gen",
        name: "real-defects-2",
        duration: 40,
        defects:
          "black@3:2.5,freeze@9:2,freeze-noisy@14:3,logo-black@30:2.5,silence@20:2.5,clipping@10:1.5,silence@25:1",
        base: "real",
        seed: 2,
        unscored: REAL_AUDIO,
      },
      {
        kind: "corrupt",
        name: "real-corrupt",
        duration: 20,
        size: "640x360",
        bitrate: "800k",
        base: "real",
        corrupt: [{ start: 7, duration: 0.4 }],
        unscored: REAL_AUDIO,
      },
    );
  }
  return clips;
}

/** The real-lossy part (real-lossy-suite.ts) as clip specs; each carries its half. */
export function realLossyClips(sources: readonly RealSource[] = ["bbb"]): ClipSpec[] {
  return realLossySuite(sources).map((real) => ({
    kind: "real-lossy",
    name: real.name,
    real,
    unscored: real.unscored,
  }));
}

interface GenTruthDefect {
  readonly type: string;
  readonly start: number;
  readonly end: number;
  readonly expect: string | null;
}

/** The generator's truth as incidents. */
export function genTruths(defects: readonly GenTruthDefect[]): Interval[] {
  const out: Interval[] = [];
  for (const d of defects) {
    if (d.expect === null) continue;
    if (d.type === "gap") {
      // stream.gap is reported per track (details.track): both tracks are missing.
      out.push(
        { type: d.expect, start: d.start, end: d.end },
        { type: d.expect, start: d.start, end: d.end },
      );
      continue;
    }
    out.push({ type: d.expect, start: d.start, end: d.end });
    if (d.type === "clipping") {
      // +30 dB into full scale is also a loudness excursion far above any target.
      out.push({ type: "audio.loudness", start: d.start, end: d.end });
    }
  }
  return out;
}

function clipFile(dir: string, spec: ClipSpec): string {
  return join(dir, `${spec.name}.ts`);
}

interface Cached {
  readonly spec: ClipSpec;
  readonly truths: Interval[];
  /** TRUTH_RULES when the truths were made: clips cached under older rules are made again. */
  readonly rules?: number;
}

/**
 * Version of the generators' truth rules. 2: a loudness excursion that the issue's rules
 * require only after the clip has ended (6 LU off target, sustained, within 60 s) is
 * optional, no longer a near miss. 3: real-lossy clips start their pictures and their own
 * sound on a frame time (an offset clip's sound was up to one source frame later than its spec).
 */
const TRUTH_RULES = 3;

/**
 * Generates one clip into `dir`, or reuses it when `<name>.eval.json` holds the same spec
 * (the generators are deterministic for a given spec and seed).
 */
export async function buildClip(
  dir: string,
  spec: ClipSpec,
  opts: { realMedia: string | null; ffmpegPath: string; extraMedia?: ExtraMedia | null },
): Promise<SuiteClip> {
  await mkdir(dir, { recursive: true });
  const path = clipFile(dir, spec);
  const meta = join(dir, `${spec.name}.eval.json`);
  const unscored = spec.unscored ?? [];
  if (existsSync(path) && existsSync(meta)) {
    const cached = JSON.parse(await readFile(meta, "utf8")) as Cached;
    if (JSON.stringify(cached.spec) === JSON.stringify(spec) && cached.rules === TRUTH_RULES) {
      return { spec, path, truths: cached.truths, unscored };
    }
  }
  const camera = spec.kind === "real-lossy" && spec.real.source === "camera";
  const extra = opts.extraMedia ?? null;
  if (camera && extra === null) {
    throw new StreamqcError(
      "SQM_ERR_USAGE",
      `clip ${spec.name} needs the camera and music: ${EXTRA_MEDIA_HINT}`,
    );
  }
  const wantsReal = !camera && (spec.kind === "real-lossy" || (spec.kind !== "sync" && spec.base === "real"));
  if (wantsReal && opts.realMedia === null) {
    throw new StreamqcError("SQM_ERR_USAGE", `clip ${spec.name} needs the real recording ${REAL_MEDIA}`);
  }
  const base = wantsReal && opts.realMedia !== null ? { base: opts.realMedia } : {};
  const realMedia = opts.realMedia ?? "";
  let truths: Interval[];
  switch (spec.kind) {
    case "gen": {
      const t = await generateClip(path, {
        duration: spec.duration,
        defects: parseDefectSpec(spec.defects),
        ffmpegPath: opts.ffmpegPath,
        ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
        ...base,
      });
      truths = genTruths(t.defects);
      break;
    }
    case "corrupt": {
      const t = await generateCorruptClip(path, {
        duration: spec.duration,
        size: spec.size,
        bitrate: spec.bitrate,
        corrupt: spec.corrupt,
        ffmpegPath: opts.ffmpegPath,
        ...(spec.content !== undefined ? { content: spec.content } : {}),
        ...base,
      });
      truths = t.incidents.map((i) => ({ type: i.type, start: i.start, end: i.end }));
      break;
    }
    case "real-lossy": {
      const r = spec.real;
      const t = await generateRealLossyClip(path, {
        base: camera && extra ? extra.camera : realMedia,
        ...(camera && extra ? { sound: { path: extra.music, start: r.soundStart ?? 0 } } : {}),
        baseStart: r.baseStart,
        duration: r.duration,
        profile: r.profile,
        defects: r.defects,
        seed: r.seed,
        ffmpegPath: opts.ffmpegPath,
      });
      truths = t.truths.map((i) => ({
        type: i.type,
        start: i.start,
        end: i.end,
        ...(i.onsetSlack !== undefined ? { onsetSlack: i.onsetSlack } : {}),
        ...(i.optional ? { optional: true } : {}),
      }));
      break;
    }
    case "sync": {
      const t = await generateSyncClip(path, {
        duration: spec.duration,
        offsetMs: spec.offsetMs,
        ffmpegPath: opts.ffmpegPath,
        ...(spec.windows !== undefined ? { windows: spec.windows } : {}),
      });
      // An offset that lasts to the end has no end in the truth: the clip's end.
      truths = t.incidents.map((i) => ({
        type: i.type,
        start: i.start,
        end: Number.isFinite(i.end) ? i.end : spec.duration,
      }));
      break;
    }
  }
  await writeFile(
    meta,
    `${JSON.stringify({ spec, truths, rules: TRUTH_RULES } satisfies Cached, null, 2)}\n`,
  );
  return { spec, path, truths, unscored };
}
