/**
 * Failover with real processes and real signals on a real PostgreSQL (streams SIMULATED:
 * `sim:` sources whose defect windows follow the wall clock, so every owner sees the same
 * windows; coordination, store and alert paths are the real ones).
 *
 * - SIGKILL one worker of 3: its streams are owned again within lease + 2 s; the incidents
 *   that were open continue under the new owners (adopted, closed once), none lost or doubled.
 * - SIGSTOP one worker longer than its lease, then SIGCONT: its streams were taken over, it
 *   stops them on its own (local deadline, renewals refused) without one successful write,
 *   and rejoins (claims streams again).
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fleetTestEnv, pgSkipReason, type FleetTestEnv } from "./fleet-db.js";
import {
  doubled,
  incidents,
  metric,
  monotonicMs,
  ownedByOthers,
  owners,
  phase as phaseOf,
  sleep,
  startFleet,
  stopAll,
  until,
  type WorkerProcess,
} from "./fleet-processes.js";

const skip = pgSkipReason();
if (skip) console.warn(`fleet failover tests skipped: ${skip}`);

const PERIOD = 30;
const DUTY = 24;

function phase(from: number, to: number): Promise<number> {
  return phaseOf(PERIOD, from, to);
}

describe.skipIf(skip)("fleet failover (real processes, simulated streams)", () => {
  let env: FleetTestEnv | undefined;
  let db: FleetTestEnv["db"];
  let pool: pg.Pool;
  let config: string;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    env = await fleetTestEnv("failover");
    ({ db, pool, config } = env);
  });

  afterAll(async () => {
    await stopAll(workers);
    await env?.close();
  });

  function fleet(n: number, prefix: string, streams: number, args: string[]): Promise<WorkerProcess[]> {
    const sim = `period=${PERIOD}&duty=${DUTY}&type=video.freeze&cost=0.02`;
    return startFleet(pool, { db: db.url, config, workers: n, prefix, streams, sim, args }, (w) =>
      workers.push(w),
    );
  }

  it("SIGKILL of one worker of 3: owned again within lease + 2 s, open incidents continued, none lost or doubled", async () => {
    const ws = await fleet(3, "k", 12, ["--rebalance-ms", "2000"]);
    const victim = ws[0]!;
    // Mid-window, so each stream has an incident open when its owner dies.
    const window = await phase(2, 5);
    await until(
      "incidents open on every stream",
      async () => (await incidents(pool)).filter((i) => i.open).length === 12,
      10_000,
    );
    const before = await owners(pool);
    const lost = [...before].filter(([, o]) => o.worker === victim.name).map(([id]) => id);
    expect(lost.length).toBeGreaterThan(0);
    victim.child.kill("SIGKILL");
    const t0 = monotonicMs();
    await until(
      "the dead worker's streams owned again",
      () => ownedByOthers(pool, lost, victim.name),
      30_000,
      50,
    );
    const failoverMs = monotonicMs() - t0;
    console.log(
      `SIGKILL failover: ${lost.length} streams owned again after ${Math.round(failoverMs)} ms (lease 10 000 ms)`,
    );
    expect(failoverMs).toBeLessThanOrEqual(12_000);
    const after = await owners(pool);
    for (const id of lost) expect(after.get(id)!.epoch).toBeGreaterThan(before.get(id)!.epoch);
    // The window closes at 24 s: every incident of this window is closed, once per stream.
    await phase(DUTY + 2, PERIOD - 1);
    await sleep(1500);
    const rows = (await incidents(pool)).filter((i) => i.window === window);
    expect(doubled(rows)).toEqual([]);
    expect(new Set(rows.map((r) => r.stream_id)).size).toBe(12);
    expect(rows.filter((r) => r.open)).toEqual([]);
    // The dead worker's incidents were continued by the new owners, not recorded again.
    const continued = rows.filter((r) => lost.includes(r.stream_id));
    expect(continued.length).toBe(lost.length);
    expect(continued.every((r) => r.continued)).toBe(true);
    await stopAll(ws);
  }, 180_000);

  it("SIGSTOP longer than the lease, then SIGCONT: taken over, no write of the paused worker lands, it stops its streams and rejoins", async () => {
    const timing = [
      "--lease-ms",
      "4000",
      "--renew-ms",
      "1000",
      "--safety-ms",
      "1000",
      "--claim-ms",
      "500",
      "--rebalance-ms",
      "1000",
    ];
    const ws = await fleet(3, "p", 9, timing);
    const victim = ws[0]!;
    const window = await phase(2, 6);
    const before = await owners(pool);
    const held = [...before].filter(([, o]) => o.worker === victim.name).map(([id]) => id);
    expect(held.length).toBeGreaterThan(0);
    victim.child.kill("SIGSTOP");
    const t0 = monotonicMs();
    await until(
      "the paused worker's streams taken over",
      () => ownedByOthers(pool, held, victim.name),
      20_000,
      50,
    );
    console.log(`SIGSTOP takeover after ${Math.round(monotonicMs() - t0)} ms (lease 4 000 ms)`);
    const incidentsAtTakeover = await pool.query<{ id: string; revision: number }>(
      "SELECT id, revision FROM incidents",
    );
    await sleep(Math.max(0, 7000 - (monotonicMs() - t0)));
    victim.child.kill("SIGCONT");
    // It notices on its own: every stream it held is stopped (deadline or refused renewal/write).
    await until(
      "the resumed worker to stop the streams it lost",
      async () =>
        (await metric(victim, "streamqc_fleet_lease_losses_total")) >= held.length &&
        (await metric(victim, "streamqc_fleet_leases_held")) < held.length + 1,
      15_000,
      200,
    );
    const losses =
      (await metric(victim, "streamqc_fleet_lease_losses_total", 'reason="deadline"')) +
      (await metric(victim, "streamqc_fleet_lease_losses_total", 'reason="taken"')) +
      (await metric(victim, "streamqc_fleet_lease_losses_total", 'reason="fenced"'));
    expect(losses).toBe(held.length);
    const refused = await metric(victim, "streamqc_fleet_fenced_writes_total");
    console.log(
      `SIGSTOP: ${held.length} streams lost by the paused worker, ${refused} of its writes refused`,
    );
    // None of its writes landed: every incident of its old streams was written by the new owners.
    const stoppedLogs = victim.logs.filter((l) => l["msg"] === "stream stopped");
    expect(stoppedLogs.length).toBeGreaterThanOrEqual(held.length);
    // It rejoins: renewing again and, once the others give back, holding streams.
    await until(
      "the resumed worker to hold streams again",
      async () => (await metric(victim, "streamqc_fleet_leases_held")) > 0,
      30_000,
      500,
    );
    await phase(DUTY + 2, PERIOD - 1);
    await sleep(1500);
    const rows = (await incidents(pool)).filter((i) => i.window === window);
    expect(doubled(rows)).toEqual([]);
    expect(new Set(rows.map((r) => r.stream_id)).size).toBe(9);
    expect(rows.filter((r) => r.open)).toEqual([]);
    expect(incidentsAtTakeover.rows.length).toBeGreaterThan(0);
    await stopAll(ws);
  }, 180_000);
});
