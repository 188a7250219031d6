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
 *   `programmeSeconds` (and 2, 3 and 5 times that), at least `offTargetLu` from the target
 *   either way for `offTargetSeconds`; judged only once `minProgrammeSeconds` of programme were
 *   measured. Each horizon's limit rises with the channel's own swing: how far its level over
 *   that horizon has strayed in the last half hour without being a fault (orchestral music
 *   stays a minute or more 8-12 LU under its integrated level; no one-minute rule can tell that
 *   from a gain error, so such a channel is judged on the longer horizons).
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
    /**
     * `off-target`: each horizon's limit rises to the channel's own swing on it (learnt below)
     * plus `swingMarginLu`, up to that horizon's cap. Off: the fixed limits. @defaultValue true
     */
    adaptive: z.boolean().default(true),
    /** LU above the learnt swing where a horizon's limit sits. @defaultValue 2.5 */
    swingMarginLu: z.number().min(0).max(20).default(2.5),
    /** Seconds of programme the swing is learnt over (the oldest is forgotten). @defaultValue 1800 */
    swingMemorySeconds: z.number().min(60).max(86400).default(1800),
    /**
     * A level counts as the programme's own swing only once this many seconds have passed
     * without a loudness incident (the start of a gain error must not raise the limit that
     * would catch it). @defaultValue 60
     */
    swingDelaySeconds: z.number().min(0).max(3600).default(60),
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

/** The longer horizons' levels are measured every this many steps (1 s). */
const LONG_EVERY = 10;
/**
 * The `off-target` horizons, as multiples of `programmeSeconds`: each has its base limit
 * (`offTargetLu` plus `limitOffset`) and the highest its learnt limit may go (`capLu`, never
 * below the base). Measured on 185 minutes of real orchestral and game music, each piece
 * normalised to the target (DETECTORS.md): the one-minute level strays up to 12 LU under and
 * 5 LU over, two minutes 7 LU, three 5 LU, five 3 LU. The five-minute horizon does not learn:
 * it is the bound on how long a 6 LU error can go unreported.
 */
const HORIZONS = [
  { scale: 1, limitOffset: 0, capLu: 10 },
  { scale: 2, limitOffset: 0, capLu: 8 },
  { scale: 3, limitOffset: -0.5, capLu: 6 },
  { scale: 5, limitOffset: -1, capLu: 0 },
] as const;

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
  /** `off-target`: the horizon that crossed its limit, seconds, and that limit, LU (null before). */
  horizonSeconds: number | null;
  limitLu: number | null;
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
  /** Steps in each horizon, shortest first. */
  private readonly horizonSteps: number[];
  /** Each horizon's programme level with and without jumps (filled by `levels()`), LUFS. */
  private readonly levelWith: Float64Array;
  private readonly levelWithout: Float64Array;
  /** The swing each horizon's level made, learnt: per second, [time, LU off the target]. */
  private readonly swing: { pending: number[][]; history: number[][]; quiet: number; loud: number }[];
  private lastLearnt = -1;
  /**
   * The swing an earlier run of this channel had learnt (recall()), per horizon, and the
   * seconds of programme it still counts for: a restart or a move to another worker does not
   * forget what the channel's quiet passages look like.
   */
  private recalled: { quiet: number[]; loud: number[]; seconds: number } | null = null;
  /** The horizon whose limit the current off-target run crossed first. */
  private offHorizon = 0;
  /** `levels()`'s per-horizon gates and sums, reused every step (no allocation on this path). */
  private readonly gateW = new Float64Array(HORIZONS.length);
  private readonly gateO = new Float64Array(HORIZONS.length);
  private readonly sums = {
    sumW: new Float64Array(HORIZONS.length),
    countW: new Float64Array(HORIZONS.length),
    sumO: new Float64Array(HORIZONS.length),
    countO: new Float64Array(HORIZONS.length),
  };

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
    this.horizonSteps = HORIZONS.map((h) => Math.ceil((options.programmeSeconds * h.scale) / STEP));
    this.levelWith = new Float64Array(HORIZONS.length);
    this.levelWithout = new Float64Array(HORIZONS.length);
    this.swing = HORIZONS.map(() => ({ pending: [], history: [], quiet: 0, loud: 0 }));
    const n = this.horizonSteps[this.horizonSteps.length - 1]! + 1;
    this.ringT = new Float64Array(n);
    this.ringM = new Float64Array(n);
    this.ringE = new Float64Array(n);
    this.ringP = new Float64Array(n);
    this.ringX = new Uint8Array(n);
  }

  pushAudio(block: AudioBlock): void {
    if (!this.meter || this.meter.sampleRate !== block.sampleRate || this.meter.channels !== block.channels) {
      const first = !this.meter;
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
      // A new source is a new programme: its swing is learnt anew (what an earlier run
      // recalled is kept for the first source only).
      if (!first) this.recalled = null;
      for (const s of this.swing) Object.assign(s, { pending: [], history: [], quiet: 0, loud: 0 });
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
    this.levels();
    const programme = this.levelWith[0]!;
    const withoutJumps = this.levelWithout[0]!;
    this.programme = programme;
    // A jump is judged against the highest of these (the least sensitive reference), the
    // longest horizon's too: music coming back from a quiet minute is not an ad break.
    this.ringP[i] = Math.max(programme, withoutJumps, this.levelWithout[HORIZONS.length - 1]!);
    this.judgeTruePeak(step);

    const judged = this.judges(0);
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

    // Once off target, back only when `hysteresisLu` inside the limit: the programme level of
    // real content wavers around any limit for a while after a change.
    const hysteresis = this.rules["off-target"].run.isOpen ? this.options.hysteresisLu : 0;
    const offs = HORIZONS.map((_, h) => this.offOn(h));
    const held = this.rules["off-target"].run.inRun ? this.offHorizon : -1;
    let fired = -1;
    for (let h = 0; h < HORIZONS.length; h++) {
      const off = offs[h]!;
      if (!this.judges(h) || !Number.isFinite(off) || off === 0) continue;
      if (
        Math.abs(off) >= this.offLimit(h, off < 0 ? "quiet" : "loud") - hysteresis &&
        (fired < 0 || h === held)
      )
        fired = h;
    }
    if (fired >= 0 && !this.rules["off-target"].run.inRun) this.offHorizon = fired;
    const off = fired >= 0 ? offs[fired]! : 0;
    this.judgeRule(
      "off-target",
      step.t,
      fired >= 0,
      this.levelWith[Math.max(0, fired)]!,
      NaN,
      off < 0 ? "quiet" : "loud",
    );

    this.updateOpen(step);
    this.learn(step.t, offs);
  }

  /** LU the programme is off target on horizon `h`: off only when off both with and without its jumps; 0 inside. */
  private offOn(h: number): number {
    const offLoud = Math.min(this.levelWith[h]!, this.levelWithout[h]!) - this.target;
    const offQuiet = Math.max(this.levelWith[h]!, this.levelWithout[h]!) - this.target;
    return offLoud > 0 ? offLoud : offQuiet < 0 ? offQuiet : 0;
  }

  /** Horizon `h` judges once its span of programme was heard (the first: `minProgrammeSeconds`). */
  private judges(h: number): boolean {
    const more = this.options.programmeSeconds * (HORIZONS[h]!.scale - 1);
    return this.audibleSeconds + 1e-9 >= this.options.minProgrammeSeconds + more;
  }

  /**
   * The swing learnt per horizon, LU (the larger of this run's and a recalled one's), and for
   * how many more seconds of programme it counts: the whole `swingMemorySeconds` when this run
   * learnt any, what is left of the recalled one's otherwise. Undefined while nothing is learnt.
   */
  memory(): { quiet: number[]; loud: number[]; seconds: number } | undefined {
    if (!this.options.adaptive) return undefined;
    const r = this.recalled;
    const learnt = this.swing.some((s) => s.quiet > 0 || s.loud > 0);
    if (!learnt && !r) return undefined;
    const of = (d: "quiet" | "loud"): number[] =>
      this.swing.map((s, h) => Math.round(Math.max(s[d], r?.[d][h] ?? 0) * 100) / 100);
    return {
      quiet: of("quiet"),
      loud: of("loud"),
      seconds: learnt ? this.options.swingMemorySeconds : r!.seconds,
    };
  }

  /**
   * An earlier run's memory(), `ageSeconds` old: it counts for the seconds it had left, less
   * its age, as if learnt at the start of this run. Anything else is ignored.
   */
  recall(memory: unknown, ageSeconds: number): void {
    if (!this.options.adaptive || typeof memory !== "object" || memory === null) return;
    const valid = (v: unknown): v is number[] =>
      Array.isArray(v) &&
      v.length === HORIZONS.length &&
      v.every((x) => typeof x === "number" && Number.isFinite(x) && x >= 0 && x <= 60);
    const { quiet, loud, seconds } = memory as { quiet?: unknown; loud?: unknown; seconds?: unknown };
    if (!valid(quiet) || !valid(loud) || typeof seconds !== "number" || !(seconds > 0)) return;
    const left = Math.min(seconds, this.options.swingMemorySeconds) - Math.max(0, ageSeconds);
    if (!(left > 0)) return;
    this.recalled = { quiet: [...quiet], loud: [...loud], seconds: Math.ceil(left) };
  }

  /** Horizon `h`'s limit in one direction: its base, raised to the learnt swing plus the margin, up to its cap. */
  private offLimit(h: number, direction: "loud" | "quiet"): number {
    const spec = HORIZONS[h]!;
    const base = this.options.offTargetLu + spec.limitOffset;
    if (!this.options.adaptive) return base;
    const swing = Math.max(this.swing[h]![direction], this.recalled?.[direction][h] ?? 0);
    return Math.max(base, Math.min(spec.capLu, swing + this.options.swingMarginLu));
  }

  /**
   * Once a second, each judging horizon's level (LU off target) is noted; a note becomes the
   * channel's own swing `swingDelaySeconds` later if no loudness incident opened meanwhile (an
   * incident drops the notes not yet learnt, and nothing is noted while one is open).
   */
  private learn(t: number, offs: number[]): void {
    const second = Math.floor(t);
    if (second === this.lastLearnt) return;
    this.lastLearnt = second;
    if (this.recalled && --this.recalled.seconds <= 0) this.recalled = null;
    const memory = this.options.swingMemorySeconds;
    for (let h = 0; h < HORIZONS.length; h++) {
      const s = this.swing[h]!;
      if (this.open) s.pending.length = 0;
      else if (this.judges(h) && Number.isFinite(offs[h]!)) s.pending.push([t, offs[h]!]);
      let changed = false;
      while (s.pending.length > 0 && s.pending[0]![0]! <= t - this.options.swingDelaySeconds) {
        s.history.push(s.pending.shift()!);
        changed = true;
      }
      while (s.history.length > 0 && s.history[0]![0]! < t - memory) {
        s.history.shift();
        changed = true;
      }
      if (!changed) continue;
      s.quiet = 0;
      s.loud = 0;
      for (const [, off] of s.history) {
        if (-off! > s.quiet) s.quiet = -off!;
        if (off! > s.loud) s.loud = off!;
      }
    }
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
    if (rule === "off-target") return this.changePoint(direction, this.offHorizon);
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
   * of the momentary blocks over each horizon, with the jumps and without them, into
   * `levelWith` and `levelWithout`. -Infinity where all of it is silent. The horizons are
   * nested spans ending now: one pass sums them all, a second applies each one's gate.
   */
  private levels(): void {
    // The longer horizons move slowly: measured once a second (their rules hold for seconds).
    const H = (this.steps - 1) % LONG_EVERY === 0 ? HORIZONS.length : 1;
    const n = Math.min(this.steps, this.ringT.length - 1);
    const { gateW, gateO, sums } = this;
    // The absolute gate first: silent blocks are stored as 0.
    gateW.fill(0);
    gateO.fill(0);
    this.sumSpans(n, H);
    for (let j = 0; j < H; j++) {
      gateW[j] = sums.countW[j]! > 0 ? (sums.sumW[j]! / sums.countW[j]!) * 0.1 : Infinity;
      gateO[j] = sums.countO[j]! > 0 ? (sums.sumO[j]! / sums.countO[j]!) * 0.1 : Infinity;
    }
    this.sumSpans(n, H);
    for (let j = 0; j < H; j++) {
      const w = sums.countW[j]!;
      const o = sums.countO[j]!;
      this.levelWith[j] = w > 0 ? 10 * Math.log10(sums.sumW[j]! / w) : -Infinity;
      this.levelWithout[j] = o > 0 ? 10 * Math.log10(sums.sumO[j]! / o) : -Infinity;
    }
  }

  /**
   * Over the last `n` steps, for the first `H` horizons (each the last min(its steps, n)
   * steps): the sum and count of block powers above its gate (`gateW`, `gateO`), with the
   * jumps (W) and without them (O), into `sums`.
   */
  private sumSpans(n: number, H: number): void {
    const { gateW, gateO, sums: r } = this;
    for (const a of [r.sumW, r.countW, r.sumO, r.countO]) a.fill(0, 0, H);
    const len = this.ringT.length;
    let from = 0;
    for (let k = 1; k <= n; k++) {
      // Spans are nested, shortest first: those that ended before this step drop out.
      while (from < H && k > this.horizonSteps[from]!) from++;
      const i = (this.steps - k) % len;
      const e = this.ringE[i]!;
      if (e === 0) continue;
      const inJump = this.ringX[i] !== 0;
      for (let j = from; j < H; j++) {
        if (e > gateW[j]!) {
          r.sumW[j] = r.sumW[j]! + e;
          r.countW[j] = r.countW[j]! + 1;
        }
        if (!inJump && e > gateO[j]!) {
          r.sumO[j] = r.sumO[j]! + e;
          r.countO[j] = r.countO[j]! + 1;
        }
      }
    }
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
   * Where the programme level changed, for `off-target`: over the firing horizon's successor, the split
   * whose loudness after differs most from before in the rule's direction (scored like a
   * t-statistic, sqrt(n_before · n_after / n), at least 3 s each side). When the programme
   * before the best split is itself off target, the change is older than the horizon: the
   * horizon's first step.
   */
  private changePoint(direction: "loud" | "quiet", horizon: number): number {
    const len = this.ringT.length;
    // Searched over the next longer horizon: a change is found when it is near the firing
    // horizon's far edge too, as it is when a level takes most of that horizon to cross.
    const span = this.horizonSteps[Math.min(horizon + 1, HORIZONS.length - 1)]!;
    const n = Math.min(this.steps, span + 1);
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
    if (sign * before >= this.offLimit(horizon, direction)) return oldest;
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
        horizonSeconds: null,
        limitLu: null,
      };
      this.noteHorizon(this.open);
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
    let changed = this.noteHorizon(o);
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

  /** The first time `off-target` holds during the condition: which horizon and limit. True when noted now. */
  private noteHorizon(o: OpenLoudness): boolean {
    const r = this.rules["off-target"];
    if (o.horizonSeconds !== null || !r.run.isOpen) return false;
    o.horizonSeconds = this.options.programmeSeconds * HORIZONS[this.offHorizon]!.scale;
    o.limitLu = round(this.offLimit(this.offHorizon, r.direction), 100);
    return true;
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
          horizonSeconds: o.horizonSeconds,
          offTargetLimitLu: o.limitLu,
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
      judging: this.judges(0),
      // The one-minute horizon's limits now, raised by what this channel's programme does.
      offTargetLimitQuietLu: round(this.offLimit(0, "quiet"), 100),
      offTargetLimitLoudLu: round(this.offLimit(0, "loud"), 100),
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
