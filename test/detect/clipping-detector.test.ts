import { describe, expect, it } from "vitest";
import { clippingDetector } from "../../src/detect/clipping-detector.js";
import { audio, harness, rng } from "./synth.js";

const TOL = 0.2;

function programme(r: () => number, gain = 1) {
  return (t: number, c: number) => {
    const x = gain * (0.3 * Math.sin(2 * Math.PI * 220 * t + c) + 0.1 * (r() * 2 - 1));
    // Hard clipping at full scale, as an overdriven converter does it.
    return x > 1 ? 1 : x < -1 ? -1 : x;
  };
}

function run(sample: (t: number, c: number) => number, to: number) {
  const h = harness(clippingDetector);
  for (const b of audio(0, to, sample)) h.detector.pushAudio?.(b);
  h.detector.flush(to);
  return h.conditions();
}

describe("audio.clipping", () => {
  it("reports 2 s of hard clipping with its onset and end", () => {
    const r = rng(1);
    const clean = programme(r);
    const hot = programme(r, 6);
    const found = run((t, c) => (t >= 3 && t < 5 ? hot(t, c) : clean(t, c)), 8);
    expect(found).toHaveLength(1);
    const [c] = found;
    expect(c?.type).toBe("audio.clipping");
    expect(Math.abs((c?.start ?? 0) - 3)).toBeLessThanOrEqual(TOL);
    expect(Math.abs((c?.end ?? 0) - 5)).toBeLessThanOrEqual(TOL);
    expect(c?.details["peak"]).toBe(1);
    expect(c?.details["clippedSamples"]).toBeGreaterThan(48_000);
  });

  it("does not report isolated full-scale peaks (single samples)", () => {
    const clean = programme(rng(2));
    // One sample at full scale every 10 ms: loud transients, not a flattened wave.
    expect(run((t, c) => (Math.round(t * 48_000) % 480 === 0 ? 1 : clean(t, c)), 6)).toEqual([]);
  });

  it("does not report a 0.2 s burst of clipping, nor clean sound", () => {
    const r = rng(3);
    const clean = programme(r);
    const hot = programme(r, 6);
    expect(run((t, c) => (t >= 2 && t < 2.2 ? hot(t, c) : clean(t, c)), 5)).toEqual([]);
    expect(run(clean, 5)).toEqual([]);
  });

  it("keeps one episode across gaps shorter than the hold and splits at longer ones", () => {
    const r = rng(4);
    const clean = programme(r);
    const hot = programme(r, 6);
    const clipped = (t: number) => (t >= 1 && t < 2) || (t >= 2.1 && t < 3) || (t >= 4 && t < 5);
    const found = run((t, c) => (clipped(t) ? hot(t, c) : clean(t, c)), 6);
    expect(found).toHaveLength(2);
    expect(Math.abs((found[0]?.start ?? 0) - 1)).toBeLessThanOrEqual(TOL);
    expect(Math.abs((found[0]?.end ?? 0) - 3)).toBeLessThanOrEqual(TOL);
    expect(Math.abs((found[1]?.start ?? 0) - 4)).toBeLessThanOrEqual(TOL);
  });

  it("closes clipping that lasts to the end of the input at its last clipped sample", () => {
    const r = rng(5);
    const clean = programme(r);
    const hot = programme(r, 6);
    const found = run((t, c) => (t >= 2 ? hot(t, c) : clean(t, c)), 4);
    expect(found).toHaveLength(1);
    expect(Math.abs((found[0]?.start ?? 0) - 2)).toBeLessThanOrEqual(TOL);
    expect(Math.abs((found[0]?.end ?? 0) - 4)).toBeLessThanOrEqual(0.01);
  });
});
