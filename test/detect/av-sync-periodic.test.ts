/**
 * av.sync's paired events on a steady beat under steadily changing pictures (issue 10, "no
 * estimate rather than a wrong one"). Found on real content no detector was tuned on: Planet
 * Blupi's dance cut-scene (Debian's planetblupi-common, win005.mkv: disco lights that change
 * with every new 12 fps picture, music on a 0.5 s beat), coded as H.264 + AAC and in sync,
 * opened an `av.sync` incident at +754 ms with the default profile: every lag a multiple of the
 * pictures' period away paired as many onsets as the right one, and the first of them won.
 * Here the same shape in memory: a new picture every third frame (120 ms) and a click every
 * 0.48 s (four pictures), so that every lag a multiple of 120 ms pairs every click.
 */
import { describe, expect, it } from "vitest";
import { avSyncDetector, AvSyncOptions } from "../../src/detect/av-sync-detector.js";
import type { ConditionEvent } from "../../src/detect/detector.js";
import { generateSyncClip } from "../../src/gen/sync-clip.js";
import { measureAvSync } from "../helpers/av-sync-measure.js";
import { tempDir } from "../helpers/media.js";
import { join } from "node:path";
import { afterAll } from "vitest";

const tmp = tempDir("streamqc-avperiodic-");
afterAll(() => tmp.cleanup());

const FPS = 25;
const RATE = 48_000;
const BLOCK = RATE / FPS;

/** Feeds `seconds` of the beat-and-lights programme, clicks `clickLagMs` after the pictures. */
function run(seconds: number, clickLagMs: number, options: Record<string, unknown> = {}) {
  const conditions: ConditionEvent[] = [];
  const detector = avSyncDetector.create(AvSyncOptions.parse(options), (e) => conditions.push(e));
  const estimates: number[] = [];
  const luma = new Uint8Array(160 * 90);
  let level = 40;
  let next = 1;
  for (let i = 0; i < FPS * seconds; i++) {
    const pts = i / FPS;
    // A new picture every third frame (a light switching), the same picture between.
    if (i % 3 === 0) {
      level = level === 40 ? 200 : 40;
      luma.fill(level);
    }
    detector.pushVideo?.({ pts, width: 160, height: 90, luma });
    const samples = new Float32Array(BLOCK);
    for (let k = 0; k < BLOCK; k++) {
      const t = pts + k / RATE - clickLagMs / 1000;
      // A 20 ms click every 0.48 s (from 0.48 s), faint noise between.
      const phase = t - 0.48 * Math.round(t / 0.48);
      const inClick = t > 0.3 && phase >= 0 && phase < 0.02;
      samples[k] = inClick ? 0.5 * Math.sin(2 * Math.PI * 1000 * t) : 0.0005 * Math.sin(k * 1.7);
    }
    detector.pushAudio?.({ pts, sampleRate: RATE, channels: 1, frames: BLOCK, samples });
    if (pts >= next) {
      next++;
      const m = detector.measure?.() ?? {};
      if (typeof m.offsetMs === "number") estimates.push(m.offsetMs);
    }
  }
  detector.flush(seconds);
  return { estimates, conditions };
}

describe("av.sync on a steady beat under steadily changing pictures", () => {
  for (const lag of [0, 40]) {
    it(`clicks ${lag} ms after a picture change: no estimate and no incident (every 120 ms lag pairs every click)`, () => {
      const { estimates, conditions } = run(30, lag);
      expect(estimates).toEqual([]);
      expect(conditions).toEqual([]);
    });
  }

  it("the sync pattern (irregular flashes and beeps) is still read, to 20 ms", async () => {
    // The guard needs the winner to pair two onsets more than any lag 100 ms from it: the
    // generator's irregular flashes give that at once.
    const file = join(tmp.dir, "sync-200.ts");
    await generateSyncClip(file, { offsetMs: 200, duration: 14 });
    const { measurements, conditions } = await measureAvSync(file);
    const last = measurements[measurements.length - 1];
    expect(Math.abs((last?.offsetMs ?? 1e9) - 200)).toBeLessThanOrEqual(20);
    expect(conditions.filter((c) => c.phase === "start")).toHaveLength(1);
  }, 120_000);
});
