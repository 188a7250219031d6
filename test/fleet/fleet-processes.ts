/**
 * Real fleet processes for the tests: `streamqc worker` children (from source, through tsx)
 * on a test database, with their JSON logs collected, plus helpers that read leases and
 * incidents straight from PostgreSQL. Streams are SIMULATED (`sim:` URLs) unless a test
 * says otherwise: coordination, store and alert paths are the real ones.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import pg from "pg";

export const ROOT = resolve(import.meta.dirname, "../..");

export interface WorkerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Parsed JSON log lines so far. */
  readonly logs: Record<string, unknown>[];
  stderr: string;
  metricsUrl: Promise<string | null>;
  exited: Promise<number | null>;
}

export function startWorkerProcess(
  db: string,
  name: string,
  args: readonly string[] = [],
  opts: { env?: NodeJS.ProcessEnv; prefix?: readonly string[] } = {},
): WorkerProcess {
  const argv = [
    ...(opts.prefix ?? []),
    process.execPath,
    "--import",
    "tsx",
    resolve(ROOT, "src/cli/main.ts"),
    "worker",
    "--db",
    db,
    "--name",
    name,
    "--allow-simulated",
    "--metrics-port",
    "0",
    ...args,
  ];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT,
    env: { ...process.env, STREAMQC_LOG_LEVEL: "info", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  let buf = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  const w: WorkerProcess = {
    name,
    child,
    logs,
    stderr: "",
    metricsUrl: Promise.resolve(null),
    exited: new Promise((r) => child.on("exit", (code) => r(code))),
  };
  w.metricsUrl = new Promise((r) => {
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      w.stderr += d;
      const m = /metrics (http:\/\/\S+?)\)/.exec(w.stderr);
      if (m) r(m[1]!);
    });
    child.on("exit", () => r(null));
  });
  return w;
}

export async function stopAll(workers: readonly WorkerProcess[]): Promise<void> {
  for (const w of workers) {
    if (w.child.exitCode === null && w.child.signalCode === null) {
      try {
        w.child.kill("SIGCONT");
      } catch {
        // already gone
      }
      w.child.kill("SIGKILL");
    }
  }
  await Promise.all(workers.map((w) => w.exited));
}

/** Reads one counter or gauge (summed over labels matching `labels`) from a worker's /metrics. */
export async function metric(w: WorkerProcess, name: string, labels = ""): Promise<number> {
  const url = await w.metricsUrl;
  if (!url) throw new Error(`worker ${w.name} has no metrics`);
  const text = await (await fetch(url)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^(\S+?)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (m && m[1] === name && (m[2] ?? "").includes(labels)) sum += Number(m[3]);
  }
  return sum;
}

export async function owners(pool: pg.Pool): Promise<Map<string, { worker: string | null; epoch: number }>> {
  const r = await pool.query<{ stream_id: string; worker: string | null; epoch: string }>(
    "SELECT stream_id, CASE WHEN expires_at > now() THEN worker END AS worker, epoch FROM stream_leases",
  );
  return new Map(r.rows.map((x) => [x.stream_id, { worker: x.worker, epoch: Number(x.epoch) }]));
}

/** Every stream of `ids` is held now (unexpired lease) by a worker other than `not`. */
export async function ownedByOthers(pool: pg.Pool, ids: readonly string[], not: string): Promise<boolean> {
  const o = await owners(pool);
  return ids.every((id) => {
    const w = o.get(id)?.worker ?? null;
    return w !== null && w !== not;
  });
}

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface IncidentRow {
  id: string;
  stream_id: string;
  type: string;
  window: number | null;
  open: boolean;
  continued: boolean;
}

/** Incidents with the simulated window each belongs to. */
export async function incidents(pool: pg.Pool): Promise<IncidentRow[]> {
  const r = await pool.query<{
    id: string;
    stream_id: string;
    type: string;
    details: Record<string, unknown>;
    open: boolean;
  }>("SELECT id, stream_id, type, details, media_end IS NULL AS open FROM incidents ORDER BY id");
  return r.rows.map((x) => ({
    id: x.id,
    stream_id: x.stream_id,
    type: x.type,
    window: typeof x.details["window"] === "number" ? x.details["window"] : null,
    open: x.open,
    continued: x.details["continuedBy"] === "failover",
  }));
}

/** (stream, window) pairs recorded more than once: doubled incidents. */
export function doubled(rows: readonly IncidentRow[]): string[] {
  const seen = new Map<string, number>();
  for (const r of rows) {
    const k = `${r.stream_id}#${r.window}`;
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  return [...seen].filter(([, n]) => n > 1).map(([k]) => k);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function monotonicMs(): number {
  return performance.now();
}

export interface FleetSpec {
  readonly db: string;
  readonly config: string;
  readonly workers: number;
  readonly prefix: string;
  readonly streams: number;
  /** The `sim:` URL query of every stream (SIMULATED defect windows). */
  readonly sim: string;
  readonly args: readonly string[];
  /** Per worker (index from 0): another database URL (a proxy), env or command prefix. */
  readonly urlOf?: (i: number) => string;
  readonly optsOf?: (i: number) => { env?: NodeJS.ProcessEnv; prefix?: readonly string[] };
}

/**
 * Empties the fleet tables, starts `workers` worker processes, creates the streams and waits
 * until every stream is owned and every worker holds some. `started` receives the processes
 * as soon as they exist (so a failing wait still lets the caller stop them).
 */
export async function startFleet(
  pool: pg.Pool,
  s: FleetSpec,
  started: (w: WorkerProcess) => void,
): Promise<WorkerProcess[]> {
  await pool.query(
    "DELETE FROM stream_leases; DELETE FROM incidents; DELETE FROM streams; DELETE FROM workers",
  );
  const ws = Array.from({ length: s.workers }, (_, i) => {
    const w = startWorkerProcess(
      s.urlOf?.(i) ?? s.db,
      `${s.prefix}-${i + 1}`,
      ["--config", s.config, ...s.args],
      s.optsOf?.(i) ?? {},
    );
    started(w);
    return w;
  });
  await until(
    "workers to register",
    async () =>
      Number((await pool.query<{ n: string }>("SELECT count(*) AS n FROM workers")).rows[0]?.n) === s.workers,
    60_000,
    200,
  );
  const { PostgresStore } = await import("../../src/store/postgres-store.js");
  const store = await PostgresStore.open(s.db);
  for (let i = 0; i < s.streams; i++) {
    await store.createStream({
      name: `${s.prefix}-s${i}`,
      url: `sim:${s.prefix}-s${i}?${s.sim}`,
      profile: "default",
    });
  }
  await store.close();
  await until(
    "every stream owned, by every worker",
    async () => {
      const o = await owners(pool);
      const by = new Set([...o.values()].map((x) => x.worker));
      return [...o.values()].every((x) => x.worker !== null) && ws.every((w) => by.has(w.name));
    },
    60_000,
    200,
  );
  return ws;
}

/** Waits until the wall clock is `from`..`to` seconds into a `period`-second defect cycle. */
export async function phase(period: number, from: number, to: number): Promise<number> {
  for (;;) {
    const p = (Date.now() / 1000) % period;
    if (p >= from && p <= to) return Math.floor(Date.now() / 1000 / period);
    await sleep(200);
  }
}
