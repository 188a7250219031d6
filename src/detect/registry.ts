/**
 * Every detector streamqc knows. Adding one is a new module plus one line here; no other
 * detector changes.
 */
import { blackDetector } from "./black-detector.js";
import { clippingDetector } from "./clipping-detector.js";
import type { DetectorDefinition } from "./detector.js";
import { freezeDetector } from "./freeze-detector.js";
import { silenceDetector } from "./silence-detector.js";

export const DETECTORS: readonly DetectorDefinition[] = [
  freezeDetector,
  blackDetector,
  silenceDetector,
  clippingDetector,
];

export function findDetector(type: string): DetectorDefinition | undefined {
  return DETECTORS.find((d) => d.type === type);
}
