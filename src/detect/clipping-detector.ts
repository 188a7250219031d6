/**
 * `audio.clipping`: the sound is hard-clipped at full scale.
 *
 * One sample at full scale is a loud peak; hard clipping flattens the wave, so it shows as
 * runs of consecutive samples at or beyond `clipLevel`. An episode lasts while such runs
 * recur within `holdSeconds` of each other and is reported once it spans `minDuration`.
 */
import { z } from "zod";
import type { AudioBlock } from "../ingest/media.js";
import { defineDetector, type ConditionSink, type Detector } from "./detector.js";

export const ClippingOptions = z.object({
  /** |sample| at or above which a sample is at full scale (float PCM, 1 = 0 dBFS). @defaultValue 0.999 */
  clipLevel: z.number().positive().max(2).default(0.999),
  /** Consecutive full-scale samples (in one channel) that make a clipped run. @defaultValue 3 */
  minRunSamples: z.number().int().min(1).default(3),
  /** Clipped runs closer than this belong to the same episode, seconds. @defaultValue 0.25 */
  holdSeconds: z.number().positive().default(0.25),
  /** Seconds an episode must span before it is reported. @defaultValue 0.5 */
  minDuration: z.number().positive().default(0.5),
});
export type ClippingOptions = z.output<typeof ClippingOptions>;

const TYPE = "audio.clipping";

export class ClippingDetector implements Detector {
  readonly type = TYPE;
  private runs = new Int32Array(0);
  private inEpisode = false;
  private open = false;
  private episodeStart = 0;
  private lastClipEnd = 0;
  private clippedSamples = 0;
  private peak = 0;
  private totalClipped = 0;

  constructor(
    private readonly opts: ClippingOptions,
    private readonly sink: ConditionSink,
  ) {}

  pushAudio(block: AudioBlock): void {
    const { channels, samples, frames, sampleRate } = block;
    if (this.runs.length !== channels) this.runs = new Int32Array(channels);
    const level = this.opts.clipLevel;
    const minRun = this.opts.minRunSamples;
    const runs = this.runs;
    const step = 1 / sampleRate;
    const n = frames * channels;
    // Almost every block has no sample at full scale: one read-only scan proves it, and then
    // the block only resets the runs and raises the episode's peak.
    let blockPeak = 0;
    let j = 0;
    for (; j < n; j++) {
      const x = samples[j]!;
      const a = x < 0 ? -x : x;
      // Written so that NaN, like a full-scale sample, leaves the fast path (as before).
      if (!(a < level)) break;
      if (a > blockPeak) blockPeak = a;
    }
    if (j === n) {
      if (n > 0) runs.fill(0);
      if (this.inEpisode && blockPeak > this.peak) this.peak = blockPeak;
    } else {
      for (let i = 0; i < frames; i++) {
        const base = i * channels;
        for (let c = 0; c < channels; c++) {
          const x = samples[base + c]!;
          const a = x < 0 ? -x : x;
          if (this.inEpisode && a > this.peak) this.peak = a;
          if (a < level) {
            runs[c] = 0;
            continue;
          }
          const run = runs[c]! + 1;
          runs[c] = run;
          if (run < minRun) continue;
          const t = block.pts + i * step;
          if (run === minRun) this.clippedRun(t - (minRun - 1) * step, minRun, a);
          else this.clippedSamples++;
          this.lastClipEnd = t + step;
        }
      }
    }
    // No clipped run for longer than the hold: the episode is over.
    if (this.inEpisode && block.pts + frames * step - this.lastClipEnd > this.opts.holdSeconds) {
      this.finish();
    } else if (
      this.inEpisode &&
      !this.open &&
      this.lastClipEnd - this.episodeStart >= this.opts.minDuration
    ) {
      this.open = true;
      this.emit("start", null);
    }
  }

  flush(_endPts: number): void {
    // The episode ends with its last clipped sample, whatever follows.
    this.finish();
  }

  measure(): Readonly<Record<string, number | boolean>> {
    return {
      clipping: this.open,
      clippedSamples: this.totalClipped + (this.inEpisode ? this.clippedSamples : 0),
    };
  }

  private clippedRun(runStart: number, samples: number, a: number): void {
    if (this.inEpisode && runStart - this.lastClipEnd > this.opts.holdSeconds) this.finish();
    if (!this.inEpisode) {
      this.inEpisode = true;
      this.episodeStart = runStart;
      this.clippedSamples = 0;
      this.peak = a;
    }
    this.clippedSamples += samples;
  }

  private finish(): void {
    if (!this.inEpisode) return;
    if (!this.open && this.lastClipEnd - this.episodeStart >= this.opts.minDuration) {
      this.open = true;
      this.emit("start", null);
    }
    if (this.open) this.emit("end", this.lastClipEnd);
    this.totalClipped += this.clippedSamples;
    this.open = false;
    this.inEpisode = false;
  }

  private emit(phase: "start" | "end", end: number | null): void {
    this.sink({
      phase,
      condition: {
        type: TYPE,
        start: this.episodeStart,
        end,
        details: { clippedSamples: this.clippedSamples, peak: this.peak },
      },
    });
  }
}

export const clippingDetector = defineDetector({
  type: TYPE,
  description: "Runs of consecutive full-scale samples that recur: hard clipping.",
  emits: [{ type: TYPE, severity: "minor" }],
  needs: { audio: true },
  options: ClippingOptions,
  create: (options, sink) => new ClippingDetector(options, sink),
});
