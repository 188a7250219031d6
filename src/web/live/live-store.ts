/**
 * The page's live model: streams, their state, levels and thumbnails, incidents and
 * maintenance, as signals fed by one EventSource.
 *
 * Events are queued and applied once per animation frame inside one `batch()`: with a hundred
 * streams sending levels every second, the page renders at most once a frame, and levels of
 * one stream that arrive twice before a frame are coalesced. Each stream has its own signals,
 * so a level update re-renders that stream's meters and nothing else.
 */
import { batch, computed, signal, type ReadonlySignal, type Signal } from "@preact/signals";
import { API, api, getToken, Unavailable } from "../api/api-client.js";
import type { Incident, LiveEvent, LiveState, MaintenanceWindow, Stream } from "../api/wire-types.js";
import { isOpen, openWindowsFor } from "./alarm-model.js";

export type Connection = "connecting" | "live" | "disconnected";

export interface Meter {
  readonly peakDbfs: readonly number[];
  readonly rmsDbfs: readonly number[];
  /** Highest peak of the last PEAK_HOLD_MS per channel, and since when it is held. */
  readonly holdDbfs: readonly number[];
  readonly holdAt: readonly number[];
  readonly momentaryLufs: number | null;
}

export interface Thumb {
  readonly url: string;
  /** Client time it was announced (ms). */
  readonly receivedAt: number;
  readonly pts: number;
}

export interface StreamEntry {
  readonly id: string;
  readonly stream: Signal<Stream>;
  readonly state: Signal<LiveState | null>;
  readonly meter: Signal<Meter | null>;
  readonly thumb: Signal<Thumb | null>;
  /** Its open incidents; the same array until one of them changes. */
  readonly open: ReadonlySignal<readonly Incident[]>;
  /** Its active maintenance windows; the same array until the set changes. */
  readonly muted: ReadonlySignal<readonly MaintenanceWindow[]>;
}

const NONE: readonly never[] = [];

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * A computed signal that keeps its previous value while `equal` says nothing changed, so its
 * readers (a hundred tiles) are not re-rendered by a recomputation that found the same thing.
 */
export function stableComputed<T>(fn: () => T, equal: (a: T, b: T) => boolean): ReadonlySignal<T> {
  let prev: { value: T } | null = null;
  return computed(() => {
    const next = fn();
    if (prev !== null && equal(prev.value, next)) return prev.value;
    prev = { value: next };
    return next;
  });
}

const PEAK_HOLD_MS = 3000;
/** Event types the page listens to: the named SSE events of the service. */
const EVENT_TYPES = [
  "incident.opened",
  "incident.updated",
  "incident.closed",
  "incident.acknowledged",
  "incident.ack",
  "stream.state",
  "stream.levels",
] as const;
const MAINTENANCE_EVENTS = [
  "maintenance.created",
  "maintenance.deleted",
  "maintenance.changed",
  "maintenance",
];

export class LiveStore {
  readonly entries = signal<ReadonlyMap<string, StreamEntry>>(new Map());
  readonly incidents = signal<ReadonlyMap<string, Incident>>(new Map());
  readonly maintenance = signal<readonly MaintenanceWindow[]>([]);
  /** False when the server has no /maintenance; null before the first answer. */
  readonly maintenanceAvailable = signal<boolean | null>(null);
  readonly connection = signal<Connection>("connecting");
  readonly loadError = signal<string | null>(null);
  /** Wall clock, ticking once a second: ages, clocks and maintenance expiry read it. */
  readonly now = signal(Date.now());
  /** Client time of the last event of any kind. */
  lastEventAt = 0;
  /** Events applied so far (the bench and the tests read it). */
  applied = 0;

  readonly openByStream: ReadonlySignal<ReadonlyMap<string, readonly Incident[]>> = computed(() => {
    const out = new Map<string, Incident[]>();
    for (const i of this.incidents.value.values()) {
      if (!isOpen(i)) continue;
      const list = out.get(i.streamId);
      if (list) list.push(i);
      else out.set(i.streamId, [i]);
    }
    return out;
  });

  /** Stream id → its active maintenance windows (a new map only when a stream's set changes). */
  readonly mutedStreams: ReadonlySignal<ReadonlyMap<string, readonly MaintenanceWindow[]>> = stableComputed(
    () => {
      const out = new Map<string, readonly MaintenanceWindow[]>();
      for (const e of this.entries.value.values()) {
        const w = e.muted.value;
        if (w.length > 0) out.set(e.id, w);
      }
      return out;
    },
    (a, b) => a.size === b.size && [...a].every(([k, v]) => b.get(k) === v),
  );

  private queue: LiveEvent[] = [];
  private frameRequested = false;
  private source: EventSource | null = null;
  private everLive = false;
  private reconnectTimer: number | undefined;
  private clock: number | undefined;
  private closed = false;

  start(): void {
    this.clock = window.setInterval(() => (this.now.value = Date.now()), 1000);
    this.connect();
    void this.refresh();
  }

  close(): void {
    this.closed = true;
    this.source?.close();
    this.source = null;
    window.clearInterval(this.clock);
    window.clearTimeout(this.reconnectTimer);
  }

  /** Loads everything again: at start, after a reconnect, and on the server's `reset`. */
  async refresh(): Promise<void> {
    try {
      const streams = await api.streams();
      const states = await Promise.all(streams.map((s) => api.state(s.id).catch(() => null)));
      const open = await api.incidents({ open: "true", limit: "500" });
      batch(() => {
        const next = new Map<string, StreamEntry>();
        streams.forEach((s, i) => {
          const entry = this.entries.value.get(s.id) ?? this.makeEntry(s);
          entry.stream.value = s;
          const st = states[i];
          if (st) this.applyState(entry, st);
          // The latest picture now, rather than when the next level event names one.
          if (entry.thumb.value === null && st?.status === "up") {
            const now = Date.now();
            entry.thumb.value = {
              url: `${API}/streams/${encodeURIComponent(s.id)}/thumbnail?t=${now}`,
              receivedAt: now,
              pts: st.mediaTime,
            };
          }
          next.set(s.id, entry);
        });
        this.entries.value = next;
        // Open incidents the server no longer has open were closed while we were away: keep
        // them (the journal shows them) but refetch them as they are now.
        const incidents = new Map(this.incidents.value);
        const openIds = new Set(open.map((i) => i.id));
        const stale = [...incidents.values()].filter((i) => isOpen(i) && !openIds.has(i.id));
        for (const i of stale) incidents.delete(i.id);
        for (const i of open) incidents.set(i.id, i);
        this.incidents.value = incidents;
        this.loadError.value = null;
      });
      void this.refreshMaintenance();
    } catch (err) {
      this.loadError.value = (err as Error).message;
    }
  }

  async refreshMaintenance(): Promise<void> {
    try {
      this.maintenance.value = await api.maintenance();
      this.maintenanceAvailable.value = true;
    } catch (err) {
      if (err instanceof Unavailable) this.maintenanceAvailable.value = false;
    }
  }

  /** Merges incidents loaded by a page (the journal, a channel's history). */
  mergeIncidents(items: readonly Incident[]): void {
    if (items.length === 0) return;
    const next = new Map(this.incidents.value);
    for (const i of items) next.set(i.id, { ...next.get(i.id), ...i });
    this.incidents.value = next;
  }

  private makeEntry(s: Stream): StreamEntry {
    const stream = signal(s);
    return {
      id: s.id,
      stream,
      state: signal(null),
      meter: signal(null),
      thumb: signal(null),
      open: stableComputed(() => this.openByStream.value.get(s.id) ?? NONE, sameItems),
      muted: stableComputed(
        () => openWindowsFor(stream.value, this.maintenance.value, this.now.value),
        sameItems,
      ),
    };
  }

  private connect(): void {
    if (this.closed) return;
    this.source?.close();
    const token = getToken();
    const es = new EventSource(`${API}/events${token !== "" ? `?token=${encodeURIComponent(token)}` : ""}`);
    this.source = es;
    es.onopen = () => {
      const recovered = this.everLive && this.connection.value !== "live";
      this.everLive = true;
      this.connection.value = "live";
      // Whatever happened while we were away (a restart loses the replay buffer) is fetched.
      if (recovered) void this.refresh();
    };
    es.onerror = () => {
      this.connection.value = "disconnected";
      // A refused or non-stream answer closes an EventSource for good: start a new one.
      if (es.readyState === EventSource.CLOSED && this.source === es) {
        window.clearTimeout(this.reconnectTimer);
        this.reconnectTimer = window.setTimeout(() => this.connect(), 3000);
      }
    };
    const onEvent = (m: MessageEvent<string>): void => {
      this.lastEventAt = Date.now();
      try {
        this.enqueue(JSON.parse(m.data) as LiveEvent);
      } catch {
        // A malformed event is skipped; the next refresh repairs the state.
      }
    };
    for (const t of EVENT_TYPES) es.addEventListener(t, onEvent);
    for (const t of MAINTENANCE_EVENTS) es.addEventListener(t, () => void this.refreshMaintenance());
    es.addEventListener("reset", () => void this.refresh());
  }

  /** Queues an event for the next frame (tests and the bench call this too). */
  enqueue(e: LiveEvent): void {
    this.queue.push(e);
    if (this.frameRequested) return;
    this.frameRequested = true;
    const flush = (): void => {
      if (!this.frameRequested) return;
      this.frameRequested = false;
      this.flush();
    };
    requestAnimationFrame(flush);
    // A hidden tab gets no frames: apply within half a second anyway, so it is current when shown.
    window.setTimeout(flush, 500);
  }

  private flush(): void {
    const events = this.queue;
    this.queue = [];
    // Only the last levels of each stream matter.
    const lastLevels = new Map<string, number>();
    events.forEach((e, i) => {
      if (e.type === "stream.levels") lastLevels.set(e.streamId, i);
    });
    batch(() => {
      let incidents: Map<string, Incident> | null = null;
      let unknownStream = false;
      events.forEach((e, i) => {
        this.applied++;
        switch (e.type) {
          case "stream.levels": {
            const entry = this.entries.value.get(e.streamId);
            if (!entry) unknownStream = true;
            else if (lastLevels.get(e.streamId) === i) this.applyLevels(entry, e);
            break;
          }
          case "stream.state": {
            const entry = this.entries.value.get(e.state.id);
            if (entry) this.applyState(entry, e.state);
            else unknownStream = true;
            break;
          }
          default: {
            if (!("incident" in e)) break;
            incidents ??= new Map(this.incidents.value);
            incidents.set(e.incident.id, { ...incidents.get(e.incident.id), ...e.incident });
          }
        }
      });
      if (incidents) this.incidents.value = incidents;
      // A stream added elsewhere: fetch the list again.
      if (unknownStream) void this.refresh();
    });
  }

  private applyState(entry: StreamEntry, state: LiveState): void {
    entry.state.value = state;
    if (state.levels.peakDbfs.length > 0 && entry.meter.value === null) {
      this.applyLevels(entry, { type: "stream.levels", streamId: entry.id, levels: state.levels });
    }
  }

  private applyLevels(entry: StreamEntry, e: Extract<LiveEvent, { type: "stream.levels" }>): void {
    const now = Date.now();
    const prev = entry.meter.value;
    const holdDbfs: number[] = [];
    const holdAt: number[] = [];
    e.levels.peakDbfs.forEach((p, c) => {
      const held = prev?.holdDbfs[c];
      const heldAt = prev?.holdAt[c] ?? 0;
      // A peak is held until a higher one replaces it or it is PEAK_HOLD_MS old.
      const keep = held !== undefined && held > p && now - heldAt < PEAK_HOLD_MS;
      holdDbfs.push(keep ? held : p);
      holdAt.push(keep ? heldAt : now);
    });
    const loudness = entry.state.value?.measurements["audio.loudness"] as
      { lufsMomentary?: number | null } | undefined;
    const momentary = e.levels.momentaryLufs ?? e.levels.lufsMomentary ?? loudness?.lufsMomentary ?? null;
    entry.meter.value = {
      peakDbfs: e.levels.peakDbfs,
      rmsDbfs: e.levels.rmsDbfs,
      holdDbfs,
      holdAt,
      momentaryLufs: momentary,
    };
    if (e.thumbnail) {
      const sep = e.thumbnail.url.includes("?") ? "&" : "?";
      entry.thumb.value = {
        url: `${e.thumbnail.url}${sep}pts=${e.thumbnail.pts}`,
        receivedAt: now,
        pts: e.thumbnail.pts,
      };
    }
  }
}
