/**
 * `streamqc serve [--config FILE] [--data DIR] [--host H] [--port P] [--demo] [--db URL]
 * [--no-monitor]`: with `--db` (or STREAMQC_DATABASE_URL) the API process of a fleet
 * (src/fleet/start-fleet-service.ts); without it, the service on
 * the embedded default (SQLite in a data directory, evidence in a directory), with the HTTP
 * API, live events, metrics and alert delivery. `--demo` adds live test channels made on
 * loopback so that incidents appear within a minute of starting.
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { pino } from "pino";
import { AlertDispatcher } from "../alert/dispatcher.js";
import { AlertRouter } from "../alert/alert-router.js";
import { createChannels } from "../alert/channel-factory.js";
import { IncidentWriter } from "../service/incident-writer.js";
import { redactUrl } from "../api/redact.js";
import { buildApi } from "../api/server.js";
import { parseAlertConfig } from "../config/alert-config.js";
import { ffmpegPathFrom } from "../config/config.js";
import { readEnvironment } from "../config/env.js";
import { loadServiceConfig, type ServiceConfig } from "../config/service-config.js";
import { DemoChannels } from "../demo/demo-channels.js";
import { StreamqcError } from "../errors.js";
import { checkFfmpeg } from "../ingest/ffmpeg-binary.js";
import { MonitorService } from "../service/monitor-service.js";
import type { BlobStore } from "../store/blob-store.js";
import { openEvidenceBlobs } from "../service/evidence-blobs.js";
import { SqliteStore } from "../store/sqlite-store.js";
import type { Io, ServeOptions as ServeCliOptions } from "./command-options.js";

export interface RunningService {
  readonly service: MonitorService;
  readonly url: string;
  readonly store: SqliteStore;
  close(): Promise<void>;
}

export interface ServeOptions {
  readonly config?: string;
  readonly overrides?: Partial<ServiceConfig>;
  /** Where logs go; default stdout. */
  readonly logStream?: NodeJS.WritableStream;
}

/** Builds and starts the whole service; the CLI and the tests call this. */
export async function startService(options: ServeOptions): Promise<RunningService> {
  const { config, profiles, token } = loadServiceConfig(options.config, options.overrides);
  const alerts = parseAlertConfig(config.alerts ?? {}, options.config ?? "config");
  const ffmpegPath = ffmpegPathFrom(config);
  checkFfmpeg(ffmpegPath);
  const logger = pino(
    {
      level: readEnvironment().logLevel,
      base: { service: "streamqc" },
      redact: {
        paths: ["token", "secret", "*.token", "*.secret", "*.secretAccessKey", "headers.authorization"],
        censor: "[redacted]",
      },
    },
    (options.logStream ?? process.stdout) as pino.DestinationStream,
  );
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const store = new SqliteStore(join(dataDir, "streamqc.db"));
  const blobs: BlobStore = await openEvidenceBlobs(config.evidence, dataDir);
  const router = new AlertRouter(alerts, store);
  const dispatcher = new AlertDispatcher({
    store,
    channels: createChannels(alerts.channels),
    config: alerts.dispatcher,
    logger: logger.child({ component: "alerts" }),
  });
  const writer = new IncidentWriter({ store, router, notify: () => dispatcher.notify() });
  const demo = config.demo
    ? new DemoChannels(join(dataDir, "demo"), ffmpegPath, (m) => logger.info({ component: "demo" }, m))
    : null;
  const streams: {
    name: string;
    url: string;
    profile: string;
    labels: Record<string, string>;
    enabled: boolean;
  }[] = config.streams.map((s) => ({ ...s }));
  if (demo) {
    for (const ch of await demo.start())
      streams.push({ name: ch.name, url: ch.url, profile: "default", labels: ch.labels, enabled: true });
  }
  const service = new MonitorService({
    store,
    blobs,
    writer,
    dispatcher,
    profiles,
    ffmpegPath,
    allowLocalFiles: config.allowFileInputs,
    ...(config.stallTimeoutMs !== undefined ? { stallTimeoutMs: config.stallTimeoutMs } : {}),
    ...(config.maxPromotions !== undefined ? { maxPromotions: config.maxPromotions } : {}),
    logger: logger.child({ component: "monitor" }),
  });
  const api = buildApi(service, {
    host: config.server.host,
    token,
    ...(config.server.operator !== undefined ? { operator: config.server.operator } : {}),
    logger: {
      level: readEnvironment().logLevel,
      stream: options.logStream ?? process.stdout,
    },
  });
  await service.start(streams, config.maintenance);
  const address = await api.listen({ host: config.server.host, port: config.server.port });
  logger.info(
    { url: address, streams: streams.map((s) => ({ name: s.name, url: redactUrl(s.url) })), dataDir },
    `streamqc serving on ${address}`,
  );
  let closed = false;
  return {
    service,
    url: address,
    store,
    async close() {
      if (closed) return;
      closed = true;
      await api.close();
      await service.close();
      await demo?.close();
      await blobs.close();
      await store.close();
    },
  };
}

export async function runServe(values: ServeCliOptions, io: Io): Promise<number> {
  const { out } = io;
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) {
    throw new StreamqcError("SQM_ERR_USAGE", "--port must be a whole number from 0 to 65535");
  }
  const server: Partial<ServiceConfig["server"]> = {
    ...(values.host !== undefined ? { host: values.host } : {}),
    ...(port !== undefined ? { port } : {}),
  };
  const db = values.db ?? readEnvironment().databaseUrl;
  if (!values.monitor && db === undefined) {
    throw new StreamqcError("SQM_ERR_USAGE", "--no-monitor needs --db (a fleet database)");
  }
  const overrides = {
    ...(values.data !== undefined ? { dataDir: values.data } : {}),
    ...(Object.keys(server).length > 0 ? { server: server as ServiceConfig["server"] } : {}),
    ...(values.demo ? { demo: true } : {}),
  };
  // With a database: the fleet's API process (docs/fleet.md); without: everything in one process.
  const running =
    db !== undefined
      ? await (
          await import("../fleet/start-fleet-service.js")
        ).startFleetService({
          db,
          monitor: values.monitor,
          ...(values.config ? { config: values.config } : {}),
          overrides,
          allowSimulated: values.allowSimulated,
          logStream: out,
        })
      : await startService({
          ...(values.config ? { config: values.config } : {}),
          overrides,
          logStream: out,
        });
  process.stderr.write(
    `streamqc: serving on ${running.url} (dashboard ${running.url}/, API ${running.url}/api/v1, metrics ${running.url}/metrics); Ctrl-C stops\n`,
  );
  await new Promise<void>((resolveStop) => {
    const stop = (): void => resolveStop();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  process.stderr.write("streamqc: stopping\n");
  await running.close();
  return 0;
}
