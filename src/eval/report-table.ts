/**
 * The evaluation's markdown: one table per system, then the targets check.
 */
import { f1, matchIntervals, type Interval, type TypeScore } from "./match-scorer.js";
import type { ClipRun, EvalPart, EvalResult, ScoredPart } from "./eval-runner.js";

export const TARGET_PRECISION = 0.95;
export const TARGET_RECALL = 0.95;

function ratio(v: number | null): string {
  return v === null ? "—" : v.toFixed(2);
}

function seconds(v: number | null): string {
  return v === null ? "—" : v.toFixed(3);
}

const HEAD =
  "| type | truths | detections | true positives | precision | recall | mean onset error (s) |\n" +
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n";

export function scoreTable(scores: readonly TypeScore[]): string {
  return (
    HEAD +
    scores
      .map(
        (s) =>
          `| ${s.type} | ${s.truths} | ${s.detections} | ${s.truePositives} | ${ratio(s.precision)} | ${ratio(
            s.recall,
          )} | ${seconds(s.meanOnsetError)} |`,
      )
      .join("\n") +
    "\n"
  );
}

export function baselineTable(types: readonly string[], scores: readonly (TypeScore | null)[]): string {
  return (
    HEAD +
    types
      .map((type, i) => {
        const s = scores[i];
        if (!s) return `| ${type} | n/a | n/a | n/a | n/a | n/a | n/a |`;
        return `| ${type} | ${s.truths} | ${s.detections} | ${s.truePositives} | ${ratio(s.precision)} | ${ratio(
          s.recall,
        )} | ${seconds(s.meanOnsetError)} |`;
      })
      .join("\n") +
    "\n"
  );
}

export interface TargetCheck {
  readonly type: string;
  readonly pass: boolean;
  readonly reasons: string[];
}

/**
 * Per type: precision and recall at least 0.95 (a type with nothing detected has no
 * precision to miss; one with nothing to find has no recall), and F1 not below the baseline's.
 */
export function checkTargets(result: ScoredPart): TargetCheck[] {
  return result.streamqc.map((s, i) => {
    const reasons: string[] = [];
    if (s.precision !== null && s.precision < TARGET_PRECISION)
      reasons.push(`precision ${ratio(s.precision)} < 0.95`);
    if (s.recall !== null && s.recall < TARGET_RECALL) reasons.push(`recall ${ratio(s.recall)} < 0.95`);
    if (s.truths === 0 && s.detections === 0) reasons.push("no truths in the suite");
    const b = result.baseline[i];
    if (b && f1(s) < f1(b)) reasons.push(`F1 ${f1(s).toFixed(2)} < baseline ${f1(b).toFixed(2)}`);
    const pass = reasons.length === 0 || (reasons.length === 1 && reasons[0] === "no truths in the suite");
    return { type: s.type, pass, reasons };
  });
}

const PART_TITLES: Record<string, string> = {
  synthetic: "Synthetic suite (generated clips and the real-base clips; the detectors were developed on it)",
  "real-lossy/held-out": "Real content, lossy: HELD-OUT half (even seeds; never tuned on)",
  "real-lossy/tune": "Real content, lossy: TUNE half (odd seeds; detectors may be developed on it)",
  "real-lossy/held-out/bbb": "HELD-OUT half, Big Buck Bunny's clips only",
  "real-lossy/held-out/camera":
    "HELD-OUT half, camera + music clips only (a real camera and real music, added after the first held-out runs)",
  "real-lossy/tune/bbb": "TUNE half, Big Buck Bunny's clips only",
  "real-lossy/tune/camera": "TUNE half, camera + music clips only",
};

export function partKey(p: EvalPart): string {
  const base = p.half === null ? p.part : `${p.part}/${p.half}`;
  return p.source ? `${base}/${p.source}` : base;
}

/** One part's tables, targets, misses and unscored detections. */
export function renderPart(part: EvalPart, tolerance: number): string {
  const types = part.streamqc.map((s) => s.type);
  const checks = checkTargets(part);
  const lines: string[] = [];
  lines.push(`### streamqc (default profile)\n`);
  lines.push(scoreTable(part.streamqc));
  lines.push(`### FFmpeg-only baseline\n`);
  lines.push(baselineTable(types, part.baseline));
  lines.push(`### Targets (precision and recall >= 0.95, F1 not below the baseline)\n`);
  for (const c of checks)
    lines.push(
      `- ${c.type}: ${c.pass ? "PASS" : "FAIL"}${c.reasons.length ? ` (${c.reasons.join("; ")})` : ""}`,
    );
  lines.push("");
  lines.push(`### streamqc misses and false positives\n`);
  const misses = missList(part.runs, tolerance);
  lines.push(misses.length === 0 ? "- none" : misses.join("\n"));
  lines.push("");
  const other = new Map<string, number>();
  for (const r of part.runs) for (const i of r.ignored) other.set(i.type, (other.get(i.type) ?? 0) + 1);
  lines.push(
    `Not scored (unscored on their clip or outside the scored types): ${
      other.size === 0 ? "none" : [...other].map(([t, n]) => `${t} ×${n}`).join(", ")
    }\n`,
  );
  return lines.join("\n");
}

function missList(runs: readonly ClipRun[], tolerance: number): string[] {
  const misses: string[] = [];
  for (const r of runs) {
    misses.push(
      ...describeMisses(
        r.clip.spec.name,
        r.clip.truths.filter((t) => !r.clip.unscored.includes(t.type)),
        r.streamqc,
        tolerance,
      ),
    );
  }
  return misses;
}

export function renderReport(result: EvalResult): string {
  const lines: string[] = [];
  lines.push(`Tolerance: onset within ${result.tolerance} s, intervals overlapping, one-to-one.\n`);
  const single = result.parts.length === 1;
  for (const p of result.parts) {
    if (!single) lines.push(`## ${PART_TITLES[partKey(p)] ?? partKey(p)} — ${p.runs.length} clips\n`);
    lines.push(renderPart(p, result.tolerance));
  }
  return lines.join("\n");
}

/** Exit status rule: the synthetic part and the held-out half must meet every target. */
export function judgedParts(result: EvalResult): EvalPart[] {
  return result.parts.filter((p) => p.half !== "tune");
}

function fmt(i: Interval): string {
  return `${i.type} ${i.start.toFixed(2)}–${i.end === null ? "open" : i.end.toFixed(2)}`;
}

function describeMisses(
  clip: string,
  truths: readonly Interval[],
  detections: readonly Interval[],
  tol: number,
): string[] {
  const m = matchIntervals(truths, detections, tol);
  const mt = new Set(m.map((x) => x.truth));
  const md = new Set(m.map((x) => x.detection));
  const out: string[] = [];
  truths.forEach((t, i) => {
    if (!mt.has(i) && !t.optional) out.push(`- ${clip}: missed ${fmt(t)}`);
  });
  detections.forEach((d, i) => {
    if (!md.has(i)) out.push(`- ${clip}: false positive ${fmt(d)}`);
  });
  return out;
}
