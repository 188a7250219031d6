/**
 * What a profile becomes in light mode, where the decoder gives pictures at keyframes only
 * (`-skip_frame nokey`, one picture every GOP) while audio, transport, playlist and decoder
 * checks run in full:
 * - `video.freeze` compares consecutive keyframes (keyframe-freeze-detector.ts) and
 *   `video.black` judges each keyframe (its frame-gap rule widened to the keyframe
 *   interval), so their onsets are accurate to one keyframe interval; promotion
 *   (light-session.ts) re-times what they see with full decoding.
 * - `video.blockiness` judges decoder and transport errors only (no detail frames are made).
 * - `av.sync` needs every frame's motion: it stays registered but says it is off.
 * - `stream.health` times the video track from every compressed packet, not from the sparse
 *   pictures, so a keyframe interval is not a gap.
 */
import type { ResolvedDetector, ResolvedProfile } from "../config/profile.js";
import type { Detector, DetectorDefinition } from "../detect/detector.js";
import { keyframeFreezeDetector } from "../detect/keyframe-freeze-detector.js";

/** Incident types whose timing in light mode is a keyframe's: promotion confirms and re-times them. */
export const PROMOTED_TYPES: ReadonlySet<string> = new Set([
  "video.freeze",
  "video.black",
  "video.blockiness",
]);

/** Detectors that cannot work on keyframes, with the reason they give. */
export const OFF_IN_LIGHT: Readonly<Record<string, string>> = {
  "av.sync": "light mode decodes keyframes only; lip sync needs every frame's motion",
};

/**
 * Frames further apart than this end a freeze or black condition. Widened from half a second
 * to cover keyframe intervals up to 10 s (broadcast GOPs are 0.5-5 s); a real outage still
 * shows as `stream.gap` from the packet timing.
 */
export const LIGHT_MAX_FRAME_GAP = 10.5;

const EMPTY = new Uint8Array(0);

/** A detector that reports it is off, and why, in its measurements. */
class OffDetector implements Detector {
  constructor(
    readonly type: string,
    private readonly reason: string,
  ) {}
  flush(): void {}
  measure(): Readonly<Record<string, string | boolean>> {
    return { off: true, reason: this.reason };
  }
}

/** `stream.health` fed with the time of every compressed video packet instead of pictures. */
export interface PacketTimed {
  packetTime(pts: number): void;
}

export interface LightProfile {
  readonly profile: ResolvedProfile;
  /** Filled as the monitor creates its detectors: the ones fed packet times. */
  readonly packetTimed: PacketTimed[];
}

function widened(r: ResolvedDetector): ResolvedDetector {
  const opts = r.options as Record<string, unknown>;
  const maxGap = typeof opts.maxGap === "number" ? Math.max(opts.maxGap, LIGHT_MAX_FRAME_GAP) : undefined;
  return maxGap === undefined ? r : { definition: r.definition, options: Object.freeze({ ...opts, maxGap }) };
}

/** The light-mode version of a resolved profile (see the module comment). */
export function lightProfile(full: ResolvedProfile): LightProfile {
  const packetTimed: PacketTimed[] = [];
  const detectors = full.detectors.map((r): ResolvedDetector => {
    const type = r.definition.type;
    const off = OFF_IN_LIGHT[type];
    if (off !== undefined) {
      const definition: DetectorDefinition = { ...r.definition, create: () => new OffDetector(type, off) };
      return { definition, options: r.options };
    }
    if (type === "video.freeze") {
      // Keyframes one interval apart need their own rule (keyframe-freeze-detector.ts).
      return widened({ definition: keyframeFreezeDetector, options: r.options });
    }
    if (type === "video.black") return widened(r);
    if (type === "stream.health") {
      const inner = r.definition;
      const definition: DetectorDefinition = {
        ...inner,
        create: (options, sink) => {
          const d = inner.create(options, sink);
          const timed: Detector & PacketTimed = {
            type: d.type,
            flush: (end) => d.flush(end),
            ...(d.pushAudio ? { pushAudio: d.pushAudio.bind(d) } : {}),
            ...(d.pushEvent ? { pushEvent: d.pushEvent.bind(d) } : {}),
            ...(d.measure ? { measure: d.measure.bind(d) } : {}),
            packetTime: (pts) => d.pushVideo?.({ pts, width: 0, height: 0, luma: EMPTY }),
          };
          packetTimed.push(timed);
          return timed;
        },
      };
      return { definition, options: r.options };
    }
    return r;
  });
  return {
    profile: Object.freeze({
      detectors: Object.freeze(detectors),
      mode: "light" as const,
      pool: full.pool,
      severityOf: (t: string) => full.severityOf(t),
    }),
    packetTimed,
  };
}

/** The detectors a promoted (full) decoder runs: those whose light timing it replaces. */
export function promotedProfile(full: ResolvedProfile): ResolvedProfile {
  return Object.freeze({
    detectors: Object.freeze(full.detectors.filter((r) => PROMOTED_TYPES.has(r.definition.type))),
    mode: "full" as const,
    pool: full.pool,
    severityOf: (t: string) => full.severityOf(t),
  });
}
