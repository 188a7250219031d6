/**
 * `streamqc bench --fleet`: the fleet on one PostgreSQL, measured with real worker processes
 * and real signals (docs/fleet.md, BENCHMARKS.md "fleet").
 *
 * Two runs, each on a fresh database in a throwaway cluster (scripts/pg-test-cluster.sh):
 * - SIMULATED streams (`sim:` sources: no media, a synthetic cost; coordination, store,
 *   incidents and their outbox writes are the real ones) over many workers;
 * - real ffmpeg streams (a short pre-encoded clip looped at its native rate) over a few.
 * Each reports the time to claim every stream (from spawning the workers), database
 * transactions per second in steady state (pg_stat_database), each worker's RSS and CPU, then
 * SIGKILLs one worker and reports how long each of its streams waited for a new owner (max,
 * p95), and the writes the fence refused.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { PostgresStore } from "../../store/postgres-store.js";
import { cpuTimes, rssBytes } from "../architecture/proc-stats.js";
import { withServiceFlags } from "../../cli/node-flags.js";

const run = promisify(execFile);
/** The package's scripts/pg-test-cluster.sh, from src/bench/fleet or the bundled dist/cli alike. */
function clusterScript(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const script = join(dir, "scripts", "pg-test-cluster.sh");
    if (existsSync(script)) return script;
    const up = dirname(dir);
    if (up === dir) throw new Error("fleet bench: scripts/pg-test-cluster.sh not found above the program");
    dir = up;
  }
}

export interface FleetRunSpec {
  readonly label: string;
  readonly kind: "simulated" | "ffmpeg";
  readonly streams: number;
  readonly workers: number;
  /** Steady-state seconds measured before the SIGKILL. */
  readonly seconds: number;
  /** Give up waiting for every stream to be claimed after this long (then report how many were). */
  readonly claimTimeoutMs: number;
}

export interface FleetRunResult {
  readonly spec: FleetRunSpec;
  /** From spawning the workers until every stream is owned (start-up included). */
  readonly claimAllMs: number;
  /** Streams owned when the claims were done or timed out. */
  readonly claimed: number;
  readonly killedStreams: number;
  readonly failoverMaxMs: number;
  readonly failoverP95Ms: number;
  /** pg_stat_database commits + rollbacks per second, steady state. */
  readonly dbTransactionsPerSecond: number;
  /** The worker process (node) alone. */
  readonly rssMb: { readonly median: number; readonly max: number };
  /** Its ffmpeg decoders together (0 for simulated streams). */
  readonly decoderRssMb: { readonly median: number; readonly max: number };
  /** From spawning the workers until all are registered (process start-up). */
  readonly startupMs: number;
  /** CPU seconds per second of each worker (median, max) in steady state, decoders included. */
  readonly cpu: { readonly median: number; readonly max: number };
  readonly refusedWrites: number;
  readonly incidents: number;
  readonly leaseLosses: number;
}

interface Worker {
  readonly name: string;
  readonly child: ChildProcess;
  readonly metricsUrl: Promise<string | null>;
  readonly exited: Promise<void>;
}

function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

/** A process and its descendants (a worker's ffmpeg decoders), from /proc/<pid>/task/<tid>/children. */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const tid of readdirSync(`/proc/${out[i]}/task`)) {
        const kids = readFileSync(`/proc/${out[i]}/task/${tid}/children`, "utf8").trim();
        if (kids) out.push(...kids.split(" ").map(Number));
      }
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** CPU seconds of a worker with its live decoders, and of decoders it has already reaped. */
function treeCpu(pid: number): Map<number, number> {
  const m = new Map<number, number>();
  for (const p of processTree(pid)) {
    try {
      const c = cpuTimes(p);
      m.set(p, c.self + (p === pid ? c.children : 0));
    } catch {
      // exited meanwhile
    }
  }
  return m;
}

function cpuBetween(a: Map<number, number>, b: Map<number, number>): number {
  let sum = 0;
  for (const [p, v] of b) sum += v - (a.get(p) ?? 0);
  return sum;
}

const treeRss = (pid: number): number => processTree(pid).reduce((n, p) => n + rssBytes(p), 0);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 100,
): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await probe())) {
    if (performance.now() > end) throw new Error(`fleet bench: timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

export async function startCluster(): Promise<{ url: string; stop(): Promise<void> }> {
  const { stdout } = await run(clusterScript(), ["start"], { timeout: 120_000 });
  const vars = new Map(
    stdout
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as const),
  );
  const url = vars.get("STREAMQC_PG_URL");
  const dir = vars.get("STREAMQC_PG_DIR");
  if (!url || !dir) throw new Error(`pg-test-cluster.sh printed no URL:\n${stdout}`);
  return {
    url,
    async stop() {
      await run(clusterScript(), ["stop", dir], { timeout: 60_000 });
    },
  };
}

function spawnWorker(db: string, name: string, config: string, capacity: number): Worker {
  // The same CLI this process runs (dist, or src through tsx's --import).
  const argv = [
    ...withServiceFlags(process.execArgv),
    process.argv[1]!,
    "worker",
    "--db",
    db,
    "--name",
    name,
    "--config",
    config,
    "--capacity",
    String(capacity),
    "--allow-simulated",
    "--metrics-port",
    "0",
  ];
  const child = spawn(process.execPath, argv, {
    // Its JSON log (stdout) is not needed here.
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  const metricsUrl = new Promise<string | null>((r) => {
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      err += d;
      const m = /metrics (http:\/\/\S+?)\)/.exec(err);
      if (m) r(m[1]!);
    });
    child.on("exit", () => r(null));
  });
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  return { name, child, metricsUrl, exited };
}

async function metricSum(w: Worker, name: string): Promise<number> {
  const url = await w.metricsUrl;
  if (!url) return 0;
  try {
    const text = await (await fetch(url)).text();
    let sum = 0;
    for (const line of text.split("\n")) {
      const m = /^(\S+?)(\{[^}]*\})?\s+(\S+)$/.exec(line);
      if (m && m[1] === name) sum += Number(m[3]);
    }
    return sum;
  } catch {
    return 0;
  }
}

async function transactions(pool: pg.Pool, db: string): Promise<number> {
  const r = await pool.query<{ n: string }>(
    "SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1",
    [db],
  );
  return Number(r.rows[0]?.n ?? 0);
}

/** A 10 s 320x180 25 fps H.264 + AAC clip in MPEG-TS, looped by each real stream. */
async function makeClip(dir: string, ffmpeg: string): Promise<string> {
  const out = join(dir, "clip.ts");
  await run(
    ffmpeg,
    [
      "-hide_banner",
      "-loglevel",
      "error",
      "-f",
      "lavfi",
      "-i",
      "testsrc2=size=320x180:rate=25",
      "-f",
      "lavfi",
      "-i",
      "sine=frequency=440:sample_rate=48000",
      "-t",
      "10",
      "-c:v",
      "libx264",
      "-preset",
      "ultrafast",
      "-g",
      "50",
      "-c:a",
      "aac",
      "-b:a",
      "64k",
      "-y",
      out,
    ],
    { timeout: 120_000 },
  );
  return out;
}

export async function runFleetScenario(
  clusterUrl: string,
  spec: FleetRunSpec,
  o: { ffmpegPath: string; log: (line: string) => void },
): Promise<FleetRunResult> {
  const dbName = `bench_${spec.kind}_${process.pid}`;
  const admin = new pg.Client({ connectionString: clusterUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const u = new URL(clusterUrl);
  u.pathname = `/${dbName}`;
  const db = u.toString();
  const dir = mkdtempSync(join(tmpdir(), "sqm-fleet-bench-"));
  const config = join(dir, "config.json");
  writeFileSync(
    config,
    JSON.stringify({
      dataDir: join(dir, "data"),
      allowFileInputs: spec.kind === "ffmpeg",
      ffmpeg: o.ffmpegPath,
    }),
  );
  const pool = new pg.Pool({ connectionString: db, max: 2 });
  const workers: Worker[] = [];
  try {
    const store = await PostgresStore.open(db);
    const clip = spec.kind === "ffmpeg" ? await makeClip(dir, o.ffmpegPath) : null;
    for (let i = 0; i < spec.streams; i++) {
      // Simulated: a 6 s defect every 60 s, phases spread, costs 0.01..0.05 CPU s per media s.
      const url = clip
        ? `file://${clip}`
        : `sim:b${i}?period=60&duty=6&type=video.freeze&cost=${(0.01 + (i % 5) * 0.01).toFixed(2)}`;
      await store.createStream({ name: `bench-${i}`, url, profile: "default" });
    }
    await store.close();
    const owned = async (): Promise<Map<string, string | null>> => {
      const r = await pool.query<{ stream_id: string; worker: string | null }>(
        "SELECT stream_id, CASE WHEN expires_at > now() THEN worker END AS worker FROM stream_leases",
      );
      return new Map(r.rows.map((x) => [x.stream_id, x.worker]));
    };

    const t0 = performance.now();
    // Room for every stream once one worker is killed (the default capacity, 50 a worker, would
    // leave half of 1,000 streams over 10 workers unclaimed), with a quarter to spare.
    const capacity = Math.ceil((1.25 * spec.streams) / Math.max(1, spec.workers - 1));
    for (let i = 0; i < spec.workers; i++) workers.push(spawnWorker(db, `w${i + 1}`, config, capacity));
    await until(
      "the workers to register",
      async () =>
        Number((await pool.query<{ n: string }>("SELECT count(*) AS n FROM workers")).rows[0]?.n) ===
        spec.workers,
      300_000,
      100,
    );
    const startupMs = performance.now() - t0;
    // On a machine too small for the run, report how far the claims got instead of failing.
    let claimed = 0;
    const claimEnd = performance.now() + spec.claimTimeoutMs;
    while (performance.now() < claimEnd) {
      claimed = [...(await owned()).values()].filter((w) => w !== null).length;
      if (claimed === spec.streams) break;
      await sleep(200);
    }
    const claimAllMs = claimed === spec.streams ? performance.now() - t0 : NaN;
    o.log(
      `  ${spec.label}: ${claimed} of ${spec.streams} streams claimed after ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    // Steady state: transactions, RSS and CPU of each worker.
    await sleep(5000);
    const tx0 = await transactions(pool, dbName);
    const cpu0 = workers.map((w) => treeCpu(w.child.pid!));
    const s0 = performance.now();
    await sleep(spec.seconds * 1000);
    const tx1 = await transactions(pool, dbName);
    const elapsed = (performance.now() - s0) / 1000;
    const cpu = workers.map((w, i) => cpuBetween(cpu0[i]!, treeCpu(w.child.pid!)) / elapsed);
    const rss = workers.map((w) => rssBytes(w.child.pid) / 2 ** 20);
    const decoderRss = workers.map((w) => (treeRss(w.child.pid!) - rssBytes(w.child.pid)) / 2 ** 20);

    // Failover: SIGKILL the first worker; each of its streams' wait for a new owner.
    const victim = workers[0]!;
    const before = await owned();
    const lost = [...before].filter(([, w]) => w === victim.name).map(([id]) => id);
    victim.child.kill("SIGKILL");
    const k0 = performance.now();
    const waited = new Map<string, number>();
    await until(
      "the killed worker's streams to be owned again",
      async () => {
        const now = await owned();
        const t = performance.now() - k0;
        for (const id of lost) {
          const w = now.get(id);
          if (!waited.has(id) && w !== null && w !== undefined && w !== victim.name) waited.set(id, t);
        }
        return waited.size === lost.length;
      },
      120_000,
      100,
    );
    const times = [...waited.values()];
    o.log(`  ${spec.label}: SIGKILL of ${victim.name}: ${lost.length} streams owned again`);
    await sleep(3000);
    const alive = workers.slice(1);
    const refused = (
      await Promise.all(alive.map((w) => metricSum(w, "streamqc_fleet_fenced_writes_total")))
    ).reduce((a, b) => a + b, 0);
    const losses = (
      await Promise.all(alive.map((w) => metricSum(w, "streamqc_fleet_lease_losses_total")))
    ).reduce((a, b) => a + b, 0);
    const incidents = Number(
      (await pool.query<{ n: string }>("SELECT count(*) AS n FROM incidents")).rows[0]?.n ?? 0,
    );
    return {
      spec,
      claimAllMs,
      claimed,
      startupMs,
      killedStreams: lost.length,
      failoverMaxMs: Math.max(...times),
      failoverP95Ms: quantile(times, 0.95),
      dbTransactionsPerSecond: (tx1 - tx0) / elapsed,
      rssMb: { median: quantile(rss, 0.5), max: Math.max(...rss) },
      decoderRssMb: { median: quantile(decoderRss, 0.5), max: Math.max(...decoderRss) },
      cpu: { median: quantile(cpu, 0.5), max: Math.max(...cpu) },
      refusedWrites: refused,
      incidents,
      leaseLosses: losses,
    };
  } finally {
    for (const w of workers)
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGTERM");
    await Promise.race([Promise.all(workers.map((w) => w.exited)), sleep(15_000)]);
    for (const w of workers)
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
    await pool.end().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
