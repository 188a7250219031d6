/**
 * What the HTTP API sees in a fleet (`serve --db`): streams, incidents, reports and evidence
 * straight from the shared database; live state and events from the workers' notes
 * (pg-event-bus.ts); the owner and epoch of each stream from its lease.
 *
 * Changing a stream here never reaches into a worker: a change that needs a fresh start (URL,
 * profile, name, disable, delete) revokes the stream's lease, which moves its epoch on, so
 * the holder's next write or renewal is refused and it stops; the next claim starts it with
 * the new definition. Incidents left open by a stopped stream are closed here.
 */
import type { Logger } from "pino";
import type {
  IncidentQuery,
  Maintenance,
  Readiness,
  Report,
  Stream,
  StreamCreate,
  StreamHistory,
  StreamPatch,
  StreamState as ApiState,
} from "../api/schemas.js";
import type { ResolvedProfile } from "../config/profile.js";
import { errorMessage, isStreamqcError, StreamqcError } from "../errors.js";
import { openSource } from "../ingest/open-source.js";
import { roundTime } from "../incident.js";
import { toFacadeIncident } from "../service/incident-recorder.js";
import type { IncidentWriter } from "../service/incident-writer.js";
import { toStream, type MonitorService } from "../service/monitor-service.js";
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
} from "../service/service-facade.js";
import type { StreamState } from "../service/stream-runner.js";
import type { StreamOwner, WorkerInfo } from "../store/lease-port.js";
import type { Store, StreamRecord } from "../store/store.js";
import { StreamHistories } from "../service/stream-history.js";
import type { FleetNote, LevelsItem } from "./pg-event-bus.js";
import type { PgLeaseStore } from "./pg-lease-store.js";
import { isSimulatedUrl } from "./simulated-runner.js";
import { LiveClient } from "./worker-live-server.js";

export interface FleetFacadeOptions {
  readonly store: Store;
  readonly leases: PgLeaseStore;
  readonly writer: IncidentWriter;
  /** The single-process service over the same store, for incidents, reports and evidence. */
  readonly records: MonitorService;
  readonly profiles: ReadonlyMap<string, ResolvedProfile>;
  readonly allowLocalFiles: boolean;
  readonly allowSimulated: boolean;
  readonly logger: Logger;
  /** How often stream list and owners are re-read. Default 1000 ms. */
  readonly refreshMs?: number;
  /** The token of the workers' live endpoints (`STREAMQC_FLEET_TOKEN`). */
  readonly fleetToken?: string | undefined;
}

/** A stream's last second as its owner sent it, and when its thumbnail last changed here. */
interface LiveLevels {
  readonly worker: string;
  readonly item: LevelsItem;
  readonly thumbnailAt: string | null;
}

function idleState(r: StreamRecord, status: StreamState["status"]): StreamState {
  return {
    id: r.id,
    name: r.name,
    status,
    since: r.updatedAt,
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
  };
}

export class FleetFacade implements ServiceFacade {
  readonly allowLocalFiles: boolean;
  readonly #o: FleetFacadeOptions;
  readonly #listeners = new Set<(e: ServiceEvent) => void>();
  #streams = new Map<string, StreamRecord>();
  #owners = new Map<string, StreamOwner>();
  /** The last state each stream's owner published, with who published it. */
  readonly #states = new Map<string, { state: StreamState; worker: string }>();
  readonly #live = new Map<string, LiveLevels>();
  #liveUrls: ReadonlyMap<string, string> = new Map();
  readonly #client: LiveClient;
  #timer: NodeJS.Timeout | null = null;
  #refreshed = false;

  constructor(options: FleetFacadeOptions) {
    this.#o = options;
    this.allowLocalFiles = options.allowLocalFiles;
    this.#client = new LiveClient(options.fleetToken);
  }

  #poolOf(profile: unknown): string {
    const name = typeof profile === "string" ? profile : "default";
    return (this.#o.profiles.get(name) ?? this.#o.profiles.get("default"))?.pool ?? "default";
  }

  /** Gives every stream its pool, reads streams and owners; then keeps them fresh. */
  async start(): Promise<void> {
    // Acknowledgements and maintenance are made here, through the records service: pass its
    // events on (incidents themselves come from the workers' notes).
    this.#o.records.subscribe((e) => {
      if (e.type === "incident.acknowledged" || e.type === "maintenance.changed") this.#emit(e);
    });
    const all = await this.#o.store.listStreams();
    await this.#o.leases.syncPools(new Map(all.map((s) => [s.id, this.#poolOf(s.profile)])));
    await this.#refresh();
    this.#timer = setInterval(() => {
      this.#refresh().catch((err: unknown) =>
        this.#o.logger.warn({ err: errorMessage(err) }, "could not read streams and owners"),
      );
    }, this.#o.refreshMs ?? 1000);
    this.#timer.unref();
  }

  async #refresh(): Promise<void> {
    const [streams, owners, liveUrls] = await Promise.all([
      this.#o.store.listStreams(),
      this.#o.leases.streamOwners(),
      this.#o.leases.liveUrls(),
    ]);
    this.#streams = new Map(streams.map((s) => [s.id, s]));
    this.#owners = new Map(owners);
    this.#liveUrls = liveUrls;
    this.#refreshed = true;
  }

  #emit(event: ServiceEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch (err) {
        this.#o.logger.error({ err: errorMessage(err) }, "event listener failed");
      }
    }
  }

  /** A note from a worker (LISTEN): incidents are read back from the store, states cached. */
  onNote(note: FleetNote): void {
    if (note.type === "stream.state") {
      this.#states.set(note.state.id, { state: note.state, worker: note.worker });
      const state = this.streamState(note.state.id);
      if (state) this.#emit({ type: "stream.state", state });
      return;
    }
    if (note.type === "outbox") return;
    if (note.type === "stream.levels") {
      for (const item of note.items) this.#onLevels(note.worker, item);
      return;
    }
    this.#o.store.getIncident(note.id).then(
      (i) => {
        if (i) this.#emit({ type: note.type, incident: toFacadeIncident(i) });
      },
      (err: unknown) => this.#o.logger.warn({ err: errorMessage(err) }, "could not read a live incident"),
    );
  }

  #onLevels(worker: string, item: LevelsItem): void {
    const owner = this.#owners.get(item.streamId)?.worker;
    // A note from a worker that no longer holds the stream (a late note after a takeover).
    if (owner !== undefined && owner !== null && owner !== worker) return;
    const before = this.#live.get(item.streamId);
    const changed = item.thumbnailPts !== undefined && item.thumbnailPts !== before?.item.thumbnailPts;
    this.#live.set(item.streamId, {
      worker,
      item,
      thumbnailAt: changed ? new Date().toISOString() : (before?.thumbnailAt ?? null),
    });
    this.#emit({
      type: "stream.levels",
      streamId: item.streamId,
      levels: item.levels,
      loudness: item.loudness,
      ...(item.thumbnailPts !== undefined ? { thumbnailPts: item.thumbnailPts } : {}),
    });
  }

  /** The live endpoint of the worker that holds the stream now, if it serves one. */
  #liveUrlOf(id: string): string | undefined {
    const worker = this.#owners.get(id)?.worker;
    return worker ? this.#liveUrls.get(worker) : undefined;
  }

  profileNames(): readonly string[] {
    return [...this.#o.profiles.keys()];
  }

  urlProblem(url: string): string | undefined {
    if (isSimulatedUrl(url)) return this.#o.allowSimulated ? undefined : "sim: streams are for tests only";
    try {
      openSource(url, { allowFiles: this.allowLocalFiles });
      return undefined;
    } catch (err) {
      if (isStreamqcError(err)) return err.message;
      throw err;
    }
  }

  // ---- streams

  async listStreams(): Promise<readonly Stream[]> {
    return (await this.#o.store.listStreams()).map(toStream);
  }

  async getStream(id: string): Promise<Stream | undefined> {
    const r = await this.#o.store.getStream(id);
    return r ? toStream(r) : undefined;
  }

  async createStream(input: StreamCreate & { readonly profile: string }): Promise<Stream> {
    if (await this.#o.store.getStreamByName(input.name)) {
      throw new StreamqcError("SQM_ERR_CONFLICT", `a stream named "${input.name}" already exists`);
    }
    const r = await this.#o.store.createStream({
      name: input.name,
      url: input.url,
      profile: input.profile,
      labels: input.labels ?? {},
      enabled: true,
    });
    await this.#o.leases.syncPools(new Map([[r.id, this.#poolOf(r.profile)]]));
    this.#streams.set(r.id, r);
    return toStream(r);
  }

  async updateStream(id: string, patch: StreamPatch): Promise<Stream | undefined> {
    const before = await this.#o.store.getStream(id);
    if (!before) return undefined;
    if (
      patch.name !== undefined &&
      patch.name !== before.name &&
      (await this.#o.store.getStreamByName(patch.name))
    ) {
      throw new StreamqcError("SQM_ERR_CONFLICT", `a stream named "${patch.name}" already exists`);
    }
    const after = await this.#o.store.updateStream(id, {
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.url !== undefined ? { url: patch.url } : {}),
      ...(patch.profile !== undefined ? { profile: patch.profile } : {}),
      ...(patch.labels !== undefined ? { labels: patch.labels } : {}),
      ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
    });
    this.#streams.set(id, after);
    const restart =
      after.url !== before.url ||
      after.profile !== before.profile ||
      after.name !== before.name ||
      after.enabled !== before.enabled;
    if (restart) await this.#restart(after, "stream changed");
    return toStream(after);
  }

  /** Takes the stream from its holder; a disabled stream's open incidents are closed. */
  async #restart(r: StreamRecord, why: string): Promise<void> {
    await this.#o.leases.syncPools(new Map([[r.id, this.#poolOf(r.profile)]]));
    await this.#o.leases.revoke(r.id);
    this.#states.delete(r.id);
    this.#live.delete(r.id);
    if (!r.enabled) await this.#closeOpen(r.id, why);
  }

  async #closeOpen(streamId: string, why: string): Promise<void> {
    const open = await this.#o.store.queryIncidents({ streamId, open: true, limit: 500 });
    for (const i of open.items) {
      const endedAt = new Date().toISOString();
      const since = (Date.parse(endedAt) - Date.parse(i.startedAt)) / 1000;
      const stored = await this.#o.writer.close(i.id, roundTime(i.start + Math.max(0, since || 0)), {
        endedAt,
        details: { ...i.details, closedBy: why },
      });
      this.#emit({ type: "incident.closed", incident: toFacadeIncident(stored) });
    }
  }

  async deleteStream(id: string): Promise<boolean> {
    const r = await this.#o.store.getStream(id);
    if (!r) return false;
    await this.#o.store.deleteStream(id);
    await this.#o.leases.revoke(id);
    await this.#closeOpen(id, "stream deleted");
    this.#streams.delete(id);
    this.#states.delete(id);
    this.#live.delete(id);
    return true;
  }

  async startStream(id: string): Promise<ApiState | undefined> {
    const r = await this.#o.store.getStream(id);
    if (!r) return undefined;
    const after = r.enabled ? r : await this.#o.store.updateStream(id, { enabled: true });
    this.#streams.set(id, after);
    await this.#o.leases.syncPools(new Map([[id, this.#poolOf(after.profile)]]));
    return this.streamState(id);
  }

  async stopStream(id: string): Promise<ApiState | undefined> {
    const r = await this.#o.store.getStream(id);
    if (!r) return undefined;
    const after = r.enabled ? await this.#o.store.updateStream(id, { enabled: false }) : r;
    this.#streams.set(id, after);
    await this.#restart(after, "stream stopped");
    this.#owners.set(id, { worker: null, epoch: (this.#owners.get(id)?.epoch ?? 0) + 1 });
    return this.streamState(id);
  }

  streamState(id: string): ApiState | undefined {
    const r = this.#streams.get(id);
    if (!r) return undefined;
    const owner = this.#owners.get(id) ?? { worker: null, epoch: 0 };
    const published = this.#states.get(id);
    let state: StreamState;
    if (owner.worker !== null && published && published.worker === owner.worker) state = published.state;
    else if (owner.worker !== null) state = idleState(r, "starting");
    // Enabled but held by nobody: waiting for a worker of its pool.
    else state = idleState(r, r.enabled ? "starting" : "stopped");
    // Muting is judged by the store's windows (the records service keeps them fresh).
    const live = this.#live.get(id);
    if (live && live.worker === owner.worker) {
      state = {
        ...state,
        levels: live.item.levels,
        loudness: live.item.loudness,
        thumbnailAt: live.thumbnailAt,
      };
    }
    return {
      ...state,
      name: r.name,
      // Acknowledgements are read from the store (the journal); the live state leaves them out.
      openIncidents: state.openIncidents.map((i) => ({ ...i, acknowledged: null })),
      muted: this.#o.records.mutedState(id),
      worker: owner.worker,
      epoch: owner.epoch,
    };
  }

  /** Fetched from the live endpoint of the worker that decodes the stream (docs/fleet.md). */
  async latestThumbnail(id: string): Promise<StoredBlob | undefined> {
    const url = this.#liveUrlOf(id);
    if (!url) return undefined;
    try {
      return await this.#client.thumbnail(url, id);
    } catch (err) {
      this.#o.logger.warn(
        { streamId: id, err: errorMessage(err) },
        "could not fetch a thumbnail from its worker",
      );
      return undefined;
    }
  }

  // ---- incidents and reports: the same store as a single process

  listIncidents(query: IncidentQuery): Promise<IncidentPageResult> {
    return this.#o.records.listIncidents(query);
  }

  async getIncident(id: string): Promise<StoredIncident | undefined> {
    return this.#o.records.getIncident(id);
  }

  getEvidence(incidentId: string, name: string): Promise<StoredBlob | undefined> {
    return this.#o.records.getEvidence(incidentId, name);
  }

  reports(streamId: string | undefined, from: Date, to: Date): Promise<readonly Report[] | undefined> {
    return this.#o.records.reports(streamId, from, to);
  }

  // ---- acknowledgements and maintenance: the same store (and its events) as a single process

  acknowledgeIncidents(ids: readonly string[], ack: AckInput): Promise<AckResult> {
    return this.#o.records.acknowledgeIncidents(ids, ack);
  }

  acknowledgeStream(
    stream: string,
    ack: AckInput,
    options: { readonly includeCleared: boolean },
  ): Promise<AckResult | undefined> {
    return this.#o.records.acknowledgeStream(stream, ack, options);
  }

  listMaintenance(query: {
    readonly stream?: string | undefined;
    readonly ended?: boolean | undefined;
  }): Promise<readonly Maintenance[] | undefined> {
    return this.#o.records.listMaintenance(query);
  }

  addMaintenance(input: MaintenanceInput): Promise<Maintenance | undefined> {
    return this.#o.records.addMaintenance(input);
  }

  deleteMaintenance(id: string): Promise<boolean> {
    return this.#o.records.deleteMaintenance(id);
  }

  unmuteStream(stream: string): Promise<number | undefined> {
    return this.#o.records.unmuteStream(stream);
  }

  /**
   * Sampled in the worker that decodes the stream and fetched from its live endpoint: empty
   * while nobody runs it or its worker cannot answer (the history starts with each owner).
   */
  async streamHistory(id: string, seconds: number): Promise<StreamHistory | undefined> {
    if (!this.#streams.has(id) && !(await this.#o.store.getStream(id))) return undefined;
    const url = this.#liveUrlOf(id);
    if (url) {
      try {
        const h = await this.#client.history(url, id, seconds);
        if (h) return h;
      } catch (err) {
        this.#o.logger.warn(
          { streamId: id, err: errorMessage(err) },
          "could not fetch a history from its worker",
        );
      }
    }
    return new StreamHistories(1).read(id, seconds, undefined);
  }

  subscribe(listener: (event: ServiceEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  listWorkers(): Promise<readonly WorkerInfo[]> {
    return this.#o.leases.listWorkers();
  }

  async metrics(): Promise<MetricsSnapshot> {
    const base = await this.#o.records.metrics();
    const streams: MetricsSnapshot["streams"][number][] = [];
    for (const r of this.#streams.values()) {
      const st = this.streamState(r.id);
      if (!st || !r.enabled) continue;
      const detectorCpuSeconds: Record<string, number> = {};
      for (const [k, v] of Object.entries(st.detectorCpuMs)) detectorCpuSeconds[k] = v / 1000;
      streams.push({
        name: st.name,
        up: st.status === "up",
        frames: st.frames,
        restarts: st.restarts,
        detectorCpuSeconds,
        cpuSecondsPerMediaSecond: st.cost.perMediaSecond,
        behindLiveSeconds: st.behindLiveSeconds ?? null,
      });
    }
    return { ...base, streams, workers: await this.#o.leases.listWorkers() };
  }

  async readiness(): Promise<Readiness> {
    let ok = true;
    let message: string | undefined;
    try {
      await this.#o.leases.streamOwner("");
    } catch (err) {
      ok = false;
      message = errorMessage(err);
    }
    return {
      ready: ok && this.#refreshed,
      checks: {
        store: { ok, ...(message ? { message } : {}) },
        runners: { ok: this.#refreshed, message: "streams run on fleet workers" },
      },
    };
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
