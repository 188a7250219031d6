import type { z } from "zod";
import type { Severity } from "../incident.js";
import type { AudioBlock, DetailFrame, StreamEvent, VideoFrame } from "../ingest/media.js";

/**
 * A condition is a defect as a detector sees it: it starts at a media time, may be updated
 * with new measurements while it lasts, and ends at a media time. The monitor turns
 * conditions into incidents (the public schema in DESIGN.md).
 */
export interface Condition {
  /** A dotted incident type, e.g. `video.freeze`. */
  readonly type: string;
  /** Media seconds of the true onset, even when the condition is confirmed later. */
  readonly start: number;
  /** Media seconds of the end; null while the condition holds. */
  readonly end: number | null;
  /** Measured values: levels, offsets, loudness. Plain JSON. */
  readonly details: Readonly<Record<string, unknown>>;
}

export type ConditionPhase = "start" | "update" | "end";

export interface ConditionEvent {
  readonly phase: ConditionPhase;
  readonly condition: Condition;
}

export type ConditionSink = (event: ConditionEvent) => void;

/**
 * A detector: state behind a tiny interface, fed in timestamp order. No I/O, no timers,
 * no wall clock; it reports through the sink it was made with. Every method is optional
 * but `flush`, so a detector takes only what it needs.
 */
export interface Detector {
  readonly type: string;
  pushVideo?(frame: VideoFrame): void;
  pushDetail?(frame: DetailFrame): void;
  pushAudio?(block: AudioBlock): void;
  pushEvent?(event: StreamEvent): void;
  /** The input ended at `endPts`: close whatever is open there. */
  flush(endPts: number): void;
  /** The latest measurements, for `watch`, the API's stream state and metrics. */
  measure?(): Readonly<Record<string, number | string | boolean | null>>;
  /**
   * A detector whose definition needs every frame, fed only the reference frames (a file read
   * under `auto`, every-frame-upgrade.ts): the media time from which it wants every frame
   * replayed, once what it has seen makes every frame worth decoding (A/V sync: a sync pattern's
   * events); null until then.
   */
  everyFrameFrom?(): number | null;
  /**
   * Every frame from `from` on is coming (again): forget what was judged from pictures at or
   * after it. Frames up to the last one seen are then fed to this detector alone.
   */
  restartVideo?(from: number): void;
  /**
   * What this detector has learnt of the channel that a later run of the same channel should
   * start from (plain JSON; a restart, a profile edit or another fleet worker taking the
   * stream would otherwise learn it again from nothing), or undefined when nothing yet.
   */
  memory?(): unknown;
  /**
   * `memory()` of an earlier run of this channel, saved `ageSeconds` ago. It comes from the
   * store: a detector checks its shape and ignores what it does not recognise.
   */
  recall?(memory: unknown, ageSeconds: number): void;
}

/** An incident type a detector reports, with the severity it has unless a profile says otherwise. */
export interface EmittedType {
  /** The dotted incident type, e.g. `audio.loudness`. */
  readonly type: string;
  /** Default severity: by how much a viewer suffers (a black or dead channel is worst). */
  readonly severity: Severity;
}

/**
 * How a detector is registered: its options schema (with documented defaults), the incident
 * types it emits and a factory. The metrics' label set and the default severities are derived
 * from `emits`, so a new detector's types are known everywhere by registering it.
 */
export interface DetectorDefinition<S extends z.ZodType = z.ZodType> {
  readonly type: string;
  readonly description: string;
  /**
   * Every incident type this detector can report (the condition types its sink receives).
   * Optional here only so a module can be registered with its types given beside it
   * (`register` in registry.ts); every registered detector has them.
   */
  readonly emits?: readonly EmittedType[];
  readonly needs: {
    readonly video?: boolean;
    readonly detail?: boolean;
    readonly audio?: boolean;
    /**
     * Every decoded frame, not only the reference frames: the detector times picture changes to
     * the frame (A/V sync). Full decoding's `auto` policy then decodes every frame
     * (decode-policy.ts), or, for a file, reference frames until the detector asks for every
     * frame (`everyFrameFrom`, every-frame-upgrade.ts).
     */
    readonly everyFrame?: boolean;
  };
  readonly options: S;
  create(options: z.output<S>, sink: ConditionSink): Detector;
}

/** Identity helper that keeps each definition's option types. */
export function defineDetector<S extends z.ZodType>(def: DetectorDefinition<S>): DetectorDefinition<S> {
  return def;
}
