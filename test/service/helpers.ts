/**
 * Real pieces for service tests: a Standard Webhooks receiver, the service as a child process,
 * the service in process, JSON over real HTTP, and /proc readings of processes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, timingSafeEqual } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { resolve } from "node:path";
import { Writable } from "node:stream";
import { startService, type RunningService } from "../../src/cli/serve-command.js";
import type { ServiceConfig } from "../../src/config/service-config.js";
import { generateClip } from "../../src/gen/clip-generator.js";
import type { Defect } from "../../src/gen/defect-spec.js";
import { errorMessage } from "../../src/errors.js";
import { ROOT } from "../helpers/cli.js";

export const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/** The generated clips' sound is louder than R128, so tests that count incidents leave loudness out. */
export const QUIET_PROFILE: { detectors: Record<string, false>; severity: Record<string, never> } = {
  detectors: { "audio.loudness": false },
  severity: {},
};

export function webhookAlerts(url: string): Record<string, unknown> {
  return {
    channels: [{ kind: "webhook", name: "hook", url, secret: SECRET, timeoutMs: 2000 }],
    routes: [{ channels: ["hook"] }],
    // Short waits so that retries happen within a test; a short lease so a row claimed by a
    // killed service is sent again soon.
    dispatcher: { pollIntervalMs: 300, baseDelayMs: 300, maxDelayMs: 1000, leaseMs: 3000 },
  };
}

export async function makeClip(out: string, defects: Defect[], duration = 12): Promise<string> {
  await generateClip(out, { duration, width: 320, height: 180, fps: 25, defects });
  return out;
}

export interface WebhookAttempt {
  readonly id: string;
  readonly timestamp: string;
  readonly signature: string;
  readonly body: string;
  readonly status: number;
  readonly signatureOk: boolean;
  readonly type: string;
  readonly incidentType: string;
  readonly incidentId: string;
  readonly receivedAt: number;
}

/** Standard Webhooks verification, written from the spec rather than with our signer. */
export function verifySignature(
  secret: string,
  id: string,
  ts: string,
  body: string,
  header: string,
): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${ts}.${body}`).digest();
  return header.split(" ").some((part) => {
    const [version, sig] = part.split(",");
    if (version !== "v1" || sig === undefined) return false;
    const given = Buffer.from(sig, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** Answers each request with `statusFor(n, id)`: n counts the requests with that webhook-id, from 1. */
export class WebhookReceiver {
  readonly attempts: WebhookAttempt[] = [];
  statusFor: (n: number, id: string) => number;
  private server: Server | null = null;
  port = 0;

  constructor(statusFor: (n: number, id: string) => number = () => 200) {
    this.statusFor = statusFor;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async listen(port = 0): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const header = (name: string): string => String(req.headers[name] ?? "");
        const id = header("webhook-id");
        const status = this.statusFor(this.attempts.filter((a) => a.id === id).length + 1, id);
        let type = "";
        let incidentType = "";
        let incidentId = "";
        try {
          const parsed = JSON.parse(body) as {
            type?: string;
            data?: { incident?: { type?: string; id?: string } };
          };
          type = parsed.type ?? "";
          incidentType = parsed.data?.incident?.type ?? "";
          incidentId = parsed.data?.incident?.id ?? "";
        } catch {
          // Recorded with empty types; the test sees it.
        }
        this.attempts.push({
          id: header("webhook-id"),
          timestamp: header("webhook-timestamp"),
          signature: header("webhook-signature"),
          body,
          status,
          signatureOk: verifySignature(
            SECRET,
            header("webhook-id"),
            header("webhook-timestamp"),
            body,
            header("webhook-signature"),
          ),
          type,
          incidentType,
          incidentId,
          receivedAt: Date.now(),
        });
        res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "no");
      });
    });
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return this;
  }

  /** Successful deliveries per webhook-id. */
  deliveredCount(id: string): number {
    return this.attempts.filter((a) => a.id === id && a.status === 200).length;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

export interface ApiReply<T = unknown> {
  readonly status: number;
  readonly body: T;
}

/** JSON over real HTTP; `raw` sends the body as it is (for malformed JSON). */
export async function api<T = unknown>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  raw?: string,
): Promise<ApiReply<T>> {
  const init: RequestInit = { method, headers: {} };
  if (raw !== undefined || body !== undefined) {
    init.headers = { "content-type": "application/json" };
    init.body = raw ?? JSON.stringify(body);
  }
  const res = await fetch(`${base}/api/v1${path}`, init);
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

type Maybe<T> = T | undefined | null | false;

export async function poll<T>(fn: () => Promise<Maybe<T>> | Maybe<T>, ms: number, what: string): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${errorMessage(last)}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Live (not zombie) processes whose parent is `ppid`, with their command names. */
export function childProcesses(ppid: number): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(Number(name));
    if (st && st.ppid === ppid && st.state !== "Z") out.push({ pid: Number(name), comm: st.comm });
  }
  return out;
}

/** True while the process exists and is not a zombie. */
export function running(pid: number): boolean {
  const st = procStat(pid);
  return st !== null && st.state !== "Z";
}

export function procStat(pid: number): { comm: string; state: string; ppid: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const [state = "", ppid = "0"] = stat.slice(close + 2).split(" ");
    return { comm, state, ppid: Number(ppid) };
  } catch {
    return null;
  }
}

/** `streamqc serve` as a child process, from source through tsx. */
export class ServiceChild {
  readonly child: ChildProcess;
  readonly url: Promise<string>;
  stderr = "";
  stdout = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, ["--import", "tsx", resolve(ROOT, "src/cli/main.ts"), ...args], {
      cwd: ROOT,
      env: { ...process.env, STREAMQC_LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.exited = new Promise((r) => this.child.once("close", (code, signal) => r({ code, signal })));
    this.child.stdout?.setEncoding("utf8").on("data", (d: string) => (this.stdout += d));
    this.url = new Promise((resolveUrl, reject) => {
      this.child.stderr?.setEncoding("utf8").on("data", (d: string) => {
        this.stderr += d;
        const m = /serving on (http:\/\/[\d.]+:\d+)/.exec(this.stderr);
        if (m?.[1]) resolveUrl(m[1]);
      });
      void this.exited.then(({ code }) =>
        reject(new Error(`service exited (${String(code)}): ${this.stderr}`)),
      );
    });
    this.url.catch(() => undefined);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}

/** A writable that drops the service's log (or keeps it for a failing test's message). */
export function logSink(): Writable & { text: () => string } {
  const lines: string[] = [];
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString("utf8"));
      if (lines.length > 2000) lines.splice(0, 1000);
      cb();
    },
  });
  return Object.assign(w, { text: () => lines.join("") });
}

/** The service in this process; `overrides` as startService takes them. */
export async function startInProcess(overrides: Partial<ServiceConfig>): Promise<RunningService> {
  return startService({
    overrides: { server: { host: "127.0.0.1", port: 0 }, ...overrides },
    logStream: logSink(),
  });
}
