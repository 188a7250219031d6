/**
 * A stream's availability report from its incidents, the same in every backend: the store
 * selects the incidents that overlap the period (`INCIDENT_OVERLAP` below) ordered by type
 * then start, and this merges the intervals per type so two overlapping incidents count once.
 */
import type { StreamReport } from "./store.js";

export interface ReportRow {
  readonly type: string;
  readonly started_ms: number;
  readonly ended_ms: number | null;
}

/** Where clause, parameters (toMs, fromMs): an incident overlaps [from, to). */
export const INCIDENT_OVERLAP = "started_ms < ? AND (ended_ms IS NULL OR ended_ms > ?)";

/** The clipped period: `to` never after `now`, never before `from`. */
export function reportPeriod(from: Date, to: Date, now: Date): { fromMs: number; toMs: number } {
  const fromMs = from.getTime();
  return { fromMs, toMs: Math.max(fromMs, Math.min(to.getTime(), now.getTime())) };
}

/** `rows` ordered by type, then started_ms. Open incidents count to `now`. */
export function buildReport(
  streamId: string,
  rows: Iterable<ReportRow>,
  period: { fromMs: number; toMs: number },
  now: Date,
): StreamReport {
  const { fromMs, toMs } = period;
  const defectMs = new Map<string, number>();
  let type: string | null = null;
  let curStart = 0;
  let curEnd = 0;
  const flush = (): void => {
    if (type !== null && curEnd > curStart) defectMs.set(type, (defectMs.get(type) ?? 0) + curEnd - curStart);
  };
  for (const r of rows) {
    const s = Math.max(r.started_ms, fromMs);
    const e = Math.min(r.ended_ms ?? now.getTime(), toMs);
    if (e <= s) continue;
    if (r.type !== type) {
      flush();
      type = r.type;
      curStart = s;
      curEnd = e;
    } else if (s <= curEnd) {
      curEnd = Math.max(curEnd, e);
    } else {
      flush();
      curStart = s;
      curEnd = e;
    }
  }
  flush();
  const periodSeconds = (toMs - fromMs) / 1000;
  const downSeconds = (defectMs.get("stream.down") ?? 0) / 1000;
  const defectSeconds: Record<string, number> = {};
  for (const [t, ms] of defectMs) defectSeconds[t] = ms / 1000;
  return {
    streamId,
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    periodSeconds,
    downSeconds,
    availability: periodSeconds > 0 ? 1 - downSeconds / periodSeconds : 1,
    defectSeconds,
  };
}
