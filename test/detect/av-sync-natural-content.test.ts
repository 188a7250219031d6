/**
 * av.sync's natural-content consensus (opt-in, `naturalContent: true`) on real programme: a 30 s stretch of
 * Big Buck Bunny (source 24-54 s, the stretch whose sound effects are tied to the picture)
 * coded as the eval's real-lossy part codes it (H.264 + AAC in MPEG-TS, real-lossy-clip.ts),
 * in sync and with its sound shifted by a known offset. Issue 10: "within 40 ms", and "no
 * estimate rather than a wrong one": every estimate, and the incident's offset, within 40 ms of
 * the truth; in sync, no incident. The truth is the shift plus the film's own +28 ms (its
 * sound after its picture: the consensus on the whole minute, uncoded, in sync; DETECTORS.md).
 * With the significance test (the default, av-sync-significance.test.ts) this stretch gets no
 * estimate; the consensus alone (`correlationNullMargin: 0`) still finds the offsets.
 */
import { afterAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { generateClip } from "../../src/gen/clip-generator.js";
import { generateRealLossyClip } from "../../src/gen/real-lossy-clip.js";
import { avSyncDetector, AvSyncOptions } from "../../src/detect/av-sync-detector.js";
import { analyzeInput } from "../../src/monitor/analyze.js";
import { measureAvSync } from "../helpers/av-sync-measure.js";
import { tempDir } from "../helpers/media.js";

const tmp = tempDir("streamqc-avnat-");
afterAll(() => tmp.cleanup());
const BBB = resolve("../shared/media/big-buck-bunny-60s-360p.mp4");
/** Big Buck Bunny's own sound sits about +28 ms after its picture (measured, see above). */
const NATIVE_MS = 28;
const TOLERANCE_MS = 40;
const NATURAL = { naturalContent: true };
/** Encoding and decoding 30 s on a shared 2-core machine. */
const SLOW = 300_000;

async function stretch(ms: number): Promise<string> {
  const out = join(tmp.dir, `bbb${ms}.ts`);
  await generateRealLossyClip(out, {
    base: BBB,
    // 24 s is a frame boundary of the 24 fps source: the trim adds no offset of its own.
    baseStart: 24,
    duration: 30,
    profile: "h264-aac-2m",
    defects: ms === 0 ? [] : [{ kind: "offset", ms }],
  });
  return out;
}

describe.runIf(existsSync(BBB))("av.sync natural content on Big Buck Bunny (real, H.264 + AAC)", () => {
  it(
    "in sync: no av.sync incident, and any estimate within 40 ms of the film's own offset",
    async () => {
      const { measurements, conditions } = await measureAvSync(await stretch(0), NATURAL);
      for (const m of measurements)
        if (m.offsetMs !== null) expect(Math.abs(m.offsetMs - NATIVE_MS)).toBeLessThanOrEqual(TOLERANCE_MS);
      expect(conditions).toHaveLength(0);
    },
    SLOW,
  );
  for (const ms of [-160, 200]) {
    it(
      `sound ${ms > 0 ? "late" : "early"} by ${Math.abs(ms)} ms: never a wrong estimate; the consensus alone (no significance test) finds it within 40 ms`,
      async () => {
        const file = await stretch(ms);
        const truth = ms + NATIVE_MS;
        // With the significance test (the default): whatever it says is right. On this
        // stretch the film's tied sound is no stronger than the chance alignments of its own
        // sound 2-12 s away, so it says nothing (DETECTORS.md); an estimate would have to be right.
        const gated = await measureAvSync(file, NATURAL);
        for (const m of gated.measurements)
          if (m.offsetMs !== null) expect(Math.abs(m.offsetMs - truth)).toBeLessThanOrEqual(TOLERANCE_MS);
        for (const c of gated.conditions)
          if (c.phase === "start")
            expect(Math.abs(Number(c.condition.details?.offsetMs) - truth)).toBeLessThanOrEqual(TOLERANCE_MS);
        // The consensus alone (as before the test): it estimates, and right, on this stretch.
        const { measurements, conditions } = await measureAvSync(file, {
          ...NATURAL,
          correlationNullMargin: 0,
        });
        const estimates = measurements.flatMap((m) => (m.offsetMs === null ? [] : [m.offsetMs]));
        // It does estimate (the consensus needs three agreeing votes: about 15 s of media)...
        expect(estimates.length).toBeGreaterThanOrEqual(5);
        // ...and never wrongly.
        for (const e of estimates) expect(Math.abs(e - truth)).toBeLessThanOrEqual(TOLERANCE_MS);
        const starts = conditions.filter((e) => e.phase === "start");
        expect(starts).toHaveLength(1);
        const c = starts[0]!.condition;
        expect(c.type).toBe("av.sync");
        // The whole clip is offset and nothing earlier said otherwise: it holds from the start.
        expect(c.start).toBeLessThanOrEqual(0.5);
        expect(Math.abs(Number(c.details?.offsetMs) - truth)).toBeLessThanOrEqual(TOLERANCE_MS);
        expect(c.details?.method).toBe("correlation");
      },
      SLOW,
    );
  }
  it(
    "by default (natural content off), the same shifted stretch gives no estimate at all (paired events alone find none on film)",
    async () => {
      const { measurements, conditions } = await measureAvSync(await stretch(200));
      expect(measurements.every((m) => m.offsetMs === null)).toBe(true);
      expect(conditions).toHaveLength(0);
    },
    SLOW,
  );
});

describe("av.sync natural content history", () => {
  /** Feeds `seconds` of changing pictures and sound; returns the correlator's kept values. */
  function kept(options: Record<string, unknown>, seconds: number): { video: number; flux: number } {
    const detector = avSyncDetector.create(AvSyncOptions.parse(options), () => undefined);
    const luma = new Uint8Array(160 * 90);
    for (let i = 0; i < 25 * seconds; i++) {
      luma.fill((i * 37) % 200);
      detector.pushVideo?.({ pts: i / 25, width: 160, height: 90, luma });
      const samples = new Float32Array(1920).map((_, k) => 0.1 * Math.sin(k * (1 + (i % 5))));
      detector.pushAudio?.({ pts: i / 25, sampleRate: 48_000, channels: 1, frames: 1920, samples });
    }
    // The correlator is private: its history's length is what a 24/7 stream would accumulate.
    const c = (detector as unknown as { correlator: { videoValues: number[]; fluxValues: number[] } })
      .correlator;
    return { video: c.videoValues.length, flux: c.fluxValues.length };
  }
  it("keeps nothing when off (the default) and only a segment and the significance test's 12 s when on, over 2 minutes", () => {
    // Before: off, every frame's and every 10 ms hop's value was kept for ever (3,000 and 12,000 here).
    expect(kept({}, 120)).toEqual({ video: 0, flux: 0 });
    expect(kept({ naturalContent: false }, 120)).toEqual({ video: 0, flux: 0 });
    const on = kept({ naturalContent: true }, 120);
    expect(on.video).toBeGreaterThan(0);
    // The segment (5 s), the null pairings' 12 s before it, and a second or two of margin.
    expect(on.video).toBeLessThanOrEqual(25 * 20);
    expect(on.flux).toBeLessThanOrEqual(100 * 20);
  });
});

describe("av.sync natural content on generated programme", () => {
  it(
    "gives no av.sync incident on the demo's generated programme (the live demo channel read a false -188 ms under an earlier single-window rule)",
    async () => {
      const file = join(tmp.dir, "demo.ts");
      await generateClip(file, {
        duration: 60,
        defects: [
          { type: "freeze", start: 8, duration: 4 },
          { type: "black", start: 20, duration: 3 },
          { type: "silence", start: 32, duration: 4 },
          { type: "clipping", start: 44, duration: 2 },
        ],
      });
      const { incidents } = await analyzeInput(file, {
        threads: 1,
        detectors: { "video.blockiness": false, "av.sync": NATURAL },
      });
      expect(incidents.filter((i) => i.type === "av.sync")).toHaveLength(0);
    },
    SLOW,
  );
});
if (!existsSync(BBB)) describe.skip(`av.sync natural content: ${BBB} is absent`, () => undefined);
