import { describe, expect, it } from "vitest";
import { silenceDetector } from "../../src/detect/silence-detector.js";
import { audio, harness, rng } from "./synth.js";

const TOL = 0.2;

/** About -20 dBFS: two tones and noise. */
function programme(r: () => number) {
  return (t: number, c: number) =>
    0.08 * Math.sin(2 * Math.PI * 220 * t) +
    0.05 * Math.sin(2 * Math.PI * (331 + c) * t) +
    0.05 * (r() * 2 - 1);
}

/** A noise floor around -75 dBFS RMS: below the threshold, though not digital zero. */
function floor(r: () => number) {
  return () => 0.0003 * (r() * 2 - 1);
}

/**
 * Quiet speech-like sound near -40 dBFS: syllables at 4 Hz, with a 0.8 s pause (digital
 * zero) every 2 s.
 */
function quietSpeech(r: () => number) {
  return (t: number) => {
    if (t % 2 >= 1.2) return 0;
    const envelope = 0.5 + 0.5 * Math.sin(2 * Math.PI * 4 * t);
    return 0.014 * envelope * (Math.sin(2 * Math.PI * 180 * t) + 0.5 * (r() * 2 - 1));
  };
}

function run(sample: (t: number, c: number) => number, to: number) {
  const h = harness(silenceDetector);
  for (const b of audio(0, to, sample)) h.detector.pushAudio?.(b);
  h.detector.flush(to);
  return h.conditions();
}

describe("audio.silence", () => {
  it("reports 3 s of silence (a noise floor below -60 dBFS) with sample-accurate onset and end", () => {
    const r = rng(1);
    const loud = programme(r);
    const quiet = floor(r);
    const found = run((t, c) => (t >= 4.013 && t < 7.013 ? quiet() : loud(t, c)), 10);
    expect(found).toHaveLength(1);
    const [c] = found;
    expect(c?.type).toBe("audio.silence");
    expect(Math.abs((c?.start ?? 0) - 4.013)).toBeLessThanOrEqual(0.01);
    expect(Math.abs((c?.end ?? 0) - 7.013)).toBeLessThanOrEqual(TOL);
    expect(c?.details["peakDbfs"]).toBeLessThan(-60);
    expect(c?.details["peakDbfs"]).toBeGreaterThan(-80);
  });

  it("counts 1.98 s of silence as 2 s (a codec smears the cut by up to a frame), but not 1.9 s", () => {
    const r = rng(3);
    const loud = programme(r);
    const quiet = floor(r);
    const short = (len: number) => run((t, c) => (t >= 3 && t < 3 + len ? quiet() : loud(t, c)), 8);
    expect(short(1.98).map((c) => c.type)).toEqual(["audio.silence"]);
    expect(short(1.9)).toHaveLength(0);
  });

  it("reports digital zero with a finite peak", () => {
    const loud = programme(rng(2));
    const found = run((t, c) => (t >= 2 && t < 5 ? 0 : loud(t, c)), 8);
    expect(found).toHaveLength(1);
    expect(found[0]?.details["peakDbfs"]).toBe(-150);
  });

  it("does not report quiet speech with pauses shorter than 1 s", () => {
    const speech = quietSpeech(rng(3));
    expect(run((t) => speech(t), 12)).toEqual([]);
  });

  it("does not report 1.2 s of silence, nor continuous sound", () => {
    const r = rng(4);
    const loud = programme(r);
    expect(run((t, c) => (t >= 3 && t < 4.2 ? 0 : loud(t, c)), 8)).toEqual([]);
    expect(run(loud, 8)).toEqual([]);
  });

  it("needs every channel below the threshold", () => {
    const loud = programme(rng(5));
    expect(run((t, c) => (t >= 2 && t < 6 && c === 0 ? 0 : loud(t, c)), 8)).toEqual([]);
  });

  it("closes silence that lasts to the end at flush", () => {
    const loud = programme(rng(6));
    const found = run((t, c) => (t >= 5 ? 0 : loud(t, c)), 9);
    expect(found).toHaveLength(1);
    expect(found[0]?.end).toBe(9);
  });

  it("ends silence where the audio stops arriving: a gap is not silence", () => {
    const h = harness(silenceDetector);
    for (const b of audio(0, 6, (t) => (t >= 1 ? 0 : 0.1))) h.detector.pushAudio?.(b);
    // Nothing from 6 s to 9 s, then silence again for one second.
    for (const b of audio(9, 10, () => 0)) h.detector.pushAudio?.(b);
    h.detector.flush(10);
    const found = h.conditions();
    expect(found).toHaveLength(1);
    expect(Math.abs((found[0]?.start ?? 0) - 1)).toBeLessThanOrEqual(0.01);
    expect(Math.abs((found[0]?.end ?? 0) - 6)).toBeLessThanOrEqual(0.03);
  });
});
