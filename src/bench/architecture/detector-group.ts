/**
 * Detector groups: how the staged design splits the registry's detectors into functions, one
 * function per group and chunk. Grouped by the media they take, as the first design split its
 * detectors by what they looked at: a group fetches only its kinds of media from the object
 * store. The detectors are the registry's own (src/detect/registry.ts), with the profile's
 * options, exactly as the in-process monitor makes them.
 *
 * `runGroup` is one invocation's work: restore each detector's state from the snapshot, replay
 * the chunk's records in arrival order, flush if the stream ended, and return the conditions
 * reported and the new snapshot.
 */
import type { ConditionEvent, Detector, DetectorDefinition } from "../../detect/detector.js";
import type { ResolvedProfile } from "../../config/profile.js";
import type { ChunkRecord, MediaKind } from "./chunk-codec.js";
import { captureDetector, restoreDetector } from "./detector-snapshot.js";
import { deserialize, serialize } from "node:v8";

export interface DetectorGroup {
  readonly name: string;
  /** Detector types, in registry order. */
  readonly detectors: readonly string[];
  /** The kinds of media its invocations fetch (events always: any detector may take them). */
  readonly kinds: readonly MediaKind[];
}

function groupNameOf(def: DetectorDefinition): string {
  const n = def.needs;
  if (n.detail) return "detail";
  if (n.video && n.audio) return "av";
  if (n.video) return "picture";
  if (n.audio) return "sound";
  return "faults";
}

const KINDS: Readonly<Record<string, readonly MediaKind[]>> = {
  detail: ["video", "detail", "events"],
  av: ["video", "audio", "events"],
  picture: ["video", "events"],
  sound: ["audio", "events"],
  faults: ["events"],
};

/** The groups of a profile, in a fixed order (the order of the state machine's Detect states). */
export function detectorGroups(profile: ResolvedProfile): DetectorGroup[] {
  const byName = new Map<string, string[]>();
  for (const d of profile.detectors) {
    const name = groupNameOf(d.definition);
    byName.set(name, [...(byName.get(name) ?? []), d.definition.type]);
  }
  return ["picture", "detail", "sound", "av", "faults"]
    .filter((n) => byName.has(n))
    .map((name) => ({ name, detectors: byName.get(name)!, kinds: KINDS[name]! }));
}

export interface GroupRun {
  readonly findings: ConditionEvent[];
  readonly snapshot: Uint8Array;
}

/** Merges per-kind record lists back into arrival order. */
export function mergeRecords(lists: readonly (readonly ChunkRecord[])[]): ChunkRecord[] {
  return lists.flat().sort((a, b) => a.seq - b.seq);
}

/**
 * One invocation: `snapshot` is the previous invocation's output for this stream and group
 * (null for a stream's first chunk); `flushAt` is set on the stream's last chunk.
 */
export function runGroup(
  profile: ResolvedProfile,
  group: DetectorGroup,
  snapshot: Uint8Array | null,
  records: readonly ChunkRecord[],
  flushAt: number | null,
): GroupRun {
  const findings: ConditionEvent[] = [];
  const states = snapshot === null ? null : (deserialize(snapshot) as Record<string, Uint8Array>);
  const detectors: { readonly type: string; readonly detector: Detector }[] = [];
  for (const type of group.detectors) {
    const resolved = profile.detectors.find((d) => d.definition.type === type);
    if (!resolved) throw new Error(`detector ${type} is not in the profile`);
    const detector = resolved.definition.create(resolved.options, (e) => findings.push(e));
    const state = states?.[type];
    if (state) restoreDetector(detector, state);
    detectors.push({ type, detector });
  }
  for (const r of records) {
    for (const { detector: d } of detectors) {
      switch (r.kind) {
        case "video":
          d.pushVideo?.(r.frame);
          break;
        case "detail":
          d.pushDetail?.(r.frame);
          break;
        case "audio":
          d.pushAudio?.(r.block);
          break;
        case "events":
          d.pushEvent?.(r.event);
          break;
        case "thumbs":
          break;
      }
    }
  }
  if (flushAt !== null) for (const { detector } of detectors) detector.flush(flushAt);
  const next: Record<string, Uint8Array> = {};
  for (const { type, detector } of detectors) next[type] = captureDetector(detector);
  return { findings, snapshot: serialize(next) };
}
