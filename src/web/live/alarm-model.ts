/**
 * The alarm model of the wall, as pure functions: severity order, the alarm lifecycle
 * (active and unacknowledged → acknowledged → cleared → resolved), maintenance windows that
 * apply to a stream, the displayed stream state and input kind.
 */
import type { Incident, LiveState, MaintenanceWindow, Severity, Stream } from "../api/wire-types.js";

export const SEVERITY_ORDER: readonly Severity[] = ["critical", "major", "minor", "info"];

/** Higher is worse; 0 for none. */
export function severityRank(s: Severity | undefined): number {
  return s === undefined ? 0 : 4 - SEVERITY_ORDER.indexOf(s);
}

export function worstSeverity(incidents: readonly Incident[]): Severity | undefined {
  let worst: Severity | undefined;
  for (const i of incidents) if (severityRank(i.severity) > severityRank(worst)) worst = i.severity;
  return worst;
}

export function isOpen(i: Incident): boolean {
  return i.end === null && (i.endedAt ?? null) === null;
}

export function isAcked(i: Incident): boolean {
  return i.acknowledged !== undefined && i.acknowledged !== null;
}

export type Lifecycle = "active" | "acknowledged" | "cleared" | "resolved";

/**
 * active: open, nobody has acknowledged it; acknowledged: open, acknowledged; cleared: over,
 * still to be acknowledged; resolved: over and acknowledged.
 */
export function lifecycle(i: Incident): Lifecycle {
  if (isOpen(i)) return isAcked(i) ? "acknowledged" : "active";
  return isAcked(i) ? "resolved" : "cleared";
}

export const LIFECYCLE_LABEL: Record<Lifecycle, string> = {
  active: "Active, unacknowledged",
  acknowledged: "Acknowledged",
  cleared: "Cleared, unacknowledged",
  resolved: "Resolved",
};

/** The four states the wall shows (and `data-status` carries). */
export type DisplayStatus = "connecting" | "up" | "down" | "stopped";

export function displayStatus(state: LiveState | null, stream: Stream): DisplayStatus {
  if (!stream.enabled) return "stopped";
  switch (state?.status) {
    case undefined:
    case "starting":
      return "connecting";
    case "up":
      return "up";
    case "stopped":
      return "stopped";
    default:
      return "down";
  }
}

/** What kind of input a URL is, as operators name it. */
export function inputKind(url: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined || url.startsWith("/")) return "FILE";
  if (scheme === "http" || scheme === "https") return /\.m3u8(\?|$)/i.test(url) ? "HLS" : "HTTP-TS";
  return scheme.toUpperCase();
}

/** Whether a window selects this stream: by id, by all of its labels, or every stream. */
export function windowSelects(w: MaintenanceWindow, s: Stream): boolean {
  if (w.streamId !== null && w.streamId !== "") return w.streamId === s.id || w.streamId === s.name;
  const labels = Object.entries(w.labels ?? {});
  return labels.every(([k, v]) => s.labels[k] === v);
}

export function openWindowsFor(
  s: Stream,
  windows: readonly MaintenanceWindow[],
  now: number,
): MaintenanceWindow[] {
  return windows.filter(
    (w) =>
      windowSelects(w, s) &&
      Date.parse(w.endsAt) > now &&
      (w.startsAt === null || Date.parse(w.startsAt) <= now),
  );
}

/** Short text of a type for a badge: `video.freeze` → `FREEZE`, `ts.pcr-gap` → `TS PCR-GAP`. */
export function badgeText(type: string): string {
  const [family, ...rest] = type.split(".");
  const name = rest.join(".");
  const plain = family === "video" || family === "audio" || family === "stream";
  return (plain ? name : `${family ?? ""} ${name}`).toUpperCase();
}
