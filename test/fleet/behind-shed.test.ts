/**
 * A worker that falls behind live gives streams back to a worker with room, tells the pool it
 * holds fewer, and is not handed them back: two lease keepers on a real PostgreSQL, one of
 * them behind live whenever it holds more than 2 streams (a CPU that keeps 2 live).
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LeaseKeeper } from "../../src/fleet/lease-keeper.js";
import { PgLeaseStore } from "../../src/fleet/pg-lease-store.js";
import { PostgresStore } from "../../src/store/postgres-store.js";
import { freshDatabase, pgSkipReason } from "./fleet-db.js";

const skip = pgSkipReason();
if (skip) console.warn(`behind-shed tests skipped: ${skip}`);

// Quick claims and rebalancing; the leases themselves as in production (10 s), so that a
// loaded test machine's stalls cannot make a keeper drop a stream for a missed renewal.
const TIMING = { claimEveryMs: 200, rebalanceEveryMs: 400, behindCapMs: 60_000 };

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(skip)("a worker behind live", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let pool: pg.Pool;
  let store: PostgresStore;

  beforeAll(async () => {
    db = await freshDatabase("behind");
    pool = new pg.Pool({ connectionString: db.url, max: 8 });
    store = await PostgresStore.open(db.url);
  });
  afterAll(async () => {
    await store?.close();
    await pool?.end();
    await db?.drop();
  });

  it("gives streams back until it keeps up, and the pool does not hand them back", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push((await store.createStream({ name: `s${i}`, url: "sim:x", profile: "default" })).id);
    }
    const leases = new PgLeaseStore(pool);
    await leases.syncPools(new Map(ids.map((id) => [id, "default"])));
    const logs: string[] = [];
    const keeper = (name: string, behindWhenMoreThan: number) => {
      const held = new Set<string>();
      const k = new LeaseKeeper({
        store: leases,
        name,
        pool: "default",
        capacity: 10,
        timing: TIMING,
        handlers: {
          acquired: (g) => void held.add(g.streamId),
          lost: (f) => {
            held.delete(f.streamId);
            return Promise.resolve();
          },
          cost: () => 0.1,
          busy: () => false,
          behind: () => (held.size > behindWhenMoreThan ? 20 : 0),
          log: (_level, message) => void logs.push(`${name}: ${message}`),
        },
      });
      return { k, held };
    };
    const a = keeper("a", 2);
    const b = keeper("b", Infinity);
    try {
      await a.k.start();
      await until("a to hold all 6", () => a.held.size === 6, 10_000);
      await b.k.start();
      await until("a to keep 2 and b to take 4", () => a.held.size === 2 && b.held.size === 4, 15_000);
      expect(
        logs.filter((l) => l.startsWith("a: giving a stream back: this worker is behind live")),
      ).toHaveLength(4);
      const capacity = await pool.query<{ name: string; capacity: number }>(
        "SELECT name, capacity FROM workers ORDER BY name",
      );
      expect(capacity.rows).toEqual([
        { name: "a", capacity: 2 },
        { name: "b", capacity: 10 },
      ]);
      // Many rebalance periods later: nothing moved back (by cost alone, 6 streams would be
      // shared 3 and 3, and a would fall behind again).
      const sizes: string[] = [];
      for (let t = 0; t < 20; t++) {
        await new Promise((r) => setTimeout(r, 200));
        sizes.push(`${a.held.size}/${b.held.size}`);
      }
      expect(new Set(sizes)).toEqual(new Set(["2/4"]));
    } finally {
      a.k.close();
      b.k.close();
    }
  }, 60_000);
});
