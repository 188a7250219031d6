/**
 * The evaluation's markdown: one table per system, then the targets check.
 */
import { f1, matchIntervals, type Interval, type TypeScore } from "./match-scorer.js";
import type { EvalResult } from "./eval-runner.js";

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
export function checkTargets(result: EvalResult): TargetCheck[] {
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

export function renderReport(result: EvalResult): string {
  const types = result.streamqc.map((s) => s.type);
  const checks = checkTargets(result);
  const lines: string[] = [];
  lines.push(`Tolerance: onset within ${result.tolerance} s, intervals overlapping, one-to-one.\n`);
  lines.push(`### streamqc (default profile)\n`);
  lines.push(scoreTable(result.streamqc));
  lines.push(`### FFmpeg-only baseline\n`);
  lines.push(baselineTable(types, result.baseline));
  lines.push(`### Targets (precision and recall >= 0.95, F1 not below the baseline)\n`);
  for (const c of checks)
    lines.push(
      `- ${c.type}: ${c.pass ? "PASS" : "FAIL"}${c.reasons.length ? ` (${c.reasons.join("; ")})` : ""}`,
    );
  lines.push("");
  const misses: string[] = [];
  for (const r of result.runs) {
    const unmatched = describeMisses(
      r.clip.spec.name,
      r.clip.truths.filter((t) => !r.clip.unscored.includes(t.type)),
      r.streamqc,
      result.tolerance,
    );
    misses.push(...unmatched);
  }
  lines.push(`### streamqc misses and false positives\n`);
  lines.push(misses.length === 0 ? "- none" : misses.join("\n"));
  lines.push("");
  const other = new Map<string, number>();
  for (const r of result.runs) for (const i of r.ignored) other.set(i.type, (other.get(i.type) ?? 0) + 1);
  lines.push(
    `Not scored (unscored on their clip or outside the scored types): ${
      other.size === 0 ? "none" : [...other].map(([t, n]) => `${t} ×${n}`).join(", ")
    }\n`,
  );
  return lines.join("\n");
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
    if (!mt.has(i)) out.push(`- ${clip}: missed ${fmt(t)}`);
  });
  detections.forEach((d, i) => {
    if (!md.has(i)) out.push(`- ${clip}: false positive ${fmt(d)}`);
  });
  return out;
}
