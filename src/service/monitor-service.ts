/**
 * MonitorService: the monolith of `streamqc serve`. One process runs every stream's monitor
 * (one decoder each, all detectors in memory), records incidents durably with evidence before
 * any alert leaves, and serves what the HTTP API asks (it implements the API's ServiceFacade).
 *
 * One stream's failure never disturbs another's: runners catch their own faults, and every
 * store write for a stream runs in that stream's own queue, in order.
 */
import type { Logger } from "pino";
import type { AlertDispatcher } from "../alert/dispatcher.js";
import type { IncidentWriter } from "./incident-writer.js";
import type {
  AckInput,
  AckResult,
  IncidentPageResult,
  MaintenanceInput,
  MetricsSnapshot,
  ServiceEvent,
  ServiceFacade,
  StoredBlob,
} from "./service-facade.js";
import type {
  IncidentQuery,
  Maintenance,
  Readiness,
  Report,
  Stream,
  StreamCreate,
  StreamHistory,
  StreamPatch,
  StreamState as ApiStreamState,
} from "../api/schemas.js";
import type { ResolvedProfile } from "../config/profile.js";
import { StreamqcError, errorMessage, isStreamqcError } from "../errors.js";
import type { BlobStore } from "../store/blob-store.js";
import {
  windowCovers,
  type Acknowledgement,
  type Labels,
  type MaintenanceWindow,
  type Store,
  type StreamRecord,
} from "../store/store.js";
import { openSource } from "../ingest/open-source.js";
import { PromotionLimiter } from "../monitor/promotion-limiter.js";
import { applyConfiguredStreams } from "./configured-streams.js";
import { IncidentRecorder, toFacadeIncident } from "./incident-recorder.js";
import { StreamHistories } from "./stream-history.js";
import { detectorMemory, memoryKey } from "./detector-memory.js";
import { StreamRunner, type StreamDefinition, type StreamState as RunnerState } from "./stream-runner.js";

/** Promotions at once per process by default: four full 1080p decoders fill about a core. */
export const DEFAULT_MAX_PROMOTIONS = 4;

export interface MonitorServiceOptions {
  readonly store: Store;
  readonly blobs: BlobStore;
  readonly writer: IncidentWriter;
  readonly dispatcher: AlertDispatcher;
  readonly profiles: ReadonlyMap<string, ResolvedProfile>;
  readonly ffmpegPath: string;
  readonly allowLocalFiles: boolean;
  readonly logger: Logger;
  /** The decoder watchdog's stall timeout; default DEFAULT_STALL_TIMEOUT_MS (10 s). */
  readonly stallTimeoutMs?: number;
  /** Light streams decoding in full at once (promotions); default DEFAULT_MAX_PROMOTIONS. */
  readonly maxPromotions?: number;
  /** Seconds between `stream.levels` events. Default 1. */
  readonly levelsEverySeconds?: number;
  /** Samples of history kept per stream (one a second). Default 3600. */
  readonly historySamples?: number;
}

/** Pages of incidents a bulk acknowledgement of one stream goes through at most (500 each). */
const MAX_ACK_PAGES = 20;

type FacadeIncident = Awaited<ReturnType<ServiceFacade["getIncident"]>>;

/** A stored stream as the API shows it (the fleet's API process answers the same). */
export function toStream(r: StreamRecord): Stream {
  return {
    id: r.id,
    name: r.name,
    url: r.url,
    profile: typeof r.profile === "string" ? r.profile : "default",
    labels: { ...r.labels },
    enabled: r.enabled,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

export class MonitorService implements ServiceFacade {
  readonly allowLocalFiles: boolean;
  private readonly runners = new Map<string, StreamRunner>();
  /** The last state of streams that are not running, so that their state reads `stopped`, not unknown. */
  private readonly stoppedStates = new Map<string, RunnerState>();
  /** Promotion slots shared by this process's light streams. */
  private readonly promotions: PromotionLimiter;
  private readonly recorder: IncidentRecorder;
  private readonly listeners = new Set<(e: ServiceEvent) => void>();
  private readonly histories: StreamHistories;
  /** Labels of every known stream, so muting is known synchronously in its state. */
  private readonly labels = new Map<string, Labels>();
  /** Maintenance windows not yet ended, as stored; refreshed on every change. */
  private windows: readonly MaintenanceWindow[] = [];
  private windowTimer: NodeJS.Timeout | null = null;
  /** The monitor's incident id -> the stored id, while the incident is open. */
  private readonly storedIds = new Map<string, string>();
  /** Acknowledgements of open incidents, by stored id, for the streams' live state. */
  private readonly openAcks = new Map<string, Acknowledgement>();
  private started = false;
  private closed = false;

  constructor(private readonly o: MonitorServiceOptions) {
    this.allowLocalFiles = o.allowLocalFiles;
    // The store keeps a downsampled hour, so the channel page's plots survive a restart.
    this.histories = new StreamHistories(o.historySamples ?? 3600, o.store);
    this.promotions = new PromotionLimiter(o.maxPromotions ?? DEFAULT_MAX_PROMOTIONS);
    this.recorder = new IncidentRecorder({
      store: o.store,
      blobs: o.blobs,
      writer: o.writer,
      logger: o.logger,
      emit: (e) => this.emit(e),
      onStored: (monitorId, storedId) => {
        if (storedId !== null) {
          this.storedIds.set(monitorId, storedId);
          return;
        }
        const known = this.storedIds.get(monitorId);
        this.storedIds.delete(monitorId);
        if (known !== undefined) this.openAcks.delete(known);
      },
    });
  }

  profileNames(): readonly string[] {
    return [...this.o.profiles.keys()];
  }

  urlProblem(url: string): string | undefined {
    try {
      // Parses and checks only: no source opens a socket or a file before open().
      openSource(url, { allowFiles: this.allowLocalFiles });
      return undefined;
    } catch (err) {
      if (isStreamqcError(err)) return err.message;
      throw err;
    }
  }

  /** Makes sure the configured streams exist (by name), then starts every enabled stream. */
  async start(
    configured: readonly {
      name: string;
      url: string;
      profile: string;
      labels: Record<string, string>;
      enabled: boolean;
    }[],
    maintenance: readonly {
      stream?: string | undefined;
      startsAt: string;
      endsAt: string;
      reason: string;
    }[] = [],
  ): Promise<void> {
    await applyConfiguredStreams(this.o.store, configured, maintenance);
    await this.closeLeftoverIncidents();
    await this.refreshWindows();
    for (const s of await this.o.store.listStreams()) {
      this.labels.set(s.id, s.labels);
      if (s.enabled) this.startRunner(s);
      else this.stoppedStates.set(s.id, this.stoppedState(s));
    }
    this.o.dispatcher.start();
    this.started = true;
  }

  /**
   * Incidents left open by a previous run (a crash, a restart) cannot be continued by new
   * detectors: close them at their last known state so none stays open for ever.
   */
  private async closeLeftoverIncidents(): Promise<void> {
    for (;;) {
      const page = await this.o.store.queryIncidents({ open: true, limit: 100 });
      if (page.items.length === 0) return;
      for (const i of page.items) {
        // The end is not known: the incident lasted at least until the service went away.
        const lasted = Math.max(0, (Date.now() - Date.parse(i.startedAt)) / 1000);
        await this.o.writer.close(i.id, i.start + lasted, {
          details: { ...i.details, closedBy: "service restart" },
        });
      }
    }
  }

  private emit(event: ServiceEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        this.o.logger.error({ err: errorMessage(err) }, "event listener failed");
      }
    }
  }

  private profileOf(r: StreamRecord): ResolvedProfile {
    const name = typeof r.profile === "string" ? r.profile : "default";
    return this.o.profiles.get(name) ?? this.o.profiles.get("default")!;
  }

  private startRunner(r: StreamRecord): StreamRunner {
    const old = this.runners.get(r.id);
    if (old) return old;
    const def: StreamDefinition = {
      id: r.id,
      name: r.name,
      url: r.url,
      profileName: typeof r.profile === "string" ? r.profile : "default",
      labels: r.labels,
    };
    this.stoppedStates.delete(r.id);
    this.labels.set(r.id, r.labels);
    void this.histories.restore(r.id);
    const log = this.o.logger.child({ stream: r.name });
    const runner = new StreamRunner(def, this.profileOf(r), {
      ffmpegPath: this.o.ffmpegPath,
      allowFiles: this.o.allowLocalFiles,
      ...(this.o.stallTimeoutMs !== undefined ? { stallTimeoutMs: this.o.stallTimeoutMs } : {}),
      promotions: this.promotions,
      memory: detectorMemory(this.o.store, r),
      onIncident: (e) => this.recorder.handle(r.id, e),
      onState: (state) => {
        log.info({ status: state.status, error: state.lastError }, "stream state");
        this.emit({ type: "stream.state", state: this.decorate(state) });
      },
      onLevels: (levels, thumb, run) => {
        const loudness = this.histories.record(r.id, levels, run);
        this.emit({
          type: "stream.levels",
          streamId: r.id,
          levels,
          loudness,
          ...(thumb ? { thumbnailPts: thumb.pts } : {}),
        });
      },
      log: (level, message, fields) => log[level](fields ?? {}, message),
    });
    this.runners.set(r.id, runner);
    runner.start();
    return runner;
  }

  // ---- ServiceFacade: streams

  async listStreams(): Promise<readonly Stream[]> {
    return (await this.o.store.listStreams()).map(toStream);
  }

  async getStream(id: string): Promise<Stream | undefined> {
    const r = await this.o.store.getStream(id);
    return r ? toStream(r) : undefined;
  }

  async createStream(input: StreamCreate & { readonly profile: string }): Promise<Stream> {
    if (await this.o.store.getStreamByName(input.name)) {
      throw new StreamqcError("SQM_ERR_CONFLICT", `a stream named "${input.name}" already exists`);
    }
    const r = await this.o.store.createStream({
      name: input.name,
      url: input.url,
      profile: input.profile,
      labels: input.labels ?? {},
      enabled: true,
    });
    this.startRunner(r);
    return toStream(r);
  }

  async updateStream(id: string, patch: StreamPatch): Promise<Stream | undefined> {
    const before = await this.o.store.getStream(id);
    if (!before) return undefined;
    if (
      patch.name !== undefined &&
      patch.name !== before.name &&
      (await this.o.store.getStreamByName(patch.name))
    ) {
      throw new StreamqcError("SQM_ERR_CONFLICT", `a stream named "${patch.name}" already exists`);
    }
    const after = await this.o.store.updateStream(id, {
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.url !== undefined ? { url: patch.url } : {}),
      ...(patch.profile !== undefined ? { profile: patch.profile } : {}),
      ...(patch.labels !== undefined ? { labels: patch.labels } : {}),
      ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
    });
    this.labels.set(id, after.labels);
    const restart =
      after.url !== before.url ||
      after.profile !== before.profile ||
      after.name !== before.name ||
      after.enabled !== before.enabled;
    if (restart) {
      await this.stopRunner(id);
      if (after.enabled) this.startRunner(after);
      // A disabled stream's state carries its current name.
      else this.stoppedStates.set(id, this.stoppedState(after));
    }
    return toStream(after);
  }

  private async stopRunner(id: string): Promise<void> {
    const runner = this.runners.get(id);
    this.runners.delete(id);
    if (runner) {
      await runner.stop();
      this.stoppedStates.set(id, runner.state());
    }
    await this.recorder.settle(id);
  }

  async deleteStream(id: string): Promise<boolean> {
    const r = await this.o.store.getStream(id);
    if (!r) return false;
    await this.stopRunner(id);
    this.stoppedStates.delete(id);
    this.histories.delete(id);
    this.labels.delete(id);
    await this.o.store.deleteStream(id);
    await this.o.store.setSetting(memoryKey(id), null);
    return true;
  }

  async startStream(id: string): Promise<ApiStreamState | undefined> {
    const r = await this.o.store.getStream(id);
    if (!r) return undefined;
    const updated = r.enabled ? r : await this.o.store.updateStream(id, { enabled: true });
    return this.decorate(this.startRunner(updated).state());
  }

  async stopStream(id: string): Promise<ApiStreamState | undefined> {
    const r = await this.o.store.getStream(id);
    if (!r) return undefined;
    if (r.enabled) await this.o.store.updateStream(id, { enabled: false });
    const runner = this.runners.get(id);
    await this.stopRunner(id);
    return this.decorate(runner?.state() ?? this.stoppedState(r));
  }

  private stoppedState(r: StreamRecord) {
    return new StreamRunner(
      { id: r.id, name: r.name, url: r.url, profileName: "default", labels: r.labels },
      this.profileOf(r),
      { ffmpegPath: this.o.ffmpegPath, allowFiles: false, onIncident: () => undefined },
    ).state();
  }

  streamState(id: string): ApiStreamState | undefined {
    const state = this.runners.get(id)?.state() ?? this.stoppedStates.get(id);
    return state ? this.decorate(state) : undefined;
  }

  /**
   * The runner's state plus what only the service knows: its muting, the stored ids and
   * acknowledgements of its open incidents, and the worker (none: this is not a fleet).
   */
  private decorate(state: RunnerState | ApiStreamState): ApiStreamState {
    const openIncidents = state.openIncidents.map((i) => {
      const id = i.id === undefined ? undefined : (this.storedIds.get(i.id) ?? i.id);
      const ack = id === undefined ? undefined : this.openAcks.get(id);
      return { ...i, ...(id !== undefined ? { id } : {}), acknowledged: ack ?? null };
    });
    return { ...state, openIncidents, muted: this.mutedNow(state.id, Date.now()), worker: null };
  }

  streamHistory(id: string, seconds: number): Promise<StreamHistory | undefined> {
    if (!this.labels.has(id)) return Promise.resolve(undefined);
    return Promise.resolve(this.histories.read(id, seconds, this.runners.get(id)));
  }

  latestThumbnail(id: string): Promise<StoredBlob | undefined> {
    const t = this.runners.get(id)?.latestThumbnail();
    return Promise.resolve(t ? { contentType: "image/jpeg", bytes: t.jpeg } : undefined);
  }

  /** The runner of a stream, for tests and the benchmark. */
  runner(id: string): StreamRunner | undefined {
    return this.runners.get(id);
  }

  // ---- incidents and reports

  async listIncidents(query: IncidentQuery): Promise<IncidentPageResult> {
    let streamId: string | undefined;
    let streamName: string | undefined;
    if (query.stream !== undefined) {
      if (await this.o.store.getStream(query.stream)) streamId = query.stream;
      else streamName = query.stream;
    }
    // An invalid cursor is refused by the store itself (SQM_ERR_INVALID_CURSOR, 400).
    const page = await this.o.store.queryIncidents({
      ...(streamId ? { streamId } : {}),
      ...(streamName ? { stream: streamName } : {}),
      ...(query.type ? { type: query.type } : {}),
      ...(query.severity ? { severity: query.severity } : {}),
      ...(query.from ? { from: query.from } : {}),
      ...(query.to ? { to: query.to } : {}),
      ...(query.open !== undefined ? { open: query.open } : {}),
      ...(query.acknowledged !== undefined ? { acknowledged: query.acknowledged } : {}),
      ...(query.cursor ? { cursor: query.cursor } : {}),
      limit: query.limit,
    });
    return { items: page.items.map(toFacadeIncident), next: page.next };
  }

  async getIncident(id: string): Promise<FacadeIncident> {
    const i = await this.o.store.getIncident(id);
    return i ? toFacadeIncident(i) : undefined;
  }

  // ---- acknowledgements

  async acknowledgeIncidents(ids: readonly string[], ack: AckInput): Promise<AckResult> {
    const items: NonNullable<FacadeIncident>[] = [];
    const unknown: string[] = [];
    let acknowledged = 0;
    const touched = new Set<string>();
    for (const id of ids) {
      const before = await this.o.store.getIncident(id);
      if (!before) {
        unknown.push(id);
        continue;
      }
      if (before.acknowledged !== null) {
        items.push(toFacadeIncident(before));
        continue;
      }
      const at = new Date().toISOString();
      const after =
        (await this.o.writer.acknowledge(before, { at, by: ack.by, comment: ack.comment })) ?? before;
      const incident = toFacadeIncident(after);
      items.push(incident);
      // Another request may have acknowledged it in between: the first stands, and only it is announced.
      if (after.acknowledged?.at !== at || after.acknowledged.by !== ack.by) continue;
      acknowledged++;
      if (after.end === null) {
        this.openAcks.set(after.id, after.acknowledged);
        touched.add(after.streamId);
      }
      this.emit({ type: "incident.acknowledged", incident });
    }
    // Tiles show which open alarms are acknowledged: one state event per stream touched.
    for (const streamId of touched) {
      const state = this.streamState(streamId);
      if (state) this.emit({ type: "stream.state", state });
    }
    return { items, acknowledged, unknown };
  }

  async acknowledgeStream(
    stream: string,
    ack: AckInput,
    options: { readonly includeCleared: boolean },
  ): Promise<AckResult | undefined> {
    const record = await this.resolveStream(stream);
    if (!record) return undefined;
    const ids: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_ACK_PAGES; page++) {
      const p = await this.o.store.queryIncidents({
        streamId: record.id,
        acknowledged: false,
        ...(options.includeCleared ? {} : { open: true }),
        limit: 500,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      ids.push(...p.items.map((i) => i.id));
      if (p.next === null) break;
      cursor = p.next;
    }
    return this.acknowledgeIncidents(ids, ack);
  }

  /** A stream by id, else by name (the API takes either). */
  private async resolveStream(idOrName: string): Promise<StreamRecord | null> {
    return (await this.o.store.getStream(idOrName)) ?? (await this.o.store.getStreamByName(idOrName));
  }

  // ---- maintenance

  /** The maintenance window muting the stream now, if any (the fleet's API process asks too). */
  mutedState(streamId: string): ApiStreamState["muted"] {
    return this.mutedNow(streamId, Date.now());
  }

  private mutedNow(streamId: string, now: number): ApiStreamState["muted"] {
    const labels = this.labels.get(streamId) ?? {};
    let best: MaintenanceWindow | undefined;
    for (const w of this.windows) {
      if (Date.parse(w.startsAt) > now || Date.parse(w.endsAt) <= now) continue;
      if (!windowCovers(w, { id: streamId, labels })) continue;
      // The one that mutes longest is what the operator needs to know.
      if (!best || Date.parse(w.endsAt) > Date.parse(best.endsAt)) best = w;
    }
    return best ? { windowId: best.id, until: best.endsAt, reason: best.reason } : null;
  }

  /**
   * Reloads the windows not yet ended and sets a timer for the next start or end, when the
   * streams' `muted` changes by itself and the dashboards must hear of it.
   */
  private async refreshWindows(): Promise<void> {
    const now = Date.now();
    this.windows = (await this.o.store.listMaintenanceWindows()).filter((w) => Date.parse(w.endsAt) > now);
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimer = null;
    const next = Math.min(
      ...this.windows.flatMap((w) => [Date.parse(w.startsAt), Date.parse(w.endsAt)]).filter((t) => t > now),
    );
    if (Number.isFinite(next) && !this.closed) {
      // setTimeout holds at most about 24.8 days; a later boundary is re-armed on the way.
      this.windowTimer = setTimeout(() => void this.windowsChanged(), Math.min(next - now + 5, 2 ** 31 - 1));
      this.windowTimer.unref();
    }
  }

  private async windowsChanged(): Promise<void> {
    try {
      await this.refreshWindows();
      this.emit({ type: "maintenance.changed", items: await this.maintenanceView(this.windows) });
      for (const id of this.labels.keys()) {
        const state = this.streamState(id);
        if (state) this.emit({ type: "stream.state", state });
      }
    } catch (err) {
      this.o.logger.error({ err: errorMessage(err) }, "could not reload maintenance windows");
    }
  }

  private async maintenanceView(windows: readonly MaintenanceWindow[]): Promise<Maintenance[]> {
    const now = Date.now();
    const names = new Map<string, string | null>();
    const out: Maintenance[] = [];
    for (const w of windows) {
      if (w.streamId !== null && !names.has(w.streamId)) {
        names.set(w.streamId, (await this.o.store.getStream(w.streamId))?.name ?? null);
      }
      out.push({
        id: w.id,
        streamId: w.streamId,
        stream: w.streamId === null ? null : (names.get(w.streamId) ?? null),
        labels: w.labels === null ? null : { ...w.labels },
        from: w.startsAt,
        until: w.endsAt,
        reason: w.reason,
        by: w.createdBy,
        active: Date.parse(w.startsAt) <= now && now < Date.parse(w.endsAt),
      });
    }
    return out;
  }

  async listMaintenance(query: {
    readonly stream?: string | undefined;
    readonly ended?: boolean | undefined;
  }): Promise<readonly Maintenance[] | undefined> {
    let streamId: string | undefined;
    if (query.stream !== undefined) {
      const r = await this.resolveStream(query.stream);
      if (!r) return undefined;
      streamId = r.id;
    }
    const now = Date.now();
    const windows = (await this.o.store.listMaintenanceWindows(streamId)).filter(
      (w) => query.ended === true || Date.parse(w.endsAt) > now,
    );
    return this.maintenanceView(windows);
  }

  async addMaintenance(input: MaintenanceInput): Promise<Maintenance | undefined> {
    let streamId: string | null = null;
    if (input.stream !== undefined) {
      const r = await this.resolveStream(input.stream);
      if (!r) return undefined;
      streamId = r.id;
    }
    const w = await this.o.store.addMaintenanceWindow({
      streamId,
      labels: input.labels ?? null,
      startsAt: input.from,
      endsAt: input.until,
      reason: input.reason,
      createdBy: input.by,
    });
    await this.windowsChanged();
    return (await this.maintenanceView([w]))[0];
  }

  async deleteMaintenance(id: string): Promise<boolean> {
    const removed = await this.o.store.deleteMaintenanceWindow(id);
    if (removed) await this.windowsChanged();
    return removed;
  }

  async unmuteStream(stream: string): Promise<number | undefined> {
    const r = await this.resolveStream(stream);
    if (!r) return undefined;
    let removed = 0;
    for (const w of await this.o.store.listMaintenanceWindows(r.id)) {
      if (w.streamId === r.id && (await this.o.store.deleteMaintenanceWindow(w.id))) removed++;
    }
    if (removed > 0) await this.windowsChanged();
    return removed;
  }

  async getEvidence(incidentId: string, name: string): Promise<StoredBlob | undefined> {
    const list = await this.o.store.listEvidence(incidentId);
    const e = list.find((x) => x.name === name);
    if (!e) return undefined;
    const blob = await this.o.blobs.get(e.blobKey);
    return blob ? { contentType: blob.contentType, bytes: blob.bytes } : undefined;
  }

  async reports(streamId: string | undefined, from: Date, to: Date): Promise<readonly Report[] | undefined> {
    const streams = streamId ? [await this.o.store.getStream(streamId)] : await this.o.store.listStreams();
    if (streams.some((s) => !s)) return undefined;
    const now = new Date();
    const out: Report[] = [];
    for (const s of streams as StreamRecord[]) {
      const r = await this.o.store.report(s.id, from, to, now);
      out.push({
        stream: s.name,
        streamId: s.id,
        from: r.from,
        to: r.to,
        availability: r.availability,
        defectSeconds: { ...r.defectSeconds },
      });
    }
    return out;
  }

  subscribe(listener: (event: ServiceEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async metrics(): Promise<MetricsSnapshot> {
    const streams = [...this.runners.values()].map((r) => {
      const st = r.state();
      const detectorCpuSeconds: Record<string, number> = {};
      for (const [k, v] of Object.entries(st.detectorCpuMs)) detectorCpuSeconds[k] = v / 1000;
      return {
        name: st.name,
        up: st.status === "up",
        frames: st.frames,
        restarts: st.restarts,
        detectorCpuSeconds,
        cpuSecondsPerMediaSecond: st.cost.perMediaSecond,
        behindLiveSeconds: st.behindLiveSeconds,
        ...(st.promotion
          ? { promoted: st.promotion.phase === "promoted", promotions: st.promotion.promotions }
          : {}),
      };
    });
    const incidents = (await this.o.store.countIncidents()).map((c) => ({ ...c }));
    const deliveries = await this.o.store.countDeliveries();
    const alertDeliveries = deliveries.map((d) => ({
      channel: d.channel,
      outcome: d.status === "pending" ? "retry" : d.status,
      count: d.status === "pending" ? Math.max(0, d.attempts) : d.count,
    }));
    const alertFailures = deliveries
      .filter((d) => d.status === "failed")
      .map((d) => ({ channel: d.channel, count: d.count }));
    const promotions = {
      active: this.promotions.active,
      queued: this.promotions.waiting,
      max: this.promotions.max,
    };
    return { streams, incidents, alertDeliveries, alertFailures, promotions };
  }

  async readiness(): Promise<Readiness> {
    let storeOk = true;
    let message: string | undefined;
    try {
      await this.o.store.listStreams();
    } catch (err) {
      storeOk = false;
      message = errorMessage(err);
    }
    return {
      ready: storeOk && this.started && !this.closed,
      checks: {
        store: { ok: storeOk, ...(message ? { message } : {}) },
        runners: { ok: this.started, message: `${this.runners.size} streams running` },
      },
    };
  }

  /** Stops every runner (closing their incidents), waits for the writes, stops the dispatcher. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimer = null;
    await Promise.all([...this.runners.keys()].map((id) => this.stopRunner(id)));
    await this.histories.close();
    await this.recorder.close();
    await this.o.dispatcher.close();
  }
}
