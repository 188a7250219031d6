/**
 * A/V offset of natural content (film, animation, sport: no flash-and-beep pattern), for
 * `av.sync` when paired events give no estimate. A consensus of short correlations: the
 * audio-visual synchrony literature correlates a picture-motion signal with an audio onset
 * signal; on real programme that correlation is only meaningful where sound events are tied
 * to what is seen (a door, a footstep, a mouth), so it is judged stretch by stretch and only
 * trusted when many stretches agree.
 *
 * Picture: motion energy per frame. The 160x90 analysis luma is cut into a 16x9 grid; each
 * block's mean absolute change from the previous frame is log-compressed and summed, so a
 * small thing moving in one corner counts beside a camera move. Shot cuts (mean change over
 * 20 grey levels) are zeroed with their neighbours: editors lay sound across cuts (J- and
 * L-cuts), so a cut's sound is often 100 ms or more away from it. Repeated frames (24 fps film
 * carried at 25 fps repeats one a second) are left out: a repeat is no motion, only a 1 Hz comb.
 * (Tried on the tune material and dropped: the rises of that energy (onsets) correlated worse
 * than the energy; each block over the picture's median block lost the right estimates and
 * gave a wrong one.)
 *
 * Sound: spectral flux every 10 ms (log magnitude rises of a 1024-point Hann FFT, bins from
 * 100 Hz up, summed), which peaks where a sound starts.
 *
 * One vote a second: both signals over the last `segment` (5 s) on a 5 ms grid, high-passed
 * (their centred 0.5 s mean removed), normalised and cross-correlated for lags within +-1 s.
 * The highest peak, refined by a parabola through its neighbours (sub-frame: the grid is an
 * eighth of a 25 fps frame), votes when its peak-to-sidelobe ratio (PSR: its height over the
 * mean of the lags more than 60 ms from it, in their standard deviations) reaches
 * `minPeakRatio` and it lies within +-`maxOffsetMs`; with `countOutside`, a clear peak beyond
 * that votes against every lag inside it. The estimate is the consensus of the votes of the
 * last `horizon` (30 s): at least `minVotes` within `agreeMs` of their median, making up at
 * least `minAgreement` of all the votes (rhythmic content and title sequences give clear peaks
 * at lags a beat or a bar away; they scatter, the true lag repeats), their agreeing votes
 * spanning `minSpan` s; otherwise no estimate. Positive offsets: sound after picture.
 *
 * Significance (`nullMargin`): a peak-to-sidelobe ratio says a peak stands out of its own
 * correlation, not that it is more than chance; on a real camera with unrelated music under it
 * chance peaks were as clear (PSR 3.5-5.5) as the film's tied sound, and runs of them agreed.
 * So a vote also needs its peak to reach `nullMargin` times the highest peak the null
 * pairings give (NULL_SHIFTS: this stream's pictures against its own sound of 2-12 s before,
 * and the reverse), material of the same character with nothing tied in it.
 */
import type { AudioBlock } from "../ingest/media.js";

export interface CorrelatorOptions {
  /** Seconds of media per vote (one correlation). */
  readonly segment: number;
  /** Seconds of votes a consensus is taken over. */
  readonly horizon: number;
  /** Largest lag a vote may give, ms. */
  readonly maxOffsetMs: number;
  /** Peak-to-sidelobe ratio a segment's peak needs to vote. */
  readonly minPeakRatio: number;
  /** Votes that must agree (within `agreeMs` of their median) for an estimate. */
  readonly minVotes: number;
  /** Share of the horizon's votes that must agree. */
  readonly minAgreement: number;
  /** How far an agreeing vote may lie from the median, ms. */
  readonly agreeMs: number;
  /** Whether clear peaks beyond the search count as votes against (in the share). */
  readonly countOutside: boolean;
  /** Seconds between the first and the last agreeing vote: the media they stand on. */
  readonly minSpan: number;
  /**
   * The significance test: a vote's peak must reach this many times the highest peak the
   * same pictures give against this stream's own sound from 2-12 s earlier (and the same
   * sound against its pictures from then), within +-`maxOffsetMs`. 0 turns the test off.
   */
  readonly nullMargin: number;
}

export interface CorrelationVote {
  /** Media time of the end of the segment. */
  readonly at: number;
  readonly offsetMs: number;
  readonly peakRatio: number;
  /** The peak lies beyond the search (`maxOffsetMs`): a vote against every lag inside it. */
  readonly outside: boolean;
  /** The peak over the highest null peak (the significance test); null with the test off. */
  readonly nullRatio: number | null;
}

export interface CorrelationEstimate {
  /** Median of the agreeing votes. */
  readonly offsetMs: number;
  /** Agreeing votes over all votes of the horizon (0..1). */
  readonly confidence: number;
  /** Median peak-to-sidelobe ratio of the agreeing votes. */
  readonly peakRatio: number;
  /** Agreeing votes and all votes of the horizon. */
  readonly votes: number;
  readonly cast: number;
}

/** The correlation grid: 5 ms, an eighth of a 25 fps frame. */
const GRID = 0.005;
const COLS = 16;
const ROWS = 9;
const CUT_LEVEL = 20;
/** Frames zeroed after a cut (the cut frame and its neighbour before are zeroed too). */
const CUT_HOLD = 2;
/**
 * Frames changing less than this (mean absolute luma change) repeat the one before: a 24 fps
 * film carried at 25 fps repeats a frame every second, and a repeat is no motion, only a
 * 1 Hz comb that the sound does not share. They are left out and the signal interpolated.
 */
const REPEAT_LEVEL = 0.3;
const FFT_SIZE = 1024;
/** Flux from 100 Hz up: hum and rumble carry no onsets the picture shows. */
const MIN_HZ = 100;
/** The high-pass of both signals: their centred 0.5 s mean removed. */
const MEAN_SPAN = Math.round(0.5 / GRID);
/** Lags correlated for the sidelobe statistics: +-1 s. */
const CONTEXT = Math.round(1 / GRID);
/** Lags within 60 ms of the peak are its main lobe, not sidelobes. */
const MAIN_LOBE = Math.round(0.06 / GRID);
/**
 * The null pairings of the significance test: the segment's pictures against the sound of the
 * same stream 2, 3, ... 12 s earlier, and its sound against the pictures of then. Far beyond
 * any lag searched (+-`maxOffsetMs`, at most 0.9 s), so nothing in them is tied; from the
 * past, so a live stream has them; 1 s apart, so with the lags searched (+-0.5 s by default)
 * they cover every relative offset from 1.5 to 12.5 s once. The stream's own material keeps
 * its character: music with a steady beat against walking at a steady pace gives the same
 * peaks at every shift, and is rejected; a sound tied to what is seen gives its peak only at
 * its own lag.
 */
const NULL_SHIFTS = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
/** Null pairings a vote needs (both kinds, 4 shifts: 5 s of history before the segment). */
const MIN_NULLS = 8;
/** How long before `now` a segment ends: audio flux needs half an FFT after it, and video frames may arrive up to 0.1 s after the sound beside them. */
const SETTLE = 0.3;

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

/**
 * Cross-correlation of two normalised signals of one length for lags -maxLag..maxLag: the mean
 * of a[k + lag] * v[k] over their overlap (a positive lag: the sound after the picture).
 */
function correlate(a: Float64Array, v: Float64Array, maxLag: number): Float64Array {
  const n = v.length;
  const c = new Float64Array(2 * maxLag + 1);
  for (let l = -maxLag; l <= maxLag; l++) {
    let sum = 0;
    const from = Math.max(0, -l);
    const to = Math.min(n, n - l);
    for (let k = from; k < to; k++) sum += a[k + l]! * v[k]!;
    c[l + maxLag] = sum / Math.max(1, to - from);
  }
  return c;
}

function max(x: Float64Array): number {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > m) m = x[i]!;
  return m;
}

export class AvSyncCorrelator {
  // Visual motion energy per frame.
  private readonly videoTimes: number[] = [];
  private readonly videoValues: number[] = [];
  private readonly blockSum = new Float64Array(COLS * ROWS);
  private readonly blockCount = new Float64Array(COLS * ROWS);
  private readonly blockMeans = new Float64Array(COLS * ROWS);
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
  private minBin = 3;
  private sampleRate = 0;
  private expectedPts: number | null = null;
  private votes: CorrelationVote[] = [];

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
    let global = 0;
    const means = this.blockMeans;
    for (let b = 0; b < COLS * ROWS; b++) {
      means[b] = sum[b]! / Math.max(1, count[b]!);
      global += means[b]!;
    }
    global /= COLS * ROWS;
    let energy = 0;
    // Log-compressed per block: a small thing moving in one corner (a mouth, a hand, a
    // falling apple) counts, not only the camera moving over the whole picture.
    for (let b = 0; b < COLS * ROWS; b++) energy += Math.log1p(means[b]!);
    if (global < REPEAT_LEVEL) return;
    if (global > CUT_LEVEL) {
      const last = this.videoValues.length - 1;
      if (last >= 0) this.videoValues[last] = 0;
      this.cutHold = CUT_HOLD + 1;
    }
    if (this.cutHold > 0) {
      this.cutHold--;
      energy = 0;
    }
    this.videoTimes.push(pts);
    this.videoValues.push(energy);
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
      this.minBin = Math.max(1, Math.ceil((MIN_HZ * FFT_SIZE) / block.sampleRate));
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
    for (let k = this.minBin; k < FFT_SIZE / 2; k++) {
      const l = Math.log1p(1000 * Math.hypot(re[k]!, im[k]!));
      if (!fresh && l > this.lastLog[k]!) flux += l - this.lastLog[k]!;
      this.lastLog[k] = l;
    }
    this.lastLog[0] = 0;
    this.fluxTimes.push(at);
    this.fluxValues.push(fresh ? 0 : flux);
  }

  /**
   * One vote from the `segment` seconds before `now` (less the audio's latency), kept for
   * the consensus; null when the segment's peak is not clear enough to vote.
   */
  vote(now: number): CorrelationVote | null {
    const span = this.opts.segment;
    const t1 = now - SETTLE;
    const t0 = t1 - span;
    const testing = this.opts.nullMargin > 0;
    const past = testing ? NULL_SHIFTS[NULL_SHIFTS.length - 1]! : 0;
    this.trim(t0 - past - 1);
    this.votes = this.votes.filter((v) => v.at > now - this.opts.horizon + span - 1e-6);
    if (this.videoTimes.length < 2 || this.fluxTimes.length < 2) return null;
    if (this.videoTimes[0]! > t0 + 1 || this.fluxTimes[0]! > t0 + 0.1) return null;
    const n = Math.floor(span / GRID);
    // The history on the grid: `back` grid steps before the segment, then the segment.
    const since = Math.max(this.videoTimes[0]!, this.fluxTimes[0]!);
    const backSeconds = testing ? Math.max(0, Math.min(past, Math.floor(t0 - since))) : 0;
    const back = Math.round(backSeconds / GRID);
    const ga = new Float64Array(back + n);
    const gv = new Float64Array(back + n);
    let ia = 0;
    let iv = 0;
    for (let k = 0; k < back + n; k++) {
      const t = t0 + (k - back) * GRID;
      while (ia + 1 < this.fluxTimes.length && this.fluxTimes[ia + 1]! <= t) ia++;
      while (iv + 1 < this.videoTimes.length && this.videoTimes[iv + 1]! <= t) iv++;
      ga[k] = sampleAt(this.fluxTimes, this.fluxValues, t, ia);
      gv[k] = sampleAt(this.videoTimes, this.videoValues, t, iv);
    }
    const sa = ga.slice(back);
    const sv = gv.slice(back);
    if (!highPassNormalise(sa) || !highPassNormalise(sv)) return null;
    const c = correlate(sa, sv, CONTEXT);
    let best = 0;
    for (let i = 1; i < c.length; i++) if (c[i]! > c[best]!) best = i;
    // The peak over the whole +-1 s context: one inside the search that only wins because a
    // stronger one lies just outside it is not a clear peak.
    if (best === 0 || best === c.length - 1) return null;
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
    const y0 = c[best - 1]!;
    const y1 = c[best]!;
    const y2 = c[best + 1]!;
    const den = y0 - 2 * y1 + y2;
    const delta = den < 0 ? (0.5 * (y0 - y2)) / den : 0;
    const offsetMs = Math.round((best - CONTEXT + delta) * GRID * 10000) / 10;
    if (peakRatio < this.opts.minPeakRatio) return null;
    const outside = Math.abs(offsetMs) > this.opts.maxOffsetMs;
    if (outside && !this.opts.countOutside) return null;
    let nullRatio: number | null = null;
    if (testing) {
      const nullPeak = this.nullPeak(ga, gv, sa, sv, back, n);
      // Too little history for the test (the first seconds of a stream): no vote.
      if (nullPeak === null) return null;
      nullRatio = nullPeak > 0 ? c[best]! / nullPeak : Infinity;
      if (nullRatio < this.opts.nullMargin) return null;
      nullRatio = Math.round(Math.min(nullRatio, 99) * 100) / 100;
    }
    const v = { at: now, offsetMs, peakRatio: Math.round(peakRatio * 100) / 100, outside, nullRatio };
    this.votes.push(v);
    return v;
  }

  /**
   * The highest correlation peak within +-`maxOffsetMs` over the null pairings the history
   * holds (NULL_SHIFTS), or null with fewer than MIN_NULLS of them. `ga`/`gv`: the history
   * then the segment on the grid; `sa`/`sv`: the segment, normalised.
   */
  private nullPeak(
    ga: Float64Array,
    gv: Float64Array,
    sa: Float64Array,
    sv: Float64Array,
    back: number,
    n: number,
  ): number | null {
    const lags = Math.round(this.opts.maxOffsetMs / 1000 / GRID);
    let peak = -Infinity;
    let count = 0;
    for (const shift of NULL_SHIFTS) {
      const from = back - Math.round(shift / GRID);
      if (from < 0) break;
      const pa = ga.slice(from, from + n);
      const pv = gv.slice(from, from + n);
      // Earlier sound against these pictures, and this sound against earlier pictures.
      if (highPassNormalise(pa)) {
        peak = Math.max(peak, max(correlate(pa, sv, lags)));
        count++;
      }
      if (highPassNormalise(pv)) {
        peak = Math.max(peak, max(correlate(sa, pv, lags)));
        count++;
      }
    }
    return count >= MIN_NULLS ? peak : null;
  }

  /**
   * The consensus of the votes of the last `horizon` seconds, or null: at least `minVotes`
   * within `agreeMs` of their median, and at least `minAgreement` of all the votes cast.
   */
  consensus(): CorrelationEstimate | null {
    const cast = this.votes.length;
    const inside = this.votes.filter((v) => !v.outside);
    if (inside.length < this.opts.minVotes) return null;
    const sorted = inside.map((v) => v.offsetMs).sort((a, b) => a - b);
    const median = sorted[inside.length >> 1]!;
    const agree = inside.filter((v) => Math.abs(v.offsetMs - median) <= this.opts.agreeMs);
    if (agree.length < this.opts.minVotes || agree.length < this.opts.minAgreement * cast) return null;
    // Votes a second apart share most of their media: one chance match spans several of
    // them. Agreement counts only when it stands on stretches of media apart.
    if (agree[agree.length - 1]!.at - agree[0]!.at < this.opts.minSpan) return null;
    const offsets = agree.map((v) => v.offsetMs).sort((a, b) => a - b);
    const ratios = agree.map((v) => v.peakRatio).sort((a, b) => a - b);
    return {
      offsetMs: offsets[offsets.length >> 1]!,
      confidence: Math.round((agree.length / cast) * 100) / 100,
      peakRatio: ratios[ratios.length >> 1]!,
      votes: agree.length,
      cast,
    };
  }

  /** Votes are of one stretch of media: a discontinuity or a new stream starts afresh. */
  reset(): void {
    this.votes = [];
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
