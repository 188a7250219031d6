/**
 * The meter's optimised loops against a plain BS.1770-4 reference written here: K-weighting
 * as two direct-form biquads per channel, and true peak as a direct 48-tap convolution of the
 * zero-stuffed signal (4x oversampling, BS.1770-4 Annex 2), taps interleaved from the
 * standard's four phases written out in full.
 */
import { describe, expect, it } from "vitest";
import {
  LoudnessMeter,
  kWeightingFilters,
  type LoudnessStep,
} from "../../src/detect/loudness/loudness-meter.js";

const RATE = 48_000;
const STEP = RATE / 10;

const PHASES: readonly (readonly number[])[] = [
  [
    0.001708984375, 0.010986328125, -0.0196533203125, 0.033203125, -0.0594482421875, 0.1373291015625,
    0.97216796875, -0.102294921875, 0.047607421875, -0.026611328125, 0.014892578125, -0.00830078125,
  ],
  [
    -0.0291748046875, 0.029296875, -0.0517578125, 0.089111328125, -0.16650390625, 0.465087890625,
    0.77978515625, -0.2003173828125, 0.1015625, -0.0582275390625, 0.0330810546875, -0.0189208984375,
  ],
  [
    -0.0189208984375, 0.0330810546875, -0.0582275390625, 0.1015625, -0.2003173828125, 0.77978515625,
    0.465087890625, -0.16650390625, 0.089111328125, -0.0517578125, 0.029296875, -0.0291748046875,
  ],
  [
    -0.00830078125, 0.014892578125, -0.026611328125, 0.047607421875, -0.102294921875, 0.97216796875,
    0.1373291015625, -0.0594482421875, 0.033203125, -0.0196533203125, 0.010986328125, 0.001708984375,
  ],
];
/** The 48-tap filter: tap 4k + p is coefficient k of phase p. */
const TAPS = Array.from({ length: 48 }, (_, t) => PHASES[t % 4]![Math.floor(t / 4)]!);

interface RefStep {
  /** Linear true peak (max |sample| and |interpolated sample|) in the step. */
  readonly peak: number;
  /** Mean weighted square over 400 ms, or null before 4 steps. */
  readonly momentary: number | null;
  /** Mean weighted square over 3 s, or null before 30 steps. */
  readonly shortTerm: number | null;
}

function reference(pcm: Float32Array, channels: number, weights: readonly number[]): RefStep[] {
  const frames = pcm.length / channels;
  const { shelf, highPass } = kWeightingFilters(RATE);
  const weighted = new Float64Array(frames);
  const peaks = new Float64Array(frames);
  for (let c = 0; c < channels; c++) {
    const x = Float64Array.from({ length: frames }, (_, n) => pcm[n * channels + c]!);
    const y1 = new Float64Array(frames);
    const y2 = new Float64Array(frames);
    const at = (a: Float64Array, n: number): number => (n >= 0 ? a[n]! : 0);
    for (let n = 0; n < frames; n++) {
      y1[n] =
        shelf.b0 * x[n]! +
        shelf.b1 * at(x, n - 1) +
        shelf.b2 * at(x, n - 2) -
        shelf.a1 * at(y1, n - 1) -
        shelf.a2 * at(y1, n - 2);
      y2[n] =
        highPass.b0 * y1[n]! +
        highPass.b1 * at(y1, n - 1) +
        highPass.b2 * at(y1, n - 2) -
        highPass.a1 * at(y2, n - 1) -
        highPass.a2 * at(y2, n - 2);
      weighted[n]! += weights[c]! * y2[n]! * y2[n]!;
    }
    // Zero-stuffed input u[4n] = x[n]; output 4n + p is reported with input sample n.
    for (let n = 0; n < frames; n++) {
      let peak = Math.abs(x[n]!);
      for (let p = 0; p < 4; p++) {
        let acc = 0;
        for (let t = 0; t < 48; t++) {
          const u = 4 * n + p - t;
          if (u >= 0 && u % 4 === 0) acc += TAPS[t]! * x[u / 4]!;
        }
        peak = Math.max(peak, Math.abs(acc));
      }
      peaks[n] = Math.max(peaks[n]!, peak);
    }
  }
  const stepEnergy: number[] = [];
  const steps: RefStep[] = [];
  for (let s = 0; (s + 1) * STEP <= frames; s++) {
    let e = 0;
    let peak = 0;
    for (let n = s * STEP; n < (s + 1) * STEP; n++) {
      e += weighted[n]!;
      peak = Math.max(peak, peaks[n]!);
    }
    stepEnergy.push(e);
    const mean = (k: number): number | null =>
      stepEnergy.length < k ? null : stepEnergy.slice(-k).reduce((a, b) => a + b, 0) / (k * STEP);
    steps.push({ peak, momentary: mean(4), shortTerm: mean(30) });
  }
  return steps;
}

function measure(pcm: Float32Array, channels: number, blockFrames: () => number): LoudnessStep[] {
  const steps: LoudnessStep[] = [];
  const meter = new LoudnessMeter({ sampleRate: RATE, channels, onStep: (s) => steps.push(s) });
  const frames = pcm.length / channels;
  for (let f = 0; f < frames;) {
    const n = Math.min(frames - f, blockFrames());
    meter.push(pcm.subarray(f * channels, (f + n) * channels), f / RATE);
    f += n;
  }
  return steps;
}

function expectClose(actual: number, expected: number, what: string): void {
  expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(
    1e-9 * Math.abs(expected),
  );
}

function compare(
  pcm: Float32Array,
  channels: number,
  weights: readonly number[],
  blockFrames: () => number,
): void {
  const ref = reference(pcm, channels, weights);
  const got = measure(pcm, channels, blockFrames);
  expect(got.length).toBe(ref.length);
  expect(got.length).toBeGreaterThanOrEqual(30);
  got.forEach((step, k) => {
    const r = ref[k]!;
    expectClose(10 ** (step.truePeak / 20), r.peak, `true peak, step ${k}`);
    if (r.momentary === null) expect(step.momentary).toBe(-Infinity);
    else expectClose(10 ** ((step.momentary + 0.691) / 10), r.momentary, `momentary, step ${k}`);
    if (r.shortTerm === null) expect(step.shortTerm).toBeNaN();
    else expectClose(10 ** ((step.shortTerm + 0.691) / 10), r.shortTerm, `short-term, step ${k}`);
  });
}

/** Deterministic uniform numbers in [0, 1) (a 32-bit LCG), so failures reproduce. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("LoudnessMeter against a direct BS.1770-4 reference", () => {
  it("matches on stereo white noise fed in fixed blocks", () => {
    const rnd = lcg(1);
    const pcm = Float32Array.from({ length: 2 * RATE * 3.5 }, () => (rnd() * 2 - 1) * 0.5);
    compare(pcm, 2, [1, 1], () => 1024);
  });

  it("matches on a sine at fs/4 with a 45-degree phase, whose peaks fall between samples", () => {
    const pcm = Float32Array.from(
      { length: RATE * 3.2 },
      (_, n) => 0.9 * Math.sin((Math.PI / 2) * n + Math.PI / 4),
    );
    compare(pcm, 1, [1], () => 960);
    // Every sample is at 0.9 / sqrt(2) (-3 dB under the wave's peak): the true peak finds the over.
    const steps = measure(pcm, 1, () => 960);
    const last = steps[steps.length - 1]!;
    expect(20 * Math.log10(0.9 / Math.SQRT2)).toBeCloseTo(-3.925, 2);
    expect(last.truePeak).toBeGreaterThan(-3.925 + 2.5);
  });

  it("matches on 5.1 programme fed in blocks of random length, so runs end anywhere", () => {
    const rnd = lcg(7);
    const channels = 6;
    const frames = RATE * 3.3;
    const pcm = new Float32Array(frames * channels);
    for (let n = 0; n < frames; n++) {
      // A tone with a burst of noise every half second, different per channel.
      const burst = n % (RATE / 2) < RATE / 20 ? 0.6 : 0.02;
      for (let c = 0; c < channels; c++) {
        pcm[n * channels + c] =
          0.3 * Math.sin((2 * Math.PI * (440 + 97 * c) * n) / RATE) + burst * (rnd() * 2 - 1);
      }
    }
    const sizes = lcg(99);
    compare(pcm, channels, [1, 1, 1, 0, 1.41, 1.41], () => 1 + Math.floor(sizes() * 3000));
  });

  it("matches when each step's true peak comes from a window cut by a block boundary", () => {
    // The per-step peak hides most samples; here each step's peak is one interpolated sample
    // whose 12-tap window is the worst case for its phase (signs of the taps), and a block
    // ends inside that window, so every carried history slot and tap shows in the result.
    const rnd = lcg(3);
    const channels = 2;
    const frames = RATE * 3.4;
    const pcm = new Float32Array(frames * channels);
    for (let i = 0; i < pcm.length; i++) pcm[i] = 0.01 * (rnd() * 2 - 1);
    const cuts: number[] = [];
    for (let step = 0; (step + 1) * STEP <= frames; step++) {
      const m = step * STEP + 100 + Math.floor(rnd() * (STEP - 200));
      for (let k = 0; k < 12; k++) {
        pcm[(m - k) * channels] = 0.4 * Math.sign(PHASES[1]![k]!);
        pcm[(m - k) * channels + 1] = 0.4 * Math.sign(PHASES[0]![k]!);
      }
      cuts.push(m - Math.floor(rnd() * 12), m + 1 + Math.floor(rnd() * 500));
    }
    cuts.push(frames);
    const sizes = cuts.map((c, k) => c - (k === 0 ? 0 : cuts[k - 1]!));
    let next = 0;
    compare(pcm, channels, [1, 1], () => sizes[next++]!);
    next = 0;
    const steps = measure(pcm, channels, () => sizes[next++]!);
    // 0.4 times the sum of |phase 1 taps| (2.0), far above any sample (0.4).
    for (const step of steps) expect(10 ** (step.truePeak / 20)).toBeGreaterThan(0.75);
  });
});
