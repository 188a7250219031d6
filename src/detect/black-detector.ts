/**
 * `video.black`: the picture is black for `minDuration` seconds.
 *
 * A frame is black when nearly all its pixels are near black (so a small logo or caption
 * does not break it) AND those near-black pixels are flat: a dark scene has a low mean too,
 * but its texture gives the dark pixels a spread that black (even with encoder noise) lacks.
 */
import { z } from "zod";
import type { VideoFrame } from "../ingest/media.js";
import { defineDetector, type ConditionSink, type Detector } from "./detector.js";

export const BlackOptions = z.object({
  /** Seconds of black before it is reported. @defaultValue 2 */
  minDuration: z.number().positive().default(2),
  /**
   * Luma (0..255) at or below which a pixel is near black. 32 holds limited-range black
   * (16) with encoder noise and stays below any visible dark grey. @defaultValue 32
   */
  pixelThreshold: z.number().int().min(0).max(255).default(32),
  /** Share of near-black pixels that makes a frame black; 0.98 leaves room for a logo. @defaultValue 0.98 */
  minBlackRatio: z.number().min(0).max(1).default(0.98),
  /**
   * Largest standard deviation (luma levels) of the near-black pixels: flat black with
   * encoder noise stays under 2, a dark scene with visible texture goes well over 5. @defaultValue 5
   */
  maxTexture: z.number().min(0).default(5),
  /** A stretch without frames longer than this ends the condition. @defaultValue 0.5 */
  maxGap: z.number().positive().default(0.5),
});
export type BlackOptions = z.output<typeof BlackOptions>;

const TYPE = "video.black";
const EPS = 1e-6;

export class BlackDetector implements Detector {
  readonly type = TYPE;
  private inRun = false;
  private open = false;
  private runStart = 0;
  private lastPts = 0;
  private interval = 0;
  private seen = false;
  private sumMean = 0;
  private sumRatio = 0;
  private frames = 0;
  private last = { meanLuma: 0, blackRatio: 0, texture: 0 };

  constructor(
    private readonly opts: BlackOptions,
    private readonly sink: ConditionSink,
  ) {}

  pushVideo(frame: VideoFrame): void {
    const { pts } = frame;
    if (this.seen) {
      const delta = pts - this.lastPts;
      if (delta > this.opts.maxGap) this.close(this.lastPts + this.interval);
      else if (delta > 0) this.interval = delta;
    }
    this.seen = true;
    this.lastPts = pts;

    const m = this.measureFrame(frame);
    this.last = m;
    const black = m.blackRatio >= this.opts.minBlackRatio && m.texture <= this.opts.maxTexture;
    if (!black) {
      this.close(pts);
      return;
    }
    if (!this.inRun) {
      this.inRun = true;
      this.runStart = pts;
      this.sumMean = 0;
      this.sumRatio = 0;
      this.frames = 0;
    }
    this.sumMean += m.meanLuma;
    this.sumRatio += m.blackRatio;
    this.frames++;
    if (!this.open && pts + this.interval - this.runStart + EPS >= this.opts.minDuration) {
      this.open = true;
      this.emit("start", null);
    }
  }

  flush(endPts: number): void {
    if (!this.seen) return;
    const end =
      endPts - this.lastPts > this.opts.maxGap
        ? this.lastPts + this.interval
        : Math.max(endPts, this.lastPts);
    this.close(end);
    this.seen = false;
  }

  measure(): Readonly<Record<string, number | boolean>> {
    return { black: this.open, ...this.last };
  }

  private close(end: number): void {
    if (!this.inRun) return;
    if (!this.open && end - this.runStart + EPS >= this.opts.minDuration) {
      this.open = true;
      this.emit("start", null);
    }
    if (this.open) this.emit("end", end);
    this.open = false;
    this.inRun = false;
  }

  private emit(phase: "start" | "end", end: number | null): void {
    const n = Math.max(1, this.frames);
    this.sink({
      phase,
      condition: {
        type: TYPE,
        start: this.runStart,
        end,
        details: { meanLuma: this.sumMean / n, blackRatio: this.sumRatio / n },
      },
    });
  }

  private measureFrame(frame: VideoFrame): { meanLuma: number; blackRatio: number; texture: number } {
    const { luma } = frame;
    const n = frame.width * frame.height;
    const th = this.opts.pixelThreshold;
    let sum = 0;
    let dark = 0;
    let darkSum = 0;
    let darkSq = 0;
    for (let i = 0; i < n; i++) {
      const v = luma[i] ?? 0;
      sum += v;
      if (v <= th) {
        dark++;
        darkSum += v;
        darkSq += v * v;
      }
    }
    const darkMean = dark > 0 ? darkSum / dark : 0;
    const texture = dark > 0 ? Math.sqrt(Math.max(0, darkSq / dark - darkMean * darkMean)) : 0;
    return { meanLuma: n > 0 ? sum / n : 0, blackRatio: n > 0 ? dark / n : 0, texture };
  }
}

export const blackDetector = defineDetector({
  type: TYPE,
  description: "The picture is black: nearly all pixels near black and flat (a logo may remain).",
  needs: { video: true },
  options: BlackOptions,
  create: (options, sink) => new BlackDetector(options, sink),
});
