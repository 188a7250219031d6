import { describe, expect, it } from "vitest";
import type { ConditionEvent } from "../../src/detect/detector.js";
import { LoudnessOptionsSchema, loudnessDetector } from "../../src/detect/loudness/loudness-detector.js";
import { findDetector } from "../../src/detect/registry.js";

const RATE = 48000;

interface Seen {
  readonly event: ConditionEvent;
  /** Media time of the audio being fed when the event came: how late the detector knew. */
  readonly at: number;
}

/**
 * Stereo 997 Hz sine whose level follows `levelDb(t)` (peak dBFS); for a stereo sine the
 * BS.1770 loudness is within 0.1 LU of its peak level in dBFS.
 */
function feed(
  seconds: number,
  levelDb: (t: number) => number,
  options: Record<string, unknown> = {},
  memory?: { recall?: readonly [unknown, number]; keep?: (m: unknown) => void },
): Seen[] {
  const seen: Seen[] = [];
  let at = 0;
  const det = loudnessDetector.create(LoudnessOptionsSchema.parse(options), (event) =>
    seen.push({ event, at }),
  );
  if (memory?.recall) det.recall!(...memory.recall);
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
    at = (start + frames) / RATE;
    det.pushAudio!({ pts: start / RATE, sampleRate: RATE, channels: 2, frames, samples });
  }
  det.flush(total / RATE);
  memory?.keep?.(det.memory!());
  return seen;
}

const loudness = (seen: Seen[]) => seen.filter((s) => s.event.condition.type === "audio.loudness");
const phases = (seen: Seen[]) => loudness(seen).filter((s) => s.event.phase !== "update");

describe("audio.loudness detector (programme loudness)", () => {
  it("is registered and declares audio.loudness and audio.true-peak", () => {
    expect(findDetector("audio.loudness")).toBe(loudnessDetector);
    expect(loudnessDetector.emits?.map((e) => e.type)).toEqual(["audio.loudness", "audio.true-peak"]);
  });

  it("gives no incident on compliant -23 LUFS audio for 2 minutes", () => {
    expect(feed(120, () => -23)).toEqual([]);
  });

  it("too-loud: a channel 10 LU above target from 20 s opens within 15 s, dated within 0.5 s, one incident", () => {
    const seen = phases(feed(60, (t) => (t >= 20 ? -13 : -23)));
    expect(seen.map((s) => s.event.phase)).toEqual(["start", "end"]);
    const start = seen[0]!;
    expect(start.event.condition.details["rule"]).toBe("too-loud");
    expect(start.event.condition.details["reason"]).toBe("loud");
    expect(start.event.condition.details["target"]).toBe(-23);
    expect(Math.abs(start.event.condition.start - 20)).toBeLessThanOrEqual(0.5);
    expect(start.at - 20).toBeLessThanOrEqual(15);
  });

  it("too-loud is not judged against the programme: 9 LU above target is not too loud within its first 50 s", () => {
    expect(phases(feed(50, () => -14))).toEqual([]);
  });

  it("off-target: a channel 6 LU under target from the start opens within 60 s, dated at the start", () => {
    const seen = phases(feed(90, () => -29));
    expect(seen[0]?.event.phase).toBe("start");
    expect(seen[0]!.event.condition.details["rule"]).toBe("off-target");
    expect(seen[0]!.event.condition.details["reason"]).toBe("quiet");
    expect(seen[0]!.at).toBeLessThanOrEqual(60);
    expect(seen[0]!.event.condition.start).toBeLessThanOrEqual(0.5);
    expect(seen).toHaveLength(2);
  });

  for (const step of [-6, 6]) {
    it(`off-target: a step of ${step} LU at 90 s opens within 60 s of it, dated within 5 s, one incident`, () => {
      const seen = phases(feed(200, (t) => (t >= 90 ? -23 + step : -23)));
      expect(seen.map((s) => s.event.phase)).toEqual(["start", "end"]);
      const c = seen[0]!.event.condition;
      expect(c.details["rule"]).toBe("off-target");
      expect(c.details["reason"]).toBe(step < 0 ? "quiet" : "loud");
      expect(seen[0]!.at - 90).toBeLessThanOrEqual(60);
      expect(Math.abs(c.start - 90)).toBeLessThanOrEqual(5);
    });
  }

  /**
   * A programme at target with quiet passages of 90 s, each deeper than the last (4, 6, then
   * 8 LU under: orchestral music does this), then a fault: the level falls 16 LU for good.
   */
  const deepening = (t: number): number =>
    t >= 120 && t < 210 ? -27 : t >= 330 && t < 420 ? -29 : t >= 540 && t < 630 ? -31 : t >= 750 ? -39 : -23;

  it("off-target learns the channel's own swing: passages that grew without an incident are not one, a fault beyond them still is", () => {
    const seen = phases(feed(900, deepening));
    // Only the fault: the 6 and 8 LU passages came after shallower ones had raised the limit.
    expect(seen.map((s) => s.event.phase)).toEqual(["start", "end"]);
    const c = seen[0]!.event.condition;
    expect(c.details["rule"]).toBe("off-target");
    expect(c.details["reason"]).toBe("quiet");
    expect(Math.abs(c.start - 750)).toBeLessThanOrEqual(5);
    expect(seen[0]!.at - 750).toBeLessThanOrEqual(60);
    // The limit it crossed had been raised to the cap by the 8 LU passage.
    expect(c.details["offTargetLimitLu"]).toBe(10);
    expect(c.details["horizonSeconds"]).toBe(60);
  });

  it("with fixed limits (adaptive: false) the 6 and 8 LU passages are incidents too", () => {
    const starts = phases(feed(900, deepening, { adaptive: false }))
      .filter((s) => s.event.phase === "start")
      .map((s) => s.event.condition.start);
    expect(starts).toHaveLength(3);
    expect(Math.abs(starts[0]! - 330)).toBeLessThanOrEqual(5);
    expect(Math.abs(starts[1]! - 540)).toBeLessThanOrEqual(5);
    expect(Math.abs(starts[2]! - 750)).toBeLessThanOrEqual(5);
  });

  it("a passage that was an incident is not learnt, and quiet swing does not hide a loud error", () => {
    // 8 LU under at once is an incident each time: no shallower passage led up to it.
    const repeated = (t: number): number => ((t >= 120 && t < 210) || (t >= 330 && t < 420) ? -31 : -23);
    const starts = phases(feed(480, repeated))
      .filter((s) => s.event.phase === "start")
      .map((s) => s.event.condition.start);
    expect(starts.map((t) => Math.round(t / 10) * 10)).toEqual([120, 330]);
    // After the 4 and 6 LU passages raised the quiet limit, a 6 LU loud step is reported as before.
    const loud = (t: number): number => (t >= 630 ? -17 : t >= 540 ? -23 : deepening(t));
    const seen = phases(feed(720, loud));
    expect(seen[0]!.event.condition.details["reason"]).toBe("loud");
    expect(Math.abs(seen[0]!.event.condition.start - 630)).toBeLessThanOrEqual(5);
    expect(seen[0]!.at - 630).toBeLessThanOrEqual(60);
  });

  describe("the learnt swing outlives the detector (a restart, another fleet worker)", () => {
    // The 4 and 6 LU passages of `deepening`, then back at target: the swing the channel showed.
    const learnt = (): unknown => {
      let m: unknown;
      feed(480, (t) => (t < 420 ? deepening(t) : -23), {}, { keep: (x) => (m = x) });
      return m;
    };
    /** 8 LU under at 120 s for 90 s, at once: an incident for a channel that has learnt nothing. */
    const passage = (t: number): number => (t >= 120 && t < 210 ? -31 : t >= 330 ? -39 : -23);
    const starts = (seen: Seen[]) =>
      phases(seen)
        .filter((s) => s.event.phase === "start")
        .map((s) => Math.round(s.event.condition.start / 10) * 10);

    it("memory() gives the swing per horizon and the seconds it counts for", () => {
      const m = learnt() as { quiet: number[]; loud: number[]; seconds: number };
      expect(m.seconds).toBe(1800);
      expect(m.quiet).toHaveLength(4);
      // The 6 LU passage, on the one-minute horizon.
      expect(m.quiet[0]).toBeGreaterThan(5.5);
      expect(m.quiet[0]).toBeLessThan(6.5);
    });

    it("recalled, a deeper passage is not an incident; the fault after it still is, within 60 s", () => {
      // Without the memory: the passage and the fault.
      expect(starts(feed(420, passage))).toEqual([120, 330]);
      const seen = feed(420, passage, {}, { recall: [learnt(), 120] });
      expect(starts(seen)).toEqual([330]);
      const fault = phases(seen).find((s) => s.event.phase === "start")!;
      expect(fault.at - 330).toBeLessThanOrEqual(60);
    });

    it("a memory older than swingMemorySeconds, of another shape, or with adaptive off is ignored", () => {
      const m = learnt();
      expect(starts(feed(420, passage, {}, { recall: [m, 1801] }))).toEqual([120, 330]);
      expect(starts(feed(420, passage, {}, { recall: [{ quiet: "6", loud: [0, 0, 0, 0] }, 0] }))).toEqual([
        120, 330,
      ]);
      expect(starts(feed(420, passage, { adaptive: false }, { recall: [m, 0] }))).toEqual([120, 330]);
    });

    it("a recalled swing counts down: re-saved without new learning, it keeps what was left", () => {
      let again: unknown;
      // At target throughout: nothing new learnt; 100 s of programme later it has 100 s less.
      feed(100, () => -23, {}, { recall: [learnt(), 300], keep: (x) => (again = x) });
      const left = (again as { seconds: number }).seconds;
      expect(left).toBeGreaterThan(1800 - 300 - 110);
      expect(left).toBeLessThanOrEqual(1800 - 300 - 90);
    });
  });

  it("jump: a 10 s passage 10 LU above a programme at -27 LUFS (an ad break) gives one jump incident, no off-target after it", () => {
    const seen = phases(feed(150, (t) => (t >= 70 && t < 80 ? -17 : -27)));
    expect(seen.map((s) => s.event.phase)).toEqual(["start", "end"]);
    const end = seen[1]!.event.condition;
    expect(end.details["rule"]).toBe("jump");
    expect(end.details["rules"]).toEqual(["jump"]);
    expect(end.details["programmeLufs"] as number).toBeCloseTo(-27, 0);
    expect(Math.abs(end.start - 70)).toBeLessThanOrEqual(0.5);
    expect(seen[0]!.at - 70).toBeLessThanOrEqual(6);
    // The short-term window still holds the passage for up to 3 s after it.
    expect(end.end!).toBeGreaterThan(79);
    expect(end.end!).toBeLessThan(84);
    expect(seen[1]!.at).toBeLessThan(85);
  });

  it("no judgement before enough programme: a jump in the first 55 s is not one (too-loud still applies)", () => {
    expect(phases(feed(40, (t) => (t >= 20 && t < 30 ? -18 : -27)))).toEqual([]);
  });

  it("ATSC A/85: -24 target; 2 dB under is fine, 6 dB under is off-target quiet", () => {
    expect(feed(90, () => -26, { preset: "atsc-a85" })).toEqual([]);
    const seen = phases(feed(90, () => -30, { preset: "atsc-a85" }));
    expect(seen[0]?.event.condition.details["reason"]).toBe("quiet");
    expect(seen[0]?.event.condition.details["target"]).toBe(-24);
  });

  it("reports a 5 ms true-peak over at 12 s as audio.true-peak with the peak in dBTP", () => {
    const seen = feed(30, (t) => (t >= 12 && t < 12.005 ? -0.2 : -23));
    expect(loudness(seen)).toEqual([]);
    const peaks = seen.filter((s) => s.event.condition.type === "audio.true-peak").map((s) => s.event);
    expect(peaks.map((e) => e.phase)).toEqual(["start", "end"]);
    const c = peaks[1]!.condition;
    expect(Math.abs(c.start - 12)).toBeLessThanOrEqual(0.1);
    expect(c.end! - c.start).toBeLessThanOrEqual(0.3);
    expect(c.details["truePeakDbtp"] as number).toBeCloseTo(-0.2, 0);
    expect(c.details["reason"]).toBe("true-peak");
  });

  it("rejects the removed sliding-window options with a clear message", () => {
    expect(LoudnessOptionsSchema.safeParse({ windowSeconds: 30 }).success).toBe(false);
    expect(LoudnessOptionsSchema.safeParse({ minProgrammeSeconds: 90 }).success).toBe(false);
  });
});
