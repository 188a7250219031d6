/**
 * `audio.clipping`: the sound was hard-clipped at full scale.
 *
 * One sample at full scale is a loud peak; hard clipping flattens the wave. In PCM that shows
 * as runs of samples at full scale, but a lossy codec (AAC, MP2, AC-3) applied after the
 * clipping rebuilds the flat tops from a band-limited spectrum: they decode ragged, with
 * overshoot above full scale (up to +6 dBFS in float) and runs of only one or two samples at
 * or above it between dips. So the measure is the density of samples at or beyond `clipLevel`
 * in short windows: a window is clipped when one channel has `minWindowSamples` of them in it.
 * An episode lasts while clipped windows recur within `holdSeconds` (speech pauses of a
 * quarter second must not split one clipped passage) and is reported once it spans
 * `minDuration`, dated at its first sample at full scale.
 */
import { z } from "zod";
import type { AudioBlock } from "../ingest/media.js";
import { MinDurationRun } from "./condition-run.js";
import { defineDetector, type ConditionSink, type Detector } from "./detector.js";

export const ClippingOptions = z
  .object({
    /** |sample| at or above which a sample is at full scale (float PCM, 1 = 0 dBFS). @defaultValue 0.999 */
    clipLevel: z.number().positive().max(2).default(0.999),
    /** Analysis window, seconds. @defaultValue 0.01 */
    windowSeconds: z.number().min(0.001).max(0.1).default(0.01),
    /**
     * Samples at full scale in one channel that make a window clipped. A loud clean transient
     * touches full scale for a sample or two; a clipped wave, even ragged by a codec, many times
     * in 10 ms (measured: 20 to 180 per 10 ms after AAC 128k). @defaultValue 3
     */
    minWindowSamples: z.number().int().min(1).default(3),
    /** Clipped windows closer than this belong to the same episode, seconds. @defaultValue 0.5 */
    holdSeconds: z.number().positive().default(0.5),
    /** Seconds an episode must span before it is reported. @defaultValue 0.3 */
    minDuration: z.number().positive().default(0.3),
  })
  .strict();
export type ClippingOptions = z.output<typeof ClippingOptions>;

const TYPE = "audio.clipping";

export class ClippingDetector implements Detector {
  readonly type = TYPE;
  /** Per channel: samples at full scale in the current window. */
  private counts = new Int32Array(0);
  private sampleRate = 0;
  private windowFrames = 0;
  private windowFill = 0;
  /** Media time of the window's first sample at full scale, and just after its last (NaN: none). */
  private windowFirst = NaN;
  private windowLast = NaN;
  private windowOvers = 0;
  private windowPeak = 0;
  private readonly run: MinDurationRun;
  private lastClipEnd = 0;
  private clippedSamples = 0;
  private peak = 0;
  private totalClipped = 0;

  constructor(
    private readonly opts: ClippingOptions,
    private readonly sink: ConditionSink,
  ) {
    this.run = new MinDurationRun(opts.minDuration);
  }

  pushAudio(block: AudioBlock): void {
    const { channels, samples, frames, sampleRate } = block;
    if (this.counts.length !== channels || this.sampleRate !== sampleRate) {
      this.endWindow();
      this.counts = new Int32Array(channels);
      this.sampleRate = sampleRate;
      this.windowFrames = Math.max(1, Math.round(this.opts.windowSeconds * sampleRate));
      this.windowFill = 0;
    }
    const level = this.opts.clipLevel;
    const step = 1 / sampleRate;
    const n = frames * channels;
    // Almost every block has no sample at full scale: one read-only scan proves it, and then
    // the block only moves the window on and raises the episode's peak.
    let blockPeak = 0;
    let j = 0;
    for (; j < n; j++) {
      const x = samples[j]!;
      const a = x < 0 ? -x : x;
      // Written so that NaN, like a full-scale sample, leaves the fast path.
      if (!(a < level)) break;
      if (a > blockPeak) blockPeak = a;
    }
    if (j === n) {
      if (this.run.inRun && blockPeak > this.peak) this.peak = blockPeak;
      const remaining = this.windowFrames - this.windowFill;
      if (frames >= remaining) {
        this.endWindow();
        // The windows after it in this block hold nothing at full scale.
        this.windowFill = (frames - remaining) % this.windowFrames;
      } else {
        this.windowFill += frames;
      }
    } else {
      const counts = this.counts;
      for (let i = 0; i < frames; i++) {
        const base = i * channels;
        for (let c = 0; c < channels; c++) {
          const x = samples[base + c]!;
          const a = x < 0 ? -x : x;
          if (this.run.inRun && a > this.peak) this.peak = a;
          if (!(a >= level)) continue;
          counts[c]!++;
          this.windowOvers++;
          const t = block.pts + i * step;
          if (Number.isNaN(this.windowFirst)) this.windowFirst = t;
          this.windowLast = t + step;
          if (a > this.windowPeak) this.windowPeak = a;
        }
        if (++this.windowFill === this.windowFrames) this.endWindow();
      }
    }
    // No clipped window for longer than the hold: the episode is over.
    if (this.run.inRun && block.pts + frames * step - this.lastClipEnd > this.opts.holdSeconds) {
      this.finish();
    } else if (this.run.reach(this.lastClipEnd)) {
      this.emit("start", null);
    }
  }

  flush(_endPts: number): void {
    // The episode ends with its last clipped sample, whatever follows.
    this.endWindow();
    this.finish();
  }

  measure(): Readonly<Record<string, number | boolean>> {
    return {
      clipping: this.run.isOpen,
      clippedSamples: this.totalClipped + (this.run.inRun ? this.clippedSamples : 0),
    };
  }

  /** Judges the window that just filled (or the partial one at a format change or the end). */
  private endWindow(): void {
    this.windowFill = 0;
    if (Number.isNaN(this.windowFirst)) return;
    let most = 0;
    for (let c = 0; c < this.counts.length; c++) {
      if (this.counts[c]! > most) most = this.counts[c]!;
      this.counts[c] = 0;
    }
    const first = this.windowFirst;
    const last = this.windowLast;
    const overs = this.windowOvers;
    const peak = this.windowPeak;
    this.windowPeak = 0;
    this.windowFirst = NaN;
    this.windowLast = NaN;
    this.windowOvers = 0;
    if (most < this.opts.minWindowSamples) return;
    if (this.run.inRun && first - this.lastClipEnd > this.opts.holdSeconds) this.finish();
    if (this.run.begin(first)) {
      this.clippedSamples = 0;
      this.peak = 0;
    }
    this.clippedSamples += overs;
    if (peak > this.peak) this.peak = peak;
    this.lastClipEnd = last;
  }

  private finish(): void {
    if (!this.run.inRun) return;
    const ended = this.run.finish(this.lastClipEnd);
    if (ended === "start-end") this.emit("start", null);
    if (ended !== "none") this.emit("end", this.lastClipEnd);
    this.totalClipped += this.clippedSamples;
  }

  private emit(phase: "start" | "end", end: number | null): void {
    this.sink({
      phase,
      condition: {
        type: TYPE,
        start: this.run.start,
        end,
        details: { clippedSamples: this.clippedSamples, peak: this.peak },
      },
    });
  }
}

export const clippingDetector = defineDetector({
  type: TYPE,
  description:
    "Samples at full scale, dense in short windows and recurring: hard clipping, also after a lossy codec.",
  emits: [{ type: TYPE, severity: "minor" }],
  needs: { audio: true },
  options: ClippingOptions,
  create: (options, sink) => new ClippingDetector(options, sink),
});
