/**
 * Runs a suite: every clip through streamqc (`analyzeInput`, default profile) and through the
 * FFmpeg baseline, then scores both per type.
 */
import { analyzeInput, type DecodeChoice } from "../monitor/analyze.js";
import { BASELINE_TYPES, runBaseline } from "./ffmpeg-baseline.js";
import { buildClip, SCORED_TYPES, type ClipSpec, type SuiteClip } from "./eval-suite.js";
import type { Half, RealSource } from "./real-lossy-suite.js";
import type { ExtraMedia } from "./extra-media.js";
import {
  DEFAULT_TOLERANCE,
  scoreClips,
  type ClipOutcome,
  type Interval,
  type TypeScore,
} from "./match-scorer.js";

export interface ClipRun {
  readonly clip: SuiteClip;
  readonly streamqc: Interval[];
  readonly baseline: Interval[];
  /** Types reported on this clip that are outside SCORED_TYPES or unscored here. */
  readonly ignored: Interval[];
}

/** Scores of one set of clips, for both systems. */
export interface ScoredPart {
  readonly streamqc: TypeScore[];
  /** Null for the types FFmpeg has no filter for. */
  readonly baseline: (TypeScore | null)[];
}

export interface EvalPart extends ScoredPart {
  /** `synthetic`: the generated suite (and its real-base clips), as before issue 10. */
  readonly part: "synthetic" | "real-lossy";
  /** The real-lossy part is scored per half; the synthetic part has none. */
  readonly half: Half | null;
  /** One real recording's clips only; null: every recording's. */
  readonly source?: RealSource | null;
  readonly runs: ClipRun[];
}

export interface EvalResult extends ScoredPart {
  readonly runs: ClipRun[];
  readonly tolerance: number;
  /**
   * The synthetic part, then the real-lossy part's held-out and tune halves (each present
   * when the suite has clips of it). `streamqc`/`baseline` above are the synthetic part's.
   */
  readonly parts: EvalPart[];
}

/** Runs `work` over items with at most `jobs` at a time, results in input order. */
export async function pool<T, R>(
  items: readonly T[],
  jobs: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  return results;
}

function judged(clip: SuiteClip, list: readonly Interval[]): { kept: Interval[]; ignored: Interval[] } {
  const scored = new Set<string>(SCORED_TYPES);
  const kept: Interval[] = [];
  const ignored: Interval[] = [];
  for (const i of list) {
    if (scored.has(i.type) && !clip.unscored.includes(i.type)) kept.push(i);
    else ignored.push(i);
  }
  return { kept, ignored };
}

export interface EvalOptions {
  readonly dir: string;
  readonly suite: readonly ClipSpec[];
  readonly realMedia: string | null;
  /** The camera, music and trailer recordings (extra-media.ts), when fetched. */
  readonly extraMedia?: ExtraMedia | null;
  readonly ffmpegPath: string;
  readonly jobs?: number;
  readonly tolerance?: number;
  readonly onProgress?: (message: string) => void;
  /** `light`: analyze in light mode (keyframes, promoted on trouble). Default `full`. */
  readonly mode?: "full" | "light";
  /** Full decoding's policy for every clip (decode-policy.ts). Default `auto`. */
  readonly decodePolicy?: DecodeChoice;
  /** Per-detector option overrides for every clip, as in a profile's `detectors`. */
  readonly detectors?: Record<string, unknown>;
}

export async function runEvaluation(opts: EvalOptions): Promise<EvalResult> {
  const jobs = opts.jobs ?? 2;
  const tolerance = opts.tolerance ?? DEFAULT_TOLERANCE;
  const clips = await pool(opts.suite, jobs, async (spec) => {
    const clip = await buildClip(opts.dir, spec, {
      realMedia: opts.realMedia,
      ffmpegPath: opts.ffmpegPath,
      extraMedia: opts.extraMedia ?? null,
    });
    opts.onProgress?.(`clip ${spec.name} ready`);
    return clip;
  });
  const runs = await pool(clips, jobs, async (clip): Promise<ClipRun> => {
    // One decoder thread each: --jobs decoders share the machine.
    const ours = await analyzeInput(clip.path, {
      ffmpegPath: opts.ffmpegPath,
      threads: 1,
      ...(opts.mode ? { mode: opts.mode } : {}),
      ...(opts.decodePolicy ? { decodePolicy: opts.decodePolicy } : {}),
      ...(opts.detectors ? { detectors: opts.detectors } : {}),
    });
    const base = await runBaseline(clip.path, opts.ffmpegPath);
    const o = judged(
      clip,
      ours.incidents.map((i) => ({ type: i.type, start: i.start, end: i.end })),
    );
    const b = judged(clip, base.detections);
    opts.onProgress?.(
      `clip ${clip.spec.name}: streamqc ${o.kept.length}, baseline ${b.kept.length} incidents`,
    );
    return { clip, streamqc: o.kept, baseline: b.kept, ignored: o.ignored };
  });
  const part = (p: EvalPart["part"], half: Half | null, source: RealSource | null = null): EvalPart => {
    const mine = runs.filter((r) =>
      p === "synthetic"
        ? r.clip.spec.kind !== "real-lossy"
        : r.clip.spec.kind === "real-lossy" &&
          r.clip.spec.real.half === half &&
          (source === null || r.clip.spec.real.source === source),
    );
    return { part: p, half, source, runs: mine, ...scoreRuns(mine, tolerance) };
  };
  // With both recordings present, each half is also shown per recording.
  const sources = new Set(
    runs.flatMap((r) => (r.clip.spec.kind === "real-lossy" ? [r.clip.spec.real.source] : [])),
  );
  const perSource = (half: Half): EvalPart[] =>
    sources.size > 1 ? [...sources].sort().map((s) => part("real-lossy", half, s)) : [];
  const parts = [
    part("synthetic", null),
    part("real-lossy", "held-out"),
    ...perSource("held-out"),
    part("real-lossy", "tune"),
    ...perSource("tune"),
  ].filter((p) => p.runs.length > 0);
  const synthetic = parts.find((p) => p.part === "synthetic") ?? part("synthetic", null);
  return { runs, streamqc: synthetic.streamqc, baseline: synthetic.baseline, tolerance, parts };
}

/** Both systems' scores per type over `runs`. */
export function scoreRuns(runs: readonly ClipRun[], tolerance: number): ScoredPart {
  const outcomes = (pick: (r: ClipRun) => Interval[]): ClipOutcome[] =>
    runs.map((r) => ({
      truths: r.clip.truths.filter((t) => !r.clip.unscored.includes(t.type)),
      detections: pick(r),
    }));
  const streamqc = scoreClips(
    outcomes((r) => r.streamqc),
    SCORED_TYPES,
    tolerance,
  );
  const baselineScores = scoreClips(
    outcomes((r) => r.baseline),
    BASELINE_TYPES,
    tolerance,
  );
  const baseline = SCORED_TYPES.map((t) => baselineScores.find((s) => s.type === t) ?? null);
  return { streamqc, baseline };
}
