/**
 * Matching detections to ground truth, and scoring per incident type.
 *
 * A detection matches a truth when both have the same type, their intervals overlap, and the
 * onset error |detection.start - truth.start| is within the tolerance. Matching is one-to-one:
 * candidate pairs are taken in order of increasing onset error, each truth and each detection
 * at most once, so a split incident counts once and its second half is a false positive.
 */

export interface Interval {
  readonly type: string;
  readonly start: number;
  /** Seconds; null while open (never closed in the input): it reaches to the end. */
  readonly end: number | null;
  /**
   * Truths only: the onset may be anywhere in [start, start + onsetSlack] (a loudness ramp
   * has no single moment where it becomes wrong); the onset error is the distance to that span.
   */
  readonly onsetSlack?: number;
  /**
   * Truths only: the defect may or may not be reported within the clip, both being right (a
   * channel 6-10 LU too loud must be reported within 60 s, and the clip ends sooner). A
   * detection it matches is neither a true nor a false positive; unmatched, it is no miss.
   */
  readonly optional?: boolean;
}

/** detection.start minus the truth's onset (or the nearest point of its onset span). */
export function onsetErrorOf(truth: Interval, detection: Interval): number {
  const slack = truth.onsetSlack ?? 0;
  if (detection.start < truth.start) return detection.start - truth.start;
  if (detection.start > truth.start + slack) return detection.start - (truth.start + slack);
  return 0;
}

export interface Match {
  readonly truth: number;
  readonly detection: number;
  /** detection.start - truth.start, seconds. */
  readonly onsetError: number;
}

export const DEFAULT_TOLERANCE = 0.5;

function overlaps(a: Interval, b: Interval): boolean {
  const aEnd = a.end ?? Infinity;
  const bEnd = b.end ?? Infinity;
  // Closed intervals: an instant fault at the truth's first second still overlaps it.
  return a.start <= bEnd && b.start <= aEnd;
}

/** Indices of matched pairs (one-to-one) between truths and detections of one clip. */
export function matchIntervals(
  truths: readonly Interval[],
  detections: readonly Interval[],
  tolerance = DEFAULT_TOLERANCE,
): Match[] {
  const candidates: Match[] = [];
  truths.forEach((t, ti) => {
    detections.forEach((d, di) => {
      if (t.type !== d.type || !overlaps(t, d)) return;
      const onsetError = onsetErrorOf(t, d);
      // The epsilon keeps a 0.5 s error at a 0.5 s tolerance a match despite binary fractions.
      if (Math.abs(onsetError) <= tolerance + 1e-9) candidates.push({ truth: ti, detection: di, onsetError });
    });
  });
  candidates.sort(
    (a, b) =>
      Math.abs(a.onsetError) - Math.abs(b.onsetError) || a.truth - b.truth || a.detection - b.detection,
  );
  const usedT = new Set<number>();
  const usedD = new Set<number>();
  const out: Match[] = [];
  for (const c of candidates) {
    if (usedT.has(c.truth) || usedD.has(c.detection)) continue;
    usedT.add(c.truth);
    usedD.add(c.detection);
    out.push(c);
  }
  return out.sort((a, b) => a.truth - b.truth);
}

export interface TypeScore {
  readonly type: string;
  readonly truths: number;
  readonly detections: number;
  readonly truePositives: number;
  /** truePositives / detections; null when nothing was detected. */
  readonly precision: number | null;
  /** truePositives / truths; null when there was nothing to find. */
  readonly recall: number | null;
  /** Mean |onset error| of the matches, seconds; null without matches. */
  readonly meanOnsetError: number | null;
}

export interface ClipOutcome {
  readonly truths: readonly Interval[];
  readonly detections: readonly Interval[];
}

/** Scores every type in `types` over clips, each clip matched on its own. */
export function scoreClips(
  clips: readonly ClipOutcome[],
  types: readonly string[],
  tolerance = DEFAULT_TOLERANCE,
): TypeScore[] {
  const acc = new Map(types.map((t) => [t, { truths: 0, detections: 0, tp: 0, err: 0 }]));
  for (const clip of clips) {
    const truths = clip.truths.filter((t) => acc.has(t.type));
    const detections = clip.detections.filter((d) => acc.has(d.type));
    const matches = matchIntervals(truths, detections, tolerance);
    const excused = new Set(matches.filter((m) => truths[m.truth]!.optional).map((m) => m.detection));
    for (const t of truths) if (!t.optional) acc.get(t.type)!.truths++;
    detections.forEach((d, i) => {
      if (!excused.has(i)) acc.get(d.type)!.detections++;
    });
    for (const m of matches) {
      if (truths[m.truth]!.optional) continue;
      const a = acc.get(truths[m.truth]!.type)!;
      a.tp++;
      a.err += Math.abs(m.onsetError);
    }
  }
  return types.map((type) => {
    const a = acc.get(type)!;
    return {
      type,
      truths: a.truths,
      detections: a.detections,
      truePositives: a.tp,
      precision: a.detections === 0 ? null : a.tp / a.detections,
      recall: a.truths === 0 ? null : a.tp / a.truths,
      meanOnsetError: a.tp === 0 ? null : a.err / a.tp,
    };
  });
}

/** F1 with the conventions above: nothing to find and nothing found is perfect. */
export function f1(s: TypeScore): number {
  const p = s.precision ?? (s.truths === 0 ? 1 : 0);
  const r = s.recall ?? (s.detections === 0 ? 1 : 0);
  return p + r === 0 ? 0 : (2 * p * r) / (p + r);
}
