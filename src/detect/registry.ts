/**
 * Every detector streamqc knows. Adding one is a new module plus one line here; no other
 * detector changes.
 */
import type { DetectorDefinition } from "./detector.js";
import { avSyncDetector } from "./av-sync-detector.js";
import { blackDetector } from "./black-detector.js";
import { blockinessDetector } from "./blockiness-detector.js";
import { clippingDetector } from "./clipping-detector.js";
import { hlsHealthDetector, transportHealthDetector } from "./fault-detector.js";
import { freezeDetector } from "./freeze-detector.js";
import { loudnessDetector } from "./loudness/loudness-detector.js";
import { silenceDetector } from "./silence-detector.js";
import { streamHealthDetector } from "./stream-health-detector.js";

export const DETECTORS: readonly DetectorDefinition[] = [
  freezeDetector,
  blackDetector,
  blockinessDetector,
  silenceDetector,
  clippingDetector,
  loudnessDetector,
  avSyncDetector,
  streamHealthDetector,
  transportHealthDetector,
  hlsHealthDetector,
];

export function findDetector(type: string): DetectorDefinition | undefined {
  return DETECTORS.find((d) => d.type === type);
}
