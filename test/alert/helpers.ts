import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AlertRouter } from "../../src/alert/alert-router.js";
import { createChannels } from "../../src/alert/channel-factory.js";
import { AlertDispatcher } from "../../src/alert/dispatcher.js";
import { IncidentWriter } from "../../src/service/incident-writer.js";
import { parseAlertConfig, type AlertConfig } from "../../src/config/alert-config.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";

export interface Received {
  /** Date.now() when the request arrived. */
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface Reply {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export interface Receiver {
  readonly url: string;
  readonly requests: Received[];
  close(): Promise<void>;
}

/** A real HTTP receiver on 127.0.0.1:0; `reply` sees each request and its 0-based number. */
export async function startReceiver(reply: (req: Received, n: number) => Reply): Promise<Receiver> {
  const requests: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r: Received = {
        at: Date.now(),
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      const n = requests.length;
      requests.push(r);
      const out = reply(r, n);
      res.writeHead(out.status, out.headers);
      res.end(out.body ?? "");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** Polls until `check` returns true; the bound only keeps a broken test from hanging. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  limitMs = 20_000,
): Promise<void> {
  const until = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface Service {
  readonly file: string;
  readonly store: SqliteStore;
  readonly config: AlertConfig;
  readonly writer: IncidentWriter;
  readonly dispatcher: AlertDispatcher;
  /** A new dispatcher over a new store on the same file (a restarted process). */
  restart(): Promise<Service>;
  close(): Promise<void>;
}

/** Fast retries so tests finish quickly; the behaviour is the production code's. */
export const FAST = { baseDelayMs: 20, maxDelayMs: 100, pollIntervalMs: 100, leaseMs: 5000 } as const;

const dirs: string[] = [];

export async function startService(configInput: unknown, file?: string): Promise<Service> {
  let dbFile = file;
  if (dbFile === undefined) {
    const dir = await mkdtemp(join(tmpdir(), "sqm-alert-"));
    dirs.push(dir);
    dbFile = join(dir, "streamqc.db");
  }
  const config = parseAlertConfig(configInput);
  const store = new SqliteStore(dbFile);
  const dispatcher = new AlertDispatcher({
    store,
    channels: createChannels(config.channels),
    config: config.dispatcher,
  });
  const router = new AlertRouter(config, store);
  const writer = new IncidentWriter({ store, router, notify: () => dispatcher.notify() });
  const service: Service = {
    file: dbFile,
    store,
    config,
    writer,
    dispatcher,
    restart: async () => {
      await service.close();
      return startService(configInput, dbFile);
    },
    close: async () => {
      await dispatcher.close();
      await store.close();
    },
  };
  return service;
}

export async function removeTempDirs(): Promise<void> {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
}

export const SECRET = "whsec_" + Buffer.from("streamqc-test-secret-0123456789ab").toString("base64");
