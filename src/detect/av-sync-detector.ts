/**
 * `av.sync`: audio/video offset estimated from the content itself.
 *
 * Audio onsets (energy rises, found on 1 ms hops and placed on the first sample that reaches
 * a quarter of the onset's peak) are paired with visual change events (frame-difference
 * peaks: cuts, flashes, motion bursts; at the pts of the first frame that shows the change)
 * over a sliding window. The lag shared by the most audio onsets, within +-`matchMs`, is the
 * offset: the median of those pairs' lags. Sign convention (the incident schema's): offsetMs
 * is positive when audio lags video (sound after picture), negative when audio leads.
 *
 * Video events sit on frame times, which is what a viewer sees; audio is at sample precision,
 * so a sync pattern measures to about a millisecond. On real content an event's sub-frame
 * phase varies and the median over many pairs averages it out.
 *
 * Confidence is the share of audio onsets in the window that support the lag, less the
 * share chance would give. Below `minConfidence`, or with fewer than `minEvents` supporting
 * pairs, there is no estimate (offsetMs null) and nothing opens or closes.
 *
 * Tolerance: ITU-R BT.1359 detectability, audio leading by at most 45 ms and lagging by at
 * most 125 ms (in BT.1359's own sign, +45/-125 ms); ATSC IS-191: lead 15 ms, lag 45 ms
 * (+15/-45 ms there). An incident opens when estimates stay outside for `minDuration`.
 */
import { z } from "zod";
import { defineDetector, type ConditionSink, type Detector } from "./detector.js";
import type { AudioBlock, VideoFrame } from "../ingest/media.js";
import { AvSyncCorrelator } from "./av-sync-correlator.js";

export const TOLERANCE_PRESETS = {
  /** ITU-R BT.1359 detectability thresholds. */
  bt1359: { maxLeadMs: 45, maxLagMs: 125 },
  /** ATSC IS-191 recommended tolerance. */
  "atsc-is191": { maxLeadMs: 15, maxLagMs: 45 },
} as const;

export const AvSyncOptions = z
  .object({
    /** Tolerance preset. Default "bt1359". */
    preset: z.enum(["bt1359", "atsc-is191"]).default("bt1359"),
    /** Audio may lead video by this many ms (overrides the preset). */
    maxLeadMs: z.number().min(0).optional(),
    /** Audio may lag video by this many ms (overrides the preset). */
    maxLagMs: z.number().min(0).optional(),
    /** Seconds of events correlated per estimate. Default 15. */
    window: z.number().positive().default(15),
    /** Largest offset searched, ms. Default 800. */
    maxOffsetMs: z.number().positive().default(800),
    /** Pairs within this many ms of the lag support it. Default 20. */
    matchMs: z.number().positive().default(20),
    /** Supporting pairs needed for an estimate. Default 5. */
    minEvents: z.number().int().min(2).default(5),
    /** Confidence (0..1) needed for an estimate. Default 0.5. */
    minConfidence: z.number().min(0).max(1).default(0.5),
    /**
     * Natural content (see av-sync-correlator.ts): estimate from the consensus of correlated
     * picture motion and sound onsets when there are no paired events. Since its significance
     * test (`correlationNullMargin`) it gave no av.sync incident in 119 minutes of clean real
     * content and no false one on 52 real-lossy clips (before it: a real camera under
     * unrelated music read -140 ms and opened one). Still off by default: it finds few offsets
     * on real film (1 of 6 eval offset clips), it costs 0.75-2.4 % of a core per stream, and
     * it asks for every frame from the start, so a file would no longer be read on reference
     * frames alone (every-frame-upgrade.ts). Turn it on per profile where offsets on
     * programme matter more than that. Default false.
     */
    naturalContent: z.boolean().default(false),
    /** Natural content: seconds of votes a consensus is taken over. Default 30. */
    correlationWindow: z.number().min(5).max(120).default(30),
    /** Natural content: seconds correlated per vote (one a second). Default 5. */
    correlationSegment: z.number().min(2).max(30).default(5),
    /** Natural content: largest lag a vote may give, ms. Default 500. */
    correlationMaxOffsetMs: z.number().min(100).max(900).default(500),
    /** Natural content: peak-to-sidelobe ratio a segment needs to vote. Default 3. */
    minPeakRatio: z.number().positive().default(3),
    /** Natural content: votes that must agree for an estimate. Default 3. */
    correlationVotes: z.number().int().min(1).max(60).default(3),
    /** Natural content: share of the window's votes that must agree (0..1). Default 0.7. */
    correlationAgreement: z.number().min(0).max(1).default(0.7),
    /** Natural content: how far an agreeing vote may lie from the votes' median, ms. Default 30. */
    correlationAgreeMs: z.number().positive().default(30),
    /**
     * Natural content: clear peaks beyond the search count as votes against every lag inside
     * it. Default false (on, no coded Big Buck Bunny clip got an estimate: see DETECTORS.md).
     */
    correlationCountOutside: z.boolean().default(false),
    /**
     * Natural content: seconds between the first and the last agreeing vote. Default 0 (at
     * the segment length, 5 s, 1 of 66 shifted Big Buck Bunny stretches got one: DETECTORS.md).
     */
    correlationSpan: z.number().min(0).max(120).default(0),
    /**
     * Natural content, the significance test: a vote's correlation peak must reach this many
     * times the highest peak of the null pairings (the same pictures against this stream's
     * own sound from 2-12 s earlier, and the same sound against the pictures of then), so
     * that chance alignments (a steady beat under steady walking, sound unrelated to the
     * pictures) give no vote. 0 turns it off. Default 1.3 (DETECTORS.md: the smallest margin
     * that left no wrong estimate on the tune material).
     */
    correlationNullMargin: z.number().min(0).max(10).default(1.3),
    /** Seconds the offset must stay outside the tolerance before an incident opens. Default 5. */
    minDuration: z.number().min(0).default(5),
  })
  .strict();

type Options = z.output<typeof AvSyncOptions>;

const HOP = 48; // 1 ms at 48 kHz; recomputed per sample rate
const HISTORY_HOPS = 100; // background level: the 100 ms before an onset
const LOOKAHEAD_HOPS = 5;
const RING = 1 << 16;
const HOP_RING = 4096;
const HOP_MASK = HOP_RING - 1;
const ONSET_RATIO = 16; // +12 dB over the background
const ONSET_FLOOR = 1e-5; // -50 dBFS mean square
const REFRACTORY = 0.15;
/** Frame changes kept for the recent-motion median (about a second). */
const CHANGE_HISTORY = 26;
/**
 * Onsets sharing a lag (at the estimate's confidence) that make every frame worth decoding
 * when only reference frames are (everyFrameFrom): fewer than an estimate needs, so that the
 * frames come before the first estimate is made.
 */
const WANT_SUPPORT = 3;
/** A rival lag lies this far from the winner at least (s): two frames at 25 fps and more. */
const RIVAL_GAP = 0.1;

interface Pair {
  readonly lag: number;
  /** The onset's time. */
  readonly a: number;
  /** The picture change's time. */
  readonly v: number;
}

/**
 * Mean absolute difference of every other pixel of every other row: a flash, cut or motion
 * burst changes the whole picture, so a quarter of the pixels measures it as well at a
 * quarter of the cost. A function of its own so that V8 optimises the loop alone.
 */
function meanAbsDifference(luma: Uint8Array, prev: Uint8Array, width: number): number {
  let sum = 0;
  let count = 0;
  const n = Math.min(luma.length, prev.length);
  for (let row = 0; row < n; row += 2 * width) {
    const end = Math.min(row + width, n);
    for (let i = row; i < end; i += 2) {
      const d = luma[i]! - prev[i]!;
      sum += d < 0 ? -d : d;
      count++;
    }
  }
  return sum / Math.max(1, count);
}

interface Estimate {
  offsetMs: number;
  confidence: number;
  /** `events`: paired onsets and picture changes; `correlation`: natural content. */
  method: "events" | "correlation";
  /** The correlation's peak-to-sidelobe ratio (correlation estimates only). */
  peakRatio: number | null;
  /** Video time of the earliest pair supporting the lag. */
  since: number;
  support: number;
}

class AvSyncDetector implements Detector {
  readonly type = "av.sync";
  private readonly maxLead: number;
  private readonly maxLag: number;
  // Audio: mono ring of samples and energies per hop, with absolute indices.
  private readonly mono = new Float32Array(RING);
  /** Ring of hop energies by absolute hop index; a power of two, so `& HOP_MASK` wraps it. */
  private readonly hopEnergy = new Float64Array(HOP_RING);
  private sampleRate = 48_000;
  private hop = HOP;
  private samples = 0; // absolute samples written
  private hops = 0; // absolute hops complete
  private hopAcc = 0; // sum of squares of the samples of the hop in progress
  private checkedHop = HISTORY_HOPS;
  private basePts = 0;
  private baseSample = 0;
  private expectedPts: number | null = null;
  private lastOnset = -Infinity;
  private onsets: number[] = [];
  // Video.
  private prev: Uint8Array | null = null;
  /** The last CHANGE_HISTORY frame changes and their pts, oldest first; typed so their shape never changes. */
  private readonly changePts = new Float64Array(CHANGE_HISTORY);
  private readonly changeValues = new Float64Array(CHANGE_HISTORY);
  private readonly sortedChanges = new Float64Array(CHANGE_HISTORY);
  private changeCount = 0;
  private events: number[] = [];
  private lastEstimateAt = 0;
  private latest: Estimate | null = null;
  // Incident state.
  private outSince: number | null = null;
  private open: { start: number; offsetMs: number } | null = null;
  private lastMediaPts = 0;
  private firstMediaPts: number | null = null;
  /** Media time of the last estimate inside the tolerance (either method). */
  private lastInSync: number | null = null;
  private readonly correlator: AvSyncCorrelator;
  /** Every frame wanted from this media time (null: reference frames do). */
  private wantFrom: number | null = null;
  private lastVideoPts = -Infinity;
  /** Frames up to here are a replay (restartVideo): seen once already by the correlator. */
  private replayUntil = -Infinity;

  constructor(
    private readonly opts: Options,
    private readonly sink: ConditionSink,
  ) {
    const preset = TOLERANCE_PRESETS[opts.preset];
    this.maxLead = opts.maxLeadMs ?? preset.maxLeadMs;
    this.maxLag = opts.maxLagMs ?? preset.maxLagMs;
    this.correlator = new AvSyncCorrelator({
      segment: opts.correlationSegment,
      horizon: Math.max(opts.correlationWindow, opts.correlationSegment),
      maxOffsetMs: opts.correlationMaxOffsetMs,
      minPeakRatio: opts.minPeakRatio,
      minVotes: opts.correlationVotes,
      minAgreement: opts.correlationAgreement,
      agreeMs: opts.correlationAgreeMs,
      countOutside: opts.correlationCountOutside,
      minSpan: opts.correlationSpan,
      nullMargin: opts.correlationNullMargin,
    });
  }

  private seen(pts: number): void {
    if (this.firstMediaPts === null || pts < this.firstMediaPts) this.firstMediaPts = pts;
  }

  pushAudio(block: AudioBlock): void {
    if (
      block.sampleRate !== this.sampleRate ||
      this.expectedPts === null ||
      Math.abs(block.pts - this.expectedPts) > 0.01
    ) {
      // A discontinuity: restart the sample clock at this block.
      this.sampleRate = block.sampleRate;
      this.hop = Math.max(1, Math.round(block.sampleRate / 1000));
      this.basePts = block.pts;
      this.baseSample = this.samples = this.hops * this.hop;
      this.checkedHop = this.hops + HISTORY_HOPS;
      this.hopAcc = 0;
    }
    const ch = block.channels;
    const src = block.samples;
    const mono = this.mono;
    const hop = this.hop;
    const end = block.frames * ch;
    let n = this.samples;
    // The hop's energy is summed as its samples arrive, from the values as stored (Float32),
    // in the same order as re-reading the hop from the ring would.
    let e = this.hopAcc;
    let left = hop - (n % hop);
    for (let i = 0; i < end; i += ch) {
      let v = 0;
      for (let c = 0; c < ch; c++) v += src[i + c]!;
      const x = Math.fround(v / ch);
      mono[n & (RING - 1)] = x;
      n++;
      e += x * x;
      if (--left === 0) {
        this.hopEnergy[this.hops & HOP_MASK] = e / hop;
        this.hops++;
        e = 0;
        left = hop;
      }
    }
    this.samples = n;
    this.hopAcc = e;
    this.seen(block.pts);
    // Off, the correlator is never fed: it would spend an FFT every 10 ms and, never asked
    // for a vote (which trims its history), keep every frame's and hop's value for ever.
    if (this.opts.naturalContent) this.correlator.pushAudio(block);
    this.expectedPts = block.pts + block.frames / block.sampleRate;
    this.lastMediaPts = Math.max(this.lastMediaPts, this.expectedPts);
    this.findOnsets();
    if (this.expectedPts - this.lastEstimateAt >= 1) {
      this.lastEstimateAt = this.expectedPts;
      // Natural content votes every second, paired events or not, so that its window is full
      // whenever the events fall silent.
      if (this.opts.naturalContent) this.correlator.vote(this.expectedPts);
      this.estimate(this.expectedPts);
    }
  }

  private sampleTime(index: number): number {
    return this.basePts + (index - this.baseSample) / this.sampleRate;
  }

  private findOnsets(): void {
    const n = HOP_RING;
    const ring = this.hopEnergy;
    for (; this.checkedHop + LOOKAHEAD_HOPS <= this.hops; this.checkedHop++) {
      const h = this.checkedHop;
      if (this.hops - h > n - HISTORY_HOPS - LOOKAHEAD_HOPS) continue;
      let before = 0;
      // Summed afresh in hop order (not a running sum), so every decision is as it was.
      for (let k = h - HISTORY_HOPS; k < h - 2; k++) before += ring[k & HOP_MASK]!;
      before /= HISTORY_HOPS - 2;
      let after = 0;
      for (let k = h; k < h + LOOKAHEAD_HOPS; k++) after += ring[k & HOP_MASK]!;
      after /= LOOKAHEAD_HOPS;
      if (after < ONSET_FLOOR || after < ONSET_RATIO * before) continue;
      // The onset proper: the first sample reaching a quarter of the peak that follows.
      const from = (h - 2) * this.hop;
      const to = (h + LOOKAHEAD_HOPS) * this.hop;
      let peak = 0;
      for (let k = from; k < to; k++) peak = Math.max(peak, Math.abs(this.mono[k & (RING - 1)] ?? 0));
      let at = from;
      while (at < to && Math.abs(this.mono[at & (RING - 1)] ?? 0) < peak * 0.25) at++;
      const t = this.sampleTime(at);
      if (t - this.lastOnset >= REFRACTORY) {
        this.onsets.push(t);
        this.lastOnset = t;
      }
      // Skip the rest of this rise.
      this.checkedHop += LOOKAHEAD_HOPS;
    }
  }

  everyFrameFrom(): number | null {
    // Natural content correlates every frame's motion from the start.
    if (this.opts.naturalContent) return this.firstMediaPts ?? 0;
    return this.wantFrom;
  }

  restartVideo(from: number): void {
    this.events = this.events.filter((t) => t < from);
    this.prev = null;
    this.changeCount = 0;
    this.replayUntil = this.lastVideoPts;
  }

  pushVideo(frame: VideoFrame): void {
    const luma = frame.luma;
    this.lastMediaPts = Math.max(this.lastMediaPts, frame.pts);
    this.lastVideoPts = Math.max(this.lastVideoPts, frame.pts);
    if (!this.prev || this.prev.length !== luma.length) {
      this.prev = new Uint8Array(luma);
      return;
    }
    const w = frame.width > 0 ? frame.width : luma.length;
    const change = meanAbsDifference(luma, this.prev, w);
    this.seen(frame.pts);
    if (this.opts.naturalContent && frame.pts > this.replayUntil)
      this.correlator.pushVideo(luma, this.prev, w, frame.height, frame.pts);
    this.prev.set(luma);
    const n = this.changeCount;
    if (n === CHANGE_HISTORY) {
      this.changePts.copyWithin(0, 1);
      this.changeValues.copyWithin(0, 1);
    } else {
      this.changeCount++;
    }
    const last = this.changeCount - 1;
    this.changePts[last] = frame.pts;
    this.changeValues[last] = change;
    // Decide on the frame before this one: a peak over both neighbours and the recent motion.
    if (this.changeCount < 3) return;
    const values = this.changeValues;
    const mid = values[last - 1]!;
    if (mid < 8 || mid < values[last - 2]! || mid < values[last]!) return;
    const sorted = this.sortedChanges.subarray(0, this.changeCount);
    sorted.set(values.subarray(0, this.changeCount));
    sorted.sort();
    if (mid >= 4 * sorted[this.changeCount >> 1]!) this.events.push(this.changePts[last - 1]!);
  }

  private estimate(now: number): void {
    const from = now - this.opts.window;
    this.onsets = this.onsets.filter((t) => t >= from - 1);
    this.events = this.events.filter((t) => t >= from - 1);
    const onsets = this.onsets.filter((t) => t >= from);
    const events = this.events;
    const max = this.opts.maxOffsetMs / 1000;
    const tol = this.opts.matchMs / 1000;
    const pairs: Pair[] = [];
    for (const a of onsets)
      for (const v of events) if (Math.abs(a - v) <= max) pairs.push({ lag: a - v, a, v });
    let best: Pair[] = [];
    for (const p of pairs) {
      const near = pairs.filter((q) => Math.abs(q.lag - p.lag) <= tol);
      const distinct = new Set(near.map((q) => q.a)).size;
      if (distinct > new Set(best.map((q) => q.a)).size) best = near;
    }
    const support = new Set(best.map((q) => q.a)).size;
    const rival = this.rivalSupport(pairs, best, tol);

    const chance = onsets.length > 0 ? (events.length * 2 * tol) / Math.max(1, this.opts.window) : 0;
    const confidence = onsets.length > 0 ? Math.max(0, (support - chance) / onsets.length) : 0;
    if (this.wantFrom === null && support >= WANT_SUPPORT && confidence >= this.opts.minConfidence) {
      // Events are paired: time them to the frame, over the whole window they are judged on.
      this.wantFrom = Math.max(
        this.firstMediaPts ?? 0,
        now - this.opts.window - this.opts.maxOffsetMs / 1000,
      );
    }
    // Another lag paired as many onsets: the events repeat at a steady period (a beat under
    // flashing lights, a dance) and the lag is known only to a multiple of it. No estimate
    // rather than a coin toss between them.
    if (support < this.opts.minEvents || confidence < this.opts.minConfidence || rival >= support - 1) {
      this.naturalEstimate(now);
      return;
    }
    const lags = best.map((q) => q.lag).sort((a, b) => a - b);
    const offsetMs = Math.round((lags[lags.length >> 1] ?? 0) * 10000) / 10;
    // The lag holds since the last onset that does not support it: earlier pairs that fit it
    // by chance (a flash's end k frames after an in-sync beep gives a lag of -k frames) must
    // not date the onset back into the in-sync stretch.
    const supporting = new Set(best.map((q) => q.a));
    let lastOther = -Infinity;
    for (const a of onsets) if (!supporting.has(a) && a > lastOther) lastOther = a;
    const recent = best.filter((q) => q.a > lastOther);
    const since = Math.min(...(recent.length > 0 ? recent : best).map((q) => q.v));
    this.latest = {
      offsetMs,
      confidence: Math.round(confidence * 100) / 100,
      method: "events",
      peakRatio: null,
      since,
      support,
    };
    this.judge(this.latest, now);
  }

  /**
   * The most onsets another lag pairs, one more than RIVAL_GAP from the winner's: as many as the
   * winner's when the events repeat at a steady period (a beat, a strobe), and the lag is then
   * known only to a multiple of it.
   */
  private rivalSupport(pairs: readonly Pair[], best: readonly Pair[], tol: number): number {
    if (best.length === 0) return 0;
    const lags = best.map((q) => q.lag).sort((a, b) => a - b);
    const won = lags[lags.length >> 1]!;
    const others = pairs.filter((q) => Math.abs(q.lag - won) > RIVAL_GAP);
    let rival = 0;
    for (const p of others) {
      const near = new Set(others.filter((q) => Math.abs(q.lag - p.lag) <= tol).map((q) => q.a)).size;
      if (near > rival) rival = near;
    }
    return rival;
  }

  /**
   * No paired events: the natural-content consensus, or no estimate at all. An offset it
   * finds holds since the last estimate that was in sync, or since the stream began: nothing
   * earlier said otherwise.
   */
  private naturalEstimate(now: number): void {
    const c = this.opts.naturalContent ? this.correlator.consensus() : null;
    if (c === null) {
      this.latest = null;
      return;
    }
    this.latest = {
      offsetMs: c.offsetMs,
      confidence: c.confidence,
      method: "correlation",
      peakRatio: c.peakRatio,
      // In sync: the whole window says so, from its start.
      since: this.outside(c.offsetMs)
        ? (this.lastInSync ?? this.firstMediaPts ?? 0)
        : Math.max(this.firstMediaPts ?? 0, now - this.opts.correlationWindow),
      support: c.votes,
    };
    this.judge(this.latest, now);
  }

  private outside(offsetMs: number): boolean {
    return offsetMs > this.maxLag || offsetMs < -this.maxLead;
  }

  private judge(e: Estimate, now: number): void {
    if (this.outside(e.offsetMs)) {
      if (this.open) {
        if (Math.abs(this.open.offsetMs - e.offsetMs) >= 10) {
          this.open.offsetMs = e.offsetMs;
          this.sink({ phase: "update", condition: this.condition(null, e) });
        }
        return;
      }
      if (this.outSince === null) this.outSince = e.since;
      if (now - this.outSince >= this.opts.minDuration) {
        this.open = { start: this.outSince, offsetMs: e.offsetMs };
        this.sink({ phase: "start", condition: this.condition(null, e) });
      }
      return;
    }
    this.outSince = null;
    this.lastInSync = now;
    if (this.open) {
      this.sink({ phase: "end", condition: this.condition(Math.max(e.since, this.open.start), e) });
      this.open = null;
    }
  }

  private condition(end: number | null, e: Estimate | null) {
    return {
      type: "av.sync",
      start: this.open?.start ?? 0,
      end,
      details: {
        offsetMs: end === null ? (e?.offsetMs ?? this.open?.offsetMs ?? null) : (this.open?.offsetMs ?? null),
        confidence: e?.confidence ?? null,
        method: e?.method ?? null,
        peakRatio: e?.peakRatio ?? null,
        maxLeadMs: this.maxLead,
        maxLagMs: this.maxLag,
      },
    };
  }

  flush(endPts: number): void {
    if (this.open) {
      this.sink({ phase: "end", condition: this.condition(Math.max(endPts, this.open.start), null) });
      this.open = null;
    }
    this.outSince = null;
  }

  measure() {
    return {
      offsetMs: this.latest?.offsetMs ?? null,
      confidence: this.latest?.confidence ?? null,
      method: this.latest?.method ?? null,
      pairs: this.latest?.support ?? 0,
    };
  }
}

export const avSyncDetector = defineDetector({
  type: "av.sync",
  description: "av.sync: audio/video offset from audio onsets paired with visual change events",
  // It times each picture change to the frame: the decoder must give it every frame
  // (decode-policy.ts: `auto` decodes every frame for a profile with it).
  needs: { video: true, audio: true, everyFrame: true },
  emits: [{ type: "av.sync", severity: "major" }],
  options: AvSyncOptions,
  create: (options, sink) => new AvSyncDetector(options, sink),
});
