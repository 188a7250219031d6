/**
 * A/V offset of natural content (film, animation, sport: no flash-and-beep pattern), for
 * `av.sync` when paired events give no estimate.
 *
 * Visual onset strength, per frame: the picture (160x90 analysis luma) is cut into a 16x9
 * grid; each block's mean absolute change from the previous frame is log-compressed and its
 * rises summed over the blocks, so a door slamming in one corner counts as much as a camera
 * move over the whole picture. Shot cuts (mean change over 20 grey levels) are zeroed with
 * their neighbours: editors lay sound across cuts (J- and L-cuts), so a cut's sound is often
 * 100 ms or more away from it and would bias the estimate.
 *
 * Audio onset strength, every 10 ms: spectral flux (log magnitude rises of a 1024-point Hann
 * FFT at 48 kHz, summed over bins) less its 0.5 s moving mean, so sustained music and noise
 * do not count, the start of a sound does.
 *
 * Both are put on a 10 ms grid over the last `window` seconds, high-passed (0.5 s moving mean
 * removed), normalised and cross-correlated for lags within +-`contextMs` (1 s). The highest
 * peak within +-`maxOffsetMs` (400 ms), refined by a parabola through its neighbours, is the
 * offset (positive: audio lags video). Confidence is the peak-to-sidelobe ratio (PSR: the
 * peak's height over the mean of the other lags of the context, more than 80 ms from it, in
 * their standard deviations): natural content gives a clear peak only where sound events are
 * tied to what is seen. No estimate below `minPeakRatio`, with another local peak anywhere in
 * the context within `minPeakMargin` of it (rhythmic content fits lags a beat apart; a beat
 * just outside the search would otherwise leave a wrong peak alone inside it: seen on Big
 * Buck Bunny's titles, a 410 ms period, read as a confident +127 ms on in-sync content), or
 * with the peak at the edge of the search.
 */
import type { AudioBlock } from "../ingest/media.js";

export interface CorrelatorOptions {
  /** Seconds of media correlated per estimate. */
  readonly window: number;
  /** Largest lag searched, ms. */
  readonly maxOffsetMs: number;
  /** Peak-to-sidelobe ratio needed for an estimate. */
  readonly minPeakRatio: number;
  /** Sidelobe deviations by which the peak must stand above any other local peak of the context. */
  readonly minPeakMargin: number;
  /** Lags correlated for the sidelobe statistics and the second peak, ms (at least maxOffsetMs). */
  readonly contextMs: number;
}

export interface CorrelationEstimate {
  readonly offsetMs: number;
  /** Peak-to-sidelobe ratio of the correlation. */
  readonly peakRatio: number;
  /** peakRatio / (peakRatio + minPeakRatio): 0.5 at the threshold, towards 1 as the peak stands out. */
  readonly confidence: number;
}

const GRID = 0.01;
const COLS = 16;
const ROWS = 9;
const CUT_LEVEL = 20;
/** Frames zeroed after a cut (the cut frame and its neighbour before are zeroed too). */
const CUT_HOLD = 2;
const FFT_SIZE = 1024;
/** Moving means of the onset signals: 0.5 s. */
const MEAN_SPAN = 50;
/** Lags within this many grid steps of the peak are its main lobe, not sidelobes. */
const MAIN_LOBE = 8;

/** In-place radix-2 FFT of (re, im), length a power of two. */
function fft(re: Float64Array, im: Float64Array, cos: Float64Array, sin: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      let t = re[i]!;
      re[i] = re[j]!;
      re[j] = t;
      t = im[i]!;
      im[i] = im[j]!;
      im[j] = t;
    }
  }
  for (let size = 2; size <= n; size <<= 1) {
    const half = size >> 1;
    const step = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const c = cos[k * step]!;
        const s = sin[k * step]!;
        const a = start + k;
        const b = a + half;
        const tr = re[b]! * c + im[b]! * s;
        const ti = im[b]! * c - re[b]! * s;
        re[b] = re[a]! - tr;
        im[b] = im[a]! - ti;
        re[a] = re[a]! + tr;
        im[a] = im[a]! + ti;
      }
    }
  }
}

/** Linear interpolation of (times, values) at t; 0 outside. */
function sampleAt(times: readonly number[], values: readonly number[], t: number, from: number): number {
  let i = from;
  while (i + 1 < times.length && times[i + 1]! <= t) i++;
  const t0 = times[i];
  const t1 = times[i + 1];
  if (t0 === undefined || t < t0) return 0;
  if (t1 === undefined) return t - t0 <= 0.05 ? values[i]! : 0;
  return values[i]! + ((values[i + 1]! - values[i]!) * (t - t0)) / (t1 - t0);
}

function highPassNormalise(x: Float64Array): boolean {
  const n = x.length;
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + x[i]!;
  const half = MEAN_SPAN >> 1;
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const a = Math.max(0, i - half);
    const b = Math.min(n, i + half);
    y[i] = x[i]! - (prefix[b]! - prefix[a]!) / (b - a);
  }
  let mean = 0;
  for (let i = 0; i < n; i++) mean += y[i]!;
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (y[i]! - mean) ** 2;
  const sd = Math.sqrt(v / n);
  if (!(sd > 1e-12)) return false;
  for (let i = 0; i < n; i++) x[i] = (y[i]! - mean) / sd;
  return true;
}

export class AvSyncCorrelator {
  // Video onset strength per frame.
  private readonly videoTimes: number[] = [];
  private readonly videoValues: number[] = [];
  private readonly blockLog = new Float64Array(COLS * ROWS);
  private readonly blockSum = new Float64Array(COLS * ROWS);
  private readonly blockCount = new Float64Array(COLS * ROWS);
  private haveBlocks = false;
  private cutHold = 0;
  // Audio flux every hop.
  private readonly fluxTimes: number[] = [];
  private readonly fluxValues: number[] = [];
  private readonly frame = new Float64Array(FFT_SIZE);
  private readonly window = new Float64Array(FFT_SIZE);
  private readonly re = new Float64Array(FFT_SIZE);
  private readonly im = new Float64Array(FFT_SIZE);
  private readonly cos = new Float64Array(FFT_SIZE / 2);
  private readonly sin = new Float64Array(FFT_SIZE / 2);
  private readonly lastLog = new Float64Array(FFT_SIZE / 2);
  private filled = 0;
  private pos = 0;
  private sinceHop = 0;
  private hop = 480;
  private sampleRate = 0;
  private expectedPts: number | null = null;

  constructor(private readonly opts: CorrelatorOptions) {
    for (let i = 0; i < FFT_SIZE; i++) this.window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / FFT_SIZE);
    for (let k = 0; k < FFT_SIZE / 2; k++) {
      this.cos[k] = Math.cos((2 * Math.PI * k) / FFT_SIZE);
      this.sin[k] = Math.sin((2 * Math.PI * k) / FFT_SIZE);
    }
  }

  /** A frame and the one before it (same size); `pts` of this frame. */
  pushVideo(luma: Uint8Array, prev: Uint8Array, width: number, height: number, pts: number): void {
    const bw = Math.floor(width / COLS);
    const bh = Math.floor(height / ROWS);
    if (bw < 2 || bh < 2 || luma.length < width * height) return;
    const sum = this.blockSum;
    const count = this.blockCount;
    sum.fill(0);
    count.fill(0);
    // Every other pixel of every other row: enough to see a block change, a quarter of the cost.
    for (let y = 0; y < bh * ROWS; y += 2) {
      const row = Math.floor(y / bh) * COLS;
      const base = y * width;
      for (let x = 0; x < bw * COLS; x += 2) {
        const d = luma[base + x]! - prev[base + x]!;
        const b = row + Math.floor(x / bw);
        sum[b] = sum[b]! + (d < 0 ? -d : d);
        count[b] = count[b]! + 1;
      }
    }
    let onset = 0;
    let global = 0;
    for (let b = 0; b < COLS * ROWS; b++) {
      const mean = sum[b]! / Math.max(1, count[b]!);
      global += mean;
      const l = Math.log1p(mean);
      if (this.haveBlocks && l > this.blockLog[b]!) onset += l - this.blockLog[b]!;
      this.blockLog[b] = l;
    }
    this.haveBlocks = true;
    global /= COLS * ROWS;
    if (global > CUT_LEVEL) {
      const last = this.videoValues.length - 1;
      if (last >= 0) this.videoValues[last] = 0;
      this.cutHold = CUT_HOLD + 1;
    }
    if (this.cutHold > 0) {
      this.cutHold--;
      onset = 0;
    }
    this.videoTimes.push(pts);
    this.videoValues.push(onset);
  }

  pushAudio(block: AudioBlock): void {
    if (
      block.sampleRate !== this.sampleRate ||
      this.expectedPts === null ||
      Math.abs(block.pts - this.expectedPts) > 0.01
    ) {
      // A discontinuity: start the analysis frame afresh at this block.
      this.sampleRate = block.sampleRate;
      this.hop = Math.max(1, Math.round(block.sampleRate / 100));
      this.filled = 0;
      this.pos = 0;
      this.sinceHop = 0;
      this.lastLog.fill(-1);
    }
    const ch = block.channels;
    const src = block.samples;
    const end = block.frames * ch;
    let n = 0;
    for (let i = 0; i < end; i += ch, n++) {
      let v = 0;
      for (let c = 0; c < ch; c++) v += src[i + c]!;
      // A ring: `pos` is the oldest sample once full.
      this.frame[this.pos] = v / ch;
      this.pos = (this.pos + 1) & (FFT_SIZE - 1);
      if (this.filled < FFT_SIZE) this.filled++;
      if (this.filled === FFT_SIZE && ++this.sinceHop >= this.hop) {
        this.sinceHop = 0;
        // The window's centre: the last sample is at block.pts + n / rate.
        this.flux(block.pts + (n + 1 - FFT_SIZE / 2) / block.sampleRate);
      }
    }
    this.expectedPts = block.pts + block.frames / block.sampleRate;
  }

  private flux(at: number): void {
    const re = this.re;
    const im = this.im;
    for (let i = 0; i < FFT_SIZE; i++) {
      re[i] = this.frame[(this.pos + i) & (FFT_SIZE - 1)]! * this.window[i]!;
      im[i] = 0;
    }
    fft(re, im, this.cos, this.sin);
    let flux = 0;
    const fresh = this.lastLog[0]! < 0;
    for (let k = 1; k < FFT_SIZE / 2; k++) {
      const l = Math.log1p(1000 * Math.hypot(re[k]!, im[k]!));
      if (!fresh && l > this.lastLog[k]!) flux += l - this.lastLog[k]!;
      this.lastLog[k] = l;
    }
    this.lastLog[0] = 0;
    this.fluxTimes.push(at);
    this.fluxValues.push(fresh ? 0 : flux);
  }

  /** The estimate over the `window` seconds before `now`, or null. */
  estimate(now: number): CorrelationEstimate | null {
    const span = this.opts.window;
    // The audio onset signal's centred mean needs 0.25 s after each hop.
    const t1 = now - 0.3;
    const t0 = t1 - span;
    this.trim(t0 - 1);
    if (this.videoTimes.length < 2 || this.fluxTimes.length < MEAN_SPAN) return null;
    if (this.videoTimes[0]! > t0 + 1 || this.fluxTimes[0]! > t0 + 1) return null;
    // Audio onset strength: flux less its centred 0.5 s mean, rectified.
    const fv = this.fluxValues;
    const onset: number[] = new Array<number>(fv.length);
    const prefix = new Float64Array(fv.length + 1);
    for (let i = 0; i < fv.length; i++) prefix[i + 1] = prefix[i]! + fv[i]!;
    for (let i = 0; i < fv.length; i++) {
      const a = Math.max(0, i - MEAN_SPAN / 2);
      const b = Math.min(fv.length, i + MEAN_SPAN / 2);
      onset[i] = Math.max(0, fv[i]! - (prefix[b]! - prefix[a]!) / (b - a));
    }
    const n = Math.floor(span / GRID);
    const ga = new Float64Array(n);
    const gv = new Float64Array(n);
    let ia = 0;
    let iv = 0;
    for (let k = 0; k < n; k++) {
      const t = t0 + k * GRID;
      while (ia + 1 < this.fluxTimes.length && this.fluxTimes[ia + 1]! <= t) ia++;
      while (iv + 1 < this.videoTimes.length && this.videoTimes[iv + 1]! <= t) iv++;
      ga[k] = sampleAt(this.fluxTimes, onset, t, ia);
      gv[k] = sampleAt(this.videoTimes, this.videoValues, t, iv);
    }
    if (!highPassNormalise(ga) || !highPassNormalise(gv)) return null;
    const searchLag = Math.round(this.opts.maxOffsetMs / 1000 / GRID);
    const maxLag = Math.max(searchLag, Math.round(this.opts.contextMs / 1000 / GRID));
    const c = new Float64Array(2 * maxLag + 1);
    for (let l = -maxLag; l <= maxLag; l++) {
      let sum = 0;
      const from = Math.max(0, -l);
      const to = Math.min(n, n - l);
      // Audio at t + lag against video at t: a positive lag is sound after picture.
      for (let k = from; k < to; k++) sum += ga[k + l]! * gv[k]!;
      c[l + maxLag] = sum / Math.max(1, to - from);
    }
    let best = maxLag - searchLag;
    for (let i = best + 1; i <= maxLag + searchLag; i++) if (c[i]! > c[best]!) best = i;
    if (Math.abs(best - maxLag) >= searchLag) return null;
    let sum = 0;
    let sq = 0;
    let m = 0;
    for (let i = 0; i < c.length; i++) {
      if (Math.abs(i - best) <= MAIN_LOBE) continue;
      sum += c[i]!;
      sq += c[i]! * c[i]!;
      m++;
    }
    const mean = sum / m;
    const sd = Math.sqrt(Math.max(0, sq / m - mean * mean));
    if (!(sd > 0)) return null;
    const peakRatio = (c[best]! - mean) / sd;
    // The strongest other local peak outside the main lobe: a rhythm makes lags a beat
    // apart fit almost as well, and then the content cannot say which one is right.
    let second = -Infinity;
    for (let i = 1; i < c.length - 1; i++) {
      if (Math.abs(i - best) <= MAIN_LOBE) continue;
      if (c[i]! >= c[i - 1]! && c[i]! >= c[i + 1]! && c[i]! > second) second = c[i]!;
    }
    const secondRatio = Number.isFinite(second) ? (second - mean) / sd : 0;
    if (peakRatio < this.opts.minPeakRatio || peakRatio - secondRatio < this.opts.minPeakMargin) return null;
    const y0 = c[best - 1]!;
    const y1 = c[best]!;
    const y2 = c[best + 1]!;
    const den = y0 - 2 * y1 + y2;
    const delta = den < 0 ? (0.5 * (y0 - y2)) / den : 0;
    const offsetMs = Math.round((best - maxLag + delta) * GRID * 10000) / 10;
    return {
      offsetMs,
      peakRatio: Math.round(peakRatio * 100) / 100,
      confidence: Math.round((peakRatio / (peakRatio + this.opts.minPeakRatio)) * 100) / 100,
    };
  }

  private trim(before: number): void {
    let v = 0;
    while (v < this.videoTimes.length && this.videoTimes[v]! < before) v++;
    if (v > 0) {
      this.videoTimes.splice(0, v);
      this.videoValues.splice(0, v);
    }
    let a = 0;
    while (a < this.fluxTimes.length && this.fluxTimes[a]! < before) a++;
    if (a > 0) {
      this.fluxTimes.splice(0, a);
      this.fluxValues.splice(0, a);
    }
  }
}
