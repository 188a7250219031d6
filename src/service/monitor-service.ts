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
  IncidentPageResult,
  MetricsSnapshot,
  ServiceEvent,
  ServiceFacade,
  StoredBlob,
} from "./service-facade.js";
import type {
  IncidentQuery,
  Readiness,
  Report,
  Stream,
  StreamCreate,
  StreamPatch,
  StreamState as ApiStreamState,
} from "../api/schemas.js";
import type { ResolvedProfile } from "../config/profile.js";
import { StreamqcError, errorMessage, isStreamqcError } from "../errors.js";
import type { BlobStore } from "../store/blob-store.js";
import type { Store, StreamRecord } from "../store/store.js";
import { openSource } from "../ingest/open-source.js";
import { applyConfiguredStreams } from "./configured-streams.js";
import { IncidentRecorder, toFacadeIncident } from "./incident-recorder.js";
import { StreamRunner, type StreamDefinition } from "./stream-runner.js";

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
  /** Seconds between `stream.levels` events. Default 1. */
  readonly levelsEverySeconds?: number;
}

type FacadeIncident = Awaited<ReturnType<ServiceFacade["getIncident"]>>;

function toStream(r: StreamRecord): Stream {
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
  private readonly stoppedStates = new Map<string, ApiStreamState>();
  private readonly recorder: IncidentRecorder;
  private readonly listeners = new Set<(e: ServiceEvent) => void>();
  private started = false;
  private closed = false;

  constructor(private readonly o: MonitorServiceOptions) {
    this.allowLocalFiles = o.allowLocalFiles;
    this.recorder = new IncidentRecorder({
      store: o.store,
      blobs: o.blobs,
      writer: o.writer,
      logger: o.logger,
      emit: (e) => this.emit(e),
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
    for (const s of await this.o.store.listStreams()) {
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
    const log = this.o.logger.child({ stream: r.name });
    const runner = new StreamRunner(def, this.profileOf(r), {
      ffmpegPath: this.o.ffmpegPath,
      allowFiles: this.o.allowLocalFiles,
      ...(this.o.stallTimeoutMs !== undefined ? { stallTimeoutMs: this.o.stallTimeoutMs } : {}),
      onIncident: (e) => this.recorder.handle(r.id, e),
      onState: (state) => {
        log.info({ status: state.status, error: state.lastError }, "stream state");
        this.emit({ type: "stream.state", state: state });
      },
      onLevels: (levels, thumb) =>
        this.emit({
          type: "stream.levels",
          streamId: r.id,
          levels,
          ...(thumb ? { thumbnailPts: thumb.pts } : {}),
        }),
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
    await this.o.store.deleteStream(id);
    return true;
  }

  async startStream(id: string): Promise<ApiStreamState | undefined> {
    const r = await this.o.store.getStream(id);
    if (!r) return undefined;
    const updated = r.enabled ? r : await this.o.store.updateStream(id, { enabled: true });
    return this.startRunner(updated).state();
  }

  async stopStream(id: string): Promise<ApiStreamState | undefined> {
    const r = await this.o.store.getStream(id);
    if (!r) return undefined;
    if (r.enabled) await this.o.store.updateStream(id, { enabled: false });
    const runner = this.runners.get(id);
    await this.stopRunner(id);
    return runner?.state() ?? this.stoppedState(r);
  }

  private stoppedState(r: StreamRecord) {
    return new StreamRunner(
      { id: r.id, name: r.name, url: r.url, profileName: "default", labels: r.labels },
      this.profileOf(r),
      { ffmpegPath: this.o.ffmpegPath, allowFiles: false, onIncident: () => undefined },
    ).state();
  }

  streamState(id: string): ApiStreamState | undefined {
    return this.runners.get(id)?.state() ?? this.stoppedStates.get(id);
  }

  latestThumbnail(id: string): StoredBlob | undefined {
    const t = this.runners.get(id)?.latestThumbnail();
    return t ? { contentType: "image/jpeg", bytes: t.jpeg } : undefined;
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
      ...(query.cursor ? { cursor: query.cursor } : {}),
      limit: query.limit,
    });
    return { items: page.items.map(toFacadeIncident), next: page.next };
  }

  async getIncident(id: string): Promise<FacadeIncident> {
    const i = await this.o.store.getIncident(id);
    return i ? toFacadeIncident(i) : undefined;
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
    return { streams, incidents, alertDeliveries, alertFailures };
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
    await Promise.all([...this.runners.keys()].map((id) => this.stopRunner(id)));
    await this.recorder.close();
    await this.o.dispatcher.close();
  }
}
