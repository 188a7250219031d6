/**
 * The journal: incidents as they open, change and close, newest first, with evidence,
 * duration, severity, lifecycle and acknowledgement. Filters go to the API (so older incidents
 * are found) and also apply to what arrives live; the CSV export is of the rows shown.
 */
import { signal, useComputed, useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { api } from "../api/api-client.js";
import type { Incident, Severity } from "../api/wire-types.js";
import { isAcked, isOpen, lifecycle, LIFECYCLE_LABEL, SEVERITY_ORDER } from "../live/alarm-model.js";
import type { LiveStore } from "../live/live-store.js";
import { incidentsCsv } from "../util/csv.js";
import { dateTimeText, durationText } from "../util/format.js";
import { routeHref } from "../util/router.js";
import { requestAck } from "./ack-dialog.js";
import { AuthImage } from "./auth-image.js";

const PERIODS: Record<string, number> = { "1h": 3600, "24h": 86_400, "7d": 7 * 86_400, all: 0 };
const MAX_ROWS = 500;

const filterStream = signal("");
const filterType = signal("");
const filterSeverity = signal<"" | Severity>("");
const filterPeriod = signal("24h");
const filterState = signal<"" | "open" | "unacked">("");

export function incidentDuration(i: Incident, now: number): number | null {
  if (i.duration !== null) return i.duration;
  const start = Date.parse(i.startedAt ?? "");
  return Number.isFinite(start) ? Math.max(0, (now - start) / 1000) : null;
}

export function JournalPage({ store }: { store: LiveStore }) {
  const loading = useSignal(false);
  const error = useSignal<string | null>(null);
  const selected = useSignal<ReadonlySet<string>>(new Set());

  useEffect(() => {
    const seconds = PERIODS[filterPeriod.value] ?? 0;
    loading.value = true;
    api
      .incidents({
        stream: filterStream.value || undefined,
        type: filterType.value || undefined,
        severity: filterSeverity.value || undefined,
        from: seconds > 0 ? new Date(Date.now() - seconds * 1000).toISOString() : undefined,
        open: filterState.value === "open" ? "true" : undefined,
        limit: "500",
      })
      .then(
        (items) => {
          store.mergeIncidents(items);
          error.value = null;
        },
        (err: Error) => (error.value = err.message),
      )
      .finally(() => (loading.value = false));
  }, [filterStream.value, filterType.value, filterSeverity.value, filterPeriod.value, filterState.value]);

  const rows = useComputed(() => {
    const seconds = PERIODS[filterPeriod.value] ?? 0;
    const since = seconds > 0 ? store.now.peek() - seconds * 1000 : -Infinity;
    const s = filterStream.value;
    const t = filterType.value;
    const list = [...store.incidents.value.values()].filter(
      (i) =>
        (s === "" || i.streamId === s || i.stream === s) &&
        (t === "" || i.type === t || i.type.startsWith(`${t}.`)) &&
        (filterSeverity.value === "" || i.severity === filterSeverity.value) &&
        (filterState.value === "" || (filterState.value === "open" ? isOpen(i) : !isAcked(i))) &&
        Date.parse(i.startedAt ?? "") >= since,
    );
    list.sort((a, b) => (b.startedAt ?? "").localeCompare(a.startedAt ?? ""));
    return list.slice(0, MAX_ROWS);
  });

  const types = useComputed(() =>
    [...new Set([...store.incidents.value.values()].map((i) => i.type))].sort(),
  );
  const streams = useComputed(() =>
    [...store.entries.value.values()].map((e) => e.stream.value).sort((a, b) => a.name.localeCompare(b.name)),
  );
  const now = store.now.value;
  const chosen = rows.value.filter((i) => selected.value.has(i.id) && !isAcked(i));

  const exportCsv = (): void => {
    const blob = new Blob([incidentsCsv(rows.value)], { type: "text/csv;charset=utf-8" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `streamqc-incidents-${new Date().toISOString().slice(0, 19).replaceAll(":", "")}.csv`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  };

  const toggle = (id: string, on: boolean): void => {
    const next = new Set(selected.value);
    if (on) next.add(id);
    else next.delete(id);
    selected.value = next;
  };

  return (
    <section class="journal" aria-labelledby="journal-title">
      <h1 id="journal-title">Journal</h1>
      <form class="toolbar" aria-label="Filter the journal" onSubmit={(e) => e.preventDefault()}>
        <label>
          Stream
          <select value={filterStream.value} onChange={(e) => (filterStream.value = e.currentTarget.value)}>
            <option value="">All streams</option>
            {streams.value.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Type
          <select value={filterType.value} onChange={(e) => (filterType.value = e.currentTarget.value)}>
            <option value="">All types</option>
            {types.value.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label>
          Severity
          <select
            value={filterSeverity.value}
            onChange={(e) => (filterSeverity.value = e.currentTarget.value as "" | Severity)}
          >
            <option value="">All severities</option>
            {SEVERITY_ORDER.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Period
          <select value={filterPeriod.value} onChange={(e) => (filterPeriod.value = e.currentTarget.value)}>
            <option value="1h">Last hour</option>
            <option value="24h">Last 24 hours</option>
            <option value="7d">Last 7 days</option>
            <option value="all">All</option>
          </select>
        </label>
        <label>
          State
          <select
            value={filterState.value}
            onChange={(e) => (filterState.value = e.currentTarget.value as "" | "open" | "unacked")}
          >
            <option value="">Any</option>
            <option value="open">Open</option>
            <option value="unacked">Unacknowledged</option>
          </select>
        </label>
        <button type="button" onClick={exportCsv}>
          Export CSV
        </button>
        <button
          type="button"
          disabled={chosen.length === 0}
          onClick={() => requestAck(`Acknowledge ${chosen.length} selected`, chosen)}
        >
          Acknowledge selected ({chosen.length})
        </button>
        <span class="count" aria-live="polite">
          {loading.value ? "loading…" : `${rows.value.length} incidents`}
        </span>
      </form>
      {error.value !== null ? (
        <p class="error" role="alert">
          {error.value}
        </p>
      ) : null}
      <table class="journal-table">
        <caption class="visually-hidden">Incidents, newest first</caption>
        <thead>
          <tr>
            <th scope="col">
              <span class="visually-hidden">Select</span>
            </th>
            <th scope="col">Evidence</th>
            <th scope="col">Started</th>
            <th scope="col">Stream</th>
            <th scope="col">Type</th>
            <th scope="col">Severity</th>
            <th scope="col">State</th>
            <th scope="col">Duration</th>
            <th scope="col">Acknowledgement</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.value.map((i) => (
            <JournalRow
              key={i.id}
              incident={i}
              now={now}
              selected={selected.value.has(i.id)}
              onSelect={toggle}
            />
          ))}
        </tbody>
      </table>
    </section>
  );
}

function JournalRow({
  incident: i,
  now,
  selected,
  onSelect,
}: {
  incident: Incident;
  now: number;
  selected: boolean;
  onSelect: (id: string, on: boolean) => void;
}) {
  const state = lifecycle(i);
  const thumb = i.evidence.find((e) => e.contentType.startsWith("image/"));
  const duration = incidentDuration(i, now);
  const ack = i.acknowledged;
  return (
    <tr data-incident={i.id} class={`lc-${state}`}>
      <td>
        <input
          type="checkbox"
          checked={selected}
          disabled={isAcked(i)}
          aria-label={`Select ${i.type} on ${i.stream}`}
          onChange={(e) => onSelect(i.id, e.currentTarget.checked)}
        />
      </td>
      <td>
        {thumb ? (
          <AuthImage src={thumb.url} alt={`Evidence of ${i.type} on ${i.stream}`} class="evidence" />
        ) : (
          <span class="muted-text">none</span>
        )}
      </td>
      <td>
        <time dateTime={i.startedAt}>{dateTimeText(i.startedAt)}</time>
      </td>
      <td>
        <a href={routeHref({ page: "channel", id: i.streamId })}>{i.stream}</a>
      </td>
      <td>{i.type}</td>
      <td>
        <span class={`badge sev-${i.severity}`}>{i.severity.toUpperCase()}</span>
      </td>
      <td>
        <span class={`lifecycle lc-${state}`}>{LIFECYCLE_LABEL[state]}</span>
      </td>
      <td class="when">
        {duration === null ? "" : `${durationText(duration)}${isOpen(i) ? " (open)" : ""}`}
      </td>
      <td>
        {ack ? (
          <span>
            {ack.by} at {dateTimeText(ack.at)}
            {ack.comment ? <q>{ack.comment}</q> : null}
          </span>
        ) : (
          <span class="muted-text">—</span>
        )}
      </td>
      <td>
        {ack ? null : (
          <button type="button" onClick={() => requestAck(`Acknowledge ${i.type} on ${i.stream}`, [i])}>
            Acknowledge
            <span class="visually-hidden">
              {" "}
              {i.type} on {i.stream}
            </span>
          </button>
        )}
      </td>
    </tr>
  );
}
