/**
 * The fleet's one clock for timestamps: the database's. Safety never depends on it (leases
 * are judged by the database's `now()` and the worker's monotonic clock only, docs/fleet.md);
 * it exists so that an incident stamped by a worker whose wall clock is off (an hour, say)
 * is stored at the right time, and so that a new owner's "how long since the onset" never
 * subtracts one machine's wall clock from another's.
 *
 * Each renewal returns the database's `now()`; the offset to the local wall clock is taken
 * from the recent sample with the shortest round trip (its error is at most half of it).
 */
export interface ClockSample {
  /** Database time (ms since the epoch). */
  readonly dbMs: number;
  /** Local wall clock when the statement was sent and when its answer came. */
  readonly sentMs: number;
  readonly receivedMs: number;
}

const KEEP = 8;

export class SharedClock {
  readonly #samples: { offset: number; rtt: number }[] = [];
  readonly #wall: () => number;
  #offset = 0;

  constructor(wall: () => number = Date.now) {
    this.#wall = wall;
  }

  observe(s: ClockSample): void {
    const rtt = s.receivedMs - s.sentMs;
    if (!Number.isFinite(s.dbMs) || rtt < 0) return;
    this.#samples.push({ offset: s.dbMs - (s.sentMs + rtt / 2), rtt });
    if (this.#samples.length > KEEP) this.#samples.shift();
    let best = this.#samples[0]!;
    for (const x of this.#samples) if (x.rtt < best.rtt) best = x;
    this.#offset = best.offset;
  }

  /** Database time minus local wall time, ms (0 before the first sample). */
  get offsetMs(): number {
    return this.#offset;
  }

  now(): Date {
    return new Date(this.#wall() + this.#offset);
  }

  /** A local wall-clock ISO stamp on the database's clock. */
  shift(iso: string): string {
    const ms = Date.parse(iso);
    return Number.isFinite(ms) ? new Date(ms + this.#offset).toISOString() : iso;
  }
}
