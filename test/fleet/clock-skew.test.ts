/**
 * Clock skew with a real mechanism: two of three worker processes run under libfaketime
 * (Debian's `faketime`, LD_PRELOAD) with wall clocks one hour ahead and one hour behind;
 * FAKETIME_DONT_FAKE_MONOTONIC=1 leaves their monotonic clocks alone, as on a real machine
 * whose wall clock is wrong. Real PostgreSQL; streams SIMULATED (`sim:` defect windows follow
 * each worker's wall clock; a 30 s period divides 3600, so whole hours off still agree).
 *
 * Claims and renewals work unchanged (only the database's clock and the monotonic clock
 * judge leases); incidents are stamped on the database's clock, not the skewed one; after a
 * SIGKILL of the worker an hour behind, its streams are owned again within lease + 2 s and
 * its open incidents are continued with their true durations (never an hour too long).
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fleetTestEnv, pgSkipReason, type FleetTestEnv } from "./fleet-db.js";
import {
  metric,
  monotonicMs,
  ownedByOthers,
  owners,
  phase,
  sleep,
  startFleet,
  stopAll,
  until,
  type WorkerProcess,
} from "./fleet-processes.js";

/**
 * libfaketime itself, preloaded straight into the worker: the `faketime` wrapper forks and
 * waits, so a signal sent to it would not reach the worker.
 */
function libfaketime(): string | null {
  try {
    for (const d of readdirSync("/usr/lib")) {
      const lib = join("/usr/lib", d, "faketime", "libfaketime.so.1");
      if (existsSync(lib)) return lib;
    }
  } catch {
    // no /usr/lib
  }
  return null;
}

const LIBFAKETIME = libfaketime();

function faketimeSkipReason(): string | false {
  return LIBFAKETIME ? false : "no libfaketime (Debian package faketime; scripts/setup.sh installs it)";
}

const skip = pgSkipReason() || faketimeSkipReason();
if (skip) console.warn(`fleet clock-skew tests skipped: ${skip}`);

const PERIOD = 30;
const DUTY = 24;
const LEASE_MS = 4000;
const SKEW = ["+1h", "-1h", null] as const;

interface Row {
  stream_id: string;
  started_ms: number;
  ended_ms: number | null;
  media_start: number;
  media_end: number | null;
  continued: boolean;
}

async function incidentRows(pool: pg.Pool): Promise<Row[]> {
  const r = await pool.query<Row & { details: Record<string, unknown> }>(
    "SELECT stream_id, started_ms, ended_ms, media_start, media_end, details FROM incidents",
  );
  return r.rows.map((x) => ({
    ...x,
    started_ms: Number(x.started_ms),
    ended_ms: x.ended_ms === null ? null : Number(x.ended_ms),
    continued: x.details["continuedBy"] === "failover",
  }));
}

/** The defect window an incident belongs to, by its stamp (the database's clock). */
function windowOf(r: Row): number {
  return Math.floor(r.started_ms / 1000 / PERIOD);
}

describe.skipIf(skip)("fleet: workers whose wall clocks are an hour off (libfaketime)", () => {
  let env: FleetTestEnv | undefined;
  let db: FleetTestEnv["db"];
  let pool: pg.Pool;
  let config: string;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    env = await fleetTestEnv("skew");
    ({ db, pool, config } = env);
  });

  afterAll(async () => {
    await stopAll(workers);
    await env?.close();
  });

  it("claims, renewals, failover and incidents behave the same one hour ahead or behind", async () => {
    const ws = await startFleet(
      pool,
      {
        db: db.url,
        config,
        workers: 3,
        prefix: "skew",
        streams: 9,
        sim: `period=${PERIOD}&duty=${DUTY}&type=video.freeze&cost=0.02`,
        args: [
          "--lease-ms",
          String(LEASE_MS),
          "--renew-ms",
          "1000",
          "--safety-ms",
          "1000",
          "--claim-ms",
          "500",
        ],
        optsOf: (i) => {
          const skew = SKEW[i];
          // Only the wall clock is off: the monotonic clock runs true, as on a real machine.
          return skew
            ? { env: { LD_PRELOAD: LIBFAKETIME!, FAKETIME: skew, FAKETIME_DONT_FAKE_MONOTONIC: "1" } }
            : {};
        },
      },
      (w) => workers.push(w),
    );
    const [ahead, behind] = [ws[0]!, ws[1]!];
    // The skew is real: the worker's own log stamps are an hour off the database's clock.
    const dbNow = Number(
      (await pool.query<{ ms: number }>("SELECT extract(epoch FROM now()) * 1000 AS ms")).rows[0]!.ms,
    );
    expect(Math.abs((ahead.logs.at(-1)!["time"] as number) - dbNow - 3_600_000)).toBeLessThan(60_000);
    expect(Math.abs((behind.logs.at(-1)!["time"] as number) - dbNow + 3_600_000)).toBeLessThan(60_000);

    // Renewals: two leases' worth later, the same leases at the same epochs, none lost.
    const first = await owners(pool);
    await sleep(2 * LEASE_MS);
    const later = await owners(pool);
    for (const w of [ahead, behind]) {
      const mine = [...first].filter(([, o]) => o.worker === w.name);
      expect(mine.length).toBeGreaterThan(0);
      for (const [id, o] of mine) expect(later.get(id)).toEqual(o);
      expect(await metric(w, "streamqc_fleet_lease_losses_total")).toBe(0);
      expect(await metric(w, "streamqc_fleet_renew_failures_total")).toBe(0);
    }

    // Incidents: one per stream in this window, stamped on the database's clock.
    const window = await phase(PERIOD, 3, 6);
    await until(
      "incidents open on every stream",
      async () => (await incidentRows(pool)).filter((r) => r.media_end === null).length === 9,
      10_000,
    );
    for (const r of (await incidentRows(pool)).filter((x) => x.media_end === null)) {
      // Onset at the window's start (the runner ticks once a second), not an hour away.
      expect(r.started_ms - window * PERIOD * 1000).toBeGreaterThanOrEqual(-1500);
      expect(r.started_ms - window * PERIOD * 1000).toBeLessThan(3500);
    }

    // Failover from the worker an hour behind.
    const lost = [...(await owners(pool))].filter(([, o]) => o.worker === behind.name).map(([id]) => id);
    expect(lost.length).toBeGreaterThan(0);
    behind.child.kill("SIGKILL");
    const t0 = monotonicMs();
    await until(
      "the killed worker's streams owned again",
      () => ownedByOthers(pool, lost, behind.name),
      30_000,
      50,
    );
    const failoverMs = monotonicMs() - t0;
    console.log(
      `clock skew: SIGKILL of the worker an hour behind, ${lost.length} streams owned again after ${Math.round(failoverMs)} ms (lease ${LEASE_MS} ms)`,
    );
    expect(failoverMs).toBeLessThanOrEqual(LEASE_MS + 2000);

    // The window closes at 24 s: one incident per stream, closed, with its true duration.
    await phase(PERIOD, DUTY + 2, PERIOD - 1);
    await sleep(1500);
    const rows = (await incidentRows(pool)).filter((r) => windowOf(r) === window);
    expect(rows.length).toBe(9);
    expect(new Set(rows.map((r) => r.stream_id)).size).toBe(9);
    for (const r of rows) {
      expect(r.media_end).not.toBeNull();
      const duration = r.media_end! - r.media_start;
      expect(duration).toBeGreaterThan(DUTY - 3);
      expect(duration).toBeLessThan(DUTY + 3);
      expect(r.ended_ms! - r.started_ms).toBeLessThan((DUTY + 3) * 1000);
    }
    const continued = rows.filter((r) => lost.includes(r.stream_id));
    expect(continued.every((r) => r.continued)).toBe(true);
    await stopAll(ws);
  }, 180_000);
});
