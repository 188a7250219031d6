/**
 * The summary bar: open alarms by severity (muted streams apart), how many are unacknowledged,
 * streams up and down, streams in maintenance, the event stream's state and the clock in UTC
 * and local time. A polite live region: a screen reader hears the counts change.
 */
import { useComputed } from "@preact/signals";
import { isAcked, SEVERITY_ORDER } from "../live/alarm-model.js";
import type { LiveStore } from "../live/live-store.js";
import { clockText } from "../util/format.js";

export function SummaryBar({ store }: { store: LiveStore }) {
  const counts = useComputed(() => {
    const muted = store.mutedStreams.value;
    const bySeverity: Record<string, number> = { critical: 0, major: 0, minor: 0, info: 0 };
    let unacked = 0;
    for (const [streamId, list] of store.openByStream.value) {
      if (muted.has(streamId)) continue;
      for (const i of list) {
        bySeverity[i.severity] = (bySeverity[i.severity] ?? 0) + 1;
        if (!isAcked(i)) unacked++;
      }
    }
    let up = 0;
    let down = 0;
    for (const e of store.entries.value.values()) {
      const st = e.state.value?.status;
      if (st === "up") up++;
      else if (st === "down" || st === "error") down++;
    }
    return { bySeverity, unacked, up, down, muted: muted.size, total: store.entries.value.size };
  });
  const c = counts.value;
  const conn = store.connection.value;
  const now = store.now.value;
  return (
    <div class="summary" role="region" aria-label="Summary">
      <ul class="sev-counts" aria-live="polite" aria-label="Open alarms by severity">
        {SEVERITY_ORDER.map((s) => (
          <li
            key={s}
            class={`count-chip sev-${s}${(c.bySeverity[s] ?? 0) === 0 ? " zero" : ""}`}
            data-severity={s}
          >
            {s.toUpperCase()} <b>{c.bySeverity[s] ?? 0}</b>
          </li>
        ))}
        <li class="count-chip unacked-count" data-unacked={c.unacked}>
          UNACKED <b>{c.unacked}</b>
        </li>
        <li class="count-chip maint-count" data-muted={c.muted}>
          MAINTENANCE <b>{c.muted}</b>
        </li>
      </ul>
      <span class="streams-count">
        {c.up} up · {c.down} down · {c.total} streams
      </span>
      <span class={`conn conn-${conn}`} role="status" data-connection={conn}>
        Events: {conn === "live" ? "live" : conn === "connecting" ? "connecting" : "disconnected"}
      </span>
      {store.loadError.value !== null ? (
        <span class="conn conn-disconnected" role="alert">
          API: {store.loadError.value}
        </span>
      ) : null}
      <span class="clock" aria-label="Clock">
        <time data-clock="utc">{clockText(now, true)} UTC</time>
        <time data-clock="local">{clockText(now, false)} local</time>
      </span>
    </div>
  );
}
