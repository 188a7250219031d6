/**
 * An in-memory ServiceFacade for the API tests: the real one (store + runners) lives in the
 * service. It keeps the facade's contract honestly (409 on a taken name, undefined for unknown
 * ids, keyset pagination stable under inserts) and nothing more: no runners, no decoding.
 */
import { EventEmitter } from "node:events";
import { StreamqcError } from "../../src/errors.js";
import type {
  IncidentQuery,
  Readiness,
  Report,
  Stream,
  StreamCreate,
  StreamPatch,
  StreamState,
} from "../../src/api/schemas.js";
import type {
  IncidentPageResult,
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

  latestThumbnail(id: string): StoredBlob | undefined {
    return this.thumbnails.get(id);
  }

  /** Newest first by (startedAt, id); the cursor is the last item's key, so inserts do not shift pages. */
  listIncidents(q: IncidentQuery): Promise<IncidentPageResult> {
    const key = (i: StoredIncident) => `${i.startedAt ?? ""}|${i.id}`;
    const matching = this.incidents
      .filter((i) => q.stream === undefined || i.stream === q.stream || i.streamId === q.stream)
      .filter((i) => q.type === undefined || i.type === q.type || i.type.startsWith(`${q.type}.`))
      .filter((i) => q.severity === undefined || i.severity === q.severity)
      .filter((i) => q.open === undefined || (i.end === null) === q.open)
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
    restarts: 0,
    frames: 0,
    decoderErrors: 0,
    levels: { peakDbfs: [], rmsDbfs: [] },
    measurements: {},
    openIncidents: [],
    cost: { decoderCpuSeconds: 0, detectorCpuSeconds: 0, perMediaSecond: null },
    detectorCpuMs: {},
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
    ...overrides,
  };
}
