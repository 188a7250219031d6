/**
 * `audio.loudness`: program loudness outside a target window, and true peaks over a limit.
 *
 * Program loudness is measured, by default, as gated integrated loudness (BS.1770-4) over a
 * sliding 30 s window, re-evaluated every 100 ms: short-term (3 s) loudness swings by 10 LU
 * or more with every pause in speech, so it would flag compliant programmes; a 30 s gated
 * window follows the programme while still catching a loud commercial within about a second
 * of its start. `measure: "short-term"` is available for stricter monitoring.
 *
 * True-peak overs are reported as a separate condition type, `audio.true-peak`, so that an
 * over during a loudness excursion does not share (and close) the loudness incident; both
 * carry `lufs`, `target` and `truePeakDbtp` in their details.
 *
 * The meter interpolates true peaks only where they could come within `TRUE_PEAK_MARGIN_DB`
 * of the limit, so every over is measured exactly. Where the programme stays further below,
 * `truePeakDbtp` (on `audio.loudness` incidents and in `measure()`) is a lower bound between
 * the sample peak and the true peak: below the limit minus the margin either way, but it may
 * read low (on programme usually by well under 1 dB; by up to about 6 dB on contrived signals).
 */
import { z } from "zod";
import type { AudioBlock } from "../../ingest/media.js";
import { defineDetector, type Condition, type ConditionSink, type Detector } from "../detector.js";
import { LoudnessMeter, type LoudnessStep } from "./loudness-meter.js";

export const LOUDNESS_PRESETS = {
  /** EBU R128: -23 LUFS ± 1 LU, -1 dBTP. */
  "ebu-r128": { target: -23, tolerance: 1, truePeakLimit: -1 },
  /** ATSC A/85: -24 LKFS ± 2 dB, -2 dBTP. */
  "atsc-a85": { target: -24, tolerance: 2, truePeakLimit: -2 },
} as const;

export const LoudnessOptionsSchema = z
  .object({
    /** Preset giving target, tolerance and true-peak limit. @defaultValue "ebu-r128" */
    preset: z.enum(["ebu-r128", "atsc-a85"]).default("ebu-r128"),
    /** Target loudness, LUFS; overrides the preset's. */
    target: z.number().min(-70).max(0).optional(),
    /** Allowed deviation from the target, LU; overrides the preset's. */
    tolerance: z.number().positive().max(20).optional(),
    /** True-peak limit, dBTP; overrides the preset's. */
    truePeakLimit: z.number().max(6).optional(),
    /** What is compared with the target. @defaultValue "integrated" (sliding window) */
    measure: z.enum(["integrated", "short-term"]).default("integrated"),
    /** Length of the sliding integrated window, seconds. @defaultValue 30 */
    windowSeconds: z.number().min(3).max(600).default(30),
    /** Seconds of audio measured before the window is judged at all. @defaultValue 3 */
    minSeconds: z.number().min(0.4).max(600).default(3),
    /** LU back inside the window before a loudness condition ends (stops flapping). @defaultValue 0.2 */
    hysteresis: z.number().min(0).max(5).default(0.2),
    /** A true-peak over within this many seconds of the last one extends its condition. @defaultValue 1 */
    truePeakHoldSeconds: z.number().min(0).max(60).default(1),
  })
  .refine((o) => o.minSeconds <= o.windowSeconds, {
    message: "minSeconds must not exceed windowSeconds",
    path: ["minSeconds"],
  });

export type LoudnessOptions = z.output<typeof LoudnessOptionsSchema>;

/**
 * dB below the true-peak limit from which the meter interpolates exactly. A floor at the limit
 * itself would already keep every over exact; the margin also keeps near-misses exact, so any
 * `truePeakDbtp` within 1 dB of the limit is the real true peak and not an underestimate.
 */
const TRUE_PEAK_MARGIN_DB = 1;

interface Open {
  start: number;
  extreme: number;
  direction: "loud" | "quiet";
  truePeak: number;
  reported: number;
}

export class LoudnessDetector implements Detector {
  readonly type = "audio.loudness";
  private meter: LoudnessMeter | null = null;
  private readonly target: number;
  private readonly tolerance: number;
  private readonly truePeakLimit: number;
  private open: Open | null = null;
  private peak: { start: number; last: number; max: number; lufs: number } | null = null;
  private lastLufs = NaN;
  private measuredSeconds = 0;
  /** Recent momentary loudness per 100 ms step (media time at the step's end, LUFS). */
  private readonly recentT: number[] = [];
  private readonly recentM: number[] = [];

  constructor(
    private readonly options: LoudnessOptions,
    private readonly sink: ConditionSink,
  ) {
    const preset = LOUDNESS_PRESETS[options.preset];
    this.target = options.target ?? preset.target;
    this.tolerance = options.tolerance ?? preset.tolerance;
    this.truePeakLimit = options.truePeakLimit ?? preset.truePeakLimit;
  }

  pushAudio(block: AudioBlock): void {
    if (!this.meter || this.meter.sampleRate !== block.sampleRate || this.meter.channels !== block.channels) {
      // A format change restarts the measurement; what was open stays open and is judged anew.
      this.meter = new LoudnessMeter({
        sampleRate: block.sampleRate,
        channels: block.channels,
        historySeconds: this.options.windowSeconds,
        truePeakFloor: this.truePeakLimit - TRUE_PEAK_MARGIN_DB,
        onStep: (s) => this.onStep(s),
      });
      this.measuredSeconds = 0;
    }
    this.meter.push(block.samples.subarray(0, block.frames * block.channels), block.pts);
  }

  /**
   * The window crosses the target some time after the programme does (a loud section must
   * outweigh the window's earlier content). The onset is dated back to the start of the run of
   * momentary (400 ms) loudness that is itself beyond the limit and ends now: the first such
   * block is the first to take in the change, within its last 100 ms step for a clear change.
   */
  private onset(beyond: (momentary: number) => boolean, now: number): number {
    let i = this.recentM.length - 1;
    if (i < 0 || !beyond(this.recentM[i]!)) return now;
    while (i > 0 && beyond(this.recentM[i - 1]!)) i--;
    return Math.max(0, this.recentT[i]! - 0.1);
  }

  private onStep(step: LoudnessStep): void {
    const meter = this.meter!;
    this.measuredSeconds += 0.1;
    const lufs =
      this.options.measure === "short-term"
        ? step.shortTerm
        : this.measuredSeconds + 1e-9 >= this.options.minSeconds
          ? meter.integratedOver(this.options.windowSeconds).lufs
          : NaN;
    this.lastLufs = lufs;
    this.recentT.push(step.t);
    this.recentM.push(step.momentary);
    if (this.recentT.length > this.options.windowSeconds * 10) {
      this.recentT.shift();
      this.recentM.shift();
    }
    this.judgeTruePeak(step);
    // Silence (-Infinity, all blocks gated out) is audio.silence's business, not loudness.
    if (!Number.isFinite(lufs)) return;
    const hi = this.target + this.tolerance;
    const lo = this.target - this.tolerance;
    const o = this.open;
    if (!o) {
      if (lufs > hi || lufs < lo) {
        this.open = {
          start: this.onset(lufs > hi ? (m) => m > hi : (m) => m < lo, step.t),
          extreme: lufs,
          direction: lufs > hi ? "loud" : "quiet",
          truePeak: step.truePeak,
          reported: lufs,
        };
        this.emit("start", this.open, null, lufs);
      }
      return;
    }
    o.truePeak = Math.max(o.truePeak, step.truePeak);
    const back =
      o.direction === "loud" ? lufs <= hi - this.options.hysteresis : lufs >= lo + this.options.hysteresis;
    if (back) {
      this.emit("end", o, step.t, lufs);
      this.open = null;
      return;
    }
    if (o.direction === "loud" ? lufs > o.extreme : lufs < o.extreme) o.extreme = lufs;
    if (Math.abs(o.extreme - o.reported) >= 0.5) {
      o.reported = o.extreme;
      this.emit("update", o, null, lufs);
    }
  }

  private judgeTruePeak(step: LoudnessStep): void {
    const p = this.peak;
    const over = step.truePeak > this.truePeakLimit;
    if (p && step.t - p.last > this.options.truePeakHoldSeconds) {
      this.endPeak(p.last);
    }
    if (!over) return;
    if (this.peak) {
      this.peak.last = step.t;
      if (step.truePeak > this.peak.max + 0.5) {
        this.peak.max = step.truePeak;
        this.sink({ phase: "update", condition: this.peakCondition(null) });
      }
      this.peak.max = Math.max(this.peak.max, step.truePeak);
      return;
    }
    // The over happened somewhere in this 100 ms step: its start is the step's start.
    this.peak = { start: Math.max(0, step.t - 0.1), last: step.t, max: step.truePeak, lufs: this.lastLufs };
    this.sink({ phase: "start", condition: this.peakCondition(null) });
  }

  private endPeak(end: number): void {
    if (!this.peak) return;
    this.sink({ phase: "end", condition: this.peakCondition(end) });
    this.peak = null;
  }

  private peakCondition(end: number | null): Condition {
    const p = this.peak!;
    return {
      type: "audio.true-peak",
      start: round(p.start),
      end: end === null ? null : round(end),
      details: {
        reason: "true-peak",
        truePeakDbtp: round(p.max, 100),
        limit: this.truePeakLimit,
        lufs: Number.isFinite(this.lastLufs) ? round(this.lastLufs, 100) : null,
        target: this.target,
      },
    };
  }

  private emit(phase: "start" | "update" | "end", o: Open, end: number | null, lufs: number): void {
    this.sink({
      phase,
      condition: {
        type: this.type,
        start: round(o.start),
        end: end === null ? null : round(end),
        details: {
          reason: o.direction,
          lufs: round(phase === "end" ? o.extreme : lufs, 100),
          target: this.target,
          tolerance: this.tolerance,
          measure: this.options.measure,
          windowSeconds: this.options.measure === "short-term" ? 3 : this.options.windowSeconds,
          truePeakDbtp: Number.isFinite(o.truePeak) ? round(o.truePeak, 100) : null,
        },
      },
    });
  }

  flush(endPts: number): void {
    if (this.open) {
      this.emit("end", this.open, endPts, this.open.extreme);
      this.open = null;
    }
    if (this.peak) this.endPeak(Math.min(endPts, this.peak.last));
  }

  measure(): Readonly<Record<string, number | string | boolean | null>> {
    const m = this.meter;
    const num = (v: number | undefined): number | null =>
      v === undefined || !Number.isFinite(v) ? null : round(v, 100);
    return {
      lufs: num(this.lastLufs),
      lufsMomentary: num(m?.momentary),
      lufsShortTerm: num(m?.shortTerm),
      lufsIntegrated: num(m?.integrated),
      loudnessRange: num(m?.loudnessRange),
      truePeakDbtp: num(m?.truePeak),
      target: this.target,
    };
  }
}

function round(v: number, scale = 1000): number {
  return Math.round(v * scale) / scale;
}

export const loudnessDetector = defineDetector({
  type: "audio.loudness",
  description:
    "Programme loudness (BS.1770-4, sliding gated window) outside target ± tolerance; true peak over the limit (audio.true-peak).",
  emits: [
    { type: "audio.loudness", severity: "minor" },
    { type: "audio.true-peak", severity: "minor" },
  ],
  needs: { audio: true },
  options: LoudnessOptionsSchema,
  create: (options, sink) => new LoudnessDetector(options, sink),
});
