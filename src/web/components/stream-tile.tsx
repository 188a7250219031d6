/**
 * One stream on the wall. The frame (`data-stream`, `data-status`) and its alarm badges
 * (`data-alarm` per open type) always render: scripts and screen readers rely on them. The
 * picture and meters render only while the tile is on screen.
 */
import { useComputed } from "@preact/signals";
import { useRef } from "preact/hooks";
import type { Incident, MaintenanceWindow } from "../api/wire-types.js";
import {
  badgeText,
  displayStatus,
  inputKind,
  isAcked,
  severityRank,
  worstSeverity,
} from "../live/alarm-model.js";
import type { LiveStore, StreamEntry } from "../live/live-store.js";
import { routeHref } from "../util/router.js";
import { BEHIND_LIVE_WARN_SECONDS, behindLiveText, clockText, durationText } from "../util/format.js";
import { requestAck } from "./ack-dialog.js";
import { AudioMeter } from "./audio-meter.js";
import { AuthImage } from "./auth-image.js";
import { useVisible } from "./visibility.js";

/** A thumbnail older than this is marked stale (the service sends one every few seconds). */
export const STALE_MS = 15_000;

export interface TileProps {
  readonly store: LiveStore;
  readonly entry: StreamEntry;
  readonly large?: boolean;
  readonly onFocusView?: (id: string) => void;
}

function TilePicture({ store, entry, name }: { store: LiveStore; entry: StreamEntry; name: string }) {
  const thumb = entry.thumb.value;
  // The age ticks with the page's one shared clock (store.now) and is bound to its text node
  // and attribute directly: the tile itself re-renders only when staleness flips, not every second.
  const age = useComputed(() => {
    const t = entry.thumb.value;
    return t ? Math.max(0, (store.now.value - t.receivedAt) / 1000) : null;
  });
  const stale = useComputed(() => age.value === null || age.value * 1000 > STALE_MS);
  const ageText = useComputed(() => (age.value === null ? "—" : durationText(age.value)));
  const ageLabel = useComputed(() =>
    age.value === null ? "no picture yet" : `picture ${Math.round(age.value)} seconds old`,
  );
  return (
    <div class={`pic${stale.value ? " stale" : ""}`}>
      <AuthImage src={thumb?.url ?? null} alt={`Latest picture of ${name}`} class="thumb" />
      <span class="age" aria-label={ageLabel}>
        {ageText}
      </span>
      {stale.value && thumb ? <span class="stale-mark">STALE</span> : null}
    </div>
  );
}

function sortAlarms(list: readonly Incident[]): Incident[] {
  return [...list].sort(
    (a, b) => severityRank(b.severity) - severityRank(a.severity) || a.type.localeCompare(b.type),
  );
}

export function StreamTile({ store, entry, large = false, onFocusView }: TileProps) {
  const ref = useRef<HTMLElement>(null);
  const visible = useVisible(ref);
  const stream = entry.stream.value;
  const status = displayStatus(entry.state.value, stream);
  // Its own signals only: a change on another stream does not re-render this tile.
  const open = sortAlarms(entry.open.value);
  const muted: readonly MaintenanceWindow[] = entry.muted.value;
  const worst = worstSeverity(open);
  const unacked = open.filter((i) => !isAcked(i));
  // One badge per open type: the worst incident of that type speaks for it.
  const byType = new Map<string, Incident[]>();
  for (const i of open) byType.set(i.type, [...(byType.get(i.type) ?? []), i]);
  const kind = inputKind(stream.url);
  const behind = entry.state.value?.behindLiveSeconds ?? null;
  const classes = [
    "tile",
    large ? "large" : "",
    worst ? `sev-${worst}` : "clear",
    unacked.length > 0 && muted.length === 0 ? "unacked" : "",
    muted.length > 0 ? "muted" : "",
    `st-${status}`,
  ].join(" ");
  const summary =
    open.length === 0
      ? "no alarms"
      : `${open.length} alarm${open.length > 1 ? "s" : ""}: ${[...byType.keys()].join(", ")}`;

  const onKey = (e: KeyboardEvent): void => {
    if (e.target !== e.currentTarget) return;
    if (e.key === "Enter") location.hash = routeHref({ page: "channel", id: entry.id });
    else if (e.key === "f" || e.key === "F") onFocusView?.(entry.id);
    else if ((e.key === "a" || e.key === "A") && unacked.length > 0)
      requestAck(`Acknowledge all of ${stream.name}`, unacked);
    else if (e.key.startsWith("Arrow")) moveFocus(e.currentTarget as HTMLElement, e.key);
    else return;
    e.preventDefault();
  };

  return (
    <article
      ref={ref}
      class={classes}
      // The enlarged copy leaves the script contract to the wall's own tile.
      data-stream={large ? undefined : stream.name}
      data-status={large ? undefined : status}
      tabIndex={0}
      aria-label={`${stream.name}, ${kind}, ${status}, ${summary}${muted.length > 0 ? ", in maintenance" : ""}`}
      aria-keyshortcuts="Enter F A"
      onKeyDown={onKey}
    >
      {visible.value || large ? (
        <TilePicture store={store} entry={entry} name={stream.name} />
      ) : (
        <div class="pic" />
      )}
      <div class="tile-label">
        <span class="name">{stream.name}</span>
        <span class="kind">{kind}</span>
        <span class={`status status-${status}`}>{status.toUpperCase()}</span>
      </div>
      <div class="alarms">
        {[...byType].map(([type, list]) => {
          const sev = worstSeverity(list) ?? "info";
          const acked = list.every(isAcked);
          return (
            <span
              key={type}
              data-alarm={type}
              class={`badge sev-${sev}${acked ? " acked" : ""}`}
              title={`${type} (${sev}) since ${clockText(Date.parse(list[0]?.startedAt ?? ""), false)}${acked ? ", acknowledged" : ""}`}
            >
              {badgeText(type)} · {sev.toUpperCase()}
              {acked ? " · ACK" : ""}
            </span>
          );
        })}
        {behind !== null && behind >= BEHIND_LIVE_WARN_SECONDS ? (
          <span class="badge late" data-behind-live={Math.round(behind)} title={behindLiveText(behind)}>
            BEHIND LIVE {Math.round(behind)} s
          </span>
        ) : null}
        {muted.length > 0 ? (
          <span class="badge maint" data-maintenance="true" title={muted[0]?.reason}>
            MAINTENANCE until {clockText(Date.parse(muted[0]?.endsAt ?? ""), false)}
          </span>
        ) : null}
      </div>
      {visible.value || large ? <AudioMeter meter={entry.meter} /> : <div class="meters" />}
      <div class="tile-actions">
        <a href={routeHref({ page: "channel", id: entry.id })}>
          Details<span class="visually-hidden"> of {stream.name}</span>
        </a>
        {onFocusView ? (
          <button type="button" onClick={() => onFocusView(entry.id)}>
            Enlarge<span class="visually-hidden"> {stream.name}</span>
          </button>
        ) : null}
        {unacked.length > 0 ? (
          <button type="button" onClick={() => requestAck(`Acknowledge all of ${stream.name}`, unacked)}>
            Acknowledge {unacked.length}
            <span class="visually-hidden">
              {" "}
              alarm{unacked.length > 1 ? "s" : ""} of {stream.name}
            </span>
          </button>
        ) : null}
      </div>
    </article>
  );
}

/** Arrow keys move between tiles: left/right in order, up/down to the nearest tile above or below. */
function moveFocus(from: HTMLElement, key: string): void {
  const tiles = [...document.querySelectorAll<HTMLElement>(".wall-grid [data-stream]")];
  const i = tiles.indexOf(from);
  if (i < 0) return;
  let next: HTMLElement | undefined;
  if (key === "ArrowRight") next = tiles[i + 1];
  else if (key === "ArrowLeft") next = tiles[i - 1];
  else {
    const r = from.getBoundingClientRect();
    const down = key === "ArrowDown";
    let best = Infinity;
    for (const t of tiles) {
      const q = t.getBoundingClientRect();
      const dy = down ? q.top - r.top : r.top - q.top;
      if (dy <= 1) continue;
      const d = dy * 10 + Math.abs(q.left - r.left);
      if (d < best) {
        best = d;
        next = t;
      }
    }
  }
  next?.focus();
}
