import { describe, expect, it } from "vitest";
import type { ConditionEvent } from "../../src/detect/detector.js";
import {
  FaultOptionsSchema,
  hlsHealthDetector,
  transportHealthDetector,
} from "../../src/detect/fault-detector.js";
import { findDetector } from "../../src/detect/registry.js";
import { TsAnalyzer } from "../../src/ingest/ts-analyzer.js";
import { AUDIO_PID, chunks, cleanTimeline, serialize } from "../helpers/ts-builder.js";

function run(bytes: Uint8Array, seconds: number): ConditionEvent[] {
  const events: ConditionEvent[] = [];
  const det = transportHealthDetector.create(FaultOptionsSchema.parse({}), (e) => events.push(e));
  const a = new TsAnalyzer({ onFault: (f) => det.pushEvent!(f) });
  for (const c of chunks(bytes)) a.push(c);
  det.flush(seconds);
  return events;
}

describe("ts.health fault detector", () => {
  it("is registered with hls.health", () => {
    expect(findDetector("ts.health")).toBe(transportHealthDetector);
    expect(findDetector("hls.health")?.type).toBe("hls.health");
  });

  it("turns CC errors from 2 s to 4.5 s into one ts.continuity condition, and a later burst into another", () => {
    const pkts = cleanTimeline({ seconds: 14 }).map((p) =>
      p.pid === AUDIO_PID && ((p.t >= 2 && p.t < 4.5) || (p.t >= 10 && p.t < 10.2)) ? { ...p, cc: 3 } : p,
    );
    const events = run(serialize(pkts), 14);
    const ends = events.filter((e) => e.phase === "end").map((e) => e.condition);
    expect(events.every((e) => e.condition.type === "ts.continuity")).toBe(true);
    expect(ends).toHaveLength(2);
    expect(Math.abs(ends[0]!.start - 2)).toBeLessThanOrEqual(0.05);
    expect(ends[0]!.end!).toBeGreaterThanOrEqual(3.9);
    expect(ends[0]!.end!).toBeLessThanOrEqual(4.55);
    expect(ends[0]!.details["pids"]).toEqual([AUDIO_PID]);
    expect(ends[0]!.details["count"] as number).toBeGreaterThan(50);
    expect(Math.abs(ends[1]!.start - 10)).toBeLessThanOrEqual(0.05);
  });

  it("gives no condition on a clean mux", () => {
    expect(run(serialize(cleanTimeline({ seconds: 5 })), 5)).toEqual([]);
  });

  it("ignores fault types of other prefixes and listed types", () => {
    const events: ConditionEvent[] = [];
    const det = transportHealthDetector.create(FaultOptionsSchema.parse({ ignore: ["ts.pts-gap"] }), (e) =>
      events.push(e),
    );
    det.pushEvent!({ kind: "fault", at: 1, type: "hls.stale-playlist", message: "x" });
    det.pushEvent!({ kind: "fault", at: 1, type: "ts.pts-gap", message: "x" });
    det.flush(2);
    expect(events).toEqual([]);
  });

  it("hls.health: a stale playlist fault repeated within the hold is one condition, ended by a later event", () => {
    const events: ConditionEvent[] = [];
    const det = hlsHealthDetector.create(FaultOptionsSchema.parse({ holdSeconds: 3 }), (e) => events.push(e));
    det.pushEvent!({ kind: "fault", at: 10, type: "hls.stale-playlist", message: "unchanged 3 s" });
    det.pushEvent!({ kind: "fault", at: 12, type: "hls.stale-playlist", message: "unchanged 5 s" });
    det.pushEvent!({ kind: "connected", at: 16, url: "http://x" });
    det.flush(20);
    expect(events.map((e) => e.phase)).toEqual(["start", "update", "end"]);
    expect(events[2]!.condition).toMatchObject({
      type: "hls.stale-playlist",
      start: 10,
      end: 12,
      details: { count: 2, message: "unchanged 3 s", lastMessage: "unchanged 5 s" },
    });
  });
});
