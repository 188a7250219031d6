/**
 * `audio.loudness`: programme loudness as EBU R128 / ITU-R BS.1770-4 / ATSC A/85 mean it, on a
 * live channel; and `audio.true-peak`: true peaks over the limit.
 *
 * A programme's loudness is its gated integrated loudness, and a compliant programme swings
 * widely inside it (a loudness range of 15-20 LU is normal for drama and film: quiet dialogue,
 * loud action). Judging a 30 s window against ±1 LU judged those dynamics, not the programme.
 * Three rules, each with its own measure and horizon (DETECTORS.md gives sources and numbers):
 *
 * - `too-loud`: short-term loudness (3 s) at least `tooLoudLu` (10) above the target for
 *   `tooLoudSeconds`: painful at once, so judged in seconds, from the first audio.
 * - `jump`: short-term loudness at least `jumpLu` above the running programme level measured
 *   before it, for `jumpSeconds` (an advertisement break far louder than the programme).
 * - `off-target`: the running programme level, gated integrated loudness over the last
 *   `programmeSeconds`, at least `offTargetLu` from the target either way for
 *   `offTargetSeconds`; judged only once `minProgrammeSeconds` of programme were measured.
 *
 * One `audio.loudness` condition at a time: opened by the first rule that fires
 * (`details.rule`), held while any rule still holds (`details.rules` lists every rule that
 * fired during it), ended when none does. True-peak overs are a separate condition type, so an
 * over during a loudness excursion does not share (and close) the loudness incident.
 *
 * The meter interpolates true peaks only where they could come within `TRUE_PEAK_MARGIN_DB`
 * of the limit, so every over is measured exactly. Where the programme stays further below,
 * `truePeakDbtp` (on `audio.loudness` incidents and in `measure()`) is a lower bound between
 * the sample peak and the true peak.
 */
import { z } from "zod";
import type { AudioBlock } from "../../ingest/media.js";
import { MinDurationRun } from "../condition-run.js";
import { defineDetector, type Condition, type ConditionSink, type Detector } from "../detector.js";
import { LoudnessMeter, type LoudnessStep } from "./loudness-meter.js";

export const LOUDNESS_PRESETS = {
  /** EBU R128 (2020): -23 LUFS; ±1 LU where exact normalisation is impractical (live); -1 dBTP. */
  "ebu-r128": { target: -23, tolerance: 1, truePeakLimit: -1 },
  /** ATSC A/85 (2013): -24 LKFS, ±2 dB, -2 dBTP. */
  "atsc-a85": { target: -24, tolerance: 2, truePeakLimit: -2 },
} as const;

export const LoudnessOptionsSchema = z
  .object({
    /** Preset giving target, tolerance and true-peak limit. @defaultValue "ebu-r128" */
    preset: z.enum(["ebu-r128", "atsc-a85"]).default("ebu-r128"),
    /** Target loudness, LUFS; overrides the preset's. */
    target: z.number().min(-70).max(0).optional(),
    /** The standard's tolerance around the target, LU (reported in details); overrides the preset's. */
    tolerance: z.number().positive().max(20).optional(),
    /** True-peak limit, dBTP; overrides the preset's. */
    truePeakLimit: z.number().max(6).optional(),
    /** `too-loud`: LU above the target of the short-term loudness. @defaultValue 10 */
    tooLoudLu: z.number().positive().max(40).default(10),
    /** `too-loud`: seconds it must hold. @defaultValue 2 */
    tooLoudSeconds: z.number().min(0).max(60).default(2),
    /** `jump`: LU of short-term loudness above the programme level before it. @defaultValue 8 */
    jumpLu: z.number().positive().max(40).default(8),
    /** `jump`: seconds it must hold. @defaultValue 3 */
    jumpSeconds: z.number().min(0).max(60).default(3),
    /** `off-target`: LU between the programme level and the target, either way. @defaultValue 4.5 */
    offTargetLu: z.number().positive().max(40).default(4.5),
    /** `off-target`: seconds it must hold. @defaultValue 3 */
    offTargetSeconds: z.number().min(0).max(600).default(3),
    /** `off-target`: LU back inside the limit before it ends. @defaultValue 1 */
    hysteresisLu: z.number().min(0).max(10).default(1),
    /** Horizon of the programme level (sliding gated integrated loudness), seconds. @defaultValue 60 */
    programmeSeconds: z.number().min(10).max(3600).default(60),
    /** Seconds of audible programme measured before `off-target` and `jump` judge. @defaultValue 55 */
    minProgrammeSeconds: z.number().min(3).max(3600).default(55),
    /** Dips of a rule's measure shorter than this do not end it (pauses in speech). @defaultValue 1 */
    bridgeSeconds: z.number().min(0).max(10).default(1),
    /** A true-peak over within this many seconds of the last one extends its condition. @defaultValue 1 */
    truePeakHoldSeconds: z.number().min(0).max(60).default(1),
  })
  .strict()
  .refine((o) => o.minProgrammeSeconds <= o.programmeSeconds, {
    message: "minProgrammeSeconds must not exceed programmeSeconds",
    path: ["minProgrammeSeconds"],
  });

export type LoudnessOptions = z.output<typeof LoudnessOptionsSchema>;

/**
 * dB below the true-peak limit from which the meter interpolates exactly. A floor at the limit
 * itself would already keep every over exact; the margin also keeps near-misses exact, so any
 * `truePeakDbtp` within 1 dB of the limit is the real true peak and not an underestimate.
 */
const TRUE_PEAK_MARGIN_DB = 1;
/** The meter steps every 100 ms. */
const STEP = 0.1;
/** Short-term loudness covers the last 3 s: a reference taken before a run must predate it. */
const SHORT_TERM = 3;
/** BS.1770-4 absolute gate, LUFS. */
const ABS_GATE = -70;

export type LoudnessRule = "too-loud" | "jump" | "off-target";
const RULES: readonly LoudnessRule[] = ["too-loud", "jump", "off-target"];

/** One rule's state: a run of steps where its measure is beyond its limit, dips bridged. */
interface RuleState {
  readonly run: MinDurationRun;
  /** Media time of the last step the rule held (end of that step). */
  lastHeld: number;
  /** The measure's extreme (furthest from the limit) during the run, LUFS. */
  extreme: number;
  direction: "loud" | "quiet";
  /** The programme level the rule compared with (jump: before the run), LUFS. */
  reference: number;
  /** Dated onset of the run (earlier than the run's start, from the momentary loudness). */
  onset: number;
}

interface OpenLoudness {
  readonly start: number;
  readonly rule: LoudnessRule;
  readonly rules: Set<LoudnessRule>;
  direction: "loud" | "quiet";
  lufs: number;
  programme: number;
  truePeak: number;
  reported: number;
}

export class LoudnessDetector implements Detector {
  readonly type = "audio.loudness";
  private meter: LoudnessMeter | null = null;
  private readonly target: number;
  private readonly tolerance: number;
  private readonly truePeakLimit: number;
  private readonly rules: Record<LoudnessRule, RuleState>;
  private open: OpenLoudness | null = null;
  private peak: { start: number; last: number; max: number; lufs: number } | null = null;
  private programme = NaN;
  private audibleSeconds = 0;
  /**
   * Per 100 ms step over the programme horizon: its end time, momentary LUFS, its momentary
   * block's power (10^(LUFS/10)), the programme level then, and whether the step belongs to
   * a `jump` (excluded from the programme level: an advertisement is a programme of its own,
   * R128 and A/85 normalise each one separately, so one loud break must not make the programme
   * around it look off target).
   */
  private readonly ringT: Float64Array;
  private readonly ringM: Float64Array;
  private readonly ringE: Float64Array;
  private readonly ringP: Float64Array;
  private readonly ringX: Uint8Array;
  private steps = 0;

  constructor(
    private readonly options: LoudnessOptions,
    private readonly sink: ConditionSink,
  ) {
    const preset = LOUDNESS_PRESETS[options.preset];
    this.target = options.target ?? preset.target;
    this.tolerance = options.tolerance ?? preset.tolerance;
    this.truePeakLimit = options.truePeakLimit ?? preset.truePeakLimit;
    const hold: Record<LoudnessRule, number> = {
      "too-loud": options.tooLoudSeconds,
      jump: options.jumpSeconds,
      "off-target": options.offTargetSeconds,
    };
    const state = (rule: LoudnessRule): RuleState => ({
      run: new MinDurationRun(hold[rule]),
      lastHeld: 0,
      extreme: NaN,
      direction: "loud",
      reference: NaN,
      onset: 0,
    });
    this.rules = { "too-loud": state("too-loud"), jump: state("jump"), "off-target": state("off-target") };
    const n = Math.ceil(options.programmeSeconds / STEP) + 1;
    this.ringT = new Float64Array(n);
    this.ringM = new Float64Array(n);
    this.ringE = new Float64Array(n);
    this.ringP = new Float64Array(n);
    this.ringX = new Uint8Array(n);
  }

  pushAudio(block: AudioBlock): void {
    if (!this.meter || this.meter.sampleRate !== block.sampleRate || this.meter.channels !== block.channels) {
      // A format change restarts the measurement; what was open stays open and is judged anew.
      this.meter = new LoudnessMeter({
        sampleRate: block.sampleRate,
        channels: block.channels,
        // The programme level is integrated here, over the detector's own history.
        historySeconds: 1,
        truePeakFloor: this.truePeakLimit - TRUE_PEAK_MARGIN_DB,
        onStep: (s) => this.onStep(s),
      });
      this.audibleSeconds = 0;
      this.steps = 0;
    }
    this.meter.push(block.samples.subarray(0, block.frames * block.channels), block.pts);
  }

  private onStep(step: LoudnessStep): void {
    if (step.momentary > ABS_GATE) this.audibleSeconds += STEP;
    const i = this.steps % this.ringT.length;
    this.ringT[i] = step.t;
    this.ringM[i] = step.momentary;
    this.ringE[i] = step.momentary > ABS_GATE ? Math.pow(10, step.momentary / 10) : 0;
    // A step inside an open jump belongs to it; the rest of the jump is marked when it opens.
    this.ringX[i] = this.rules.jump.run.isOpen ? 1 : 0;
    this.steps++;
    // Off target only when the programme is off both with and without its jumps: leaving a
    // loud break out must not make the programme around it look quiet, and taking it in must
    // not make it look loud. `programme` is the level with them, as a meter shows it.
    const programme = this.programmeLevel(false);
    const withoutJumps = this.programmeLevel(true);
    this.programme = programme;
    // A jump is judged against the higher of the two (the less sensitive reference).
    this.ringP[i] = Math.max(programme, withoutJumps);
    this.judgeTruePeak(step);

    const judged = this.audibleSeconds + 1e-9 >= this.options.minProgrammeSeconds;
    const st = step.shortTerm;
    // Silence (-Infinity, all blocks gated out) is audio.silence's business, not loudness.
    const tooLoudLimit = this.target + this.options.tooLoudLu;
    this.judgeRule("too-loud", step.t, Number.isFinite(st) && st >= tooLoudLimit, st, tooLoudLimit, "loud");

    const jump = this.rules.jump;
    // The programme level before the short-term window took in the passage being judged.
    const reference = jump.run.inRun ? jump.reference : this.programmeAt(step.t - SHORT_TERM - STEP);
    const jumpHolds =
      judged && Number.isFinite(st) && Number.isFinite(reference) && st >= reference + this.options.jumpLu;
    if (!jump.run.inRun && jumpHolds) jump.reference = reference;
    this.judgeRule("jump", step.t, jumpHolds, st, reference + this.options.jumpLu, "loud");

    const offLoud = Math.min(programme, withoutJumps) - this.target;
    const offQuiet = Math.max(programme, withoutJumps) - this.target;
    const off = offLoud > 0 ? offLoud : offQuiet < 0 ? offQuiet : 0;
    // Once off target, back only when `hysteresisLu` inside the limit: the programme level of
    // real content wavers around any limit for a while after a change.
    const offLimit =
      this.options.offTargetLu - (this.rules["off-target"].run.isOpen ? this.options.hysteresisLu : 0);
    const offHolds = judged && Number.isFinite(off) && Math.abs(off) >= offLimit;
    this.judgeRule("off-target", step.t, offHolds, programme, NaN, off < 0 ? "quiet" : "loud");

    this.updateOpen(step);
  }

  /** One rule's run: begins where it first holds, opens after its hold, ends after a dip longer than the bridge. */
  private judgeRule(
    rule: LoudnessRule,
    t: number,
    holds: boolean,
    value: number,
    limit: number,
    direction: "loud" | "quiet",
  ): void {
    const r = this.rules[rule];
    if (holds) {
      if (r.run.inRun && r.direction !== direction) this.endRule(rule);
      if (r.run.begin(t - STEP)) {
        r.direction = direction;
        r.extreme = value;
        r.onset = this.datedOnset(rule, t, limit, direction);
        if (rule !== "jump") r.reference = this.programme;
      }
      r.lastHeld = t;
      if (direction === "loud" ? value > r.extreme : value < r.extreme) r.extreme = value;
      if (r.run.reach(t) && rule === "jump") this.exclude(r.onset);
      return;
    }
    if (r.run.inRun && t - r.lastHeld > this.options.bridgeSeconds) this.endRule(rule);
  }

  private endRule(rule: LoudnessRule): void {
    const r = this.rules[rule];
    // A run that never lasted its hold leaves no trace; the loudness condition follows below.
    r.run.finish(r.lastHeld);
  }

  /**
   * Where the excursion began. Short-term loudness crosses a limit up to 3 s after the sound
   * does, and the programme level much later: `too-loud` and `jump` date back over the run of
   * momentary (400 ms) loudness beyond their limit that ends now (dips up to `bridgeSeconds`
   * bridged, at most 3 s before the short-term run); `off-target` to the earliest time from
   * which the programme up to now is beyond the target by `offTargetLu`.
   */
  private datedOnset(rule: LoudnessRule, now: number, limit: number, direction: "loud" | "quiet"): number {
    const n = Math.min(this.steps, this.ringT.length);
    if (rule === "off-target") return this.changePoint(direction);
    let onset = now - STEP;
    let lastBeyond = now;
    for (let k = 1; k <= n; k++) {
      const i = (this.steps - k) % this.ringT.length;
      const t = this.ringT[i]!;
      if (now - t > SHORT_TERM + this.options.bridgeSeconds + 1) break;
      if (this.ringM[i]! >= limit) {
        lastBeyond = t;
        // A momentary block covers 400 ms; the sound came in during its last 100 ms step.
        onset = t - STEP;
      } else if (lastBeyond - t > this.options.bridgeSeconds) break;
    }
    return Math.max(0, onset);
  }

  /**
   * Gated integrated loudness (BS.1770-4 2.8: absolute gate -70 LUFS, relative gate -10 LU)
   * of the momentary blocks over the programme horizon, jumps left out or not. -Infinity when
   * all of it is silent.
   */
  private programmeLevel(withoutJumps: boolean): number {
    const n = Math.min(this.steps, this.ringT.length - 1);
    const len = this.ringT.length;
    let sum = 0;
    let count = 0;
    for (let k = 1; k <= n; k++) {
      const i = (this.steps - k) % len;
      const e = this.ringE[i]!;
      if (e > 0 && (!withoutJumps || this.ringX[i] === 0)) {
        sum += e;
        count++;
      }
    }
    if (count === 0) return -Infinity;
    const gate = (sum / count) * 0.1;
    sum = 0;
    count = 0;
    for (let k = 1; k <= n; k++) {
      const i = (this.steps - k) % len;
      const e = this.ringE[i]!;
      if (e > gate && (!withoutJumps || this.ringX[i] === 0)) {
        sum += e;
        count++;
      }
    }
    return count === 0 ? -Infinity : 10 * Math.log10(sum / count);
  }

  /** Leaves the steps from `from` to now out of the programme level (a jump that opened). */
  private exclude(from: number): void {
    const n = Math.min(this.steps, this.ringT.length);
    for (let k = 1; k <= n; k++) {
      const i = (this.steps - k) % this.ringT.length;
      if (this.ringT[i]! <= from) break;
      this.ringX[i] = 1;
    }
  }

  /**
   * Where the programme level changed, for `off-target`: over the programme horizon, the split
   * whose loudness after differs most from before in the rule's direction (scored like a
   * t-statistic, sqrt(n_before · n_after / n), at least 3 s each side). When the programme
   * before the best split is itself off target, the change is older than the horizon: the
   * horizon's first step.
   */
  private changePoint(direction: "loud" | "quiet"): number {
    const len = this.ringT.length;
    const n = Math.min(this.steps, len);
    const first = this.steps - n;
    const sums = new Float64Array(n + 1);
    const counts = new Float64Array(n + 1);
    for (let j = 0; j < n; j++) {
      const e = this.ringE[(first + j) % len]!;
      sums[j + 1] = sums[j]! + e;
      counts[j + 1] = counts[j]! + (e > 0 ? 1 : 0);
    }
    const minSide = Math.round(SHORT_TERM / STEP);
    const sign = direction === "loud" ? 1 : -1;
    let best = 0;
    let bestJ = -1;
    for (let j = minSide; j <= n - minSide; j++) {
      const cb = counts[j]!;
      const ca = counts[n]! - cb;
      if (cb === 0 || ca === 0) continue;
      const before = sums[j]! / cb;
      const after = (sums[n]! - sums[j]!) / ca;
      const score = sign * 10 * Math.log10(after / before) * Math.sqrt((cb * ca) / (cb + ca));
      if (score > best) {
        best = score;
        bestJ = j;
      }
    }
    const oldest = Math.max(0, this.ringT[first % len]! - STEP);
    if (bestJ < 0) return oldest;
    const before = 10 * Math.log10(sums[bestJ]! / counts[bestJ]!) - this.target;
    if (sign * before >= this.options.offTargetLu) return oldest;
    return Math.max(0, this.ringT[(first + bestJ) % len]! - STEP);
  }

  /** The programme level recorded at media time `t` (NaN when not measured then). */
  private programmeAt(t: number): number {
    const n = Math.min(this.steps, this.ringT.length);
    for (let k = 1; k <= n; k++) {
      const i = (this.steps - k) % this.ringT.length;
      if (this.ringT[i]! <= t + 1e-9) return this.ringP[i]!;
    }
    return NaN;
  }

  /** Opens the loudness condition when a rule opens, ends it when no rule holds any more. */
  private updateOpen(step: LoudnessStep): void {
    const active = RULES.filter((r) => this.rules[r].run.isOpen);
    const o = this.open;
    if (!o) {
      // The earliest-dated open rule names the incident (the one that saw it first).
      const first = active.sort((a, b) => this.rules[a].onset - this.rules[b].onset)[0];
      if (first === undefined) return;
      const r = this.rules[first];
      this.open = {
        start: r.onset,
        rule: first,
        rules: new Set(active),
        direction: r.direction,
        lufs: r.extreme,
        programme: r.reference,
        truePeak: step.truePeak,
        reported: r.extreme,
      };
      this.emit("start", this.open, null);
      return;
    }
    o.truePeak = Math.max(o.truePeak, step.truePeak);
    // A rule in a bridged dip is still open: the condition lasts until every rule has ended,
    // and while the programme measured so far is still off target the same way (a channel far
    // too loud is one incident, not one per loud scene until `off-target` may judge).
    // The programme as a meter shows it (jumps included): after a level step, scenes of the new
    // level come and go and each rule lets go between them; the channel is still off.
    const off = this.programme - this.target;
    const stillOff =
      Number.isFinite(off) && (o.direction === "loud" ? off : -off) >= this.options.offTargetLu;
    if (active.length === 0 && !stillOff) {
      this.emit("end", o, Math.max(o.start, this.lastHeldOf(o)));
      this.open = null;
      return;
    }
    let changed = false;
    for (const rule of active) {
      if (!o.rules.has(rule)) {
        o.rules.add(rule);
        changed = true;
      }
      const r = this.rules[rule];
      if (r.direction === o.direction && (o.direction === "loud" ? r.extreme > o.lufs : r.extreme < o.lufs))
        o.lufs = r.extreme;
    }
    if (changed || Math.abs(o.lufs - o.reported) >= 0.5) {
      o.reported = o.lufs;
      this.emit("update", o, null);
    }
  }

  /** The condition ends where its rules last held. */
  private lastHeldOf(o: OpenLoudness): number {
    let last = 0;
    for (const rule of o.rules) last = Math.max(last, this.rules[rule].lastHeld);
    return last;
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
    this.peak = { start: Math.max(0, step.t - STEP), last: step.t, max: step.truePeak, lufs: this.programme };
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
        lufs: Number.isFinite(p.lufs) ? round(p.lufs, 100) : null,
        target: this.target,
      },
    };
  }

  private emit(phase: "start" | "update" | "end", o: OpenLoudness, end: number | null): void {
    const num = (v: number): number | null => (Number.isFinite(v) ? round(v, 100) : null);
    this.sink({
      phase,
      condition: {
        type: this.type,
        start: round(o.start),
        end: end === null ? null : round(end),
        details: {
          rule: o.rule,
          rules: [...o.rules],
          reason: o.direction,
          lufs: num(o.lufs),
          measure: o.rule === "off-target" ? "programme" : "short-term",
          programmeLufs: num(o.programme),
          target: this.target,
          tolerance: this.tolerance,
          programmeSeconds: this.options.programmeSeconds,
          truePeakDbtp: num(o.truePeak),
        },
      },
    });
  }

  flush(endPts: number): void {
    for (const rule of RULES) if (this.rules[rule].run.inRun) this.endRule(rule);
    if (this.open) {
      this.emit("end", this.open, Math.min(endPts, Math.max(this.open.start, this.lastHeldOf(this.open))));
      this.open = null;
    }
    if (this.peak) this.endPeak(Math.min(endPts, this.peak.last));
  }

  measure(): Readonly<Record<string, number | string | boolean | null>> {
    const m = this.meter;
    const num = (v: number | undefined): number | null =>
      v === undefined || !Number.isFinite(v) ? null : round(v, 100);
    return {
      lufs: num(this.programme),
      lufsMomentary: num(m?.momentary),
      lufsShortTerm: num(m?.shortTerm),
      lufsIntegrated: num(m?.integrated),
      loudnessRange: num(m?.loudnessRange),
      truePeakDbtp: num(m?.truePeak),
      target: this.target,
      tolerance: this.tolerance,
      truePeakLimit: this.truePeakLimit,
      judging: this.audibleSeconds + 1e-9 >= this.options.minProgrammeSeconds,
    };
  }
}

function round(v: number, scale = 1000): number {
  return Math.round(v * scale) / scale;
}

export const loudnessDetector = defineDetector({
  type: "audio.loudness",
  description:
    "Programme loudness (BS.1770-4, EBU R128 / ATSC A/85): too loud (short-term), a jump above the programme, programme level off target; true peak over the limit (audio.true-peak).",
  emits: [
    { type: "audio.loudness", severity: "minor" },
    { type: "audio.true-peak", severity: "minor" },
  ],
  needs: { audio: true },
  options: LoudnessOptionsSchema,
  create: (options, sink) => new LoudnessDetector(options, sink),
});
