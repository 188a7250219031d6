/**
 * A worker cut off from PostgreSQL by a real loopback TCP proxy (test/fleet/tcp-cut-proxy.ts),
 * with real worker processes on a real PostgreSQL (streams SIMULATED: `sim:` sources whose
 * defect windows follow the wall clock; coordination, store and alert paths are the real ones):
 *
 * - silent drop (nothing forwarded, nothing closed: only the worker's own clock can tell);
 * - reset (every connection, and every new one, gets an RST).
 *
 * Either way the cut worker stops every stream (its runners) before its leases end by the
 * database's clock, the two others take the streams over, and after the network heals the
 * writes it had queued are refused by the fence; it then rejoins.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fleetTestEnv, pgSkipReason, type FleetTestEnv } from "./fleet-db.js";
import {
  incidents,
  metric,
  monotonicMs,
  ownedByOthers,
  owners,
  sleep,
  startFleet,
  stopAll,
  until,
  type WorkerProcess,
} from "./fleet-processes.js";
import { TcpCutProxy, type CutMode } from "./tcp-cut-proxy.js";

const skip = pgSkipReason();
if (skip) console.warn(`fleet database-cut tests skipped: ${skip}`);

const LEASE_MS = 4000;
const TIMING = [
  "--lease-ms",
  String(LEASE_MS),
  "--renew-ms",
  "1000",
  "--safety-ms",
  "1000",
  "--claim-ms",
  "500",
  "--rebalance-ms",
  "1000",
  "--adopt-grace-ms",
  "3000",
];

describe.skipIf(skip)("fleet: one worker cut off from the database (real TCP proxy)", () => {
  let env: FleetTestEnv | undefined;
  let db: FleetTestEnv["db"];
  let pool: pg.Pool;
  let config: string;
  const workers: WorkerProcess[] = [];
  const proxies: TcpCutProxy[] = [];

  beforeAll(async () => {
    env = await fleetTestEnv("dbcut");
    ({ db, pool, config } = env);
  });

  afterAll(async () => {
    await stopAll(workers);
    for (const p of proxies) await p.close();
    await env?.close();
  });

  async function cut(mode: Exclude<CutMode, "forward">): Promise<void> {
    const proxy = await TcpCutProxy.start(db.url);
    proxies.push(proxy);
    // A defect every other second: the streams write all the time, so the cut worker has
    // writes queued when it is cut off.
    const ws = await startFleet(
      pool,
      {
        db: db.url,
        config,
        workers: 3,
        prefix: mode,
        streams: 9,
        sim: "period=2&duty=1&type=video.freeze&cost=0.02",
        args: TIMING,
        urlOf: (i) => (i === 0 ? proxy.rewrite(db.url) : db.url),
      },
      (w) => workers.push(w),
    );
    try {
      const victim = ws[0]!;
      const held = [...(await owners(pool))].filter(([, o]) => o.worker === victim.name).map(([id]) => id);
      expect(held.length).toBeGreaterThan(0);
      // Cut a worker at work, not one still starting what it has just claimed (a start that
      // fails on the cut gives the stream back: a third way to stop, not the one tested here).
      await until(
        "the worker to start the streams it holds",
        () =>
          Promise.resolve(
            held.every((id) =>
              victim.logs.some((l) => l["msg"] === "stream claimed" && l["streamId"] === id),
            ),
          ),
        10_000,
        50,
      );

      proxy.set(mode);
      const t0 = monotonicMs();
      // Only what it logs from the cut on (a stream may have been given back to rebalance before).
      const fromCut = victim.logs.length;
      const stopLog = (id: string): Record<string, unknown> | undefined =>
        victim.logs.slice(fromCut).find((l) => l["msg"] === "stream stopped" && l["streamId"] === id);
      // A renewal sent just before the cut may still land: read the leases' ends after it could.
      await sleep(300);
      const ends = new Map(
        (
          await pool.query<{ stream_id: string; end_ms: number; epoch: string }>(
            `SELECT stream_id, extract(epoch FROM expires_at) * 1000 AS end_ms, epoch
             FROM stream_leases WHERE worker = $1 AND expires_at > now()`,
            [victim.name],
          )
        ).rows.map((r) => [r.stream_id, { endMs: Number(r.end_ms), epoch: Number(r.epoch) }]),
      );
      expect([...ends.keys()].sort()).toEqual([...held].sort());

      // 1. It stops every stream on its own (its local deadline: no answer ever comes back).
      await until(
        "the cut worker to stop its streams",
        () => Promise.resolve(held.every((id) => stopLog(id) !== undefined)),
        LEASE_MS + 5000,
        50,
      );
      const stoppedMs = monotonicMs() - t0;
      expect(held.some((id) => stopLog(id)!["reason"] === "deadline")).toBe(true);
      for (const id of held) {
        const log = stopLog(id)!;
        // Its own deadline; or a rebalance that had already begun when the cut came (the fleet
        // may still be balancing): either way stopped by the worker itself, in time.
        expect(["deadline", "rebalance"]).toContain(log["reason"]);
        // Its runner was gone before the database could let anyone else claim the stream.
        // (Log time and expires_at come from this one machine's clock: the worker and the
        // database run here; the protocol itself never compares them.)
        expect(log["time"] as number).toBeLessThan(ends.get(id)!.endMs);
      }

      // 2. The others take the streams over.
      await until(
        "the cut worker's streams owned by the others",
        () => ownedByOthers(pool, held, victim.name),
        LEASE_MS + 10_000,
        50,
      );
      const takenMs = monotonicMs() - t0;

      // 3. The network heals: what it had queued reaches the database and is refused.
      proxy.set("forward");
      await until(
        "the cut worker to rejoin",
        async () => (await metric(victim, "streamqc_fleet_leases_held")) > 0,
        30_000,
        250,
      );
      const refused = await metric(victim, "streamqc_fleet_fenced_writes_total");
      const failed = victim.logs.filter((l) => l["msg"] === "could not record incident").length;
      console.log(
        `database cut (${mode}): ${held.length} streams stopped by the cut worker after ${Math.round(stoppedMs)} ms, ` +
          `owned by others after ${Math.round(takenMs)} ms (lease ${LEASE_MS} ms); ` +
          `its later writes: ${refused} refused by the fence, ${failed} failed on the dead connection`,
      );
      if (mode === "drop") expect(refused).toBeGreaterThan(0);

      // 4. Incidents: none doubled (at most one open per stream), none left open for good.
      await sleep(1000);
      const open = (await incidents(pool)).filter((i) => i.open);
      const perStream = new Map<string, number>();
      for (const i of open) perStream.set(i.stream_id, (perStream.get(i.stream_id) ?? 0) + 1);
      expect([...perStream.values()].every((n) => n === 1)).toBe(true);
    } catch (err) {
      // What each worker last said, so a failure on CI can be read without a rerun.
      console.log(`database cut (${mode}) failed; leases: ${JSON.stringify([...(await owners(pool))])}`);
      for (const w of ws) {
        const said = w.logs.filter((l) => (l["level"] as number) >= 40).slice(-12);
        console.log(
          `${w.name} (exit ${w.child.exitCode ?? w.child.signalCode ?? "running"}): ${JSON.stringify(said)}\n` +
            w.stderr.slice(-1500),
        );
      }
      throw err;
    } finally {
      // A failed run must not leave its workers claiming the next test's streams.
      await stopAll(ws);
    }
  }

  it("silent drop: the cut worker stops before its leases end, the others take over, its late writes are refused", async () => {
    await cut("drop");
  }, 180_000);

  it("reset: the cut worker stops before its leases end and the others take over", async () => {
    await cut("reset");
  }, 180_000);
});
