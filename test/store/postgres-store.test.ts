import { createServer } from "node:net";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { isStreamqcError } from "../../src/errors.js";
import { PostgresStore } from "../../src/store/postgres-store.js";
import { adminQuery, freshSchema, PG_SKIP_REASON, PG_URL } from "../helpers/postgres.js";
import { TcpCutProxy } from "../fleet/tcp-cut-proxy.js";
import { storeConformance } from "./store-conformance.js";

if (PG_URL === undefined) console.warn(`postgres-store: ${PG_SKIP_REASON}`);

const T0 = Date.parse("2026-01-01T00:00:00.000Z");

if (PG_URL !== undefined) {
  const url = PG_URL;
  storeConformance("postgres", async () => {
    const schema = await freshSchema("store");
    const store = await PostgresStore.open(url, { schema: schema.name, poolSize: 4 });
    return {
      store,
      async cleanup() {
        await store.close();
        await schema.drop();
      },
      async setLease(streamId, worker, epoch, ttlMs) {
        await adminQuery(
          `UPDATE ${schema.name}.stream_leases SET worker = $2, epoch = $3,
             expires_at = now() + make_interval(secs => $4::double precision / 1000) WHERE stream_id = $1`,
          [streamId, worker, epoch, ttlMs],
        );
      },
    };
  });
}

describe.skipIf(PG_URL === undefined)("PostgresStore", () => {
  const url = PG_URL!;
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  async function schema(): Promise<string> {
    const s = await freshSchema("pgs");
    cleanups.push(() => s.drop());
    return s.name;
  }
  async function open(
    name: string,
    options: Parameters<typeof PostgresStore.open>[1] = {},
  ): Promise<PostgresStore> {
    const store = await PostgresStore.open(url, { schema: name, poolSize: 3, ...options });
    cleanups.push(() => store.close());
    return store;
  }

  /** A store on `name` reached through the cut proxy, its lost connections expected. */
  async function openThrough(
    proxy: TcpCutProxy,
    name: string,
    options: Parameters<typeof PostgresStore.open>[1],
  ): Promise<PostgresStore> {
    const store = await PostgresStore.open(proxy.rewrite(url), {
      schema: name,
      poolSize: 2,
      onConnectionError: () => undefined,
      ...options,
    });
    cleanups.push(() => store.close());
    return store;
  }

  it("migrates once when processes open a new schema at the same time, with the fleet's tables", async () => {
    const name = await schema();
    const stores = await Promise.all([open(name), open(name), open(name)]);
    expect(await stores[0].schemaVersion()).toBe(PostgresStore.SCHEMA_VERSION);
    const applied = await adminQuery<{ version: number }>(
      `SELECT version, name FROM ${name}.schema_migrations ORDER BY version`,
    );
    expect(applied.rows.map((r) => r.version)).toEqual(
      Array.from({ length: PostgresStore.SCHEMA_VERSION }, (_, i) => i + 1),
    );
    const columns = await adminQuery<{
      table_name: string;
      column_name: string;
      data_type: string;
      is_nullable: string;
    }>(
      `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
       WHERE table_schema = $1 AND table_name IN ('workers', 'stream_leases') ORDER BY table_name, ordinal_position`,
      [name],
    );
    expect(
      columns.rows.map(
        (r) => `${r.table_name}.${r.column_name} ${r.data_type}${r.is_nullable === "NO" ? " not null" : ""}`,
      ),
    ).toEqual([
      "stream_leases.stream_id text not null",
      "stream_leases.pool text not null",
      "stream_leases.worker text",
      "stream_leases.epoch bigint not null",
      "stream_leases.expires_at timestamp with time zone",
      "stream_leases.load double precision not null",
      "workers.name text not null",
      "workers.pool text not null",
      "workers.capacity integer not null",
      "workers.load double precision not null",
      "workers.last_renewal timestamp with time zone not null",
      "workers.live_url text",
    ]);
  });

  it("refuses a schema written by a newer program", async () => {
    const name = await schema();
    await (await open(name)).close();
    await adminQuery(`INSERT INTO ${name}.schema_migrations (version, name) VALUES (999, 'future')`);
    const err: unknown = await PostgresStore.open(url, { schema: name }).catch((e: unknown) => e);
    expect(isStreamqcError(err, "SQM_ERR_STORE")).toBe(true);
    expect((err as Error).message).toMatch(
      new RegExp(`version 999, newer than this program \\(${PostgresStore.SCHEMA_VERSION}\\)`),
    );
  });

  it("gives every stream a lease row in the pool its profile names, unowned at epoch 0", async () => {
    const name = await schema();
    const store = await open(name);
    const a = await store.createStream({ name: "radio-1", url: "udp://x", profile: { pool: "audio" } });
    const b = await store.createStream({ name: "tv-1", url: "udp://y" });
    const leases = async () =>
      (
        await adminQuery<{ pool: string }>(
          `SELECT stream_id, pool, worker, epoch FROM ${name}.stream_leases ORDER BY pool`,
        )
      ).rows;
    expect(await leases()).toEqual([
      { stream_id: a.id, pool: "audio", worker: null, epoch: "0" },
      { stream_id: b.id, pool: "default", worker: null, epoch: "0" },
    ]);
    await store.updateStream(b.id, { profile: { pool: "video-full" } });
    expect((await leases()).map((r: { pool: string }) => r.pool)).toEqual(["audio", "video-full"]);
  });

  it("never hands the same delivery to two dispatchers claiming at once (FOR UPDATE SKIP LOCKED)", async () => {
    const name = await schema();
    const [s1, s2] = await Promise.all([open(name, { poolSize: 4 }), open(name, { poolSize: 4 })]);
    const stream = await s1.createStream({ name: "ch-1", url: "udp://x" });
    const expected: string[] = [];
    for (let i = 0; i < 40; i++) {
      const inc = await s1.recordIncident(
        {
          streamId: stream.id,
          type: "video.black",
          severity: "major",
          start: i,
          startedAt: new Date(T0 + i * 1000).toISOString(),
        },
        [{ event: "open", channel: "hook", payload: { i } }],
      );
      expected.push(`${inc.id}.open.hook`);
    }
    const now = new Date(Date.now() + 1000);
    const got: string[] = [];
    const dispatcher = async (store: PostgresStore): Promise<void> => {
      for (;;) {
        const batch = await store.claimDueDeliveries(now, 3, 60_000);
        if (batch.length === 0) return;
        got.push(...batch.map((d) => d.id));
      }
    };
    // Four claimers over two pools (eight connections) racing for the same rows.
    await Promise.all([dispatcher(s1), dispatcher(s2), dispatcher(s1), dispatcher(s2)]);
    expect(got).toHaveLength(40);
    expect(new Set(got)).toEqual(new Set(expected));
    const rows = await s2.listDeliveries({});
    expect(rows.every((d) => d.attempts === 1)).toBe(true);
  });

  it("survives the server dropping its connections: reports it, then reconnects", async () => {
    const name = await schema();
    const lost: Error[] = [];
    const app = `sqm-test-${name}`;
    const store = await open(name, { applicationName: app, onConnectionError: (e) => lost.push(e) });
    await store.createStream({ name: "ch-1", url: "udp://x" });
    // Idle connections killed by the server (as on a restart or a failover).
    const killed = await adminQuery(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
      [app],
    );
    expect(killed.rowCount).toBeGreaterThan(0);
    for (let i = 0; i < 50 && lost.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(lost.length).toBeGreaterThan(0);
    expect((await store.listStreams()).map((s) => s.name)).toEqual(["ch-1"]);
  });

  it("names the server, never the password, when it cannot connect", async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, "127.0.0.1", () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const err: unknown = await PostgresStore.open(`postgres://u:s3cret@127.0.0.1:${port}/db`).catch(
      (e: unknown) => e,
    );
    expect(isStreamqcError(err, "SQM_ERR_STORE")).toBe(true);
    expect((err as Error).message).toContain(`PostgreSQL at 127.0.0.1:${port}/db`);
    expect((err as Error).message).toMatch(/connection failed.*ECONNREFUSED/);
    expect((err as Error).message).not.toContain("s3cret");
    await expect(PostgresStore.open("mysql://x@y/z")).rejects.toSatisfy((e) =>
      isStreamqcError(e, "SQM_ERR_USAGE"),
    );
    await expect(PostgresStore.open(url, { schema: "x; DROP TABLE y" })).rejects.toSatisfy((e) =>
      isStreamqcError(e, "SQM_ERR_USAGE"),
    );
  });

  it("fails a statement on a server that went away with SQM_ERR_STORE, not a crash", async () => {
    // A loopback proxy to the real server, which then resets every connection.
    const target = new URL(url);
    const sockets = new Set<import("node:net").Socket>();
    const { connect } = await import("node:net");
    const proxy = createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      client.on("error", () => undefined);
      upstream.on("error", () => undefined);
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise((r) => proxy.close(r)));
    const proxied = new URL(url);
    proxied.port = String((proxy.address() as { port: number }).port);
    const name = await schema();
    const lost: Error[] = [];
    const store = await PostgresStore.open(proxied.toString(), {
      schema: name,
      poolSize: 2,
      connectTimeoutMs: 2000,
      onConnectionError: (e) => lost.push(e),
    });
    cleanups.push(() => store.close());
    await store.createStream({ name: "ch-1", url: "udp://x" });
    proxy.close();
    for (const s of sockets) s.resetAndDestroy();
    const err: unknown = await store.listStreams().catch((e: unknown) => e);
    expect(isStreamqcError(err, "SQM_ERR_STORE")).toBe(true);
    expect((err as Error).message).toMatch(/PostgreSQL at 127\.0\.0\.1:\d+\/postgres: connection failed/);
  });
  it("loses its connection in the middle of a transaction: SQM_ERR_STORE, no crash, then works again", async () => {
    // A checked-out connection has no 'error' listener of the pool's: a reset then used to
    // kill the process (an unhandled 'error' event) instead of failing the one call.
    const proxy = await TcpCutProxy.start(url);
    cleanups.push(() => proxy.close());
    const name = await schema();
    const store = await open(name, { poolSize: 2, connectTimeoutMs: 2000 });
    await store.createStream({ name: "ch-1", url: "udp://x" });
    const through = await openThrough(proxy, name, { connectTimeoutMs: 2000 });
    expect((await through.listStreams()).map((s) => s.name)).toEqual(["ch-1"]);
    // Silence first, so the transaction is under way on its connection; then the reset.
    proxy.set("drop");
    const pending = through.createStream({ name: "ch-2", url: "udp://y" }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    proxy.set("reset");
    const err = await pending;
    expect(isStreamqcError(err, "SQM_ERR_STORE")).toBe(true);
    proxy.set("forward");
    await through.createStream({ name: "ch-3", url: "udp://z" });
    expect((await store.listStreams()).map((s) => s.name).sort()).toEqual(["ch-1", "ch-3"]);
  });
  it("a session cut off inside a fenced write does not keep the lease from being claimed", async () => {
    // The fence check holds FOR SHARE on the lease row until COMMIT. When the network dies
    // silently after it, the server keeps that session (and the lock) until its TCP keepalive
    // notices, hours by default; claims (FOR UPDATE SKIP LOCKED) then pass that stream by.
    const proxy = await TcpCutProxy.start(url);
    cleanups.push(() => proxy.close());
    const name = await schema();
    const through = await openThrough(proxy, name, { statementTimeoutMs: 1000 });
    const ch = await through.createStream({ name: "ch-1", url: "udp://x" });
    await adminQuery(
      `UPDATE ${name}.stream_leases SET worker = 'w1', epoch = 3, expires_at = now() + interval '2 seconds'
       WHERE stream_id = $1`,
      [ch.id],
    );
    // Another session holds the incident's id, so the write waits there: after its fence check.
    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    cleanups.push(() => blocker.end());
    await blocker.query("BEGIN");
    await blocker.query(
      `INSERT INTO ${name}.incidents (id, stream_id, stream_name, type, severity, severity_rank, media_start,
         started_ms, details, alert_state, revision)
       VALUES ('inc-1', $1, 'ch-1', 'video.freeze', 'major', 2, 0, 0, '{}', 'queued', 0)`,
      [ch.id],
    );
    const write = through
      .recordIncident(
        {
          id: "inc-1",
          streamId: ch.id,
          type: "video.freeze",
          severity: "major",
          start: 1,
          startedAt: new Date().toISOString(),
        },
        [],
        { streamId: ch.id, epoch: 3 },
      )
      .catch((e: unknown) => e);
    const claimable = async (): Promise<boolean> =>
      (
        await adminQuery(
          `SELECT stream_id FROM ${name}.stream_leases WHERE stream_id = $1 AND expires_at <= now()
           FOR UPDATE SKIP LOCKED`,
          [ch.id],
        )
      ).rowCount === 1;
    for (let i = 0; i < 50; i++) {
      const r = await adminQuery<{ n: string }>(
        `SELECT count(*) AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid)
         WHERE a.state = 'active' AND NOT l.granted`,
      );
      if (Number(r.rows[0]?.n) > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    // The network goes silent; the write then finishes on the server, but nobody hears of it.
    proxy.set("drop");
    await blocker.query("ROLLBACK");
    // The lease runs out (2 s); within the statement limit after that, a claim must get it.
    const t0 = Date.now();
    let ok = false;
    while (!ok && Date.now() - t0 < 6000) {
      ok = await claimable();
      if (!ok) await new Promise((r) => setTimeout(r, 100));
    }
    expect(ok).toBe(true);
    proxy.set("forward");
    // The cut write never committed: it fails, and nothing of it is in the store.
    expect(isStreamqcError(await write, "SQM_ERR_STORE")).toBe(true);
    expect((await adminQuery(`SELECT id FROM ${name}.incidents`)).rows).toEqual([]);
  });
});
