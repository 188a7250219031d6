/**
 * Every detector streamqc knows. Adding one is a new module plus one line here; no other
 * detector changes.
 */
import type { DetectorDefinition } from "./detector.js";
import { avSyncDetector } from "./av-sync-detector.js";
import { blockinessDetector } from "./blockiness-detector.js";
import { hlsHealthDetector, transportHealthDetector } from "./fault-detector.js";
import { loudnessDetector } from "./loudness/loudness-detector.js";
import { streamHealthDetector } from "./stream-health-detector.js";

export const DETECTORS: readonly DetectorDefinition[] = [
  streamHealthDetector,
  blockinessDetector,
  avSyncDetector,
  loudnessDetector,
  transportHealthDetector,
  hlsHealthDetector,
];

export function findDetector(type: string): DetectorDefinition | undefined {
  return DETECTORS.find((d) => d.type === type);
}
