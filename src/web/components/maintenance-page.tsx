/**
 * Maintenance: mute one stream, or every stream with a set of labels, until a time, with a
 * reason. Muted streams keep being monitored and their incidents recorded; the wall shows
 * them as in maintenance instead of alarming, and alerts are held back by the server.
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { api, getOperator, Unavailable } from "../api/api-client.js";
import type { LiveStore } from "../live/live-store.js";
import { dateTimeText, two } from "../util/format.js";

function localInput(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** `region=eu, team=news` → `{region: "eu", team: "news"}`; null when a pair is malformed. */
export function parseLabels(text: string): Record<string, string> | null {
  const out: Record<string, string> = {};
  for (const part of text
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z0-9._-]{1,64})\s*=\s*(.*)$/.exec(part);
    if (!m?.[1]) return null;
    out[m[1]] = m[2] ?? "";
  }
  return Object.keys(out).length > 0 ? out : null;
}

export function MaintenancePage({ store }: { store: LiveStore }) {
  const preset = new URLSearchParams(location.hash.split("?")[1] ?? "").get("stream") ?? "";
  const target = useSignal<"stream" | "labels">("stream");
  const streamId = useSignal(preset);
  const labels = useSignal("");
  const until = useSignal(localInput(Date.now() + 3600_000));
  const reason = useSignal("");
  const message = useSignal<{ text: string; error: boolean } | null>(null);

  useEffect(() => void store.refreshMaintenance(), []);

  const streams = [...store.entries.value.values()]
    .map((e) => e.stream.value)
    .sort((a, b) => a.name.localeCompare(b.name));
  const available = store.maintenanceAvailable.value;
  const now = store.now.value;
  const windows = [...store.maintenance.value]
    .filter((w) => Date.parse(w.endsAt) > now)
    .sort((a, b) => a.endsAt.localeCompare(b.endsAt));
  const nameOf = (id: string | null): string =>
    id === null ? "" : (streams.find((s) => s.id === id || s.name === id)?.name ?? id);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const endsAt = new Date(until.value);
    if (Number.isNaN(endsAt.getTime()) || endsAt.getTime() <= Date.now()) {
      message.value = { text: "The end must be a time in the future.", error: true };
      return;
    }
    if (reason.value.trim() === "") {
      message.value = { text: "Give a reason: others will see it on the wall.", error: true };
      return;
    }
    let selector: { stream: string } | { labels: Record<string, string> };
    if (target.value === "stream") {
      if (streamId.value === "") {
        message.value = { text: "Choose a stream.", error: true };
        return;
      }
      selector = { stream: streamId.value };
    } else {
      const parsed = parseLabels(labels.value);
      if (!parsed) {
        message.value = { text: "Labels as key=value, separated by commas.", error: true };
        return;
      }
      selector = { labels: parsed };
    }
    try {
      const by = getOperator().trim();
      await api.addMaintenance({
        ...selector,
        until: endsAt.toISOString(),
        reason: reason.value.trim(),
        ...(by !== "" ? { by } : {}),
      });
      message.value = { text: "Maintenance window added.", error: false };
      reason.value = "";
      await store.refreshMaintenance();
    } catch (err) {
      message.value = {
        text:
          err instanceof Unavailable
            ? "This server has no maintenance endpoint yet."
            : `Not added: ${(err as Error).message}`,
        error: true,
      };
    }
  };

  const end = async (id: string): Promise<void> => {
    try {
      await api.removeMaintenance(id);
      await store.refreshMaintenance();
      message.value = { text: "Maintenance window ended.", error: false };
    } catch (err) {
      message.value = { text: `Not ended: ${(err as Error).message}`, error: true };
    }
  };

  return (
    <section class="maintenance" aria-labelledby="maint-title">
      <h1 id="maint-title">Maintenance</h1>
      {available === false ? (
        <p class="error" role="alert">
          This server has no maintenance endpoint (/api/v1/maintenance): muting is not available.
        </p>
      ) : null}
      <form class="maint-form" onSubmit={(e) => void submit(e)} aria-label="Add a maintenance window">
        <fieldset>
          <legend>Mute</legend>
          <label class="check">
            <input
              type="radio"
              name="target"
              checked={target.value === "stream"}
              onChange={() => (target.value = "stream")}
            />
            One stream
          </label>
          <label class="check">
            <input
              type="radio"
              name="target"
              checked={target.value === "labels"}
              onChange={() => (target.value = "labels")}
            />
            Streams with labels
          </label>
        </fieldset>
        {target.value === "stream" ? (
          <label>
            Stream
            <select
              name="stream"
              value={streamId.value}
              onChange={(e) => (streamId.value = e.currentTarget.value)}
            >
              <option value="">Choose…</option>
              {streams.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
          </label>
        ) : (
          <label>
            Labels (key=value, …)
            <input
              name="labels"
              value={labels.value}
              onInput={(e) => (labels.value = e.currentTarget.value)}
            />
          </label>
        )}
        <label>
          Until
          <input
            type="datetime-local"
            name="until"
            value={until.value}
            onInput={(e) => (until.value = e.currentTarget.value)}
          />
        </label>
        <span class="quick" role="group" aria-label="Quick durations">
          {[30, 60, 240].map((m) => (
            <button key={m} type="button" onClick={() => (until.value = localInput(Date.now() + m * 60_000))}>
              {m < 60 ? `${m} min` : `${m / 60} h`}
            </button>
          ))}
        </span>
        <label>
          Reason
          <input
            name="reason"
            value={reason.value}
            maxLength={500}
            onInput={(e) => (reason.value = e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="primary">
          Start maintenance
        </button>
        {message.value ? (
          <p class={message.value.error ? "error" : "ok"} role={message.value.error ? "alert" : "status"}>
            {message.value.text}
          </p>
        ) : null}
      </form>
      <h2>Active and planned</h2>
      {windows.length === 0 ? (
        <p>No maintenance windows.</p>
      ) : (
        <table class="journal-table">
          <thead>
            <tr>
              <th scope="col">Mutes</th>
              <th scope="col">From</th>
              <th scope="col">Until</th>
              <th scope="col">Reason</th>
              <th scope="col">By</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {windows.map((w) => {
              const what =
                w.streamId !== null
                  ? nameOf(w.streamId)
                  : w.labels
                    ? Object.entries(w.labels)
                        .map(([k, v]) => `${k}=${v}`)
                        .join(", ")
                    : "every stream";
              return (
                <tr key={w.id} data-maintenance-window={w.id}>
                  <td>{what}</td>
                  <td>{dateTimeText(w.startsAt)}</td>
                  <td>{dateTimeText(w.endsAt)}</td>
                  <td>{w.reason}</td>
                  <td>{w.createdBy ?? ""}</td>
                  <td>
                    <button type="button" onClick={() => void end(w.id)}>
                      End now<span class="visually-hidden"> ({what})</span>
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
