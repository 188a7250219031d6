/**
 * The lease SQL against a real PostgreSQL: claims never overlap, every claim moves the epoch
 * on, expiry is the database's clock, release and revoke hand a stream over at once, and
 * pools and disabled streams are respected.
 */
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PgLeaseStore } from "../../src/fleet/pg-lease-store.js";
import { PostgresStore } from "../../src/store/postgres-store.js";
import { freshDatabase, pgSkipReason } from "./fleet-db.js";

const skip = pgSkipReason();
if (skip) console.warn(`pg-lease-store tests skipped: ${skip}`);

describe.skipIf(skip)("PgLeaseStore on PostgreSQL", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let pool: pg.Pool;
  let leases: PgLeaseStore;
  let store: PostgresStore;

  beforeAll(async () => {
    db = await freshDatabase("leases");
    pool = new pg.Pool({ connectionString: db.url, max: 8 });
    store = await PostgresStore.open(db.url); // the store's migrations make the tables
    leases = new PgLeaseStore(pool);
  });
  afterAll(async () => {
    await store?.close();
    await pool?.end();
    await db?.drop();
  });

  async function streams(n: number, pool_ = "default", prefix = "s"): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      ids.push(
        (
          await store.createStream({
            name: `${prefix}${i}-${Math.random()}`,
            url: "sim:x",
            profile: "default",
          })
        ).id,
      );
    }
    ids.sort();
    await leases.syncPools(new Map(ids.map((id) => [id, pool_])));
    return ids;
  }

  beforeEach(async () => {
    await pool.query(
      "DELETE FROM stream_leases; DELETE FROM incidents; DELETE FROM streams; DELETE FROM workers",
    );
  });

  it("concurrent claims never give one stream to two workers (SKIP LOCKED)", async () => {
    const ids = await streams(30);
    const claims = await Promise.all(["a", "b", "c", "d"].map((w) => leases.claim(w, "default", 10, 10_000)));
    const got = claims.flat().map((g) => g.streamId);
    expect(new Set(got).size).toBe(got.length);
    expect(got.length).toBe(30);
    expect(new Set(got)).toEqual(new Set(ids));
    expect(claims.flat().every((g) => g.epoch === 1)).toBe(true);
  });

  it("a lease expires by the database's clock; the next claim moves the epoch and the old fence is lost", async () => {
    const [id] = await streams(1);
    const [first] = await leases.claim("a", "default", 5, 300);
    expect(first).toMatchObject({ streamId: id, epoch: 1 });
    expect(await leases.claim("b", "default", 5, 10_000)).toEqual([]); // still held
    await new Promise((r) => setTimeout(r, 450));
    const [second] = await leases.claim("b", "default", 5, 10_000);
    expect(second).toMatchObject({ streamId: id, epoch: 2 });
    expect(await leases.renew("a", [first!], 10_000, new Map())).toEqual([]);
    expect(await leases.renew("b", [second!], 10_000, new Map([[id!, 0.25]]))).toEqual([
      { streamId: id, epoch: 2 },
    ]);
    expect(await leases.streamOwner(id!)).toEqual({ worker: "b", epoch: 2 });
  });

  it("an expired lease is not renewed even when nobody claimed it", async () => {
    const [id] = await streams(1);
    const [g] = await leases.claim("a", "default", 1, 200);
    await new Promise((r) => setTimeout(r, 300));
    expect(await leases.renew("a", [g!], 10_000, new Map())).toEqual([]);
    expect(await leases.streamOwner(id!)).toEqual({ worker: null, epoch: 1 });
  });

  it("release hands a stream over at once; revoke also moves the epoch", async () => {
    const [id] = await streams(1);
    const [g] = await leases.claim("a", "default", 1, 10_000);
    await leases.release("a", [g!]);
    const [g2] = await leases.claim("b", "default", 1, 10_000);
    expect(g2).toMatchObject({ streamId: id, epoch: 2 });
    await leases.revoke(id!);
    expect(await leases.streamOwner(id!)).toEqual({ worker: null, epoch: 3 });
    expect(await leases.renew("b", [g2!], 10_000, new Map())).toEqual([]);
    expect((await leases.claim("c", "default", 1, 10_000))[0]).toMatchObject({ epoch: 4 });
  });

  it("a worker claims only its pool's streams; a stream moved to another pool or disabled is lost at renewal", async () => {
    const radio = await streams(3, "radio", "r");
    const video = await streams(2, "default", "v");
    await leases.registerWorker({ name: "radio-1", pool: "radio", capacity: 10 });
    const got = await leases.claim("radio-1", "radio", 10, 10_000);
    expect(got.map((g) => g.streamId).sort()).toEqual(radio);
    expect(video.every((v) => !got.some((g) => g.streamId === v))).toBe(true);
    await pool.query("UPDATE streams SET enabled = false WHERE id = $1", [radio[0]]);
    await leases.syncPools(new Map([[radio[1]!, "default"]]));
    const kept = await leases.renew("radio-1", got, 10_000, new Map());
    expect(kept.map((f) => f.streamId)).toEqual([radio[2]]);
    // The disabled stream is claimed by nobody; the moved one by the default pool.
    const dflt = await leases.claim("video-1", "default", 10, 10_000);
    expect(dflt.map((g) => g.streamId).sort()).toEqual([radio[1], ...video].sort());
  });

  it("lists workers with their streams, load and last renewal; forgets silent ones", async () => {
    await streams(4);
    await leases.registerWorker({ name: "a", pool: "default", capacity: 3 });
    await leases.registerWorker({ name: "b", pool: "default", capacity: 5 });
    const g = await leases.claim("a", "default", 3, 10_000);
    await leases.renew("a", g, 10_000, new Map(g.map((f) => [f.streamId, 0.1])));
    const ws = await leases.listWorkers();
    expect(ws.map((w) => [w.name, w.streams, w.capacity])).toEqual([
      ["a", 3, 3],
      ["b", 0, 5],
    ]);
    expect(ws[0]!.load).toBeCloseTo(0.3, 6);
    expect(Date.parse(ws[0]!.lastRenewal)).not.toBeNaN();
    const view = await leases.poolView("default", 10_000);
    expect(view).toMatchObject({ total: 4, unowned: 1, measured: 3 });
    expect(view.totalLoad).toBeCloseTo(0.3, 6);
    await pool.query("UPDATE workers SET last_renewal = now() - interval '1 hour' WHERE name = 'b'");
    await leases.forgetWorkers(60_000);
    expect((await leases.listWorkers()).map((w) => w.name)).toEqual(["a"]);
  });
});
