/**
 * Builds and starts one fleet worker process (`streamqc worker`): the PostgreSQL store and
 * lease store, evidence storage, the alert router (a worker enqueues alerts with its
 * incidents; the dispatcher runs in `serve`), live-event publishing and the monitors.
 */
import { hostname } from "node:os";
import { resolve } from "node:path";
import { pino } from "pino";
import { AlertRouter } from "../alert/alert-router.js";
import { parseAlertConfig } from "../config/alert-config.js";
import { ffmpegPathFrom } from "../config/config.js";
import { readEnvironment } from "../config/env.js";
import { loadServiceConfig } from "../config/service-config.js";
import { checkFfmpeg } from "../ingest/ffmpeg-binary.js";
import { IncidentWriter } from "../service/incident-writer.js";
import type { BlobStore } from "../store/blob-store.js";
import { openEvidenceBlobs } from "../service/evidence-blobs.js";
import type { LeaseTiming } from "./lease-keeper.js";
import { fleetPool, openFleetStore } from "./fleet-db.js";
import { serveMetrics, workerRegistry } from "./fleet-metrics.js";
import { PgEventPublisher } from "./pg-event-bus.js";
import { PgLeaseStore } from "./pg-lease-store.js";
import { SharedClock } from "./shared-clock.js";
import type { PlacementOptions } from "./placement.js";
import { WorkerService } from "./worker-service.js";

export interface WorkerOptions {
  readonly db: string;
  /** Default `<host>-<pid>`. */
  readonly name?: string;
  /** Default `default`. */
  readonly pool?: string;
  /** Default 50. */
  readonly capacity?: number;
  /** The same configuration file as `serve` (profiles, alerts, evidence, ffmpeg). */
  readonly config?: string;
  readonly timing?: Partial<LeaseTiming>;
  readonly placement?: Partial<PlacementOptions>;
  readonly adoptGraceMs?: number;
  /** Serve `/metrics` on 127.0.0.1 at this port (0: any free port). Default: none. */
  readonly metricsPort?: number;
  readonly allowSimulated?: boolean;
  /** The live endpoint for the API (thumbnails, history). Default 127.0.0.1, any free port. */
  readonly liveHost?: string;
  readonly livePort?: number;
  /** The URL the API should use for it, when the listening address is not reachable as is. */
  readonly liveUrl?: string;
  readonly logStream?: NodeJS.WritableStream;
}

export interface RunningWorker {
  readonly worker: WorkerService;
  readonly metricsUrl: string | null;
  /** Drain (release every stream) then close. Idempotent. */
  close(): Promise<void>;
}

export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  const { config, profiles } = loadServiceConfig(o.config);
  const alerts = parseAlertConfig(config.alerts ?? {}, o.config ?? "config");
  const ffmpegPath = ffmpegPathFrom(config);
  if (!o.allowSimulated) checkFfmpeg(ffmpegPath);
  const name = o.name ?? `${hostname()}-${process.pid}`;
  const logger = pino(
    { level: readEnvironment().logLevel, base: { service: "streamqc", worker: name } },
    (o.logStream ?? process.stdout) as pino.DestinationStream,
  );
  const timing = o.timing ?? {};
  // A statement that gets no answer is abandoned well before the lease could run out.
  const leaseMs = timing.leaseMs ?? 10_000;
  const pool = fleetPool(o.db, {
    applicationName: `streamqc-worker ${name}`,
    queryTimeoutMs: Math.max(1000, leaseMs / 2),
  });
  const store = await openFleetStore(o.db, {
    applicationName: `streamqc-worker ${name}`,
    statementTimeoutMs: leaseMs,
    log: (m) => logger.warn(m),
  });
  const clock = new SharedClock();
  const leases = new PgLeaseStore(pool, (sample) => clock.observe(sample));
  const blobs: BlobStore = await openEvidenceBlobs(config.evidence, resolve(config.dataDir));
  const events = new PgEventPublisher(pool, (m) => logger.warn(m));
  const router = new AlertRouter(alerts, store);
  const writer = new IncidentWriter({
    store,
    router,
    notify: () => events.publish({ type: "outbox" }),
    now: () => clock.now(),
  });
  const worker = new WorkerService({
    name,
    pool: o.pool ?? "default",
    capacity: o.capacity ?? 50,
    store,
    leases,
    blobs,
    writer,
    events,
    profiles,
    ffmpegPath,
    allowLocalFiles: config.allowFileInputs,
    allowSimulated: o.allowSimulated ?? false,
    logger,
    timing,
    clock,
    live: {
      host: o.liveHost ?? "127.0.0.1",
      port: o.livePort ?? 0,
      token: readEnvironment().fleetToken,
      ...(o.liveUrl !== undefined ? { advertisedUrl: o.liveUrl } : {}),
    },
    ...(o.placement ? { placement: o.placement } : {}),
    ...(o.adoptGraceMs !== undefined ? { adoptGraceMs: o.adoptGraceMs } : {}),
    ...(config.stallTimeoutMs !== undefined ? { stallTimeoutMs: config.stallTimeoutMs } : {}),
  });
  await worker.start();
  let metricsUrl: string | null = null;
  let server: Awaited<ReturnType<typeof serveMetrics>> | null = null;
  if (o.metricsPort !== undefined) {
    server = await serveMetrics(
      workerRegistry(() => worker.counters()),
      "127.0.0.1",
      o.metricsPort,
    );
    const addr = server.address();
    if (addr && typeof addr === "object") metricsUrl = `http://127.0.0.1:${addr.port}/metrics`;
  }
  let closing: Promise<void> | null = null;
  return {
    worker,
    metricsUrl,
    close() {
      closing ??= (async () => {
        await worker.close();
        server?.close();
        await blobs.close();
        await store.close();
        await pool.end().catch(() => undefined);
      })();
      return closing;
    },
  };
}
