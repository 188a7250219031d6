/**
 * The fleet's coordination port (DESIGN.md, "fleet"): whole streams are claimed by workers
 * under leases that carry a fencing epoch. The database is the only clock that judges
 * expiry (its own `now()`), so wall clocks are never compared across machines; a worker
 * keeps its own deadline on its monotonic clock from the moment it sent a renewal.
 *
 * Every write a worker makes for a stream carries its `Fence`; the store makes the write
 * conditional on that `(stream, epoch)` still being held, in the same statement, and
 * refuses it otherwise (`SQM_ERR_FENCED`). The embedded SQLite store runs one process and
 * has no leases: it accepts every write.
 */

/** What a worker proves with each write for a stream it owns. */
export interface Fence {
  readonly streamId: string;
  readonly epoch: number;
}

export interface WorkerRegistration {
  /** Unique per running worker process (e.g. `host-pid` or `--name`). */
  readonly name: string;
  /** The pool the worker serves; a stream's profile names its pool (default `default`). */
  readonly pool: string;
  /** Most streams it will run at once. */
  readonly capacity: number;
  /** Its live endpoint (thumbnails, recent measurements) for the API, when it serves one. */
  readonly liveUrl?: string | null;
}

export interface LeaseGrant extends Fence {
  /** Lease length the database granted, in milliseconds from the moment of the call. */
  readonly leaseMs: number;
}

export interface WorkerInfo {
  readonly name: string;
  readonly pool: string;
  readonly capacity: number;
  /** Streams it holds an unexpired lease on. */
  readonly streams: number;
  /** Measured load: sum of its streams' CPU seconds per media second. */
  readonly load: number;
  /** When the database last saw a renewal from it (database clock, ISO 8601). */
  readonly lastRenewal: string;
}

export interface StreamOwner {
  readonly worker: string | null;
  readonly epoch: number;
}

export interface LeasePort {
  /** Adds or refreshes the worker's row (name, pool, capacity). */
  registerWorker(worker: WorkerRegistration): Promise<void>;
  /**
   * Claims up to `max` runnable streams of the worker's pool that nobody holds (never held,
   * released, or expired by the database's clock), with `FOR UPDATE SKIP LOCKED`; each claim
   * increments the stream's epoch. Cheapest-first placement is the caller's choice of `max`.
   */
  claim(worker: string, pool: string, max: number, leaseMs: number): Promise<readonly LeaseGrant[]>;
  /**
   * Extends the leases the worker still holds at these epochs and records its load; returns
   * the fences still held (a fence missing from the answer was lost).
   */
  renew(
    worker: string,
    fences: readonly Fence[],
    leaseMs: number,
    load: ReadonlyMap<string, number>,
  ): Promise<readonly Fence[]>;
  /** Gives the streams up at once (drain), so another worker can claim them immediately. */
  release(worker: string, fences: readonly Fence[]): Promise<void>;
  listWorkers(): Promise<readonly WorkerInfo[]>;
  streamOwner(streamId: string): Promise<StreamOwner>;
  /** Removes workers not seen for `olderThanMs` (database clock). */
  forgetWorkers(olderThanMs: number): Promise<void>;
}
