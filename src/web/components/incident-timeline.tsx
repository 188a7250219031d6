/**
 * 24 hours of one stream's incidents, one row per type: an SVG bar per incident from its start
 * to its end (or now), coloured by severity and titled with its times. A text list of the
 * rows' counts stands beside it for screen readers.
 */
import type { Incident } from "../api/wire-types.js";
import { dateTimeText, durationText } from "../util/format.js";

const ROW = 22;
const LABEL = 130;
const WIDTH = 900;

export function IncidentTimeline({ incidents, now }: { incidents: readonly Incident[]; now: number }) {
  const from = now - 24 * 3600_000;
  const byType = new Map<string, Incident[]>();
  for (const i of incidents) {
    const end = i.endedAt ? Date.parse(i.endedAt) : now;
    if (end < from) continue;
    byType.set(i.type, [...(byType.get(i.type) ?? []), i]);
  }
  const types = [...byType.keys()].sort();
  const x = (ms: number): number =>
    LABEL + ((Math.max(ms, from) - from) / (now - from)) * (WIDTH - LABEL - 4);
  const height = Math.max(1, types.length) * ROW + 24;
  return (
    <figure class="timeline" data-timeline-rows={types.length}>
      <figcaption>Incidents over the last 24 hours, by type</figcaption>
      {types.length === 0 ? (
        <p>No incidents in the last 24 hours.</p>
      ) : (
        <svg
          viewBox={`0 0 ${WIDTH} ${height}`}
          role="img"
          aria-labelledby="timeline-text"
          preserveAspectRatio="none"
        >
          {[0, 6, 12, 18, 24].map((h) => {
            const px = x(from + h * 3600_000);
            return (
              <g key={h}>
                <line x1={px} x2={px} y1={0} y2={height - 18} class="tl-grid" />
                <text x={px} y={height - 4} class="tl-axis" text-anchor="middle">
                  {h === 24 ? "now" : `-${24 - h} h`}
                </text>
              </g>
            );
          })}
          {types.map((t, row) => (
            <g key={t}>
              <text x={4} y={row * ROW + 15} class="tl-label">
                {t}
              </text>
              {(byType.get(t) ?? []).map((i) => {
                const s = Date.parse(i.startedAt ?? "");
                const e = i.endedAt ? Date.parse(i.endedAt) : now;
                const x0 = x(s);
                return (
                  <rect
                    key={i.id}
                    x={x0}
                    y={row * ROW + 4}
                    width={Math.max(2, x(e) - x0)}
                    height={ROW - 8}
                    class={`tl-bar sev-${i.severity}`}
                  >
                    <title>
                      {`${i.type} (${i.severity}) ${dateTimeText(i.startedAt)}${i.duration !== null ? `, ${durationText(i.duration)}` : ", open"}`}
                    </title>
                  </rect>
                );
              })}
            </g>
          ))}
        </svg>
      )}
      <p id="timeline-text" class="visually-hidden">
        {types.map((t) => `${t}: ${byType.get(t)?.length ?? 0} incidents`).join("; ")}
      </p>
    </figure>
  );
}
