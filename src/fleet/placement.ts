/**
 * Placement by measured cost (docs/fleet.md, "placement"). Each worker decides for itself,
 * from the same view of its pool in the database: how many free streams to claim now, and
 * whether to give one of its own back so a less loaded worker can take it. No coordinator
 * assigns streams; the database's `SKIP LOCKED` claims settle races.
 *
 * A stream weighs its measured cost (CPU seconds per media second, reported with every
 * renewal and kept with the lease, so a new owner knows it before it measures); a stream
 * never measured weighs the pool's average (1 when nothing is measured yet: by count).
 * A worker's share is the pool's weight times its capacity over the pool's capacity.
 */
import { BEHIND_WARN_SECONDS } from "../service/behind-live.js";
import type { PoolView } from "./pg-lease-store.js";

export interface PlacementOptions {
  /** Most streams claimed in one poll: a joining worker fills up gradually. Default 25. */
  readonly claimBatch: number;
  /** Tolerance over the fair share before a worker stops claiming or gives back. Default 0.15. */
  readonly slack: number;
}

export const DEFAULT_PLACEMENT: PlacementOptions = Object.freeze({ claimBatch: 25, slack: 0.15 });

export interface Me {
  readonly name: string;
  readonly capacity: number;
  /** Measured cost per held stream (null when not measured yet). */
  readonly costs: readonly (number | null)[];
}

export interface PoolShares {
  readonly averageCost: number;
  /** My fair share of the pool's weight. */
  readonly target: number;
  readonly myLoad: number;
  /** The least loaded live worker other than me, and its load. */
  readonly lightest: { readonly name: string; readonly load: number } | null;
}

export function shares(me: Me, view: PoolView): PoolShares {
  const averageCost = view.measured > 0 ? view.totalLoad / view.measured : 1;
  const weigh = (c: number | null): number => (c !== null && c > 0 ? c : averageCost);
  const myLoad = me.costs.reduce<number>((a, c) => a + weigh(c), 0);
  const poolWeight = view.totalLoad + (view.total - view.measured) * averageCost;
  const others = view.workers.filter((w) => w.name !== me.name);
  const capacity = others.reduce((a, w) => a + w.capacity, 0) + me.capacity;
  const target = capacity > 0 ? (poolWeight * me.capacity) / capacity : poolWeight;
  let lightest: PoolShares["lightest"] = null;
  for (const w of others) {
    // A worker's own reported load counts its unmeasured streams as 0: weigh them.
    const load = Math.max(w.load, w.streams * (view.measured > 0 ? 0 : averageCost));
    if (w.streams < w.capacity && (lightest === null || load < lightest.load))
      lightest = { name: w.name, load };
  }
  return { averageCost, target, myLoad, lightest };
}

/** How many free streams to claim in this poll. */
export function claimCount(me: Me, view: PoolView, o: PlacementOptions = DEFAULT_PLACEMENT): number {
  if (view.unowned === 0) return 0;
  const free = me.capacity - me.costs.length;
  if (free <= 0) return 0;
  const s = shares(me, view);
  let n = Math.floor((s.target * (1 + o.slack) - s.myLoad) / s.averageCost);
  // Streams left over by rounding go to the least loaded worker, so none stays unowned.
  if (n <= 0 && (s.lightest === null || s.myLoad <= s.lightest.load)) n = 1;
  return Math.max(0, Math.min(n, o.claimBatch, free, view.unowned));
}

/**
 * The index of one stream to give back, or -1. Only a worker above its share gives back,
 * only when a live worker of the pool is lighter by at least twice the stream's weight (the
 * receiver ends no heavier than the giver, so streams never bounce), and one stream per call: the caller calls it
 * once per rebalance interval, so a joining worker takes streams over gradually.
 */
export function shedIndex(
  me: Me,
  view: PoolView,
  o: PlacementOptions = DEFAULT_PLACEMENT,
  avoid: ReadonlySet<number> = new Set(),
): number {
  const s = shares(me, view);
  if (s.lightest === null || s.myLoad <= s.target * (1 + o.slack)) return -1;
  const gap = s.myLoad - s.lightest.load;
  const weigh = (c: number | null): number => (c !== null && c > 0 ? c : s.averageCost);
  let best = -1;
  let bestScore = Infinity;
  me.costs.forEach((c, i) => {
    const w = weigh(c);
    // At most half the gap: afterwards the receiver is still no heavier than the giver.
    if (w > gap / 2) return;
    // The largest that fits evens the two best; streams in an incident only if nothing else.
    const score = gap / 2 - w + (avoid.has(i) ? 1e9 : 0);
    if (score < bestScore) {
      best = i;
      bestScore = score;
    }
  });
  return best;
}

/**
 * Behind live from this many seconds a stream is given back (the service's own warning,
 * behind-live.ts), and a worker with such a stream claims no more.
 */
export const BEHIND_SHED_SECONDS = BEHIND_WARN_SECONDS;

/**
 * The index of a stream to give back because this worker cannot keep its streams live, or
 * -1. A worker that falls `BEHIND_SHED_SECONDS` behind live on a stream has more work than its
 * CPU does in real time: it gives that stream back (the one furthest behind; streams in an
 * incident only if nothing else) for a worker with room to take over at live, one per
 * rebalance interval until it keeps up. Only when a live worker of the pool has room (where
 * every worker is full, moving a stream would only restart it), and only when at least half
 * its streams, and two or more, are that far behind.
 */
export function behindShedIndex(
  me: Me,
  view: PoolView,
  behind: readonly (number | null)[],
  avoid: ReadonlySet<number> = new Set(),
): number {
  const room = view.workers.some((w) => w.name !== me.name && w.streams < w.capacity);
  if (!room) return -1;
  // An overloaded CPU delays every stream it decodes. One stream behind among many that keep
  // up has a cause of its own (its source), which moving it would not cure.
  const late = behind.filter((s) => s !== null && s >= BEHIND_SHED_SECONDS).length;
  if (late < 2 || late * 2 < behind.length) return -1;
  let best = -1;
  let bestScore = -Infinity;
  behind.forEach((s, i) => {
    if (s === null || !(s >= BEHIND_SHED_SECONDS)) return;
    const score = s - (avoid.has(i) ? 1e9 : 0);
    if (score > bestScore) {
      best = i;
      bestScore = score;
    }
  });
  return best;
}
