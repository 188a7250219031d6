/**
 * ITU-R BS.1770-4 / EBU R128 loudness meter, incremental over interleaved Float32 PCM.
 *
 * The K-weighting filters are derived for the actual sample rate by the bilinear transform
 * (the method libebur128 and FFmpeg's af_ebur128 use), so 44.1 kHz and 32 kHz program is
 * measured without resampling. Energies are kept per 100 ms step: momentary (400 ms) and
 * short-term (3 s) are sums of the last 4 and 30 steps. Integrated loudness and loudness
 * range are gated from histograms of 0.01 LU bins, so memory stays constant on a live stream.
 *
 * True peak is the costliest part (a 12-tap FIR per phase per sample). With `truePeakFloor`
 * set, it is computed only for runs whose input could reach the floor: an interpolated sample
 * is a weighted sum of 12 inputs, so it cannot exceed their largest magnitude times
 * `TRUE_PEAK_BOUND`. Every true peak at or above the floor is then exact; below it, a step's
 * `truePeak` may be its sample peak instead (never above the true peak, always below the floor).
 */

/** BS.1770 stage 1 shelf and RLB high-pass, as (b0,b1,b2,a1,a2) for one sample rate. */
export interface Biquad {
  readonly b0: number;
  readonly b1: number;
  readonly b2: number;
  readonly a1: number;
  readonly a2: number;
}

export function kWeightingFilters(sampleRate: number): { readonly shelf: Biquad; readonly highPass: Biquad } {
  // Analogue prototype parameters fitted to the 48 kHz coefficients of BS.1770 (libebur128).
  let f0 = 1681.974450955533;
  const gainDb = 3.999843853973347;
  let q = 0.7071752369554196;
  let k = Math.tan((Math.PI * f0) / sampleRate);
  const vh = Math.pow(10, gainDb / 20);
  const vb = Math.pow(vh, 0.4996667741545416);
  let a0 = 1 + k / q + k * k;
  const shelf: Biquad = {
    b0: (vh + (vb * k) / q + k * k) / a0,
    b1: (2 * (k * k - vh)) / a0,
    b2: (vh - (vb * k) / q + k * k) / a0,
    a1: (2 * (k * k - 1)) / a0,
    a2: (1 - k / q + k * k) / a0,
  };
  f0 = 38.13547087602444;
  q = 0.5003270373238773;
  k = Math.tan((Math.PI * f0) / sampleRate);
  a0 = 1 + k / q + k * k;
  const highPass: Biquad = { b0: 1, b1: -2, b2: 1, a1: (2 * (k * k - 1)) / a0, a2: (1 - k / q + k * k) / a0 };
  return { shelf, highPass };
}

/**
 * BS.1770-4 Annex 2: 48-tap interpolating FIR for 4x oversampling, as four 12-tap phases;
 * phases 2 and 3 are phases 1 and 0 reversed, so only these two are stored.
 */
const TP_PHASE0 = Float64Array.of(
  0.001708984375,
  0.010986328125,
  -0.0196533203125,
  0.033203125,
  -0.0594482421875,
  0.1373291015625,
  0.97216796875,
  -0.102294921875,
  0.047607421875,
  -0.026611328125,
  0.014892578125,
  -0.00830078125,
);
const TP_PHASE1 = Float64Array.of(
  -0.0291748046875,
  0.029296875,
  -0.0517578125,
  0.089111328125,
  -0.16650390625,
  0.465087890625,
  0.77978515625,
  -0.2003173828125,
  0.1015625,
  -0.0582275390625,
  0.0330810546875,
  -0.0189208984375,
);
const TP_TAPS = 12;

/**
 * Largest gain of any phase for inputs bounded by 1: the sum of its |coefficients| (about
 * 2.022, +6.12 dB). Phases 2 and 3 mirror 1 and 0, so their sums are the same.
 */
function phaseGainBound(): number {
  let bound = 1;
  for (const phase of [TP_PHASE0, TP_PHASE1]) {
    let sum = 0;
    for (const c of phase) sum += Math.abs(c);
    if (sum > bound) bound = sum;
  }
  return bound;
}
export const TRUE_PEAK_BOUND = phaseGainBound();

/** BS.1770 channel weights for FFmpeg's default layouts by channel count (LFE gets 0). */
export function defaultChannelWeights(channels: number): Float64Array {
  const w = new Float64Array(channels).fill(1);
  if (channels === 5) {
    w[3] = 1.41;
    w[4] = 1.41;
  } else if (channels === 6) {
    // FFmpeg's 5.1 order: FL FR FC LFE BL/SL BR/SR.
    w[3] = 0;
    w[4] = 1.41;
    w[5] = 1.41;
  }
  return w;
}

const ABS_GATE = -70;
const HIST_MIN = -70;
const HIST_MAX = 10;
const HIST_GRAIN = 100;
const HIST_BINS = (HIST_MAX - HIST_MIN) * HIST_GRAIN + 1;

function energyToLufs(e: number): number {
  return e > 0 ? -0.691 + 10 * Math.log10(e) : -Infinity;
}
function lufsToEnergy(l: number): number {
  return Math.pow(10, (l + 0.691) / 10);
}
function bin(l: number): number {
  return Math.min(HIST_BINS - 1, Math.max(0, Math.round((l - HIST_MIN) * HIST_GRAIN)));
}

/** One 100 ms step of the meter, reported at its last sample. */
export interface LoudnessStep {
  /** Media seconds at the end of the step. */
  readonly t: number;
  /** LUFS over the last 400 ms (-Infinity for digital silence). */
  readonly momentary: number;
  /** LUFS over the last 3 s; NaN until 3 s were measured. */
  readonly shortTerm: number;
  /**
   * Highest true peak in this step, dBTP. With `truePeakFloor` set and the step's true peak
   * below that floor, it may be lower than the true peak (down to the step's sample peak).
   */
  readonly truePeak: number;
}

export interface LoudnessMeterOptions {
  readonly sampleRate: number;
  readonly channels: number;
  /** Per-channel weights; default: BS.1770 weights for FFmpeg's layout of that channel count. */
  readonly weights?: Float64Array;
  /** Seconds of momentary blocks kept for `integratedOver` (sliding integrated loudness). */
  readonly historySeconds?: number;
  /**
   * dBTP below which true peaks need not be exact. Runs of samples that provably stay below it
   * skip the 4x interpolation; their steps report the sample peak (a lower bound of the true
   * peak, itself below the floor). Every step and `truePeak` value at or above the floor is
   * exactly what the ungated meter gives. @defaultValue undefined (true peak always computed)
   */
  readonly truePeakFloor?: number;
  readonly onStep?: (step: LoudnessStep) => void;
}

export class LoudnessMeter {
  readonly sampleRate: number;
  readonly channels: number;
  private readonly weights: Float64Array;
  private readonly coef: Float64Array;
  /** Per channel: shelf x1,x2,y1,y2 then high-pass x1,x2,y1,y2. */
  private readonly state: Float64Array;
  private readonly stepFrames: number;
  private stepPos = 0;
  private stepEnergy = 0;
  private stepPeak = 0;
  /** Weighted sum of squares of the last 30 steps (ring). */
  private readonly steps = new Float64Array(30);
  private stepCount = 0;
  /** Momentary block energies for sliding integrated loudness (ring). */
  private readonly history: Float64Array;
  private historyCount = 0;
  /** Per history block: 1 when it passes the absolute gate (judged once, as it is added). */
  private readonly historyAudible: Uint8Array;
  private readonly blockHist = new Float64Array(HIST_BINS);
  private readonly blockHistN = new Uint32Array(HIST_BINS);
  private readonly stHist = new Uint32Array(HIST_BINS);
  /** Per channel: the last TP_TAPS input samples, newest first. */
  private readonly tpHistory: Float64Array;
  /** Input magnitude from which a run's interpolation could reach the floor (0: always). */
  private readonly tpGate: number;
  private maxTruePeak = 0;
  private readonly onStep: ((step: LoudnessStep) => void) | undefined;
  private lastMomentary = -Infinity;
  private lastShortTerm = NaN;

  constructor(options: LoudnessMeterOptions) {
    const { sampleRate, channels } = options;
    if (!(sampleRate > 0) || !Number.isInteger(channels) || channels < 1) {
      throw new RangeError(`invalid audio format: ${sampleRate} Hz, ${channels} channels`);
    }
    this.sampleRate = sampleRate;
    this.channels = channels;
    this.weights = options.weights ?? defaultChannelWeights(channels);
    const { shelf, highPass } = kWeightingFilters(sampleRate);
    this.coef = Float64Array.of(
      shelf.b0,
      shelf.b1,
      shelf.b2,
      shelf.a1,
      shelf.a2,
      highPass.b0,
      highPass.b1,
      highPass.b2,
      highPass.a1,
      highPass.a2,
    );
    this.state = new Float64Array(channels * 8);
    this.stepFrames = Math.round(sampleRate / 10);
    this.history = new Float64Array(Math.max(4, Math.ceil((options.historySeconds ?? 30) * 10)));
    this.historyAudible = new Uint8Array(this.history.length);
    this.tpHistory = new Float64Array(channels * TP_TAPS);
    // The FIR sums in a different order from the bound; the 1e-9 leaves room for its rounding.
    this.tpGate =
      options.truePeakFloor === undefined
        ? 0
        : Math.pow(10, options.truePeakFloor / 20) / (TRUE_PEAK_BOUND * (1 + 1e-9));
    this.onStep = options.onStep;
  }

  /** Feeds interleaved samples; `pts` (media seconds of the first frame) times the steps. */
  push(samples: Float32Array, pts = 0): void {
    const frames = Math.floor(samples.length / this.channels);
    let f = 0;
    while (f < frames) {
      // Run up to the next 100 ms boundary one channel at a time: filter state stays in locals.
      const end = Math.min(frames, f + this.stepFrames - this.stepPos);
      for (let i = 0; i < this.channels; i++) this.channelRun(samples, i, f, end);
      this.stepPos += end - f;
      f = end;
      if (this.stepPos === this.stepFrames) this.endStep(pts + f / this.sampleRate);
    }
  }

  private channelRun(samples: Float32Array, i: number, from: number, to: number): void {
    this.filterRun(samples, i, from, to);
    const gate = this.tpGate;
    if (gate > 0) {
      const ch = this.channels;
      const hist = this.tpHistory;
      const h = i * TP_TAPS;
      let m = 0;
      for (let k = h; k < h + TP_TAPS; k++) {
        const a = Math.abs(hist[k]!);
        if (a > m) m = a;
      }
      let runPeak = 0;
      const end = to * ch + i;
      for (let j = from * ch + i; j < end; j += ch) {
        const x = samples[j]!;
        const a = x < 0 ? -x : x;
        if (a > runPeak) runPeak = a;
      }
      if (m < gate && runPeak < gate) {
        if (runPeak > this.stepPeak) this.stepPeak = runPeak;
        this.carryHistory(samples, i, from, to);
        return;
      }
    }
    this.truePeakRun(samples, i, from, to);
  }

  /** Shifts the run's last inputs into the interpolation history, newest first. */
  private carryHistory(samples: Float32Array, i: number, from: number, to: number): void {
    const ch = this.channels;
    const hist = this.tpHistory;
    const h = i * TP_TAPS;
    const n = Math.min(to - from, TP_TAPS);
    hist.copyWithin(h + n, h, h + TP_TAPS - n);
    for (let k = 0; k < n; k++) hist[h + k] = samples[(to - 1 - k) * ch + i]!;
  }

  /** K-weighting and the run's energy, its filter state carried in locals. */
  private filterRun(samples: Float32Array, i: number, from: number, to: number): void {
    const ch = this.channels;
    const c = this.coef;
    const sb0 = c[0]!;
    const sb1 = c[1]!;
    const sb2 = c[2]!;
    const sa1 = c[3]!;
    const sa2 = c[4]!;
    const hb0 = c[5]!;
    const hb1 = c[6]!;
    const hb2 = c[7]!;
    const ha1 = c[8]!;
    const ha2 = c[9]!;
    const st = this.state;
    const s = i * 8;
    let x1 = st[s]!;
    let x2 = st[s + 1]!;
    let y11 = st[s + 2]!;
    let y12 = st[s + 3]!;
    let z1 = st[s + 4]!;
    let z2 = st[s + 5]!;
    let y21 = st[s + 6]!;
    let y22 = st[s + 7]!;
    let energy = 0;
    const end = to * ch + i;
    for (let j = from * ch + i; j < end; j += ch) {
      const x = samples[j]!;
      const y1 = sb0 * x + sb1 * x1 + sb2 * x2 - sa1 * y11 - sa2 * y12;
      x2 = x1;
      x1 = x;
      y12 = y11;
      y11 = y1;
      const y2 = hb0 * y1 + hb1 * z1 + hb2 * z2 - ha1 * y21 - ha2 * y22;
      z2 = z1;
      z1 = y1;
      y22 = y21;
      y21 = y2;
      energy += y2 * y2;
    }
    st[s] = x1;
    st[s + 1] = x2;
    st[s + 2] = y11;
    st[s + 3] = y12;
    st[s + 4] = z1;
    st[s + 5] = z2;
    st[s + 6] = y21;
    st[s + 7] = y22;
    this.stepEnergy += this.weights[i]! * energy;
  }

  /** True peak (and sample peak) of the run, the interpolation history carried in locals. */
  private truePeakRun(samples: Float32Array, i: number, from: number, to: number): void {
    const ch = this.channels;
    // True peak: taps and history in locals, t0 the newest sample. V8 keeps what fits in
    // registers and multiplies by the rest straight from the stack frame; the array history
    // cost two bounds-checked loads per tap, and numeric literals cost two instructions each.
    const u0 = (TP_PHASE0[0]! + TP_PHASE0[11]!) / 2;
    const v0 = (TP_PHASE0[0]! - TP_PHASE0[11]!) / 2;
    const w0 = (TP_PHASE1[0]! + TP_PHASE1[11]!) / 2;
    const q0 = (TP_PHASE1[0]! - TP_PHASE1[11]!) / 2;
    const u1 = (TP_PHASE0[1]! + TP_PHASE0[10]!) / 2;
    const v1 = (TP_PHASE0[1]! - TP_PHASE0[10]!) / 2;
    const w1 = (TP_PHASE1[1]! + TP_PHASE1[10]!) / 2;
    const q1 = (TP_PHASE1[1]! - TP_PHASE1[10]!) / 2;
    const u2 = (TP_PHASE0[2]! + TP_PHASE0[9]!) / 2;
    const v2 = (TP_PHASE0[2]! - TP_PHASE0[9]!) / 2;
    const w2 = (TP_PHASE1[2]! + TP_PHASE1[9]!) / 2;
    const q2 = (TP_PHASE1[2]! - TP_PHASE1[9]!) / 2;
    const u3 = (TP_PHASE0[3]! + TP_PHASE0[8]!) / 2;
    const v3 = (TP_PHASE0[3]! - TP_PHASE0[8]!) / 2;
    const w3 = (TP_PHASE1[3]! + TP_PHASE1[8]!) / 2;
    const q3 = (TP_PHASE1[3]! - TP_PHASE1[8]!) / 2;
    const u4 = (TP_PHASE0[4]! + TP_PHASE0[7]!) / 2;
    const v4 = (TP_PHASE0[4]! - TP_PHASE0[7]!) / 2;
    const w4 = (TP_PHASE1[4]! + TP_PHASE1[7]!) / 2;
    const q4 = (TP_PHASE1[4]! - TP_PHASE1[7]!) / 2;
    const u5 = (TP_PHASE0[5]! + TP_PHASE0[6]!) / 2;
    const v5 = (TP_PHASE0[5]! - TP_PHASE0[6]!) / 2;
    const w5 = (TP_PHASE1[5]! + TP_PHASE1[6]!) / 2;
    const q5 = (TP_PHASE1[5]! - TP_PHASE1[6]!) / 2;
    const hist = this.tpHistory;
    const h = i * TP_TAPS;
    let t0 = hist[h]!;
    let t1 = hist[h + 1]!;
    let t2 = hist[h + 2]!;
    let t3 = hist[h + 3]!;
    let t4 = hist[h + 4]!;
    let t5 = hist[h + 5]!;
    let t6 = hist[h + 6]!;
    let t7 = hist[h + 7]!;
    let t8 = hist[h + 8]!;
    let t9 = hist[h + 9]!;
    let t10 = hist[h + 10]!;
    let t11 = hist[h + 11]!;
    let peak = this.stepPeak;
    const end = to * ch + i;
    for (let j = from * ch + i; j < end; j += ch) {
      const x = samples[j]!;
      t11 = t10;
      t10 = t9;
      t9 = t8;
      t8 = t7;
      t7 = t6;
      t6 = t5;
      t5 = t4;
      t4 = t3;
      t3 = t2;
      t2 = t1;
      t1 = t0;
      t0 = x;
      const m = x < 0 ? -x : x;
      if (m > peak) peak = m;
      // Phases 0 and 3 (and 1 and 2) are mirror images: with sums and differences of mirrored
      // samples, the larger magnitude of each pair is |S| + |D|, at half the multiplies.
      const s0 = t0 + t11;
      const e0 = t0 - t11;
      const s1 = t1 + t10;
      const e1 = t1 - t10;
      const s2 = t2 + t9;
      const e2 = t2 - t9;
      const s3 = t3 + t8;
      const e3 = t3 - t8;
      const s4 = t4 + t7;
      const e4 = t4 - t7;
      const s5 = t5 + t6;
      const e5 = t5 - t6;
      const sum0 = u0 * s0 + u1 * s1 + u2 * s2 + u3 * s3 + u4 * s4 + u5 * s5;
      const dif0 = v0 * e0 + v1 * e1 + v2 * e2 + v3 * e3 + v4 * e4 + v5 * e5;
      const sum1 = w0 * s0 + w1 * s1 + w2 * s2 + w3 * s3 + w4 * s4 + w5 * s5;
      const dif1 = q0 * e0 + q1 * e1 + q2 * e2 + q3 * e3 + q4 * e4 + q5 * e5;
      const m0 = (sum0 < 0 ? -sum0 : sum0) + (dif0 < 0 ? -dif0 : dif0);
      if (m0 > peak) peak = m0;
      const m1 = (sum1 < 0 ? -sum1 : sum1) + (dif1 < 0 ? -dif1 : dif1);
      if (m1 > peak) peak = m1;
    }
    hist[h] = t0;
    hist[h + 1] = t1;
    hist[h + 2] = t2;
    hist[h + 3] = t3;
    hist[h + 4] = t4;
    hist[h + 5] = t5;
    hist[h + 6] = t6;
    hist[h + 7] = t7;
    hist[h + 8] = t8;
    hist[h + 9] = t9;
    hist[h + 10] = t10;
    hist[h + 11] = t11;
    this.stepPeak = peak;
  }

  private endStep(t: number): void {
    const n = this.stepFrames;
    this.steps[this.stepCount % 30] = this.stepEnergy;
    this.stepCount++;
    const peak = this.stepPeak;
    if (peak > this.maxTruePeak) this.maxTruePeak = peak;
    this.stepEnergy = 0;
    this.stepPeak = 0;
    this.stepPos = 0;

    let momentary = -Infinity;
    if (this.stepCount >= 4) {
      let sum = 0;
      for (let k = 1; k <= 4; k++) sum += this.steps[(this.stepCount - k) % 30]!;
      const energy = sum / (4 * n);
      momentary = energyToLufs(energy);
      this.history[this.historyCount % this.history.length] = energy;
      this.historyAudible[this.historyCount % this.history.length] = momentary > ABS_GATE ? 1 : 0;
      this.historyCount++;
      if (momentary > ABS_GATE) {
        const b = bin(momentary);
        this.blockHist[b]! += energy;
        this.blockHistN[b]!++;
      }
    }
    let shortTerm = NaN;
    if (this.stepCount >= 30) {
      let sum = 0;
      for (let k = 0; k < 30; k++) sum += this.steps[k]!;
      shortTerm = energyToLufs(sum / (30 * n));
      if (shortTerm > ABS_GATE) this.stHist[bin(shortTerm)]!++;
    }
    this.lastMomentary = momentary;
    this.lastShortTerm = shortTerm;
    this.onStep?.({ t, momentary, shortTerm, truePeak: 20 * Math.log10(peak) });
  }

  get momentary(): number {
    return this.lastMomentary;
  }

  get shortTerm(): number {
    return this.lastShortTerm;
  }

  /** Gated integrated loudness of everything measured (BS.1770-4 section 2.8), LUFS. */
  get integrated(): number {
    let sum = 0;
    let count = 0;
    for (let b = 0; b < HIST_BINS; b++) {
      sum += this.blockHist[b]!;
      count += this.blockHistN[b]!;
    }
    if (count === 0) return -Infinity;
    const gate = energyToLufs(sum / count) - 10;
    sum = 0;
    count = 0;
    for (let b = Math.max(0, Math.ceil((gate - HIST_MIN) * HIST_GRAIN - 1e-9)); b < HIST_BINS; b++) {
      sum += this.blockHist[b]!;
      count += this.blockHistN[b]!;
    }
    return count === 0 ? -Infinity : energyToLufs(sum / count);
  }

  /**
   * Gated integrated loudness over the last `seconds` of momentary blocks (a sliding
   * program-loudness window; limited by `historySeconds`), and how many seconds it covers.
   */
  integratedOver(seconds: number): { readonly lufs: number; readonly seconds: number } {
    const n = Math.min(this.historyCount, this.history.length, Math.max(1, Math.round(seconds * 10)));
    const len = this.history.length;
    let sum = 0;
    let count = 0;
    for (let k = 1; k <= n; k++) {
      const i = (this.historyCount - k) % len;
      if (this.historyAudible[i] === 1) {
        const e = this.history[i]!;
        sum += e;
        count++;
      }
    }
    const covered = n === 0 ? 0 : (n + 3) / 10;
    if (count === 0) return { lufs: -Infinity, seconds: covered };
    const gate = lufsToEnergy(energyToLufs(sum / count) - 10);
    sum = 0;
    count = 0;
    for (let k = 1; k <= n; k++) {
      const i = (this.historyCount - k) % len;
      const e = this.history[i]!;
      if (e > gate && this.historyAudible[i] === 1) {
        sum += e;
        count++;
      }
    }
    return { lufs: count === 0 ? -Infinity : energyToLufs(sum / count), seconds: covered };
  }

  /** Loudness range (EBU Tech 3342): 10th to 95th percentile of gated short-term values, LU. */
  get loudnessRange(): number {
    let sum = 0;
    let count = 0;
    for (let b = 0; b < HIST_BINS; b++) {
      const c = this.stHist[b]!;
      if (c > 0) {
        sum += c * lufsToEnergy(HIST_MIN + b / HIST_GRAIN);
        count += c;
      }
    }
    if (count === 0) return 0;
    const gateBin = Math.max(0, bin(energyToLufs(sum / count) - 20));
    let n = 0;
    for (let b = gateBin; b < HIST_BINS; b++) n += this.stHist[b]!;
    if (n === 0) return 0;
    const lowIdx = Math.floor(n * 0.1);
    const highIdx = Math.min(n - 1, Math.floor(n * 0.95));
    let low = NaN;
    let high = NaN;
    let seen = 0;
    for (let b = gateBin; b < HIST_BINS; b++) {
      const c = this.stHist[b]!;
      if (c === 0) continue;
      if (Number.isNaN(low) && seen + c > lowIdx) low = HIST_MIN + b / HIST_GRAIN;
      if (Number.isNaN(high) && seen + c > highIdx) high = HIST_MIN + b / HIST_GRAIN;
      seen += c;
    }
    return high - low;
  }

  /** Highest true peak so far, dBTP (-Infinity before any non-zero sample). */
  get truePeak(): number {
    return 20 * Math.log10(this.maxTruePeak);
  }
}
