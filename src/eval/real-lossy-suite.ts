/**
 * The real-content, lossy part of the evaluation: clips of a real recording re-encoded as
 * broadcasters send it, with defects injected the ways real-lossy-clip.ts does, drawn from
 * FIXED SEEDS. Each clip belongs to one half, decided by its seed alone: odd seeds are the
 * `tune` half (detectors may be developed against it), even seeds the `held-out` half (only
 * measured; never look at its misses to change a detector). Every template is drawn once per
 * half per replica, so both halves hold the same kinds of defect in different places,
 * stretches of the recording and codecs.
 */
import { seededRandom } from "../gen/ts-corruptor.js";
import { BROADCAST_PROFILE_NAMES, type BroadcastProfileName } from "../gen/broadcast-profile.js";
import type { RealDefect } from "../gen/real-lossy-clip.js";

export type Half = "tune" | "held-out";

/**
 * The real recording a clip is cut from. `bbb`: Big Buck Bunny's first minute, pictures and its
 * own film mix. `camera`: a real camera (OpenCV's vtest.avi, 79.5 s, no sound of its own) with
 * real music under it (ASC's frontiers.mp3, 7 min): content no detector was developed on,
 * added after the first held-out measurements (extra-media.ts).
 */
export type RealSource = "bbb" | "camera";

export const TEMPLATES = [
  "picture",
  "clipping",
  "loss",
  "loudness-step",
  "loudness-ramp",
  "loudness-passage",
  "offset",
  "clean",
] as const;

export type Template = (typeof TEMPLATES)[number];

export interface RealLossySpec {
  readonly name: string;
  readonly seed: number;
  readonly half: Half;
  readonly template: Template;
  readonly source: RealSource;
  readonly baseStart: number;
  /** `camera` clips: where in the music the clip's sound starts, seconds. */
  readonly soundStart?: number;
  readonly duration: number;
  readonly profile: BroadcastProfileName;
  readonly defects: readonly RealDefect[];
  /** Types not judged on this clip, with the reason in REAL_UNSCORED_WHY. */
  readonly unscored: readonly string[];
}

/** Clips per template and half (one seed pair per replica). */
const REPLICAS: Record<Template, number> = {
  picture: 2,
  clipping: 2,
  loss: 2,
  "loudness-step": 1,
  "loudness-ramp": 1,
  "loudness-passage": 1,
  offset: 3,
  clean: 1,
};

const DURATION: Record<Template, number> = {
  picture: 24,
  clipping: 20,
  loss: 20,
  "loudness-step": 32,
  "loudness-ramp": 32,
  "loudness-passage": 32,
  offset: 30,
  clean: 30,
};

/** Length of each recording used, less a margin: pictures, and the camera's music. */
const BASE_SECONDS: Record<RealSource, number> = { bbb: 59.5, camera: 79 };
const MUSIC_SECONDS = 435;

/** Camera clips per template and half: sound unrelated to the pictures has no A/V offset. */
const CAMERA_REPLICAS: Record<Template, number> = {
  picture: 2,
  clipping: 2,
  loss: 2,
  "loudness-step": 2,
  "loudness-ramp": 2,
  "loudness-passage": 2,
  offset: 0,
  clean: 1,
};
/** Gain of the loudness defects, dB: 10 LU above target and more after the limiter. */
const LOUD_GAIN_DB = 15;

/** Why a type is not judged on some real-lossy clips. */
export const REAL_UNSCORED_WHY =
  "audio.true-peak is never a scored type; audio.loudness is not judged on the clipping clips " +
  "(a 0.3-3 s burst is neither programme loudness nor a 10 s passage under issue 10's rules)";

export function halfOf(seed: number): Half {
  return seed % 2 === 1 ? "tune" : "held-out";
}

function round(v: number, step = 0.1): number {
  return Math.round(v / step) * step;
}

function fix(v: number): number {
  return Number(v.toFixed(3));
}

function draw(template: Template, seed: number, index: number, source: RealSource): RealLossySpec {
  const rand = seededRandom(seed * 7919 + 13);
  const between = (lo: number, hi: number): number => fix(round(lo + rand() * (hi - lo)));
  const duration = DURATION[template];
  const half = halfOf(seed);
  // Codecs rotate over the clips so that every profile appears in both halves.
  const profile = BROADCAST_PROFILE_NAMES[index % BROADCAST_PROFILE_NAMES.length]!;
  let defects: RealDefect[] = [];
  let unscored: string[] = [];
  let reserve = 0;
  switch (template) {
    case "picture": {
      // Three slots: a freeze, a black, and a freeze of 1.2 s (below the 2 s minimum).
      const slot = duration / 3;
      const f = between(1, slot - 4.2);
      const b = between(slot + 0.5, 2 * slot - 3.2);
      const n = between(2 * slot + 0.5, duration - 1.7);
      defects = [
        {
          kind: "picture",
          defects: `freeze@${f}:${between(2.2, 3.5)},black@${b}:${between(2.1, 3)},freeze@${n}:1.2`,
        },
      ];
      break;
    }
    case "clipping": {
      const half1 = duration / 2;
      defects = [
        { kind: "clip", start: between(1, half1 - 1.5), duration: between(0.4, 1) },
        { kind: "clip", start: between(half1 + 0.5, duration - 3.5), duration: between(1.5, 3) },
      ];
      unscored = ["audio.loudness"];
      break;
    }
    case "loss": {
      const half1 = duration / 2;
      defects = [
        { kind: "loss", start: between(2, half1 - 2), duration: between(0.2, 0.6), shape: "scattered" },
        { kind: "loss", start: between(half1 + 1, duration - 4), duration: between(0.8, 2), shape: "burst" },
      ];
      break;
    }
    case "loudness-step":
      defects = [{ kind: "step", start: between(5, duration - 16), gainDb: LOUD_GAIN_DB }];
      break;
    case "loudness-ramp": {
      const r = between(4, 8);
      defects = [{ kind: "ramp", start: between(3, duration - 15 - r), duration: r, gainDb: LOUD_GAIN_DB }];
      break;
    }
    case "loudness-passage":
      defects = [{ kind: "passage", start: between(8, duration - 12), duration: 10, gainDb: LOUD_GAIN_DB }];
      break;
    case "offset": {
      // Either sign, 80..250 ms: late sound up to +125 ms is inside BT.1359 (a near miss).
      const ms = Math.round(80 + rand() * 170) * (rand() < 0.5 ? -1 : 1);
      defects = [{ kind: "offset", ms }];
      reserve = Math.max(0, -ms / 1000);
      break;
    }
    case "clean":
      break;
  }
  const baseStart = between(0, BASE_SECONDS[source] - duration - reserve);
  const soundStart = source === "camera" ? between(0, MUSIC_SECONDS - duration) : undefined;
  return {
    name: `${source === "bbb" ? "real" : "cam"}-${template}-s${seed}`,
    seed,
    half,
    template,
    source,
    baseStart,
    ...(soundStart !== undefined ? { soundStart } : {}),
    duration,
    profile,
    defects,
    unscored,
  };
}

/**
 * The real-lossy suite: for each template and replica r, seeds `base + 2r + 1` (tune) and
 * `base + 2r + 2` (held-out), with `base` = 100 x the template's index (plus 1000 for the
 * camera source). Fixed: the same call gives the same specs, and a clip's half follows from
 * its seed. `sources` picks the recordings present (the camera's come from
 * scripts/real-media.sh).
 */
export function realLossySuite(sources: readonly RealSource[] = ["bbb"]): RealLossySpec[] {
  const out: RealLossySpec[] = [];
  for (const source of sources) {
    const replicas = source === "bbb" ? REPLICAS : CAMERA_REPLICAS;
    const offset = source === "bbb" ? 0 : 1000;
    let index = 0;
    TEMPLATES.forEach((template, t) => {
      for (let r = 0; r < replicas[template]; r++) {
        for (const k of [1, 2]) out.push(draw(template, offset + 100 * t + 2 * r + k, index++, source));
      }
    });
  }
  return out;
}
