/**
 * `video.black`: the picture is black for `minDuration` seconds.
 *
 * A frame is black when nearly all its pixels are near black (so a small logo or caption
 * does not break it) AND those near-black pixels are flat: a dark scene has a low mean too,
 * but its texture gives the dark pixels a spread that black (even with encoder noise) lacks.
 */
import { z } from "zod";
import type { VideoFrame } from "../ingest/media.js";
import { MinDurationRun } from "./condition-run.js";
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

export class BlackDetector implements Detector {
  readonly type = TYPE;
  private readonly run: MinDurationRun;
  private lastPts = 0;
  private interval = 0;
  private seen = false;
  private sumMean = 0;
  private sumRatio = 0;
  private frames = 0;
  private last: FrameStats = { meanLuma: 0, blackRatio: 0, texture: 0 };
  /** The last frame that was settled early: measured in full only when someone asks. */
  private unmeasured: VideoFrame | null = null;

  constructor(
    private readonly opts: BlackOptions,
    private readonly sink: ConditionSink,
  ) {
    this.run = new MinDurationRun(opts.minDuration);
  }

  pushVideo(frame: VideoFrame): void {
    const { pts } = frame;
    if (this.seen) {
      const delta = pts - this.lastPts;
      if (delta > this.opts.maxGap) this.close(this.lastPts + this.interval);
      else if (delta > 0) this.interval = delta;
    }
    this.seen = true;
    this.lastPts = pts;

    const m = this.measureFrame(frame, true);
    if (m) {
      this.last = m;
      this.unmeasured = null;
    } else {
      this.unmeasured = frame;
    }
    const black = m !== null && m.blackRatio >= this.opts.minBlackRatio && m.texture <= this.opts.maxTexture;
    if (!black) {
      this.close(pts);
      return;
    }
    if (this.run.begin(pts)) {
      this.sumMean = 0;
      this.sumRatio = 0;
      this.frames = 0;
    }
    this.sumMean += m.meanLuma;
    this.sumRatio += m.blackRatio;
    this.frames++;
    // A black frame lasts until the next one: the run covers this frame's whole interval.
    if (this.run.reach(pts + this.interval)) this.emit("start", null);
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
    if (this.unmeasured) {
      this.last = this.measureFrame(this.unmeasured, false) ?? this.last;
      this.unmeasured = null;
    }
    return { black: this.run.isOpen, ...this.last };
  }

  private close(end: number): void {
    const ended = this.run.finish(end);
    if (ended === "start-end") this.emit("start", null);
    if (ended !== "none") this.emit("end", end);
  }

  private emit(phase: "start" | "end", end: number | null): void {
    const n = Math.max(1, this.frames);
    this.sink({
      phase,
      condition: {
        type: TYPE,
        start: this.run.start,
        end,
        details: { meanLuma: this.sumMean / n, blackRatio: this.sumRatio / n },
      },
    });
  }

  /**
   * The frame's measurements, or null once it cannot be black: most pictures show more than
   * `1 - minBlackRatio` bright pixels within their first rows, so they cost a few hundred reads.
   */
  private measureFrame(frame: VideoFrame, stopWhenBright: boolean): FrameStats | null {
    const { luma } = frame;
    const n = Math.min(luma.length, frame.width * frame.height);
    const th = this.opts.pixelThreshold;
    // Black needs dark / n >= minBlackRatio: more bright pixels than this settle it.
    const maxBright = stopWhenBright ? n - Math.ceil(this.opts.minBlackRatio * n - 1e-9) : n;
    let bright = 0;
    let brightSum = 0;
    let darkSum = 0;
    let darkSq = 0;
    for (let i = 0; i < n; i++) {
      const v = luma[i]!;
      if (v > th) {
        brightSum += v;
        if (++bright > maxBright) return null;
      } else {
        darkSum += v;
        darkSq += v * v;
      }
    }
    const dark = n - bright;
    const darkMean = dark > 0 ? darkSum / dark : 0;
    const texture = dark > 0 ? Math.sqrt(Math.max(0, darkSq / dark - darkMean * darkMean)) : 0;
    return {
      meanLuma: n > 0 ? (brightSum + darkSum) / n : 0,
      blackRatio: n > 0 ? dark / n : 0,
      texture,
    };
  }
}

interface FrameStats {
  readonly meanLuma: number;
  readonly blackRatio: number;
  readonly texture: number;
}

export const blackDetector = defineDetector({
  type: TYPE,
  description: "The picture is black: nearly all pixels near black and flat (a logo may remain).",
  emits: [{ type: TYPE, severity: "critical" }],
  needs: { video: true },
  options: BlackOptions,
  create: (options, sink) => new BlackDetector(options, sink),
});
