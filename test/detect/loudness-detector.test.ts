import { describe, expect, it } from "vitest";
import type { ConditionEvent } from "../../src/detect/detector.js";
import { LoudnessOptionsSchema, loudnessDetector } from "../../src/detect/loudness/loudness-detector.js";
import { findDetector } from "../../src/detect/registry.js";

const RATE = 48000;

/**
 * Stereo 997 Hz sine whose level follows `levelDb(t)` (peak dBFS); for a stereo sine the
 * BS.1770 loudness is within 0.1 LU of its peak level in dBFS.
 */
function feed(
  seconds: number,
  levelDb: (t: number) => number,
  preset: "ebu-r128" | "atsc-a85" = "ebu-r128",
): ConditionEvent[] {
  const events: ConditionEvent[] = [];
  const det = loudnessDetector.create(LoudnessOptionsSchema.parse({ preset }), (e) => events.push(e));
  const block = 1024;
  const total = Math.round(seconds * RATE);
  for (let start = 0; start < total; start += block) {
    const frames = Math.min(block, total - start);
    const samples = new Float32Array(frames * 2);
    for (let i = 0; i < frames; i++) {
      const n = start + i;
      const v = Math.pow(10, levelDb(n / RATE) / 20) * Math.sin((2 * Math.PI * 997 * n) / RATE);
      samples[2 * i] = v;
      samples[2 * i + 1] = v;
    }
    det.pushAudio!({ pts: start / RATE, sampleRate: RATE, channels: 2, frames, samples });
  }
  det.flush(total / RATE);
  return events;
}

describe("audio.loudness detector", () => {
  it("is registered", () => {
    expect(findDetector("audio.loudness")).toBe(loudnessDetector);
  });

  it("gives no incident on compliant -23 LUFS audio", () => {
    expect(feed(60, () => -23)).toEqual([]);
  });

  it("reports a +10 LU section from 20 s to 40 s: onset within 0.2 s (dated back from the window to the momentary loudness), one loud incident", () => {
    const events = feed(70, (t) => (t >= 20 && t < 40 ? -13 : -23));
    const loud = events.filter((e) => e.condition.type === "audio.loudness");
    expect(loud[0]?.phase).toBe("start");
    const start = loud[0]!.condition;
    expect(start.details["reason"]).toBe("loud");
    expect(start.details["target"]).toBe(-23);
    expect(Math.abs(start.start - 20)).toBeLessThanOrEqual(0.2);
    const end = loud.filter((e) => e.phase === "end");
    expect(end).toHaveLength(1);
    // The 30 s window still holds loud audio after 40 s: the end lags, but comes before 70 s.
    expect(end[0]!.condition.end).toBeGreaterThan(40);
    expect(end[0]!.condition.end).toBeLessThan(70);
    expect(end[0]!.condition.details["lufs"] as number).toBeGreaterThan(-15);
    expect(events.filter((e) => e.condition.type === "audio.true-peak")).toEqual([]);
  });

  it("reports a quiet programme under ATSC A/85 as quiet, and -25 LUFS is compliant there", () => {
    expect(feed(30, () => -25, "atsc-a85")).toEqual([]);
    const events = feed(30, () => -30, "atsc-a85");
    expect(events[0]?.condition.details["reason"]).toBe("quiet");
    expect(events[0]?.condition.start).toBeLessThanOrEqual(3.5);
  });

  it("reports a 5 ms true-peak over at 12 s as audio.true-peak with the peak in dBTP", () => {
    const events = feed(30, (t) => (t >= 12 && t < 12.005 ? -0.2 : -23));
    expect(events.filter((e) => e.condition.type === "audio.loudness")).toEqual([]);
    const peaks = events.filter((e) => e.condition.type === "audio.true-peak");
    expect(peaks.map((e) => e.phase)).toEqual(["start", "end"]);
    const c = peaks[1]!.condition;
    expect(Math.abs(c.start - 12)).toBeLessThanOrEqual(0.1);
    expect(c.end! - c.start).toBeLessThanOrEqual(0.3);
    expect(c.details["truePeakDbtp"] as number).toBeCloseTo(-0.2, 0);
    expect(c.details["reason"]).toBe("true-peak");
  });
});
