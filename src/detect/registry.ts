/**
 * Every detector streamqc knows, and the incident types they emit. Adding one is a new module
 * plus one line here; no other detector changes, and the metrics' label set and the default
 * severities (config/profile.ts) follow from its `emits`.
 */
import type { Severity } from "../incident.js";
import type { DetectorDefinition, EmittedType } from "./detector.js";
import { avSyncDetector } from "./av-sync-detector.js";
import { blackDetector } from "./black-detector.js";
import { blockinessDetector } from "./blockiness-detector.js";
import { clippingDetector } from "./clipping-detector.js";
import { hlsHealthDetector, transportHealthDetector } from "./fault-detector.js";
import { freezeDetector } from "./freeze-detector.js";
import { loudnessDetector } from "./loudness/loudness-detector.js";
import { silenceDetector } from "./silence-detector.js";
import { streamHealthDetector } from "./stream-health-detector.js";

/** A registered detector: its emitted types are always declared. */
export type RegisteredDetector = DetectorDefinition & { readonly emits: readonly EmittedType[] };

function register(def: DetectorDefinition, emits = def.emits): RegisteredDetector {
  if (!emits || emits.length === 0) throw new Error(`detector ${def.type} declares no incident types`);
  // The definition itself when it declares its types (tests compare identities).
  return def.emits === emits ? (def as RegisteredDetector) : Object.freeze({ ...def, emits });
}

export const DETECTORS: readonly RegisteredDetector[] = [
  register(freezeDetector),
  register(blackDetector),
  register(blockinessDetector),
  register(silenceDetector),
  register(clippingDetector),
  register(loudnessDetector),
  register(avSyncDetector),
  register(streamHealthDetector),
  register(transportHealthDetector),
  register(hlsHealthDetector),
];

export function findDetector(type: string): RegisteredDetector | undefined {
  return DETECTORS.find((d) => d.type === type);
}

/** Every incident type any registered detector can report, with its default severity. */
export const INCIDENT_TYPES: ReadonlyMap<string, Severity> = new Map(
  DETECTORS.flatMap((d) => d.emits.map((e) => [e.type, e.severity] as const)),
);
