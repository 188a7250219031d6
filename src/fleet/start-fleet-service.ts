/**
 * `streamqc serve --db URL [--no-monitor]`: the API, live events and the alert dispatcher of
 * a fleet, on the shared PostgreSQL database (docs/fleet.md). The dispatcher runs here only
 * while this process holds the dispatcher lock; live events come from the workers through
 * LISTEN/NOTIFY. Without `--no-monitor` the process is also a worker of the default pool.
 */
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { pino } from "pino";
import { AlertDispatcher } from "../alert/dispatcher.js";
import { AlertRouter } from "../alert/alert-router.js";
import { createChannels } from "../alert/channel-factory.js";
import { buildApi } from "../api/server.js";
import { parseAlertConfig } from "../config/alert-config.js";
import { ffmpegPathFrom } from "../config/config.js";
import { readEnvironment } from "../config/env.js";
import { loadServiceConfig, type ServiceConfig } from "../config/service-config.js";
import { DemoChannels } from "../demo/demo-channels.js";
import { checkFfmpeg } from "../ingest/ffmpeg-binary.js";
import { applyConfiguredStreams } from "../service/configured-streams.js";
import { IncidentWriter } from "../service/incident-writer.js";
import { MonitorService } from "../service/monitor-service.js";
import type { BlobStore } from "../store/blob-store.js";
import { openEvidenceBlobs } from "../service/evidence-blobs.js";
import { DispatcherLease } from "./dispatcher-lease.js";
import { FleetFacade } from "./fleet-facade.js";
import { clientConfig, fleetPool, openFleetStore } from "./fleet-db.js";
import { PgEventListener, PgEventPublisher } from "./pg-event-bus.js";
import { PgLeaseStore } from "./pg-lease-store.js";
import { WorkerService } from "./worker-service.js";

export interface FleetServeOptions {
  readonly db: string;
  /** Run a worker in this process too (default true). */
  readonly monitor?: boolean;
  readonly config?: string;
  readonly overrides?: Partial<ServiceConfig>;
  readonly allowSimulated?: boolean;
  readonly logStream?: NodeJS.WritableStream;
}

export interface RunningFleetService {
  readonly facade: FleetFacade;
  readonly url: string;
  close(): Promise<void>;
}

export async function startFleetService(o: FleetServeOptions): Promise<RunningFleetService> {
  const { config, profiles, token } = loadServiceConfig(o.config, o.overrides);
  const alerts = parseAlertConfig(config.alerts ?? {}, o.config ?? "config");
  const ffmpegPath = ffmpegPathFrom(config);
  const monitor = o.monitor ?? true;
  if (monitor || config.demo) checkFfmpeg(ffmpegPath);
  const logger = pino(
    {
      level: readEnvironment().logLevel,
      base: { service: "streamqc", role: "api" },
      redact: {
        paths: ["token", "secret", "*.token", "*.secret", "*.secretAccessKey", "headers.authorization"],
        censor: "[redacted]",
      },
    },
    (o.logStream ?? process.stdout) as pino.DestinationStream,
  );
  const pool = fleetPool(o.db, { max: 8, applicationName: "streamqc-serve" });
  const store = await openFleetStore(o.db, {
    applicationName: "streamqc-serve",
    statementTimeoutMs: 10_000,
    log: (m) => logger.warn(m),
  });
  const leases = new PgLeaseStore(pool);
  const dataDir = resolve(config.dataDir);
  const blobs: BlobStore = await openEvidenceBlobs(config.evidence, dataDir);
  const router = new AlertRouter(alerts, store);
  const channels = createChannels(alerts.channels);
  const dispatch = new DispatcherLease(
    clientConfig(o.db, { applicationName: "streamqc-dispatcher" }),
    () =>
      new AlertDispatcher({
        store,
        channels,
        config: alerts.dispatcher,
        logger: logger.child({ component: "alerts" }),
      }),
    (level, m) => logger[level]({ component: "alerts" }, m),
  );
  const events = new PgEventPublisher(pool, (m) => logger.warn(m));
  const writer = new IncidentWriter({
    store,
    router,
    notify: () => {
      dispatch.notify();
      events.publish({ type: "outbox" });
    },
  });
  // Incidents, reports and evidence read the same way as in a single process; this service
  // never starts a runner (it is not started).
  const records = new MonitorService({
    store,
    blobs,
    writer,
    dispatcher: new AlertDispatcher({ store, channels: [] }),
    profiles,
    ffmpegPath,
    allowLocalFiles: config.allowFileInputs,
    logger: logger.child({ component: "records" }),
  });
  const facade = new FleetFacade({
    store,
    leases,
    writer,
    records,
    profiles,
    allowLocalFiles: config.allowFileInputs,
    allowSimulated: o.allowSimulated ?? false,
    logger: logger.child({ component: "fleet" }),
    fleetToken: readEnvironment().fleetToken,
  });
  const listener = new PgEventListener(
    clientConfig(o.db, { applicationName: "streamqc-events", queryTimeoutMs: 0 }),
    (note) => {
      if (note.type === "outbox") dispatch.notify();
      else facade.onNote(note);
    },
    (m) => logger.warn({ component: "events" }, m),
  );
  const demo = config.demo
    ? new DemoChannels(join(dataDir, "demo"), ffmpegPath, (m) => logger.info({ component: "demo" }, m))
    : null;
  const streams = config.streams.map((s) => ({ ...s }));
  if (demo) {
    for (const ch of await demo.start())
      streams.push({ name: ch.name, url: ch.url, profile: "default", labels: ch.labels, enabled: true });
  }
  await applyConfiguredStreams(store, streams, config.maintenance);
  await facade.start();
  await listener.start();
  dispatch.start();
  let worker: WorkerService | null = null;
  if (monitor) {
    worker = new WorkerService({
      name: `${hostname()}-${process.pid}-serve`,
      pool: "default",
      capacity: 50,
      store,
      leases,
      blobs,
      writer,
      events,
      profiles,
      ffmpegPath,
      allowLocalFiles: config.allowFileInputs,
      allowSimulated: o.allowSimulated ?? false,
      logger: logger.child({ component: "worker" }),
      live: { host: "127.0.0.1", port: 0, token: readEnvironment().fleetToken },
      ...(config.stallTimeoutMs !== undefined ? { stallTimeoutMs: config.stallTimeoutMs } : {}),
    });
    await worker.start();
  }
  const api = buildApi(facade, {
    host: config.server.host,
    token,
    logger: { level: readEnvironment().logLevel, stream: o.logStream ?? process.stdout },
  });
  const url = await api.listen({ host: config.server.host, port: config.server.port });
  logger.info({ url, monitor }, `streamqc fleet API serving on ${url}`);
  let closing: Promise<void> | null = null;
  return {
    facade,
    url,
    close() {
      closing ??= (async () => {
        await api.close();
        await worker?.close();
        facade.close();
        await listener.close();
        await dispatch.close();
        await demo?.close();
        await blobs.close();
        await store.close();
        await pool.end().catch(() => undefined);
      })();
      return closing;
    },
  };
}
