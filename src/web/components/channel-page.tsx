/**
 * One channel in depth: a larger live picture and meters; loudness (momentary, short-term,
 * integrated against the target, true peak against its limit), audio levels and the A/V
 * offset over the last hour; 24 hours of incidents by type; TR 101 290 and HLS counters; the
 * incident history; the worker that runs it in a fleet.
 *
 * The hour comes from the history endpoint when the server has one; the page then adds a
 * point a second from the live state, so the plots move (and still fill, from the moment the
 * page opened, on a server without history).
 */
import { useComputed, useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { api, Unavailable } from "../api/api-client.js";
import type { HistoryPoint, LiveState } from "../api/wire-types.js";
import {
  displayStatus,
  inputKind,
  isAcked,
  isOpen,
  lifecycle,
  LIFECYCLE_LABEL,
} from "../live/alarm-model.js";
import type { LiveStore, StreamEntry } from "../live/live-store.js";
import { behindLiveText, dateTimeText, dbText, decodingText, durationText } from "../util/format.js";
import { routeHref } from "../util/router.js";
import { requestAck } from "./ack-dialog.js";
import { AudioMeter } from "./audio-meter.js";
import { AuthImage } from "./auth-image.js";
import { HlsPlaylistPanel } from "./hls-playlist-panel.js";
import { IncidentTimeline } from "./incident-timeline.js";
import { incidentDuration } from "./journal-page.js";
import { TimePlot, type PlotSeries } from "./time-plot.js";

const HOUR = 3600;
const LOUDNESS_SERIES: readonly PlotSeries[] = [
  { key: "m", label: "Momentary", color: "#7dd3fc" },
  { key: "s", label: "Short-term", color: "#fbbf24" },
  { key: "i", label: "Integrated", color: "#4ade80" },
  { key: "tp", label: "True peak", color: "#f87171", dash: [2, 3] },
];
const LEVEL_SERIES: readonly PlotSeries[] = [
  { key: "peak0", label: "Peak L", color: "#7dd3fc" },
  { key: "peak1", label: "Peak R", color: "#c4b5fd" },
  { key: "rms0", label: "RMS L", color: "#38bdf8", dash: [3, 3] },
  { key: "rms1", label: "RMS R", color: "#a78bfa", dash: [3, 3] },
];
const AV_SERIES: readonly PlotSeries[] = [{ key: "av", label: "A/V offset", color: "#fbbf24" }];

/** The first number among `names` in a row (the server's field names and ours). */
function pick(p: Record<string, unknown>, ...names: string[]): number | null {
  for (const n of names) {
    const v = p[n];
    if (typeof v === "number" && Number.isFinite(v)) return v;
  }
  return null;
}

/** A history row from the server in the page's keys. */
function fromServer(p: HistoryPoint): HistoryPoint {
  const peaks = [pick(p, "peak0", "peakDbfs0", "peakL"), pick(p, "peak1", "peakDbfs1", "peakR")];
  const rms = [pick(p, "rms0", "rmsDbfs0", "rmsL"), pick(p, "rms1", "rmsDbfs1", "rmsR")];
  return {
    t: p.t,
    m: pick(p, "m", "lufsMomentary", "momentary", "momentaryLufs"),
    s: pick(p, "s", "lufsShortTerm", "shortTerm", "shortTermLufs"),
    i: pick(p, "i", "lufsIntegrated", "integrated", "integratedLufs"),
    tp: pick(p, "tp", "truePeakDbtp", "truePeak"),
    peak0: peaks[0] ?? null,
    peak1: peaks[1] ?? null,
    rms0: rms[0] ?? null,
    rms1: rms[1] ?? null,
    av: pick(p, "av", "offsetMs", "avOffsetMs", "avSyncMs"),
  };
}

function fromState(st: LiveState, t: number): HistoryPoint {
  const l = { ...(st.measurements["audio.loudness"] ?? {}), ...(st.loudness ?? {}) } as Record<
    string,
    unknown
  >;
  const av = st.measurements["av.sync"] ?? {};
  return {
    t,
    m: pick(l, "lufsMomentary", "momentary"),
    s: pick(l, "lufsShortTerm", "shortTerm"),
    i: pick(l, "lufsIntegrated", "integrated"),
    tp: pick(l, "truePeakDbtp", "truePeak"),
    peak0: st.levels.peakDbfs[0] ?? null,
    peak1: st.levels.peakDbfs[1] ?? null,
    rms0: st.levels.rmsDbfs[0] ?? null,
    rms1: st.levels.rmsDbfs[1] ?? null,
    av: pick(av, "offsetMs"),
  };
}

export function ChannelPage({ store, id }: { store: LiveStore; id: string }) {
  const entry = store.entries.value.get(id);
  if (!entry) {
    return (
      <section class="channel">
        <h1>Channel</h1>
        <p>{store.entries.value.size === 0 ? "Loading…" : `No stream with id ${id}.`}</p>
        <a href={routeHref({ page: "wall" })}>Back to the wall</a>
      </section>
    );
  }
  return <Channel store={store} entry={entry} />;
}

function Channel({ store, entry }: { store: LiveStore; entry: StreamEntry }) {
  const history = useSignal<readonly HistoryPoint[]>([]);
  const historyNote = useSignal<string | null>(null);
  const live = useSignal<LiveState | null>(entry.state.peek());

  useEffect(() => {
    let stopped = false;
    const since = Date.now() - HOUR * 1000;
    api.history(entry.id, HOUR).then(
      (points) => {
        if (stopped) return;
        const mine = history.peek();
        const first = mine[0]?.t ?? Infinity;
        history.value = [...points.map(fromServer).filter((p) => p.t < first && p.t >= since), ...mine];
      },
      (err: unknown) => {
        historyNote.value =
          err instanceof Unavailable
            ? "This server keeps no history: the plots start when this page opened."
            : `History not loaded: ${(err as Error).message}`;
      },
    );
    api
      .incidents({
        stream: entry.id,
        from: new Date(Date.now() - 24 * HOUR * 1000).toISOString(),
        limit: "500",
      })
      .then((items) => store.mergeIncidents(items))
      .catch(() => undefined);
    // The live state a second at a time: measurements are not pushed as events.
    const poll = async (): Promise<void> => {
      try {
        const st = await api.state(entry.id);
        if (stopped) return;
        live.value = st;
        const now = Date.now();
        const kept = history.peek().filter((p) => p.t >= now - HOUR * 1000);
        history.value = [...kept, fromState(st, now)];
      } catch {
        // The next poll tries again; the connection state shows in the summary bar.
      }
    };
    void poll();
    const timer = window.setInterval(() => void poll(), 1000);
    return () => {
      stopped = true;
      window.clearInterval(timer);
    };
  }, [entry.id]);

  const incidents = useComputed(() =>
    [...store.incidents.value.values()]
      .filter((i) => i.streamId === entry.id)
      .sort((a, b) => (b.startedAt ?? "").localeCompare(a.startedAt ?? "")),
  );

  const stream = entry.stream.value;
  const st = live.value ?? entry.state.value;
  const status = displayStatus(st, stream);
  const loud = st?.measurements["audio.loudness"] ?? {};
  const target = pick(loud, "target") ?? -23;
  const tpLimit = pick(loud, "truePeakLimit", "truePeakLimitDbtp") ?? -1;
  const ts = st?.measurements["ts.health"] ?? null;
  const hls = st?.measurements["hls.health"] ?? null;
  const unacked = incidents.value.filter((i) => isOpen(i) && !isAcked(i));
  const now = store.now.value;
  const thumb = entry.thumb.value;

  return (
    <section class="channel" aria-labelledby="channel-title">
      <header class="channel-head">
        <h1 id="channel-title">{stream.name}</h1>
        <span class="kind">{inputKind(stream.url)}</span>
        <span class={`status status-${status}`} data-status={status}>
          {status.toUpperCase()}
        </span>
        <span class="since">since {dateTimeText(st?.since)}</span>
        {st?.lastError ? <span class="error">{st.lastError}</span> : null}
        {st?.worker ? (
          <span class="worker" data-worker={st.worker}>
            runs on worker <b>{st.worker}</b>
            {st.epoch !== undefined && st.epoch !== null ? ` (lease epoch ${st.epoch})` : ""}
          </span>
        ) : null}
        <span class="spacer" />
        <button
          type="button"
          disabled={unacked.length === 0}
          onClick={() => requestAck(`Acknowledge all of ${stream.name}`, unacked)}
        >
          Acknowledge all ({unacked.length})
        </button>
        <a
          class="button"
          href={`${routeHref({ page: "maintenance" })}?stream=${encodeURIComponent(stream.id)}`}
        >
          Maintenance…
        </a>
      </header>
      <div class="channel-live">
        <div class="channel-pic">
          <AuthImage src={thumb?.url ?? null} alt={`Latest picture of ${stream.name}`} class="thumb" />
        </div>
        <div class="channel-facts">
          <AudioMeter meter={entry.meter} />
          <dl>
            <dt>Media time</dt>
            <dd>{st ? durationText(st.mediaTime) : "—"}</dd>
            <dt>Frames</dt>
            <dd>{st?.frames ?? "—"}</dd>
            <dt>Restarts</dt>
            <dd>{st?.restarts ?? "—"}</dd>
            <dt>Decoder errors</dt>
            <dd>{st?.decoderErrors ?? "—"}</dd>
            <dt>Integrated</dt>
            <dd>{dbText(pick(loud, "lufsIntegrated"), "LUFS")}</dd>
            <dt>Loudness range</dt>
            <dd>{dbText(pick(loud, "loudnessRange"), "LU")}</dd>
            <dt>Decoding</dt>
            <dd data-fact="decoding">{decodingText(st)}</dd>
            <dt>Live</dt>
            <dd data-fact="behind-live">{behindLiveText(st?.behindLiveSeconds)}</dd>
            <dt>CPU per media second</dt>
            <dd>{st?.cost.perMediaSecond != null ? st.cost.perMediaSecond.toFixed(3) : "—"}</dd>
            <dt>Labels</dt>
            <dd>
              {Object.entries(stream.labels)
                .map(([k, v]) => `${k}=${v}`)
                .join(", ") || "none"}
            </dd>
          </dl>
        </div>
      </div>
      {historyNote.value !== null ? <p class="note">{historyNote.value}</p> : null}
      <div class="plots">
        <TimePlot
          id="loudness"
          title="Loudness, last hour"
          unit="LUFS"
          data={history.value}
          series={LOUDNESS_SERIES}
          lines={[
            { label: "Target", value: target, color: "#e5e7eb", unit: "LUFS" },
            { label: "True-peak limit", value: tpLimit, color: "#ef4444", unit: "dBTP" },
          ]}
        />
        <TimePlot
          id="levels"
          title="Audio levels, last hour"
          unit="dBFS"
          data={history.value}
          series={LEVEL_SERIES}
        />
        <TimePlot
          id="av"
          title="A/V offset, last hour (positive: audio late)"
          unit="ms"
          data={history.value}
          series={AV_SERIES}
        />
      </div>
      <IncidentTimeline incidents={incidents.value} now={now} />
      <div class="counters">
        <Counters
          title="TR 101 290 (MPEG-TS)"
          values={ts}
          absent="Not an MPEG-TS input, or no TS analysis."
        />
        <section class="counter-box hls-box" aria-label="HLS playlist">
          <h2>HLS playlist</h2>
          {st?.hlsPlaylist ? (
            <HlsPlaylistPanel playlist={st.hlsPlaylist} now={now} />
          ) : hls === null ? (
            <p>Not an HLS input.</p>
          ) : (
            <p>No playlist loaded yet.</p>
          )}
          {hls !== null ? <Counters title="HLS faults" values={hls} absent="" /> : null}
        </section>
      </div>
      <h2>Incident history</h2>
      <table class="journal-table">
        <caption class="visually-hidden">Incidents of {stream.name}, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Started</th>
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
          {incidents.value.slice(0, 200).map((i) => {
            const d = incidentDuration(i, now);
            return (
              <tr key={i.id} data-incident={i.id}>
                <td class="when">{dateTimeText(i.startedAt)}</td>
                <td>{i.type}</td>
                <td>
                  <span class={`badge sev-${i.severity}`}>{i.severity.toUpperCase()}</span>
                </td>
                <td>{LIFECYCLE_LABEL[lifecycle(i)]}</td>
                <td class="when">{d === null ? "" : durationText(d)}</td>
                <td>{i.acknowledged ? `${i.acknowledged.by} at ${dateTimeText(i.acknowledged.at)}` : "—"}</td>
                <td>
                  {i.acknowledged ? null : (
                    <button
                      type="button"
                      onClick={() => requestAck(`Acknowledge ${i.type} on ${i.stream}`, [i])}
                    >
                      Acknowledge<span class="visually-hidden"> {i.type}</span>
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

function Counters({
  title,
  values,
  absent,
}: {
  title: string;
  values: Record<string, unknown> | null;
  absent: string;
}) {
  const rows = Object.entries(values ?? {}).filter(([k]) => k !== "open");
  return (
    <section class="counter-box" aria-label={title}>
      <h2>{title}</h2>
      {values === null ? (
        <p>{absent}</p>
      ) : (
        <table>
          <tbody>
            <tr>
              <th scope="row">Open faults</th>
              <td>{typeof values["open"] === "number" ? values["open"] : 0}</td>
            </tr>
            {rows.length === 0 ? (
              <tr>
                <th scope="row">Faults counted</th>
                <td>0</td>
              </tr>
            ) : (
              rows.map(([k, v]) => (
                <tr key={k}>
                  <th scope="row">{k}</th>
                  <td>{String(v)}</td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      )}
    </section>
  );
}
