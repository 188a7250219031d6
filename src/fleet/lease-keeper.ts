/**
 * One worker's side of the lease protocol (docs/fleet.md): claim streams, renew them, and
 * give them up — on purpose (drain, rebalance) or because they can no longer be proved.
 *
 * Time here is the MONOTONIC clock only (performance.now). A lease's local deadline is the
 * moment its last successful renewal was SENT plus the lease, minus a safety margin: the
 * database started the lease no earlier than that moment, so the worker stops the stream
 * before the database can consider the lease expired and let another worker claim it,
 * whatever the worker's wall clock says and however long the renewal's answer took.
 */
import { performance } from "node:perf_hooks";
import { errorMessage } from "../errors.js";
import type { Fence, LeaseGrant } from "../store/lease-port.js";
import type { PgLeaseStore } from "./pg-lease-store.js";
import {
  BEHIND_SHED_SECONDS,
  behindShedIndex,
  claimCount,
  shedIndex,
  DEFAULT_PLACEMENT,
  type PlacementOptions,
} from "./placement.js";

export interface LeaseTiming {
  /** Lease length granted by the database. Default 10 000 ms. */
  readonly leaseMs: number;
  /** Renewal period. Default 3 000 ms (three tries before the local deadline). */
  readonly renewEveryMs: number;
  /** Poll for free streams. Default 1 000 ms. */
  readonly claimEveryMs: number;
  /** Stop this long before the lease could expire (decoders must be gone by then). Default 2 000 ms. */
  readonly safetyMs: number;
  /** At most one stream given back per this period. Default 5 000 ms. */
  readonly rebalanceEveryMs: number;
  /**
   * After giving a stream back for being behind live, claim no more streams than were left
   * for this long (the worker has shown what its CPU holds). Default 600 000 ms.
   */
  readonly behindCapMs: number;
}

export const DEFAULT_TIMING: LeaseTiming = Object.freeze({
  leaseMs: 10_000,
  renewEveryMs: 3_000,
  claimEveryMs: 1_000,
  safetyMs: 2_000,
  rebalanceEveryMs: 5_000,
  behindCapMs: 600_000,
});

/**
 * deadline: renewals failed until the local deadline; taken: a renewal found the lease gone
 * (expired, claimed by another, stream disabled or moved); fenced: the store refused a write;
 * drain and rebalance: given back on purpose.
 */
export type LossReason = "deadline" | "taken" | "fenced" | "drain" | "rebalance";

export interface LeaseHandlers {
  /** A stream was claimed: start it. */
  acquired(grant: LeaseGrant): void;
  /** A stream is no longer held (or about to be released): stop it now, write nothing more. */
  lost(fence: Fence, reason: LossReason): Promise<void>;
  /** The stream's measured CPU seconds per media second, null before it is known. */
  cost(streamId: string): number | null;
  /** Whether the stream has an open incident (such streams are moved last). */
  busy(streamId: string): boolean;
  /** How far the stream is behind live (behind-live.ts), null when not measured. */
  behind?(streamId: string): number | null;
  log(level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>): void;
}

export interface LeaseCounters {
  claims: number;
  losses: Record<LossReason, number>;
  renewFailures: number;
}

interface Held {
  readonly fence: Fence;
  /** Monotonic ms after which the stream must not run. */
  deadline: number;
}

export class LeaseKeeper {
  readonly #store: PgLeaseStore;
  readonly #name: string;
  readonly #pool: string;
  readonly #capacity: number;
  readonly #t: LeaseTiming;
  readonly #placement: PlacementOptions;
  readonly #h: LeaseHandlers;
  readonly #held = new Map<string, Held>();
  readonly #timers: NodeJS.Timeout[] = [];
  #inFlightRenewals = 0;
  #claiming = false;
  #lastRebalance = performance.now();
  /** After a stream was given back for being behind live: hold up to `streams` until `until`. */
  #behindCap: { streams: number; until: number } | null = null;
  #advertised: number;
  #liveUrl: string | null = null;
  #draining = false;
  #closed = false;
  readonly counters: LeaseCounters = {
    claims: 0,
    losses: { deadline: 0, taken: 0, fenced: 0, drain: 0, rebalance: 0 },
    renewFailures: 0,
  };

  constructor(options: {
    store: PgLeaseStore;
    name: string;
    pool: string;
    capacity: number;
    timing?: Partial<LeaseTiming>;
    placement?: Partial<PlacementOptions>;
    handlers: LeaseHandlers;
  }) {
    this.#store = options.store;
    this.#name = options.name;
    this.#pool = options.pool;
    this.#capacity = options.capacity;
    this.#advertised = options.capacity;
    this.#t = { ...DEFAULT_TIMING, ...options.timing };
    this.#placement = { ...DEFAULT_PLACEMENT, ...options.placement };
    this.#h = options.handlers;
    if (this.#t.renewEveryMs + this.#t.safetyMs >= this.#t.leaseMs) {
      throw new RangeError("renewEveryMs + safetyMs must be less than leaseMs");
    }
  }

  get timing(): LeaseTiming {
    return this.#t;
  }

  /** The fences held now. */
  fences(): readonly Fence[] {
    return [...this.#held.values()].map((h) => h.fence);
  }

  fenceOf(streamId: string): Fence | undefined {
    return this.#held.get(streamId)?.fence;
  }

  /** The capacity the pool was last told (registerWorker), below `capacity` after falling behind live. */
  async #advertise(capacity: number): Promise<void> {
    if (capacity === this.#advertised) return;
    await this.#store.registerWorker({
      name: this.#name,
      pool: this.#pool,
      capacity,
      liveUrl: this.#liveUrl,
    });
    this.#advertised = capacity;
  }

  /** Registers the worker (with its live endpoint, worker-live-server.ts) and starts its timers. */
  async start(liveUrl: string | null = null): Promise<void> {
    this.#liveUrl = liveUrl;
    await this.#store.registerWorker({
      name: this.#name,
      pool: this.#pool,
      capacity: this.#capacity,
      liveUrl,
    });
    const every = (ms: number, f: () => void): void => {
      const t = setInterval(f, ms);
      this.#timers.push(t);
    };
    every(this.#t.renewEveryMs, () => void this.#renew());
    every(this.#t.claimEveryMs, () => void this.#claimOrShed());
    // The deadline watchdog is independent of any database call: a renewal that hangs (a
    // partition that drops packets) cannot delay it.
    every(Math.min(250, this.#t.safetyMs / 4), () => this.#checkDeadlines());
    void this.#claimOrShed();
  }

  #checkDeadlines(): void {
    const now = performance.now();
    for (const [id, h] of this.#held) {
      if (now >= h.deadline) void this.#drop(id, "deadline");
    }
  }

  #drop(streamId: string, reason: LossReason): Promise<void> {
    const h = this.#held.get(streamId);
    if (!h) return Promise.resolve();
    this.#held.delete(streamId);
    this.counters.losses[reason]++;
    if (reason === "deadline" || reason === "taken" || reason === "fenced")
      this.#h.log("warn", "lease lost: stream stopped", { streamId, epoch: h.fence.epoch, reason });
    return this.#h.lost(h.fence, reason).catch((err: unknown) => {
      this.#h.log("error", "stopping a stream failed", { streamId, err: errorMessage(err) });
    });
  }

  async #renew(): Promise<void> {
    if (this.#closed || this.#inFlightRenewals >= 2) return;
    const sentAt = performance.now();
    const fences = this.fences();
    const load = new Map<string, number>();
    for (const f of fences) {
      const c = this.#h.cost(f.streamId);
      if (c !== null) load.set(f.streamId, c);
    }
    this.#inFlightRenewals++;
    try {
      const kept = await this.#store.renew(this.#name, fences, this.#t.leaseMs, load);
      const keptSet = new Set(kept.map((f) => `${f.streamId}#${f.epoch}`));
      for (const f of fences) {
        const h = this.#held.get(f.streamId);
        if (!h || h.fence.epoch !== f.epoch) continue; // dropped meanwhile: stays dropped
        if (keptSet.has(`${f.streamId}#${f.epoch}`)) {
          h.deadline = Math.max(h.deadline, sentAt + this.#t.leaseMs - this.#t.safetyMs);
        } else {
          void this.#drop(f.streamId, "taken");
        }
      }
    } catch (err) {
      this.counters.renewFailures++;
      this.#h.log("warn", "lease renewal failed", { err: errorMessage(err), held: fences.length });
    } finally {
      this.#inFlightRenewals--;
    }
  }

  async #claimOrShed(): Promise<void> {
    if (this.#closed || this.#draining || this.#claiming) return;
    this.#claiming = true;
    try {
      const now = performance.now();
      if (this.#behindCap !== null && now >= this.#behindCap.until) {
        this.#behindCap = null;
        this.#h.log("info", "claiming up to the configured capacity again", { capacity: this.#capacity });
      }
      // What the pool is told this worker holds: the others' placement weighs shares by it.
      await this.#advertise(this.#behindCap?.streams ?? this.#capacity);
      const view = await this.#store.poolView(this.#pool, this.#t.leaseMs);
      const ids = [...this.#held.keys()];
      const me = { name: this.#name, capacity: this.#advertised, costs: ids.map((id) => this.#h.cost(id)) };
      const behind = ids.map((id) => this.#h.behind?.(id) ?? null);
      const late = behind.some((b) => b !== null && b >= BEHIND_SHED_SECONDS);
      if (now - this.#lastRebalance >= this.#t.rebalanceEveryMs) {
        const busy = new Set<number>();
        ids.forEach((id, i) => {
          if (this.#h.busy(id)) busy.add(i);
        });
        const b = behindShedIndex(me, view, behind, busy);
        // Balancing by cost weighs this worker's share by its configured capacity: the lower
        // one advertised after falling behind live bounds what it claims, it is no reason to
        // give more streams away.
        const i = b >= 0 ? b : shedIndex({ ...me, capacity: this.#capacity }, view, this.#placement, busy);
        const id = i >= 0 ? ids[i] : undefined;
        if (id !== undefined) {
          this.#lastRebalance = now;
          const fence = this.#held.get(id)!.fence;
          if (b >= 0) {
            // Until `behindCapMs` has passed, hold no more than what is left, and say so to
            // the pool (else its placement would hand the stream straight back).
            this.#behindCap = { streams: ids.length - 1, until: now + this.#t.behindCapMs };
            await this.#advertise(ids.length - 1);
            this.#h.log("warn", "giving a stream back: this worker is behind live on it", {
              streamId: id,
              behindLiveSeconds: behind[i],
              capUntilMs: this.#t.behindCapMs,
            });
          } else {
            this.#h.log("info", "giving a stream back to balance load", { streamId: id });
          }
          await this.#drop(id, "rebalance");
          await this.#store.release(this.#name, [fence]);
          return;
        }
      }
      // Behind live on a stream: take on nothing more.
      if (late) return;
      const n = claimCount(me, view, this.#placement);
      if (n === 0) return;
      const sentAt = performance.now();
      const grants = await this.#store.claim(this.#name, this.#pool, n, this.#t.leaseMs);
      for (const g of grants) {
        if (this.#closed || this.#draining) {
          await this.#store.release(this.#name, [g]);
          continue;
        }
        this.counters.claims++;
        this.#held.set(g.streamId, {
          fence: { streamId: g.streamId, epoch: g.epoch },
          deadline: sentAt + g.leaseMs - this.#t.safetyMs,
        });
        this.#h.acquired(g);
      }
    } catch (err) {
      this.#h.log("warn", "claim failed", { err: errorMessage(err) });
    } finally {
      this.#claiming = false;
    }
  }

  /** Stops one stream now (a refused write, a stream that cannot start); `release` gives the lease back. */
  async lose(streamId: string, reason: LossReason, release = false): Promise<void> {
    const fence = this.#held.get(streamId)?.fence;
    if (!fence) return;
    await this.#drop(streamId, reason);
    if (!release) return;
    await this.#store.release(this.#name, [fence]).catch((err: unknown) => {
      this.#h.log("warn", "release failed: the lease will expire", { streamId, err: errorMessage(err) });
    });
  }

  /**
   * SIGTERM: stops claiming, stops every stream (their open incidents stay open for the next
   * owner to continue), then releases the leases so others claim them at their next poll.
   */
  async drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    const fences = this.fences();
    await Promise.all(fences.map((f) => this.#drop(f.streamId, "drain")));
    try {
      await this.#store.release(this.#name, fences);
    } catch (err) {
      // The leases then expire on their own; nothing was written after the stops.
      this.#h.log("warn", "release failed: leases will expire", { err: errorMessage(err) });
    }
  }

  /** Stops the timers (after drain, or to abandon the leases). Idempotent. */
  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers.length = 0;
  }
}
