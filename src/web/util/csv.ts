/** CSV (RFC 4180) of the journal, for spreadsheets and tickets. */
import type { Incident } from "../api/wire-types.js";
import { lifecycle } from "../live/alarm-model.js";

export const CSV_COLUMNS = [
  "id",
  "stream",
  "type",
  "severity",
  "state",
  "startedAt",
  "endedAt",
  "start",
  "end",
  "duration",
  "acknowledgedAt",
  "acknowledgedBy",
  "comment",
  "details",
] as const;

function cell(v: unknown): string {
  const s = v === null || v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v);
  // A leading = + - @ would be run as a formula by spreadsheets; quote-prefix it.
  const safe = /^[=+\-@\t\r]/.test(s) && typeof v === "string" ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function incidentsCsv(items: readonly Incident[]): string {
  const rows = items.map((i) =>
    [
      i.id,
      i.stream,
      i.type,
      i.severity,
      lifecycle(i),
      i.startedAt,
      i.endedAt,
      i.start,
      i.end,
      i.duration,
      i.acknowledged?.at,
      i.acknowledged?.by,
      i.acknowledged?.comment,
      i.details,
    ]
      .map(cell)
      .join(","),
  );
  return [CSV_COLUMNS.join(","), ...rows].join("\r\n") + "\r\n";
}
