/** Rendering incidents for people (text) and programs (json, jsonl). */
import type { Incident } from "../incident.js";

export const FORMATS = ["text", "json", "jsonl"] as const;
export type Format = (typeof FORMATS)[number];

export function formatClock(seconds: number): string {
  const s = Math.max(0, seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = (s % 60).toFixed(2).padStart(5, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${String(m).padStart(2, "0")}:${sec}`;
}

function detailText(details: Record<string, unknown>): string {
  return Object.entries(details)
    .map(([k, v]) => `${k}=${typeof v === "number" ? Math.round(v * 1000) / 1000 : JSON.stringify(v)}`)
    .join(" ");
}

export function incidentLine(i: Incident): string {
  const end = i.end === null ? "open" : formatClock(i.end);
  const dur = i.duration === null ? "" : ` (${i.duration.toFixed(2)} s)`;
  return `${formatClock(i.start)} – ${end}${dur}  ${i.severity.padEnd(8)} ${i.type.padEnd(18)} ${detailText(i.details)}`;
}

/** The incident exactly as the schema has it (no internal fields), for json and jsonl. */
export function publicIncident(i: Incident): Incident {
  const { id: _id, ...rest } = i;
  return rest;
}

export function renderIncidents(
  incidents: readonly Incident[],
  format: Format,
  meta: { input: string; mediaDuration: number },
): string {
  switch (format) {
    case "jsonl":
      return (
        incidents.map((i) => JSON.stringify(publicIncident(i))).join("\n") + (incidents.length ? "\n" : "")
      );
    case "json":
      return (
        JSON.stringify(
          { input: meta.input, mediaDuration: meta.mediaDuration, incidents: incidents.map(publicIncident) },
          null,
          2,
        ) + "\n"
      );
    case "text": {
      const head = `${meta.input}: ${formatClock(meta.mediaDuration)} of media, ${incidents.length} incident${incidents.length === 1 ? "" : "s"}`;
      return [head, ...incidents.map((i) => "  " + incidentLine(i))].join("\n") + "\n";
    }
  }
}

/** A one-line progress bar on a terminal: `[#####.....] 42% 00:25.00 / 01:00.00`. */
export function progressBar(done: number, total: number, width = 30): string {
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(frac * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(Math.round(frac * 100)).padStart(3)}% ${formatClock(done)} / ${formatClock(total)}`;
}
