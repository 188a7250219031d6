/**
 * The wall: every stream as a tile, monitoring by exception. Filters (alarms only, text),
 * order (worst first or by name), grouping by a label, and a focus view of one tile.
 * Settings live in the URL's query-free hash state of this tab only (signals), so a wall
 * screen keeps its layout while it runs.
 */
import { signal, useComputed } from "@preact/signals";
import { useMemo } from "preact/hooks";
import { useEffect, useRef } from "preact/hooks";
import { isAcked, severityRank, worstSeverity } from "../live/alarm-model.js";
import { stableComputed, type LiveStore, type StreamEntry } from "../live/live-store.js";
import { StreamTile } from "./stream-tile.js";

const alarmsOnly = signal(false);
const sortBy = signal<"worst" | "name">("worst");
const search = signal("");
const groupBy = signal("");
export const focusedStream = signal<string | null>(null);
/** One function for every tile (not a closure per render), so unchanged tiles skip re-rendering. */
const onFocusView = (id: string): void => {
  focusedStream.value = id;
};

function matches(e: StreamEntry, text: string): boolean {
  if (text === "") return true;
  const s = e.stream.value;
  const hay = `${s.name} ${s.url.replace(/\/\/[^@/]*@/, "//")} ${Object.entries(s.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ")}`.toLowerCase();
  return text
    .toLowerCase()
    .split(/\s+/)
    .every((w) => hay.includes(w));
}

export function wallGroups(store: LiveStore): { name: string; entries: StreamEntry[] }[] {
  const open = store.openByStream.value;
  const muted = store.mutedStreams.value;
  const text = search.value.trim();
  const list = [...store.entries.value.values()].filter((e) => {
    if (!matches(e, text)) return false;
    if (!alarmsOnly.value) return true;
    const st = e.state.value?.status;
    return (open.get(e.id)?.length ?? 0) > 0 || st === "down" || st === "error";
  });
  // Muted streams sort as if clear: maintenance is not an alarm.
  const rank = (e: StreamEntry): number => {
    if (muted.has(e.id)) return -1;
    const incidents = open.get(e.id) ?? [];
    const unacked = incidents.some((i) => !isAcked(i)) ? 0.5 : 0;
    return severityRank(worstSeverity(incidents)) + unacked;
  };
  list.sort((a, b) =>
    sortBy.value === "worst"
      ? rank(b) - rank(a) || a.stream.value.name.localeCompare(b.stream.value.name)
      : a.stream.value.name.localeCompare(b.stream.value.name),
  );
  const key = groupBy.value;
  if (key === "") return [{ name: "", entries: list }];
  const byValue = new Map<string, StreamEntry[]>();
  for (const e of list) {
    const v = e.stream.value.labels[key] ?? "(none)";
    byValue.set(v, [...(byValue.get(v) ?? []), e]);
  }
  return [...byValue]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, entries]) => ({ name: `${key}=${name}`, entries }));
}

function sameEntries(a: readonly StreamEntry[], b: readonly StreamEntry[]): boolean {
  return a.length === b.length && a.every((e, i) => e === b[i]);
}

export function WallPage({ store }: { store: LiveStore }) {
  const labelKeys = useComputed(() => {
    const keys = new Set<string>();
    for (const e of store.entries.value.values())
      for (const k of Object.keys(e.stream.value.labels)) keys.add(k);
    return [...keys].sort();
  });

  // The same groups (same arrays) while the order is the same: the tiles then do not re-render
  // with the page when an incident or a maintenance window changes somewhere.
  const groups = useMemo(
    () =>
      stableComputed(
        () => wallGroups(store),
        (a, b) =>
          a.length === b.length &&
          a.every((g, i) => g.name === b[i]?.name && sameEntries(g.entries, b[i].entries)),
      ),
    [store],
  );

  const searchRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    // "/" jumps to the search field, as in most operator tools.
    const onKey = (e: KeyboardEvent): void => {
      const t = e.target as HTMLElement | null;
      if (e.key === "/" && !(t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement)) {
        e.preventDefault();
        searchRef.current?.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const total = store.entries.value.size;
  const shown = groups.value.reduce((n, g) => n + g.entries.length, 0);
  const focused = focusedStream.value !== null ? store.entries.value.get(focusedStream.value) : undefined;

  return (
    <section class="wall" aria-labelledby="wall-title">
      <h1 id="wall-title" class="visually-hidden">
        Wall
      </h1>
      <form class="toolbar" role="search" aria-label="Filter the wall" onSubmit={(e) => e.preventDefault()}>
        <label class="check">
          <input
            type="checkbox"
            checked={alarmsOnly.value}
            onChange={(e) => (alarmsOnly.value = e.currentTarget.checked)}
          />
          Alarms only
        </label>
        <label>
          Sort
          <select
            value={sortBy.value}
            onChange={(e) => (sortBy.value = e.currentTarget.value as "worst" | "name")}
          >
            <option value="worst">Worst first</option>
            <option value="name">By name</option>
          </select>
        </label>
        <label>
          Group by
          <select value={groupBy.value} onChange={(e) => (groupBy.value = e.currentTarget.value)}>
            <option value="">No grouping</option>
            {labelKeys.value.map((k) => (
              <option key={k} value={k}>
                Label {k}
              </option>
            ))}
          </select>
        </label>
        <label>
          Search
          <input
            ref={searchRef}
            type="search"
            placeholder="name, URL or label ( / )"
            value={search.value}
            onInput={(e) => (search.value = e.currentTarget.value)}
          />
        </label>
        <span class="count" aria-live="polite">
          {shown} of {total} streams
        </span>
      </form>
      {total === 0 ? <p class="empty">No streams yet: add one with POST /api/v1/streams.</p> : null}
      {groups.value.map((g) => (
        <div class="group" key={g.name}>
          {g.name !== "" ? <h2 class="group-title">{g.name}</h2> : null}
          <div class="wall-grid">
            {g.entries.map((e) => (
              <StreamTile key={e.id} store={store} entry={e} onFocusView={onFocusView} />
            ))}
          </div>
        </div>
      ))}
      {focused ? <FocusView store={store} entry={focused} /> : null}
    </section>
  );
}

function FocusView({ store, entry }: { store: LiveStore; entry: StreamEntry }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return (
    <dialog
      ref={ref}
      class="focus-view"
      aria-label={`${entry.stream.value.name}, enlarged`}
      onClose={() => (focusedStream.value = null)}
    >
      <StreamTile store={store} entry={entry} large />
      <form method="dialog">
        <button type="submit">Close (Esc)</button>
      </form>
    </dialog>
  );
}
