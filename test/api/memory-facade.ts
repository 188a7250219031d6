/**
 * An in-memory ServiceFacade for the API tests: the real one (store + runners) lives in the
 * service. It keeps the facade's contract honestly (409 on a taken name, undefined for unknown
 * ids, keyset pagination stable under inserts) and nothing more: no runners, no decoding.
 */
import { EventEmitter } from "node:events";
import { StreamqcError } from "../../src/errors.js";
import type {
  IncidentQuery,
  Maintenance,
  Readiness,
  Report,
  Stream,
  StreamCreate,
  StreamHistory,
  StreamPatch,
  StreamState,
} from "../../src/api/schemas.js";
import type {
  AckInput,
  AckResult,
  IncidentPageResult,
  MaintenanceInput,
  MetricsSnapshot,
  ServiceEvent,
  ServiceFacade,
  StoredBlob,
  StoredIncident,
} from "../../src/service/service-facade.js";

export class MemoryFacade implements ServiceFacade {
  allowLocalFiles = false;
  readonly streams = new Map<string, Stream>();
  readonly incidents: StoredIncident[] = [];
  readonly evidence = new Map<string, StoredBlob>();
  readonly thumbnails = new Map<string, StoredBlob>();
  readonly states = new Map<string, StreamState>();
  readonly maintenance: Maintenance[] = [];
  readonly histories = new Map<string, StreamHistory>();
  metricsExtra: Pick<MetricsSnapshot, "incidents" | "alertDeliveries" | "alertFailures"> = {
    incidents: [],
    alertDeliveries: [],
    alertFailures: [],
  };
  ready: Readiness = { ready: true, checks: { store: { ok: true }, runners: { ok: true } } };
  private readonly events = new EventEmitter();
  private nextId = 1;

  profileNames(): readonly string[] {
    return ["default", "light"];
  }

  emit(event: ServiceEvent): void {
    this.events.emit("event", event);
  }

  subscribe(listener: (event: ServiceEvent) => void): () => void {
    this.events.on("event", listener);
    return () => this.events.off("event", listener);
  }

  listenerCount(): number {
    return this.events.listenerCount("event");
  }

  listStreams(): Promise<readonly Stream[]> {
    return Promise.resolve([...this.streams.values()]);
  }

  getStream(id: string): Promise<Stream | undefined> {
    return Promise.resolve(this.streams.get(id));
  }

  private assertFreeName(name: string, exceptId?: string): void {
    for (const s of this.streams.values()) {
      if (s.name === name && s.id !== exceptId) {
        throw new StreamqcError("SQM_ERR_CONFLICT", `a stream named "${name}" already exists`);
      }
    }
  }

  createStream(input: StreamCreate & { readonly profile: string }): Promise<Stream> {
    this.assertFreeName(input.name);
    const now = new Date().toISOString();
    const stream: Stream = {
      id: `s${this.nextId++}`,
      name: input.name,
      url: input.url,
      profile: input.profile,
      labels: input.labels ?? {},
      enabled: true,
      createdAt: now,
      updatedAt: now,
    };
    this.streams.set(stream.id, stream);
    this.states.set(stream.id, stateOf(stream, "starting"));
    return Promise.resolve(stream);
  }

  updateStream(id: string, patch: StreamPatch): Promise<Stream | undefined> {
    const old = this.streams.get(id);
    if (!old) return Promise.resolve(undefined);
    if (patch.name !== undefined) this.assertFreeName(patch.name, id);
    const given = Object.fromEntries(
      Object.entries(patch).filter(([, v]) => v !== undefined),
    ) as Partial<Stream>;
    const stream: Stream = { ...old, ...given, updatedAt: new Date().toISOString() };
    this.streams.set(id, stream);
    return Promise.resolve(stream);
  }

  deleteStream(id: string): Promise<boolean> {
    this.states.delete(id);
    return Promise.resolve(this.streams.delete(id));
  }

  private setEnabled(id: string, enabled: boolean): Promise<StreamState | undefined> {
    const s = this.streams.get(id);
    if (!s) return Promise.resolve(undefined);
    this.streams.set(id, { ...s, enabled });
    const state = stateOf(s, enabled ? "starting" : "stopped");
    this.states.set(id, state);
    this.emit({ type: "stream.state", state });
    return Promise.resolve(state);
  }

  startStream(id: string): Promise<StreamState | undefined> {
    return this.setEnabled(id, true);
  }

  stopStream(id: string): Promise<StreamState | undefined> {
    return this.setEnabled(id, false);
  }

  streamState(id: string): StreamState | undefined {
    return this.states.get(id);
  }

  latestThumbnail(id: string): Promise<StoredBlob | undefined> {
    return Promise.resolve(this.thumbnails.get(id));
  }

  /** Newest first by (startedAt, id); the cursor is the last item's key, so inserts do not shift pages. */
  listIncidents(q: IncidentQuery): Promise<IncidentPageResult> {
    const key = (i: StoredIncident) => `${i.startedAt ?? ""}|${i.id}`;
    const matching = this.incidents
      .filter((i) => q.stream === undefined || i.stream === q.stream || i.streamId === q.stream)
      .filter((i) => q.type === undefined || i.type === q.type || i.type.startsWith(`${q.type}.`))
      .filter((i) => q.severity === undefined || i.severity === q.severity)
      .filter((i) => q.open === undefined || (i.end === null) === q.open)
      .filter((i) => q.acknowledged === undefined || (i.acknowledged !== null) === q.acknowledged)
      .filter((i) => q.from === undefined || Date.parse(i.startedAt ?? "") >= Date.parse(q.from))
      .filter((i) => q.to === undefined || Date.parse(i.startedAt ?? "") < Date.parse(q.to))
      .sort((a, b) => (key(a) < key(b) ? 1 : key(a) > key(b) ? -1 : 0));
    const after = q.cursor === undefined ? undefined : Buffer.from(q.cursor, "base64url").toString();
    if (after !== undefined && !/^[^|]*\|i\d+$/.test(after)) {
      throw new StreamqcError("SQM_ERR_INVALID_CURSOR", "the cursor was not issued by this service");
    }
    const rest = after === undefined ? matching : matching.filter((i) => key(i) < after);
    const items = rest.slice(0, q.limit);
    const last = items[items.length - 1];
    const next = rest.length > q.limit && last ? Buffer.from(key(last)).toString("base64url") : null;
    return Promise.resolve({ items, next });
  }

  getIncident(id: string): Promise<StoredIncident | undefined> {
    return Promise.resolve(this.incidents.find((i) => i.id === id));
  }

  getEvidence(incidentId: string, name: string): Promise<StoredBlob | undefined> {
    return Promise.resolve(this.evidence.get(`${incidentId}/${name}`));
  }

  private findStream(idOrName: string): Stream | undefined {
    return this.streams.get(idOrName) ?? [...this.streams.values()].find((s) => s.name === idOrName);
  }

  acknowledgeIncidents(ids: readonly string[], ack: AckInput): Promise<AckResult> {
    const items: StoredIncident[] = [];
    const unknown: string[] = [];
    let acknowledged = 0;
    for (const id of ids) {
      const n = this.incidents.findIndex((i) => i.id === id);
      const before = this.incidents[n];
      if (!before) {
        unknown.push(id);
        continue;
      }
      if (before.acknowledged !== null) {
        items.push(before);
        continue;
      }
      const after: StoredIncident = {
        ...before,
        acknowledged: { at: new Date().toISOString(), by: ack.by, comment: ack.comment },
      };
      this.incidents[n] = after;
      items.push(after);
      acknowledged++;
      this.emit({ type: "incident.acknowledged", incident: after });
    }
    return Promise.resolve({ items, acknowledged, unknown });
  }

  acknowledgeStream(
    stream: string,
    ack: AckInput,
    options: { readonly includeCleared: boolean },
  ): Promise<AckResult | undefined> {
    const s = this.findStream(stream);
    if (!s) return Promise.resolve(undefined);
    const ids = this.incidents
      .filter(
        (i) => i.streamId === s.id && i.acknowledged === null && (options.includeCleared || i.end === null),
      )
      .map((i) => i.id);
    return this.acknowledgeIncidents(ids, ack);
  }

  private maintenanceChanged(): void {
    this.emit({ type: "maintenance.changed", items: [...this.maintenance] });
  }

  listMaintenance(query: {
    stream?: string | undefined;
    ended?: boolean | undefined;
  }): Promise<readonly Maintenance[] | undefined> {
    const s = query.stream === undefined ? undefined : this.findStream(query.stream);
    if (query.stream !== undefined && !s) return Promise.resolve(undefined);
    const now = Date.now();
    return Promise.resolve(
      this.maintenance.filter(
        (w) =>
          (query.ended === true || Date.parse(w.until) > now) &&
          (s === undefined ||
            w.streamId === s.id ||
            (w.streamId === null && Object.entries(w.labels ?? {}).every(([k, v]) => s.labels[k] === v))),
      ),
    );
  }

  addMaintenance(input: MaintenanceInput): Promise<Maintenance | undefined> {
    const s = input.stream === undefined ? undefined : this.findStream(input.stream);
    if (input.stream !== undefined && !s) return Promise.resolve(undefined);
    const now = Date.now();
    const w: Maintenance = {
      id: `m${this.nextId++}`,
      streamId: s?.id ?? null,
      stream: s?.name ?? null,
      labels: input.labels ? { ...input.labels } : null,
      from: new Date(input.from).toISOString(),
      until: new Date(input.until).toISOString(),
      reason: input.reason,
      by: input.by,
      active: Date.parse(input.from) <= now && now < Date.parse(input.until),
    };
    this.maintenance.push(w);
    this.maintenanceChanged();
    return Promise.resolve(w);
  }

  deleteMaintenance(id: string): Promise<boolean> {
    const n = this.maintenance.findIndex((w) => w.id === id);
    if (n < 0) return Promise.resolve(false);
    this.maintenance.splice(n, 1);
    this.maintenanceChanged();
    return Promise.resolve(true);
  }

  unmuteStream(stream: string): Promise<number | undefined> {
    const s = this.findStream(stream);
    if (!s) return Promise.resolve(undefined);
    const before = this.maintenance.length;
    for (let i = this.maintenance.length - 1; i >= 0; i--) {
      if (this.maintenance[i]!.streamId === s.id) this.maintenance.splice(i, 1);
    }
    const removed = before - this.maintenance.length;
    if (removed > 0) this.maintenanceChanged();
    return Promise.resolve(removed);
  }

  streamHistory(id: string, seconds: number): Promise<StreamHistory | undefined> {
    if (!this.streams.has(id)) return Promise.resolve(undefined);
    const h = this.histories.get(id);
    if (!h) {
      return Promise.resolve({
        streamId: id,
        intervalSeconds: 1,
        t: [],
        momentary: [],
        shortTerm: [],
        integrated: [],
        truePeak: [],
        avOffsetMs: [],
        peakDbfs: [],
        rmsDbfs: [],
        target: null,
        truePeakLimit: null,
      });
    }
    const from = Date.now() / 1000 - seconds;
    const keep = h.t.map((t) => t >= from);
    const pick = <T>(a: readonly T[]): T[] => a.filter((_, i) => keep[i]);
    return Promise.resolve({
      ...h,
      t: pick(h.t),
      momentary: pick(h.momentary),
      shortTerm: pick(h.shortTerm),
      integrated: pick(h.integrated),
      truePeak: pick(h.truePeak),
      avOffsetMs: pick(h.avOffsetMs),
      peakDbfs: h.peakDbfs.map(pick),
      rmsDbfs: h.rmsDbfs.map(pick),
    });
  }

  reports(streamId: string | undefined, from: Date, to: Date): Promise<readonly Report[] | undefined> {
    const streams = streamId === undefined ? [...this.streams.values()] : [this.streams.get(streamId)];
    if (streams.some((s) => s === undefined)) return Promise.resolve(undefined);
    return Promise.resolve(
      streams.map((s) => ({
        stream: s!.name,
        streamId: s!.id,
        from: from.toISOString(),
        to: to.toISOString(),
        availability: 1,
        defectSeconds: {},
      })),
    );
  }

  metrics(): Promise<MetricsSnapshot> {
    return Promise.resolve({
      streams: [...this.streams.values()].map((s) => {
        const st = this.states.get(s.id);
        return {
          name: s.name,
          up: st?.status === "up",
          frames: st?.frames ?? 0,
          restarts: st?.restarts ?? 0,
          detectorCpuSeconds: Object.fromEntries(
            Object.entries(st?.detectorCpuMs ?? {}).map(([k, v]) => [k, v / 1000]),
          ),
          cpuSecondsPerMediaSecond: st?.cost.perMediaSecond ?? null,
          behindLiveSeconds: st?.behindLiveSeconds ?? null,
        };
      }),
      ...this.metricsExtra,
    });
  }

  readiness(): Promise<Readiness> {
    return Promise.resolve(this.ready);
  }
}

export function stateOf(stream: Stream, status: StreamState["status"]): StreamState {
  return {
    id: stream.id,
    name: stream.name,
    status,
    since: new Date().toISOString(),
    lastError: null,
    mediaTime: 0,
    behindLiveSeconds: null,
    restarts: 0,
    frames: 0,
    decoderErrors: 0,
    levels: { peakDbfs: [], rmsDbfs: [] },
    measurements: {},
    openIncidents: [],
    cost: { decoderCpuSeconds: 0, detectorCpuSeconds: 0, perMediaSecond: null },
    detectorCpuMs: {},
    loudness: null,
    tr101290: null,
    hls: null,
    thumbnailAt: null,
    muted: null,
    worker: null,
  };
}

/** An incident as the store would hold it. */
export function storedIncident(
  n: number,
  stream: Stream,
  overrides: Partial<StoredIncident> = {},
): StoredIncident {
  const startedAt = new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString();
  return {
    id: `i${String(n).padStart(4, "0")}`,
    streamId: stream.id,
    stream: stream.name,
    type: "video.freeze",
    start: n,
    end: n + 2,
    duration: 2,
    severity: "major",
    details: {},
    startedAt,
    endedAt: startedAt,
    evidence: [],
    acknowledged: null,
    ...overrides,
  };
}
