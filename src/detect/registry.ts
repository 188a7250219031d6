/**
 * Every detector streamqc knows. Adding one is a new module plus one line here; no other
 * detector changes.
 */
import type { DetectorDefinition } from "./detector.js";
import { avSyncDetector } from "./av-sync-detector.js";
import { blockinessDetector } from "./blockiness-detector.js";
import { streamHealthDetector } from "./stream-health-detector.js";

export const DETECTORS: readonly DetectorDefinition[] = [
  streamHealthDetector,
  blockinessDetector,
  avSyncDetector,
];

export function findDetector(type: string): DetectorDefinition | undefined {
  return DETECTORS.find((d) => d.type === type);
}
