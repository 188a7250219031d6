/**
 * Every detector streamqc knows. Adding one is a new module plus one line here; no other
 * detector changes.
 */
import type { DetectorDefinition } from "./detector.js";
import { hlsHealthDetector, transportHealthDetector } from "./fault-detector.js";
import { loudnessDetector } from "./loudness/loudness-detector.js";

export const DETECTORS: readonly DetectorDefinition[] = [
  loudnessDetector,
  transportHealthDetector,
  hlsHealthDetector,
];

export function findDetector(type: string): DetectorDefinition | undefined {
  return DETECTORS.find((d) => d.type === type);
}
