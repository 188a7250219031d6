/** Placement decisions from a pool view: by measured cost, gradually, without bouncing. */
import { describe, expect, it } from "vitest";
import type { PoolView } from "../../src/fleet/pg-lease-store.js";
import { BEHIND_SHED_SECONDS, behindShedIndex, claimCount, shedIndex } from "../../src/fleet/placement.js";
import type { WorkerInfo } from "../../src/store/lease-port.js";

const w = (name: string, streams: number, load: number, capacity = 100): WorkerInfo => ({
  name,
  pool: "default",
  capacity,
  streams,
  load,
  lastRenewal: "2026-01-01T00:00:00.000Z",
});

function view(p: Partial<PoolView>): PoolView {
  return { workers: [], unowned: 0, unownedLoad: 0, total: 0, totalLoad: 0, measured: 0, ...p };
}

describe("placement", () => {
  it("before anything is measured, streams are shared by count, a batch at a time", () => {
    const v = view({ workers: [w("a", 0, 0), w("b", 0, 0)], unowned: 100, total: 100 });
    expect(claimCount({ name: "a", capacity: 100, costs: [] }, v)).toBe(25); // batch limit
    expect(claimCount({ name: "a", capacity: 100, costs: [] }, v, { claimBatch: 100, slack: 0.1 })).toBe(55);
  });

  it("never beyond capacity; leftovers go to the least loaded worker", () => {
    const v = view({ workers: [w("a", 3, 0, 3), w("b", 3, 0)], unowned: 1, total: 7 });
    expect(claimCount({ name: "a", capacity: 3, costs: [null, null, null] }, v)).toBe(0);
    // b is at its share; a is full, so b (the lightest that can) takes the leftover.
    const v2 = view({ workers: [w("a", 3, 0), w("b", 3, 0)], unowned: 1, total: 7 });
    expect(
      claimCount({ name: "b", capacity: 100, costs: [null, null, null] }, v2, { claimBatch: 25, slack: 0 }),
    ).toBe(1);
  });

  it("balances by measured cost, not count: the worker with few expensive streams gives one back", () => {
    // a: 2 streams of 0.5; b: 8 streams of 0.05. Pool weight 1.4, share 0.7 each.
    const v = view({
      workers: [w("a", 2, 1.0), w("b", 8, 0.4)],
      total: 10,
      measured: 10,
      totalLoad: 1.4,
    });
    expect(shedIndex({ name: "a", capacity: 100, costs: [0.5, 0.5] }, v)).toBe(-1); // moving 0.5 into a 0.6 gap only flips it
    const v2 = view({ workers: [w("a", 4, 1.2), w("b", 8, 0.4)], total: 12, measured: 12, totalLoad: 1.6 });
    const i = shedIndex({ name: "a", capacity: 100, costs: [0.5, 0.3, 0.3, 0.1] }, v2);
    expect(i).toBe(1); // 0.3 is closest to half the 0.8 gap
    expect(shedIndex({ name: "b", capacity: 100, costs: Array(8).fill(0.05) as number[] }, v2)).toBe(-1);
    // Claiming follows the same measure: b has room by cost although it runs twice as many streams.
    const v3 = view({
      workers: [w("a", 4, 1.2), w("b", 8, 0.4)],
      total: 13,
      measured: 12,
      totalLoad: 1.6,
      unowned: 1,
    });
    expect(claimCount({ name: "a", capacity: 100, costs: [0.5, 0.3, 0.3, 0.1] }, v3)).toBe(0);
    expect(claimCount({ name: "b", capacity: 100, costs: Array(8).fill(0.05) as number[] }, v3)).toBe(1);
  });

  it("a joining worker gets streams back one at a time, streams in an incident last", () => {
    const v = view({ workers: [w("a", 10, 1), w("new", 0, 0)], total: 10, measured: 10, totalLoad: 1 });
    const costs = Array(10).fill(0.1) as number[];
    const busy = new Set([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(shedIndex({ name: "a", capacity: 100, costs }, v, undefined, busy)).toBe(9);
  });

  it("a worker behind live gives back the stream furthest behind, only when another worker has room", () => {
    const me = { name: "a", capacity: 10, costs: [0.1, 0.1, 0.1, 0.1] };
    const room = view({
      workers: [w("a", 4, 0.4, 10), w("b", 2, 0.2, 10)],
      total: 6,
      measured: 6,
      totalLoad: 0.6,
    });
    // Under the threshold, or not measured: nothing to give back.
    expect(behindShedIndex(me, room, [null, 2, BEHIND_SHED_SECONDS - 0.1, 0])).toBe(-1);
    expect(behindShedIndex(me, room, [12, 30, 15, null])).toBe(1);
    // Streams in an incident last.
    expect(behindShedIndex(me, room, [12, 30, 15, null], new Set([1]))).toBe(2);
    expect(behindShedIndex(me, room, [null, 30, 12, null], new Set([1]))).toBe(2);
    expect(behindShedIndex(me, room, [null, 30, 12, null], new Set([1, 2]))).toBe(1);
    // One stream behind among streams that keep up: its own cause (its source), not the CPU.
    expect(behindShedIndex(me, room, [null, 30, 0, 0])).toBe(-1);
    expect(behindShedIndex({ ...me, costs: [0.1] }, room, [30])).toBe(-1);
    // Every other worker full (or none): moving a stream would only restart it.
    const full = view({
      workers: [w("a", 4, 0.4, 10), w("b", 10, 1, 10)],
      total: 14,
      measured: 14,
      totalLoad: 1.4,
    });
    expect(behindShedIndex(me, full, [12, 30, 15, null])).toBe(-1);
    expect(behindShedIndex(me, view({ workers: [w("a", 4, 0.4, 10)] }), [12, 30, 15, null])).toBe(-1);
  });
});
