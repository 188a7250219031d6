/**
 * The `--defects` list of `streamqc gen`: `type@start:duration,...` in seconds, e.g.
 * `freeze@10:4,black@20:3,silence@30:3,clipping@40:2`.
 *
 * Each kind names the incident type the detectors should report for it (`expect`), or null
 * for a near miss that must NOT be reported; a defect shorter than the detector's default
 * minimum duration (`minDuration`) is a near miss too. Adding a kind is one entry in DEFECT_KINDS and
 * one injector in clip-generator.ts.
 */
import { StreamqcError } from "../errors.js";

export const DEFECT_KINDS = {
  /** The picture stops: every frame repeats the first one of the window. */
  freeze: { expect: "video.freeze", media: "video", minDuration: 2 },
  /** A frozen picture carrying fresh per-frame noise, as a noisy encoder or sensor gives it: still a freeze. */
  "freeze-noisy": { expect: "video.freeze", media: "video", minDuration: 2 },
  /** Full black. */
  black: { expect: "video.black", media: "video", minDuration: 2 },
  /** Black with a small bright logo in a corner: still black. */
  "logo-black": { expect: "video.black", media: "video", minDuration: 2 },
  /** A dark scene with visible moving texture: a near miss, NOT black. */
  dark: { expect: null, media: "video", minDuration: 0 },
  /** Digital silence with a faint noise floor far below -60 dBFS. */
  silence: { expect: "audio.silence", media: "audio", minDuration: 2 },
  /** Quiet speech-like audio (about -45..-35 dBFS) with pauses shorter than 1 s: a near miss, NOT silence. */
  quiet: { expect: null, media: "audio", minDuration: 0 },
  /** A gain that drives the sound into hard clipping at full scale. */
  clipping: { expect: "audio.clipping", media: "audio", minDuration: 0.3 },
  /** A section 12 dB louder than the programme, unclipped: `audio.loudness` (see loud-defect.ts). */
  loud: { expect: "audio.loudness", media: "audio", minDuration: 1 },
  /** Video and audio packets missing, timestamps kept: a hole in the timeline (see gap-defect.ts). */
  gap: { expect: "stream.gap", media: "both", minDuration: 0.5 },
} as const satisfies Record<
  string,
  { expect: string | null; media: "video" | "audio" | "both"; minDuration: number }
>;

export type DefectType = keyof typeof DEFECT_KINDS;

export interface Defect {
  readonly type: DefectType;
  /** Seconds from the start of the clip. */
  readonly start: number;
  /** Seconds; > 0. */
  readonly duration: number;
}

/** The incident a defect of this kind and length should raise with default detector options. */
export function expectedIncident(type: DefectType, duration: number): string | null {
  const kind = DEFECT_KINDS[type];
  // Frame-quantised durations may fall a hair short of the nominal one.
  return duration + 1e-6 >= kind.minDuration ? kind.expect : null;
}

const ITEM = /^([a-z][a-z0-9-]*)@(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/;

function isDefectType(s: string): s is DefectType {
  return Object.hasOwn(DEFECT_KINDS, s);
}

/** Parses a `--defects` list. Throws SQM_ERR_DEFECT_SPEC naming the first bad item. */
export function parseDefectSpec(spec: string): Defect[] {
  const items = spec
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const defects: Defect[] = [];
  for (const item of items) {
    const m = ITEM.exec(item);
    if (m === null) {
      throw new StreamqcError(
        "SQM_ERR_DEFECT_SPEC",
        `defect "${item}" is not of the form type@start:duration (seconds, e.g. freeze@10:4)`,
      );
    }
    const [, type = "", startText = "", durationText = ""] = m;
    if (!isDefectType(type)) {
      throw new StreamqcError(
        "SQM_ERR_DEFECT_SPEC",
        `defect "${item}": unknown type "${type}" (known: ${Object.keys(DEFECT_KINDS).join(", ")})`,
      );
    }
    const duration = Number(durationText);
    if (!(duration > 0)) {
      throw new StreamqcError("SQM_ERR_DEFECT_SPEC", `defect "${item}": duration must be greater than 0`);
    }
    defects.push({ type, start: Number(startText), duration });
  }
  if (defects.length === 0 && spec.trim().length > 0) {
    throw new StreamqcError("SQM_ERR_DEFECT_SPEC", `defect list "${spec}" has no items`);
  }
  checkOverlaps(defects);
  return defects;
}

/**
 * Two defects on the same medium may not overlap: the injected picture or sound would be
 * ambiguous and the ground truth wrong. Video and audio defects may overlap freely; a defect
 * on both (a gap) overlaps nothing.
 */
export function checkOverlaps(defects: readonly Defect[]): void {
  const sorted = [...defects].sort((a, b) => a.start - b.start);
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i];
    if (a === undefined) continue;
    for (let j = i + 1; j < sorted.length; j++) {
      const b = sorted[j];
      if (b === undefined || b.start >= a.start + a.duration) break;
      const ma: string = DEFECT_KINDS[a.type].media;
      const mb: string = DEFECT_KINDS[b.type].media;
      if (ma === mb || ma === "both" || mb === "both") {
        throw new StreamqcError(
          "SQM_ERR_DEFECT_SPEC",
          `defect "${formatDefect(b)}" overlaps "${formatDefect(a)}" on the same ${ma === "both" ? mb : ma}`,
        );
      }
    }
  }
}

export function formatDefect(d: Defect): string {
  return `${d.type}@${d.start}:${d.duration}`;
}
