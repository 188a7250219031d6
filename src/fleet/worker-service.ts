/**
 * A fleet worker (docs/fleet.md): runs the monitors of the streams it holds a lease on, and
 * nothing else (no API, no alert dispatch). Streams come and go with their leases: a claim
 * starts a runner after adopting the incidents the previous owner left open; a lost lease,
 * a refused write, a rebalance or a drain stops it. Every store write carries the stream's
 * fence, so a worker that was paused or cut off cannot write once its lease is gone.
 */
import type { Logger } from "pino";
import type { ResolvedProfile } from "../config/profile.js";
import { errorMessage } from "../errors.js";
import { IncidentRecorder } from "../service/incident-recorder.js";
import type { IncidentWriter } from "../service/incident-writer.js";
import { StreamRunner, type StreamDefinition, type StreamState } from "../service/stream-runner.js";
import type { BlobStore } from "../store/blob-store.js";
import type { Fence, LeaseGrant } from "../store/lease-port.js";
import type { IncidentEvent } from "../monitor/stream-monitor.js";
import type { Store, StreamRecord } from "../store/store.js";
import { LeaseKeeper, type LeaseTiming, type LossReason } from "./lease-keeper.js";
import { StreamHistories } from "../service/stream-history.js";
import type { StoredBlob } from "../service/service-facade.js";
import type { StreamHistory } from "../api/schemas.js";
import { levelNotes, type LevelsItem, type PgEventPublisher } from "./pg-event-bus.js";
import {
  serveWorkerLive,
  type LiveServer,
  type LiveServerOptions,
  type LiveSource,
} from "./worker-live-server.js";
import type { PgLeaseStore } from "./pg-lease-store.js";
import { detectorMemory } from "../service/detector-memory.js";
import type { PlacementOptions } from "./placement.js";
import type { SharedClock } from "./shared-clock.js";
import { isSimulatedUrl, SimulatedRunner } from "./simulated-runner.js";

export interface WorkerServiceOptions {
  readonly name: string;
  readonly pool: string;
  readonly capacity: number;
  readonly store: Store;
  readonly leases: PgLeaseStore;
  readonly blobs: BlobStore;
  readonly writer: IncidentWriter;
  readonly events: PgEventPublisher;
  readonly profiles: ReadonlyMap<string, ResolvedProfile>;
  readonly ffmpegPath: string;
  readonly allowLocalFiles: boolean;
  /** Accept `sim:` streams (tests and the fleet benchmark only). */
  readonly allowSimulated: boolean;
  readonly logger: Logger;
  readonly timing?: Partial<LeaseTiming>;
  readonly placement?: Partial<PlacementOptions>;
  /** How long an incident left open by the previous owner waits to be seen again. Default 30 s. */
  readonly adoptGraceMs?: number;
  readonly stallTimeoutMs?: number;
  /** The database's clock, for incident stamps (this machine's wall clock may be off). */
  readonly clock?: SharedClock;
  /**
   * Its live endpoint (thumbnails, the last hour of measurements) for the API
   * (worker-live-server.ts); its URL is registered with the worker. Default: none.
   */
  readonly live?: LiveServerOptions;
  /** How often the levels of all streams go out as one note. Default 1000 ms. */
  readonly levelsEveryMs?: number;
}

interface Runner {
  readonly definition: StreamDefinition;
  start(): void;
  stop(): Promise<void>;
  state(): StreamState;
  latestThumbnail(): { readonly jpeg: Uint8Array } | undefined;
}

interface Running {
  readonly fence: Fence;
  runner: Runner | null;
  /** Set when the lease was lost before the runner could start. */
  cancelled: boolean;
}

export interface WorkerCounters {
  readonly leasesHeld: number;
  readonly claims: number;
  readonly losses: Readonly<Record<LossReason, number>>;
  readonly fencedWrites: number;
  readonly renewFailures: number;
}

export class WorkerService implements LiveSource {
  readonly #o: WorkerServiceOptions;
  /** With the store: a downsampled hour is kept there, so a new owner's plots start full. */
  readonly #histories: StreamHistories;
  /** Each running stream's last second, sent with the next levels note. */
  readonly #levels = new Map<string, LevelsItem>();
  #levelsTimer: NodeJS.Timeout | null = null;
  #liveServer: LiveServer | null = null;
  readonly #keeper: LeaseKeeper;
  readonly #recorder: IncidentRecorder;
  readonly #running = new Map<string, Running>();
  #closed = false;

  constructor(options: WorkerServiceOptions) {
    this.#o = options;
    this.#histories = new StreamHistories(3600, options.store);
    const log = options.logger;
    this.#recorder = new IncidentRecorder({
      store: options.store,
      blobs: options.blobs,
      writer: options.writer,
      logger: log,
      emit: (e) => {
        if (e.type === "incident.opened" || e.type === "incident.updated" || e.type === "incident.closed")
          options.events.publish({ type: e.type, id: e.incident.id, streamId: e.incident.streamId });
      },
      fenceOf: (id) => this.#running.get(id)?.fence,
      ...(options.clock ? { now: () => options.clock!.now() } : {}),
      onFenced: (id, fence) => {
        if (fence && this.#running.get(id)?.fence.epoch === fence.epoch) void this.#keeper.lose(id, "fenced");
      },
    });
    this.#keeper = new LeaseKeeper({
      store: options.leases,
      name: options.name,
      pool: options.pool,
      capacity: options.capacity,
      ...(options.timing ? { timing: options.timing } : {}),
      ...(options.placement ? { placement: options.placement } : {}),
      handlers: {
        acquired: (g) => void this.#acquired(g),
        lost: (f, reason) => this.#lost(f, reason),
        cost: (id) => this.#running.get(id)?.runner?.state().cost.perMediaSecond ?? null,
        busy: (id) => this.#recorder.busy(id),
        behind: (id) => this.#running.get(id)?.runner?.state().behindLiveSeconds ?? null,
        log: (level, message, fields) => log[level](fields ?? {}, message),
      },
    });
  }

  get name(): string {
    return this.#o.name;
  }

  async start(): Promise<void> {
    if (this.#o.live) this.#liveServer = await serveWorkerLive(this, this.#o.live);
    await this.#keeper.start(this.#liveServer?.url ?? null);
    this.#levelsTimer = setInterval(() => this.#publishLevels(), this.#o.levelsEveryMs ?? 1000);
    this.#levelsTimer.unref();
    this.#o.logger.info(
      {
        worker: this.#o.name,
        pool: this.#o.pool,
        capacity: this.#o.capacity,
        timing: this.#keeper.timing,
        live: this.#liveServer?.url ?? null,
      },
      "worker started",
    );
  }

  async #acquired(g: LeaseGrant): Promise<void> {
    const entry: Running = {
      fence: { streamId: g.streamId, epoch: g.epoch },
      runner: null,
      cancelled: false,
    };
    this.#running.set(g.streamId, entry);
    const log = this.#o.logger.child({ streamId: g.streamId, epoch: g.epoch });
    try {
      const record = await this.#o.store.getStream(g.streamId);
      if (!record) throw new Error("the stream no longer exists");
      // Incidents the previous owner left open: continued when seen again, else closed.
      const left = await this.#o.store.openIncidents(g.streamId);
      if (entry.cancelled) return;
      this.#recorder.adopt(g.streamId, left, this.#o.adoptGraceMs ?? 30_000);
      // The previous owner's hour of measurements (plot points; not fenced, a late write of a
      // few samples by a lost owner is harmless and deduplicated by time).
      void this.#histories.restore(g.streamId);
      const runner = this.#makeRunner(record);
      entry.runner = runner;
      runner.start();
      log.info({ stream: record.name, adopted: left.length }, "stream claimed");
    } catch (err) {
      log.error({ err: errorMessage(err) }, "could not start a claimed stream: giving it back");
      await this.#keeper.lose(g.streamId, "rebalance", true);
    }
  }

  #makeRunner(r: StreamRecord): Runner {
    const profileName = typeof r.profile === "string" ? r.profile : "default";
    const profile = this.#o.profiles.get(profileName) ?? this.#o.profiles.get("default")!;
    const def: StreamDefinition = { id: r.id, name: r.name, url: r.url, profileName, labels: r.labels };
    const onIncident = (e: IncidentEvent): void => this.#recorder.handle(r.id, this.#onSharedClock(e));
    const onState = (state: StreamState): void =>
      this.#o.events.publish({ type: "stream.state", state, worker: this.#o.name });
    if (isSimulatedUrl(r.url) && this.#o.allowSimulated) {
      return new SimulatedRunner(def, profile, {
        onIncident,
        onState,
      });
    }
    const log = this.#o.logger.child({ stream: r.name });
    return new StreamRunner(def, profile, {
      ffmpegPath: this.#o.ffmpegPath,
      allowFiles: this.#o.allowLocalFiles,
      ...(this.#o.stallTimeoutMs !== undefined ? { stallTimeoutMs: this.#o.stallTimeoutMs } : {}),
      // The stream's new owner starts from what its last owner learnt of the channel.
      memory: detectorMemory(this.#o.store, r),
      onIncident,
      onState,
      onLevels: (levels, thumb, run) => {
        if (this.#running.get(r.id)?.runner !== run) return;
        const loudness = this.#histories.record(r.id, levels, run);
        this.#levels.set(r.id, {
          streamId: r.id,
          levels,
          loudness,
          ...(thumb ? { thumbnailPts: thumb.pts } : {}),
        });
      },
      log: (level, message, fields) => log[level](fields ?? {}, message),
    });
  }

  /** The monitor stamps with this machine's wall clock; the fleet stores the database's. */
  #onSharedClock(e: IncidentEvent): IncidentEvent {
    const clock = this.#o.clock;
    if (!clock || clock.offsetMs === 0) return e;
    const i = e.incident;
    return {
      ...e,
      incident: {
        ...i,
        ...(i.startedAt ? { startedAt: clock.shift(i.startedAt) } : {}),
        ...(i.endedAt ? { endedAt: clock.shift(i.endedAt) } : {}),
      },
    };
  }

  async #lost(fence: Fence, reason: LossReason): Promise<void> {
    const entry = this.#running.get(fence.streamId);
    if (!entry || entry.fence.epoch !== fence.epoch) return;
    this.#running.delete(fence.streamId);
    this.#levels.delete(fence.streamId);
    this.#histories.delete(fence.streamId);
    entry.cancelled = true;
    // Nothing more is written for this stream here: its open incidents stay open for the
    // next owner to continue. Then the decoder goes.
    this.#recorder.mute(fence.streamId);
    await entry.runner?.stop();
    this.#o.logger.info({ streamId: fence.streamId, epoch: fence.epoch, reason }, "stream stopped");
    // On a drain or a rebalance the lease is still ours: let queued writes land under it
    // before it is released.
    if (reason === "drain" || reason === "rebalance") await this.#recorder.settle(fence.streamId);
  }

  #publishLevels(): void {
    if (this.#levels.size === 0) return;
    const items = [...this.#levels.values()];
    this.#levels.clear();
    for (const note of levelNotes(this.#o.name, items)) this.#o.events.publish(note);
  }

  // ---- LiveSource: what the live endpoint serves

  thumbnail(streamId: string): StoredBlob | undefined {
    const t = this.#running.get(streamId)?.runner?.latestThumbnail();
    return t ? { contentType: "image/jpeg", bytes: t.jpeg } : undefined;
  }

  history(streamId: string, seconds: number): StreamHistory | undefined {
    const runner = this.#running.get(streamId)?.runner;
    if (!runner) return undefined;
    return this.#histories.read(streamId, seconds, runner instanceof StreamRunner ? runner : undefined);
  }

  /** Live states of the streams running here. */
  states(): readonly StreamState[] {
    return [...this.#running.values()].flatMap((r) => (r.runner ? [r.runner.state()] : []));
  }

  counters(): WorkerCounters {
    const c = this.#keeper.counters;
    return {
      leasesHeld: this.#keeper.fences().length,
      claims: c.claims,
      losses: { ...c.losses },
      fencedWrites: this.#recorder.fencedWrites,
      renewFailures: c.renewFailures,
    };
  }

  /** SIGTERM: stop every stream, let its writes land, release the leases. Idempotent. */
  async drain(): Promise<void> {
    await this.#keeper.drain();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#levelsTimer) clearInterval(this.#levelsTimer);
    await this.#keeper.drain();
    this.#keeper.close();
    await this.#liveServer?.close();
    await this.#histories.close();
    await this.#recorder.close();
  }
}
