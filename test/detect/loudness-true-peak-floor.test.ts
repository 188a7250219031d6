import { describe, expect, it } from "vitest";
import type { ConditionEvent } from "../../src/detect/detector.js";
import { LoudnessOptionsSchema, loudnessDetector } from "../../src/detect/loudness/loudness-detector.js";
import {
  LoudnessMeter,
  TRUE_PEAK_BOUND,
  type LoudnessStep,
} from "../../src/detect/loudness/loudness-meter.js";
import { rng } from "./synth.js";

const RATE = 48000;
const db = (v: number): number => 20 * Math.log10(v);
const lin = (d: number): number => Math.pow(10, d / 20);

/** Runs a gated and an ungated meter over the same blocks (interleaved stereo, given sizes). */
function both(
  samples: Float32Array,
  blockFrames: (k: number) => number,
  truePeakFloor: number,
): { gated: LoudnessStep[]; exact: LoudnessStep[]; g: LoudnessMeter; e: LoudnessMeter } {
  const gated: LoudnessStep[] = [];
  const exact: LoudnessStep[] = [];
  const g = new LoudnessMeter({ sampleRate: RATE, channels: 2, truePeakFloor, onStep: (s) => gated.push(s) });
  const e = new LoudnessMeter({ sampleRate: RATE, channels: 2, onStep: (s) => exact.push(s) });
  const frames = samples.length / 2;
  for (let f = 0, k = 0; f < frames; k++) {
    const n = Math.min(blockFrames(k), frames - f);
    const block = samples.subarray(f * 2, (f + n) * 2);
    g.push(block, f / RATE);
    e.push(block, f / RATE);
    f += n;
  }
  return { gated, exact, g, e };
}

/** Highest |sample| of each 100 ms step, over both channels. */
function stepSamplePeaks(samples: Float32Array): number[] {
  const stepFrames = RATE / 10;
  const out: number[] = [];
  for (let s = 0; (s + 1) * stepFrames * 2 <= samples.length; s++) {
    let m = 0;
    for (let j = s * stepFrames * 2; j < (s + 1) * stepFrames * 2; j++)
      m = Math.max(m, Math.abs(samples[j]!));
    out.push(m);
  }
  return out;
}

/** The classic inter-sample over: a sine at fs/4 sampled 45 degrees off its crests. */
function quarterRateSine(amplitude: number, n: number, out: Float32Array, from: number): void {
  for (let i = 0; i < n; i++) {
    const v = amplitude * Math.sin((Math.PI / 2) * i + Math.PI / 4);
    out[(from + i) * 2] = v;
    out[(from + i) * 2 + 1] = -v;
  }
}

describe("LoudnessMeter truePeakFloor", () => {
  it("derives the bound from the coefficient tables (+6.12 dB)", () => {
    expect(db(TRUE_PEAK_BOUND)).toBeCloseTo(6.12, 2);
  });

  it("measures an fs/4 sine at 45 degrees (sample peak below the floor, true peak above) exactly in every step", () => {
    const floor = -2;
    const samples = new Float32Array(RATE * 3 * 2);
    // 0.5 s far below the gate, then the over: the first loud run starts from carried history.
    quarterRateSine(lin(-40), RATE / 2, samples, 0);
    quarterRateSine(lin(-1.5), (RATE * 5) / 2, samples, RATE / 2);
    const { gated, exact, g, e } = both(samples, (k) => (k % 3 === 2 ? 7 : 1001), floor);
    const peaks = stepSamplePeaks(samples);
    expect(gated).toHaveLength(30);
    expect(exact).toHaveLength(30);
    for (let s = 5; s < 30; s++) {
      // The case the bound must catch: a gate on the sample peak alone would skip these steps.
      expect(db(peaks[s]!)).toBeLessThan(floor);
      expect(exact[s]!.truePeak).toBeGreaterThan(floor);
    }
    for (let s = 0; s < 30; s++) {
      if (s < 5) {
        // The lead-in is skipped: its steps report their sample peak.
        expect(gated[s]!.truePeak).toBe(db(peaks[s]!));
      } else {
        expect(Math.abs(gated[s]!.truePeak - exact[s]!.truePeak)).toBeLessThanOrEqual(1e-12);
      }
      expect(gated[s]!.momentary).toBe(exact[s]!.momentary);
    }
    expect(Math.abs(g.truePeak - e.truePeak)).toBeLessThanOrEqual(1e-12);
  });

  it("is exact at and above the floor when short bursts follow skipped runs (the history carried across runs)", () => {
    const floor = -6;
    const gate = lin(floor) / TRUE_PEAK_BOUND;
    const r = rng(7);
    const frames = RATE * 4;
    const samples = new Float32Array(frames * 2);
    for (let j = 0; j < samples.length; j++) samples[j] = (2 * r() - 1) * gate * 0.98;
    // One burst of 1 to 3 samples per 100 ms step, anywhere in it, in one channel or both.
    for (let s = 0; s < 40; s++) {
      const at = s * (RATE / 10) + Math.floor(r() * (RATE / 10 - 3));
      const len = 1 + Math.floor(r() * 3);
      for (let k = 0; k < len; k++) {
        for (let c = 0; c < 2; c++) {
          if (c === 1 && s % 2 === 0) continue;
          samples[(at + k) * 2 + c] = (r() < 0.5 ? -1 : 1) * (0.55 + 0.4 * r());
        }
      }
    }
    const sizes = rng(11);
    const { gated, exact } = both(samples, () => 1 + Math.floor(sizes() * 40), floor);
    const peaks = stepSamplePeaks(samples);
    expect(gated).toHaveLength(40);
    for (let s = 0; s < 40; s++) {
      expect(exact[s]!.truePeak).toBeGreaterThanOrEqual(floor);
      expect(Math.abs(gated[s]!.truePeak - exact[s]!.truePeak)).toBeLessThanOrEqual(1e-12);
      expect(gated[s]!.truePeak).toBeGreaterThanOrEqual(db(peaks[s]!));
    }
  });

  it("reports the sample peak far below the floor and leaves every loudness value bit-identical", () => {
    const r = rng(3);
    const frames = RATE * 12;
    const samples = new Float32Array(frames * 2);
    // Smoothed noise at about -30 dBFS whose level drifts, so integrated and LRA have work to do.
    let a = 0;
    let b = 0;
    for (let i = 0; i < frames; i++) {
      const level = lin(-30 + 8 * Math.sin((2 * Math.PI * i) / (RATE * 5)));
      a = 0.7 * a + 0.3 * (2 * r() - 1);
      b = 0.7 * b + 0.3 * (2 * r() - 1);
      samples[i * 2] = level * a;
      samples[i * 2 + 1] = level * b;
    }
    const { gated, exact, g, e } = both(samples, (k) => (k % 2 === 0 ? 1024 : 333), -1);
    const peaks = stepSamplePeaks(samples);
    expect(gated).toHaveLength(120);
    let below = 0;
    for (let s = 0; s < 120; s++) {
      expect(gated[s]!.truePeak).toBe(db(peaks[s]!));
      expect(gated[s]!.truePeak).toBeLessThanOrEqual(exact[s]!.truePeak);
      if (gated[s]!.truePeak < exact[s]!.truePeak) below++;
      expect(gated[s]!.t).toBe(exact[s]!.t);
      expect(gated[s]!.momentary).toBe(exact[s]!.momentary);
      expect(gated[s]!.shortTerm).toBe(exact[s]!.shortTerm);
    }
    // The interpolation was really skipped: most steps' true peaks lie between samples.
    expect(below).toBeGreaterThan(60);
    expect(g.integrated).toBe(e.integrated);
    expect(g.loudnessRange).toBe(e.loudnessRange);
    expect(g.loudnessRange).toBeGreaterThan(1);
    expect(g.integratedOver(10)).toEqual(e.integratedOver(10));
    expect(g.momentary).toBe(e.momentary);
    expect(g.shortTerm).toBe(e.shortTerm);
    expect(g.truePeak).toBe(db(Math.max(...peaks)));
    expect(g.truePeak).toBeLessThan(-1 - 6);
  });
});

describe("audio.loudness with the gated meter", () => {
  it("opens audio.true-peak at 12 s for an inter-sample over whose samples stay 3 dB under the limit", () => {
    const events: ConditionEvent[] = [];
    const det = loudnessDetector.create(LoudnessOptionsSchema.parse({}), (ev) => events.push(ev));
    const total = RATE * 20;
    const samples = new Float32Array(total * 2);
    for (let i = 0; i < total; i++) {
      const v = lin(-23) * Math.sin((2 * Math.PI * 997 * i) / RATE);
      samples[i * 2] = v;
      samples[i * 2 + 1] = v;
    }
    // 20 ms at fs/4, true peak -0.5 dBTP, sample peak -3.5 dBFS (under -1 dBTP less the margin).
    quarterRateSine(lin(-0.5), RATE / 50, samples, RATE * 12);
    for (let f = 0; f < total; f += 1024) {
      const n = Math.min(1024, total - f);
      det.pushAudio!({
        pts: f / RATE,
        sampleRate: RATE,
        channels: 2,
        frames: n,
        samples: samples.slice(f * 2, (f + n) * 2),
      });
    }
    det.flush(total / RATE);
    const peaks = events.filter((ev) => ev.condition.type === "audio.true-peak");
    expect(peaks.map((ev) => ev.phase)).toEqual(["start", "end"]);
    const c = peaks[1]!.condition;
    expect(Math.abs(c.start - 12)).toBeLessThanOrEqual(0.1);
    const ungated = new LoudnessMeter({ sampleRate: RATE, channels: 2 });
    ungated.push(samples);
    expect(ungated.truePeak).toBeGreaterThan(-1);
    expect(c.details["truePeakDbtp"]).toBe(Math.round(ungated.truePeak * 100) / 100);
  });
});
