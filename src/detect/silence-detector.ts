/**
 * `audio.silence`: every channel stays below `thresholdDbfs` for `minDuration` seconds.
 *
 * The decision is made on short windows (RMS per channel, so a noise floor whose level is
 * below the threshold counts as silence even if single samples poke above it); the onset
 * and end are then placed on the last / first sample above the threshold, so they are
 * sample-accurate where the sound really stops and starts.
 */
import { z } from "zod";
import type { AudioBlock } from "../ingest/media.js";
import { MinDurationRun } from "./condition-run.js";
import { defineDetector, type ConditionSink, type Detector } from "./detector.js";

export const SilenceOptions = z.object({
  /** Level below which a channel is silent, dBFS (RMS over a window). @defaultValue -60 */
  thresholdDbfs: z.number().max(0).default(-60),
  /** Seconds of silence before it is reported. @defaultValue 2 */
  minDuration: z.number().positive().default(2),
  /** Analysis window in seconds: short enough that a pause in speech is seen as such. @defaultValue 0.05 */
  windowSeconds: z.number().positive().max(1).default(0.05),
  /** Audio missing for longer than this ends the condition: a gap is not silence. @defaultValue 0.5 */
  maxGap: z.number().positive().default(0.5),
  /**
   * Seconds by which a silence may fall short of `minDuration` and still count. Lossy codecs
   * smear the edges of a cut into silence by up to one frame (AAC: 1024 samples, 21 ms at
   * 48 kHz), so 2.0 s of silence in the programme measures 1.977 s after AAC (measured by
   * `streamqc eval`). @defaultValue 0.03
   */
  codecSlack: z.number().min(0).max(0.5).default(0.03),
});
export type SilenceOptions = z.output<typeof SilenceOptions>;

const TYPE = "audio.silence";
/** The smallest minimum a run can have once `codecSlack` is taken off. */
const EPS = 1e-6;
/** Digital zero has no dB value; JSON has no -Infinity. */
const FLOOR_DBFS = -150;

function dbfs(x: number): number {
  return x > 0 ? Math.max(FLOOR_DBFS, 20 * Math.log10(x)) : FLOOR_DBFS;
}

export class SilenceDetector implements Detector {
  readonly type = TYPE;
  private readonly threshold: number;
  private readonly run: MinDurationRun;
  private sumSq = new Float64Array(0);
  private channels = 0;
  private sampleRate = 0;
  private windowFrames = 0;
  private count = 0;
  private windowStart = 0;
  private windowPeak = 0;
  /** Time of the first sample above the threshold in the current window, or -1. */
  private firstLoud = -1;
  /** Time just after the last sample above the threshold, or -Infinity. */
  private lastLoudEnd = Number.NEGATIVE_INFINITY;
  private expectedNext = Number.NaN;
  private runPeak = 0;
  private lastRmsDbfs = FLOOR_DBFS;

  constructor(
    private readonly opts: SilenceOptions,
    private readonly sink: ConditionSink,
  ) {
    this.threshold = 10 ** (opts.thresholdDbfs / 20);
    this.run = new MinDurationRun(Math.max(EPS, opts.minDuration - opts.codecSlack));
  }

  pushAudio(block: AudioBlock): void {
    const { sampleRate, channels, samples, frames } = block;
    if (channels !== this.channels || sampleRate !== this.sampleRate) {
      this.finishWindow();
      this.channels = channels;
      this.sampleRate = sampleRate;
      this.sumSq = new Float64Array(channels);
      this.windowFrames = Math.max(1, Math.round(this.opts.windowSeconds * sampleRate));
      this.count = 0;
    } else if (block.pts - this.expectedNext > this.opts.maxGap) {
      this.finishWindow();
      this.endRun(this.expectedNext);
    }
    const th = this.threshold;
    const step = 1 / sampleRate;
    const pts = block.pts;
    const sumSq = this.sumSq;
    // One window segment at a time, each channel in its own tight loop with the sums in
    // locals; sums continue from the stored ones, so they are added in the same order.
    for (let i = 0; i < frames;) {
      if (this.count === 0) {
        this.windowStart = pts + i * step;
        this.windowPeak = 0;
        this.firstLoud = -1;
      }
      const segEnd = Math.min(frames, i + this.windowFrames - this.count);
      let peak = this.windowPeak;
      let firstLoud = frames;
      let lastLoud = -1;
      const end = segEnd * channels;
      for (let c = 0; c < channels; c++) {
        let acc = sumSq[c]!;
        for (let j = i * channels + c, f = i; j < end; j += channels, f++) {
          const x = samples[j]!;
          acc += x * x;
          const a = x < 0 ? -x : x;
          if (a > peak) peak = a;
          if (a > th) {
            if (f < firstLoud) firstLoud = f;
            if (f > lastLoud) lastLoud = f;
          }
        }
        sumSq[c] = acc;
      }
      this.windowPeak = peak;
      if (lastLoud >= 0) {
        if (this.firstLoud < 0) this.firstLoud = pts + firstLoud * step;
        this.lastLoudEnd = pts + lastLoud * step + step;
      }
      this.count += segEnd - i;
      i = segEnd;
      if (this.count === this.windowFrames) this.finishWindow();
    }
    this.expectedNext = block.pts + frames * step;
  }

  flush(endPts: number): void {
    this.finishWindow();
    const end = Number.isNaN(this.expectedNext)
      ? endPts
      : endPts - this.expectedNext > this.opts.maxGap
        ? this.expectedNext
        : Math.max(endPts, this.expectedNext);
    this.endRun(end);
  }

  measure(): Readonly<Record<string, number | boolean>> {
    return { silent: this.run.isOpen, rmsDbfs: this.lastRmsDbfs };
  }

  private finishWindow(): void {
    if (this.count === 0) return;
    const n = this.count;
    const windowEnd = this.windowStart + n / this.sampleRate;
    let loudest = 0;
    for (let c = 0; c < this.channels; c++) {
      const rms = Math.sqrt((this.sumSq[c] ?? 0) / n);
      if (rms > loudest) loudest = rms;
      this.sumSq[c] = 0;
    }
    this.count = 0;
    this.lastRmsDbfs = dbfs(loudest);
    if (loudest < this.threshold) {
      // The sound stopped after its last loud sample, which lies in this window or the one before.
      const earliest = this.windowStart - this.windowFrames / this.sampleRate;
      const from = this.lastLoudEnd > earliest ? Math.min(this.lastLoudEnd, windowEnd) : this.windowStart;
      if (this.run.begin(from)) this.runPeak = 0;
      if (this.windowPeak > this.runPeak) this.runPeak = this.windowPeak;
      if (this.run.reach(windowEnd)) this.emit("start", null);
    } else if (this.run.inRun) {
      this.endRun(this.firstLoud >= 0 ? this.firstLoud : this.windowStart);
    }
  }

  private endRun(end: number): void {
    const ended = this.run.finish(end);
    if (ended === "start-end") this.emit("start", null);
    if (ended !== "none") this.emit("end", end);
  }

  private emit(phase: "start" | "end", end: number | null): void {
    this.sink({
      phase,
      condition: { type: TYPE, start: this.run.start, end, details: { peakDbfs: dbfs(this.runPeak) } },
    });
  }
}

export const silenceDetector = defineDetector({
  type: TYPE,
  description: "All channels below a level (RMS over short windows) for a minimum time.",
  emits: [{ type: TYPE, severity: "major" }],
  needs: { audio: true },
  options: SilenceOptions,
  create: (options, sink) => new SilenceDetector(options, sink),
});
