/**
 * The lease port on PostgreSQL (docs/fleet.md). Every judgement of time is the database's
 * own `now()`: a lease is held while `expires_at > now()`, and a worker's wall clock never
 * enters a statement. Claims take rows with `FOR UPDATE SKIP LOCKED`, so workers polling at
 * once never wait on each other or take the same stream; each claim increments the stream's
 * epoch, which fences every write the previous owner may still attempt.
 *
 * Tables (created by the store's migrations):
 *   workers(name PK, pool, capacity, load, last_renewal)
 *   stream_leases(stream_id PK → streams, pool, worker, epoch, expires_at, load)
 */
import type pg from "pg";
import type { ClockSample } from "./shared-clock.js";
import type {
  Fence,
  LeaseGrant,
  LeasePort,
  StreamOwner,
  WorkerInfo,
  WorkerRegistration,
} from "../store/lease-port.js";

/** What a worker needs to place itself: its pool's workers and what nobody runs. */
export interface PoolView {
  readonly workers: readonly WorkerInfo[];
  /** Enabled streams of the pool that nobody holds. */
  readonly unowned: number;
  /** Their last measured cost (0 for streams never measured). */
  readonly unownedLoad: number;
  /** Enabled streams of the pool, held or not. */
  readonly total: number;
  /** Their last measured cost sum and how many were measured. */
  readonly totalLoad: number;
  readonly measured: number;
}

/** A lease is for whole milliseconds; the database adds it to its own clock. */
const MS = "* interval '1 millisecond'";

export class PgLeaseStore implements LeasePort {
  readonly #pool: pg.Pool;
  readonly #registrations = new Map<string, WorkerRegistration>();
  /** Statements sent, for the benchmark's queries per second. */
  queries = 0;

  readonly #onClock: ((s: ClockSample) => void) | undefined;

  /** `onClock` receives the database's time with each renewal (see shared-clock.ts). */
  constructor(pool: pg.Pool, onClock?: (s: ClockSample) => void) {
    this.#pool = pool;
    this.#onClock = onClock;
  }

  async #query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    this.queries++;
    return this.#pool.query<R>(text, values);
  }

  async registerWorker(worker: WorkerRegistration): Promise<void> {
    this.#registrations.set(worker.name, worker);
    const sentMs = Date.now();
    const r = await this.#query<{ db_ms: number }>(
      `INSERT INTO workers (name, pool, capacity, load, last_renewal, live_url) VALUES ($1, $2, $3, 0, now(), $4)
       ON CONFLICT (name) DO UPDATE SET pool = EXCLUDED.pool, capacity = EXCLUDED.capacity,
         live_url = EXCLUDED.live_url, last_renewal = now()
       RETURNING extract(epoch FROM now())::float8 * 1000 AS db_ms`,
      [worker.name, worker.pool, worker.capacity, worker.liveUrl ?? null],
    );
    const first = r.rows[0];
    if (first) this.#onClock?.({ dbMs: Number(first.db_ms), sentMs, receivedMs: Date.now() });
  }

  async claim(worker: string, pool: string, max: number, leaseMs: number): Promise<readonly LeaseGrant[]> {
    if (max <= 0) return [];
    // The costliest known streams first: large items first packs bins best, and a stream
    // whose cost is unknown (0) is taken last, when the known load is already placed.
    const r = await this.#query<{ stream_id: string; epoch: string }>(
      `WITH picked AS (
         SELECT l.stream_id FROM stream_leases l JOIN streams s ON s.id = l.stream_id
         WHERE l.pool = $2 AND s.enabled AND (l.expires_at IS NULL OR l.expires_at <= now())
         ORDER BY l.load DESC, l.stream_id
         LIMIT $3
         FOR UPDATE OF l SKIP LOCKED
       )
       UPDATE stream_leases l SET worker = $1, epoch = l.epoch + 1, expires_at = now() + $4 ${MS}
       FROM picked WHERE l.stream_id = picked.stream_id
       RETURNING l.stream_id, l.epoch`,
      [worker, pool, max, leaseMs],
    );
    return r.rows.map((row) => ({ streamId: row.stream_id, epoch: Number(row.epoch), leaseMs }));
  }

  async renew(
    worker: string,
    fences: readonly Fence[],
    leaseMs: number,
    load: ReadonlyMap<string, number>,
  ): Promise<readonly Fence[]> {
    const reg = this.#registrations.get(worker);
    let total = 0;
    for (const f of fences) total += load.get(f.streamId) ?? 0;
    // One round trip: the leases still held at these epochs (unexpired, same pool, stream
    // still enabled) are extended, and the worker's row says it is alive. A stream that was
    // disabled, moved to another pool or taken over is missing from the answer: lost.
    const sentMs = Date.now();
    const r = await this.#query<{ stream_id: string | null; epoch: string | null; db_ms: number }>(
      `WITH wanted AS (
         SELECT * FROM unnest($2::text[], $3::bigint[], $4::float8[]) AS v(stream_id, epoch, load)
       ), renewed AS (
         UPDATE stream_leases l
         SET expires_at = now() + $5 ${MS}, load = CASE WHEN wanted.load > 0 THEN wanted.load ELSE l.load END
         FROM wanted, streams s
         WHERE l.stream_id = wanted.stream_id AND l.epoch = wanted.epoch AND l.worker = $1
           AND l.expires_at > now() AND s.id = l.stream_id AND s.enabled
           AND l.pool = COALESCE($7, l.pool)
         RETURNING l.stream_id, l.epoch
       ), alive AS (
         INSERT INTO workers (name, pool, capacity, load, last_renewal, live_url)
         VALUES ($1, COALESCE($7, 'default'), $8, $6, now(), $9)
         ON CONFLICT (name) DO UPDATE SET load = EXCLUDED.load, last_renewal = now()
       )
       SELECT r.stream_id, r.epoch, extract(epoch FROM now())::float8 * 1000 AS db_ms
       FROM (SELECT 1) AS one LEFT JOIN renewed r ON true`,
      [
        worker,
        fences.map((f) => f.streamId),
        fences.map((f) => f.epoch),
        fences.map((f) => load.get(f.streamId) ?? 0),
        leaseMs,
        total,
        reg?.pool ?? null,
        reg?.capacity ?? 0,
        reg?.liveUrl ?? null,
      ],
    );
    // Always one row (the database's time), with a null stream when nothing was renewed.
    const first = r.rows[0];
    if (first) this.#onClock?.({ dbMs: Number(first.db_ms), sentMs, receivedMs: Date.now() });
    return r.rows.flatMap((row) =>
      row.stream_id === null ? [] : [{ streamId: row.stream_id, epoch: Number(row.epoch) }],
    );
  }

  async release(worker: string, fences: readonly Fence[]): Promise<void> {
    if (fences.length === 0) return;
    await this.#query(
      `UPDATE stream_leases l SET worker = NULL, expires_at = NULL
       FROM unnest($2::text[], $3::bigint[]) AS v(stream_id, epoch)
       WHERE l.stream_id = v.stream_id AND l.epoch = v.epoch AND l.worker = $1`,
      [worker, fences.map((f) => f.streamId), fences.map((f) => f.epoch)],
    );
  }

  async listWorkers(): Promise<readonly WorkerInfo[]> {
    return this.#workers(null, null);
  }

  async #workers(pool: string | null, aliveMs: number | null): Promise<readonly WorkerInfo[]> {
    const r = await this.#query<{
      name: string;
      pool: string;
      capacity: number;
      load: number;
      last_renewal: Date;
      streams: string;
    }>(
      `SELECT w.name, w.pool, w.capacity, w.load, w.last_renewal,
              count(l.stream_id) FILTER (WHERE l.expires_at > now()) AS streams
       FROM workers w LEFT JOIN stream_leases l ON l.worker = w.name
       WHERE ($1::text IS NULL OR w.pool = $1)
         AND ($2::float8 IS NULL OR w.last_renewal > now() - $2 ${MS})
       GROUP BY w.name ORDER BY w.name`,
      [pool, aliveMs],
    );
    return r.rows.map((w) => ({
      name: w.name,
      pool: w.pool,
      capacity: w.capacity,
      streams: Number(w.streams),
      load: w.load,
      lastRenewal: w.last_renewal.toISOString(),
    }));
  }

  /**
   * The workers of a pool seen within `aliveMs` (database clock) and the pool's streams:
   * what placement needs, in two statements.
   */
  async poolView(pool: string, aliveMs: number): Promise<PoolView> {
    const workers = await this.#workers(pool, aliveMs);
    const s = await this.#query<{
      total: string;
      unowned: string;
      total_load: number | null;
      unowned_load: number | null;
      measured: string;
    }>(
      `SELECT count(*) AS total,
              count(*) FILTER (WHERE l.expires_at IS NULL OR l.expires_at <= now()) AS unowned,
              sum(l.load) AS total_load,
              sum(l.load) FILTER (WHERE l.expires_at IS NULL OR l.expires_at <= now()) AS unowned_load,
              count(*) FILTER (WHERE l.load > 0) AS measured
       FROM stream_leases l JOIN streams s ON s.id = l.stream_id
       WHERE l.pool = $1 AND s.enabled`,
      [pool],
    );
    const row = s.rows[0];
    return {
      workers,
      unowned: Number(row?.unowned ?? 0),
      unownedLoad: row?.unowned_load ?? 0,
      total: Number(row?.total ?? 0),
      totalLoad: row?.total_load ?? 0,
      measured: Number(row?.measured ?? 0),
    };
  }

  async streamOwner(streamId: string): Promise<StreamOwner> {
    const r = await this.#query<{ worker: string | null; epoch: string }>(
      `SELECT CASE WHEN expires_at > now() THEN worker END AS worker, epoch
       FROM stream_leases WHERE stream_id = $1`,
      [streamId],
    );
    const row = r.rows[0];
    return row ? { worker: row.worker, epoch: Number(row.epoch) } : { worker: null, epoch: 0 };
  }

  /** Owners of many streams at once (the API's stream list). */
  async streamOwners(): Promise<ReadonlyMap<string, StreamOwner>> {
    const r = await this.#query<{ stream_id: string; worker: string | null; epoch: string }>(
      `SELECT stream_id, CASE WHEN expires_at > now() THEN worker END AS worker, epoch FROM stream_leases`,
      [],
    );
    return new Map(r.rows.map((row) => [row.stream_id, { worker: row.worker, epoch: Number(row.epoch) }]));
  }

  /** Each worker's live endpoint, for those that serve one. */
  async liveUrls(): Promise<ReadonlyMap<string, string>> {
    const r = await this.#query<{ name: string; live_url: string }>(
      "SELECT name, live_url FROM workers WHERE live_url IS NOT NULL",
      [],
    );
    return new Map(r.rows.map((row) => [row.name, row.live_url]));
  }

  async forgetWorkers(olderThanMs: number): Promise<void> {
    await this.#query(`DELETE FROM workers WHERE last_renewal < now() - $1 ${MS}`, [olderThanMs]);
  }

  /**
   * Gives every stream its pool (from its profile): new streams get a lease row, a stream
   * whose profile moved to another pool changes pool and is revoked (its holder's writes
   * and next renewal are refused; the new pool claims it at once). Called by `serve`, which
   * owns the configuration of profiles.
   */
  async syncPools(pools: ReadonlyMap<string, string>): Promise<void> {
    if (pools.size === 0) return;
    await this.#query(
      `INSERT INTO stream_leases (stream_id, pool)
       SELECT v.stream_id, v.pool FROM unnest($1::text[], $2::text[]) AS v(stream_id, pool)
       JOIN streams s ON s.id = v.stream_id
       ON CONFLICT (stream_id) DO UPDATE
         SET pool = EXCLUDED.pool, worker = NULL, expires_at = NULL, epoch = stream_leases.epoch + 1
       WHERE stream_leases.pool IS DISTINCT FROM EXCLUDED.pool`,
      [[...pools.keys()], [...pools.values()]],
    );
  }

  /**
   * Takes a stream from whoever holds it (its URL or profile changed, or it was stopped):
   * the epoch moves on, so the holder's next write and renewal are refused and it stops;
   * the next claim starts the stream afresh.
   */
  async revoke(streamId: string): Promise<void> {
    await this.#query(
      `UPDATE stream_leases SET worker = NULL, expires_at = NULL, epoch = epoch + 1 WHERE stream_id = $1`,
      [streamId],
    );
  }
}
