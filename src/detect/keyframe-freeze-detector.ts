/**
 * `video.freeze` on keyframes only (light mode). FreezeDetector's rule that a change must
 * persist in the same blocks on two frames in a row separates noise from motion at 25 fps;
 * on pictures one keyframe interval apart a moving object is in other blocks every time, so
 * that rule would call motion noise. Here two consecutive keyframes are alike when at most
 * `maxChangedRatio` of their block means moved by more than `blockThreshold` (the freeze
 * detector's own options), with no persistence rule. A freeze starts at the first keyframe
 * of a run of alike keyframes spanning at least `minDuration`, and ends at the first keyframe
 * that differs: both are accurate to one keyframe interval (the true onset lies between the
 * keyframe before and the first one alike). Flat black pictures are `video.black`'s.
 */
import type { VideoFrame } from "../ingest/media.js";
import { defineDetector, type ConditionSink, type Detector } from "./detector.js";
import { FreezeOptions } from "./freeze-detector.js";

const COLS = 32;
const ROWS = 18;
const EPS = 1e-6;

export class KeyframeFreezeDetector implements Detector {
  readonly type = "video.freeze";
  private prev = new Float32Array(COLS * ROWS);
  private cur = new Float32Array(COLS * ROWS);
  private hasPrev = false;
  private runStart: number | null = null;
  private lastPts = 0;
  private open = false;
  private lastChangedRatio = 0;

  constructor(
    private readonly opts: FreezeOptions,
    private readonly sink: ConditionSink,
  ) {}

  pushVideo(frame: VideoFrame): void {
    const { width, height, luma, pts } = frame;
    if (width < COLS || height < ROWS || luma.length < width * height) return;
    const bw = Math.floor(width / COLS);
    const bh = Math.floor(height / ROWS);
    const cur = this.cur;
    cur.fill(0);
    for (let y = 0; y < bh * ROWS; y++) {
      const row = y * width;
      const by = Math.floor(y / bh) * COLS;
      for (let x = 0; x < bw * COLS; x++) cur[by + Math.floor(x / bw)]! += luma[row + x]!;
    }
    const n = bw * bh;
    for (let i = 0; i < cur.length; i++) cur[i] = cur[i]! / n;
    if (this.flatBlack(cur)) {
      this.end(pts);
      this.hasPrev = false;
      this.lastPts = pts;
      return;
    }
    if (this.hasPrev && pts - this.lastPts > this.opts.maxGap) this.end(this.lastPts);
    else if (this.hasPrev) {
      let changed = 0;
      for (let i = 0; i < cur.length; i++) {
        if (Math.abs(cur[i]! - this.prev[i]!) > this.opts.blockThreshold) changed++;
      }
      this.lastChangedRatio = changed / cur.length;
      if (this.lastChangedRatio <= this.opts.maxChangedRatio) {
        this.runStart ??= this.lastPts;
        if (!this.open && pts - this.runStart + EPS >= this.opts.minDuration) {
          this.open = true;
          this.sink({ phase: "start", condition: this.condition(null) });
        }
      } else {
        this.end(pts);
      }
    }
    [this.prev, this.cur] = [this.cur, this.prev];
    this.hasPrev = true;
    this.lastPts = pts;
  }

  private flatBlack(means: Float32Array): boolean {
    let dark = 0;
    for (let i = 0; i < means.length; i++) if (means[i]! <= this.opts.flatBlackLevel) dark++;
    return !this.opts.reportFlat && dark / means.length >= this.opts.flatRatio;
  }

  private condition(end: number | null): {
    type: string;
    start: number;
    end: number | null;
    details: Record<string, unknown>;
  } {
    const start = this.runStart ?? 0;
    return {
      type: this.type,
      start,
      end,
      details: { frozenFor: Number(((end ?? this.lastPts) - start).toFixed(3)), timing: "keyframe" },
    };
  }

  private end(at: number): void {
    if (this.open) this.sink({ phase: "end", condition: this.condition(at) });
    this.open = false;
    this.runStart = null;
  }

  flush(endPts: number): void {
    this.end(Math.max(endPts, this.lastPts));
  }

  measure(): Readonly<Record<string, number | boolean>> {
    return { frozen: this.open, changedRatio: this.lastChangedRatio };
  }
}

/** Registered only by the light profile (light-profile.ts), in place of `video.freeze`. */
export const keyframeFreezeDetector = defineDetector({
  type: "video.freeze",
  description: "Picture unchanged across keyframes for at least minDuration (light mode).",
  emits: [{ type: "video.freeze", severity: "major" }],
  needs: { video: true },
  options: FreezeOptions,
  create: (options, sink) => new KeyframeFreezeDetector(options, sink),
});
