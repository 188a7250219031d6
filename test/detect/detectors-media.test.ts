/**
 * The four detectors on real decoded media (no monitor involved): a generated clip with
 * known defects and near misses, and a minute of real film that has none.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { blackDetector } from "../../src/detect/black-detector.js";
import { clippingDetector } from "../../src/detect/clipping-detector.js";
import type { DetectorDefinition } from "../../src/detect/detector.js";
import { freezeDetector } from "../../src/detect/freeze-detector.js";
import { silenceDetector } from "../../src/detect/silence-detector.js";
import { generateClip } from "../../src/gen/clip-generator.js";
import { parseDefectSpec } from "../../src/gen/defect-spec.js";
import { decodeAudio, decodeVideo } from "./decoded-media.js";
import { harness, type Found } from "./synth.js";

const TOL = 0.2;
/** These four only: other detectors (loudness, sync...) judge other things and have their own tests. */
const CORE: DetectorDefinition[] = [freezeDetector, blackDetector, silenceDetector, clippingDetector];
const BBB = resolve("../shared/media/big-buck-bunny-60s-360p.mp4");

async function detectAll(file: string, fps: number): Promise<Found[]> {
  const runs = CORE.map((d) => harness(d));
  const videoEnd = await decodeVideo(file, fps, (f) => {
    for (const r of runs) r.detector.pushVideo?.(f);
  });
  const audioEnd = await decodeAudio(file, (b) => {
    for (const r of runs) r.detector.pushAudio?.(b);
  });
  const end = Math.max(videoEnd, audioEnd);
  for (const r of runs) r.detector.flush(end);
  return runs.flatMap((r) => r.conditions()).sort((a, b) => a.start - b.start);
}

describe("detectors on decoded media", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("find exactly the injected defects of a generated clip, and none of its near misses", async () => {
    const dir = await mkdtemp(join(tmpdir(), "streamqc-detect-"));
    dirs.push(dir);
    const clip = join(dir, "clip.ts");
    const truth = await generateClip(clip, {
      duration: 40,
      defects: parseDefectSpec(
        "freeze@3:3,black@9:3,freeze-noisy@15:3,logo-black@21:3,dark@27:3,freeze@33:1.2," +
          "silence@3:3,quiet@9:5,clipping@16:2,silence@22:1.2",
      ),
    });
    const found = await detectAll(clip, 25);
    const expected = truth.defects.filter((d) => d.expect !== null);
    expect(found.map((c) => c.type)).toEqual(expected.map((d) => d.expect));
    for (const [i, d] of expected.entries()) {
      const c = found[i];
      expect(Math.abs((c?.start ?? -1) - d.start), `${d.type} start`).toBeLessThanOrEqual(TOL);
      expect(Math.abs((c?.end ?? -1) - d.end), `${d.type} end`).toBeLessThanOrEqual(TOL);
    }
  });

  it.skipIf(!existsSync(BBB))(
    "find exactly the defects injected into Big Buck Bunny's real pictures and sound (needs ../shared/media)",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "streamqc-detect-"));
      dirs.push(dir);
      const clip = join(dir, "bbb.ts");
      const truth = await generateClip(clip, {
        duration: 45,
        base: BBB,
        defects: parseDefectSpec(
          "freeze@5:3,black@12:3,freeze-noisy@20:3,logo-black@28:3,freeze@36:1.2," +
            "silence@8:3,clipping@16:2,silence@24:1.2,quiet@30:5",
        ),
      });
      const found = await detectAll(clip, 25);
      const expected = truth.defects.filter((d) => d.expect !== null);
      expect(found.map((c) => c.type)).toEqual(expected.map((d) => d.expect));
      for (const [i, d] of expected.entries()) {
        expect(Math.abs((found[i]?.start ?? -1) - d.start), `${d.type} start`).toBeLessThanOrEqual(TOL);
        expect(Math.abs((found[i]?.end ?? -1) - d.end), `${d.type} end`).toBeLessThanOrEqual(TOL);
      }
    },
  );

  it.skipIf(!existsSync(BBB))(
    "find nothing in the first minute of Big Buck Bunny (needs ../shared/media)",
    async () => {
      expect(await detectAll(BBB, 24)).toEqual([]);
    },
  );
  if (!existsSync(BBB)) console.warn(`skipping the Big Buck Bunny test: ${BBB} is absent`);
});
