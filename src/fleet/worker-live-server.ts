/**
 * A worker's live endpoint (docs/fleet.md, "live view"): what stays in the worker's memory and
 * is too frequent or too large for the database — each stream's latest thumbnail and its last
 * hour of measurements — served on request to the fleet's API, which proxies it to the wall.
 * Nothing is pushed: a wall that looks at ten channels costs ten requests every few seconds,
 * not a thumbnail per stream per second into PostgreSQL or object storage.
 *
 * Two read-only routes (GET, HEAD):
 *   /live/v1/streams/{id}/thumbnail         image/jpeg, 404 when there is none yet
 *   /live/v1/streams/{id}/history?seconds=N the channel page's history (1 ≤ N ≤ 86400)
 * Bearer token (`STREAMQC_FLEET_TOKEN`) checked in constant time; without one the endpoint
 * listens on loopback only, as the API does.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import type { StreamHistory } from "../api/schemas.js";
import { isLoopbackHost, sameSecret } from "../api/auth.js";
import { StreamqcError } from "../errors.js";
import type { StoredBlob } from "../service/service-facade.js";

export interface LiveSource {
  thumbnail(streamId: string): StoredBlob | undefined;
  /** undefined when the stream does not run here. */
  history(streamId: string, seconds: number): StreamHistory | undefined;
}

export interface LiveServerOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (any free port). */
  readonly port?: number;
  readonly token?: string | undefined;
  /** The URL the API should use, when the listening address is not reachable as is (0.0.0.0, NAT). */
  readonly advertisedUrl?: string;
}

export interface LiveServer {
  readonly url: string;
  close(): Promise<void>;
}

export const LIVE_PREFIX = "/live/v1";
const ROUTE = /^\/live\/v1\/streams\/([A-Za-z0-9_-]{1,128})\/(thumbnail|history)$/;
const MAX_SECONDS = 86_400;

export async function serveWorkerLive(source: LiveSource, o: LiveServerOptions = {}): Promise<LiveServer> {
  const host = o.host ?? "127.0.0.1";
  const token = o.token === "" ? undefined : o.token;
  if (token === undefined && !isLoopbackHost(host)) {
    throw new StreamqcError(
      "SQM_ERR_CONFIG",
      `refusing to serve the worker's live endpoint on ${host} without a token: set STREAMQC_FLEET_TOKEN (the same on the API and every worker), or listen on 127.0.0.1`,
    );
  }
  const server = createServer((req, res) => answer(source, token, req, res));
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shown = host === "0.0.0.0" || host === "::" ? hostname() : host.includes(":") ? `[${host}]` : host;
  return {
    url: o.advertisedUrl ?? `http://${shown}:${port}`,
    close: () => closeServer(server),
  };
}

function answer(
  source: LiveSource,
  token: string | undefined,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const send = (status: number, type: string, body: string | Uint8Array): void => {
    res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
    res.end(req.method === "HEAD" ? undefined : body);
  };
  const fail = (status: number, message: string): void =>
    send(status, "application/json", JSON.stringify({ statusCode: status, message }));
  if (req.method !== "GET" && req.method !== "HEAD") return fail(405, "only GET and HEAD");
  if (token !== undefined) {
    const auth = req.headers.authorization ?? "";
    const given = auth.startsWith("Bearer ") ? auth.slice(7) : "";
    if (!sameSecret(given, token)) return fail(401, "a valid bearer token is required");
  }
  const url = new URL(req.url ?? "/", "http://worker");
  const m = ROUTE.exec(url.pathname);
  if (!m) return fail(404, `no route ${url.pathname}`);
  const [, id, what] = m as unknown as [string, string, string];
  if (what === "thumbnail") {
    const t = source.thumbnail(id);
    return t ? send(200, t.contentType, t.bytes) : fail(404, `stream "${id}" has no thumbnail here`);
  }
  const raw = url.searchParams.get("seconds") ?? "3600";
  const seconds = Number(raw);
  if (!/^\d+$/.test(raw) || seconds < 1 || seconds > MAX_SECONDS) {
    return fail(400, `seconds must be a whole number from 1 to ${MAX_SECONDS}, not ${JSON.stringify(raw)}`);
  }
  const h = source.history(id, seconds);
  return h ? send(200, "application/json", JSON.stringify(h)) : fail(404, `stream "${id}" does not run here`);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** The API's side: fetch from a worker's live endpoint, or undefined when it cannot answer now. */
export class LiveClient {
  constructor(
    private readonly token: string | undefined,
    private readonly timeoutMs = 2000,
  ) {}

  async thumbnail(base: string, streamId: string): Promise<StoredBlob | undefined> {
    const res = await this.#get(`${base}${LIVE_PREFIX}/streams/${encodeURIComponent(streamId)}/thumbnail`);
    if (!res) return undefined;
    return {
      contentType: res.headers.get("content-type") ?? "image/jpeg",
      bytes: new Uint8Array(await res.arrayBuffer()),
    };
  }

  async history(base: string, streamId: string, seconds: number): Promise<StreamHistory | undefined> {
    const url = `${base}${LIVE_PREFIX}/streams/${encodeURIComponent(streamId)}/history?seconds=${seconds}`;
    const res = await this.#get(url);
    return res ? ((await res.json()) as StreamHistory) : undefined;
  }

  async #get(url: string): Promise<Response | undefined> {
    const res = await fetch(url, {
      headers: this.token ? { authorization: `Bearer ${this.token}` } : {},
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`${url} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    return res;
  }
}
