/**
 * END-TO-END: generated media through `analyzeInput` (src/monitor/analyze.ts, built on main
 * by the lead). Until that module is merged into this branch the suite SKIPS with a message;
 * the detectors are covered meanwhile by the unit tests and detectors-media.test.ts.
 *
 * The module is imported by a computed path so that this file type-checks without it.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateClip, type GroundTruth } from "../../src/gen/clip-generator.js";
import { parseDefectSpec } from "../../src/gen/defect-spec.js";
import type { Incident } from "../../src/incident.js";

type AnalyzeInput = (
  input: string,
  options?: { duration?: number; stream?: string; detectors?: Record<string, unknown> },
) => Promise<{ incidents: Incident[]; mediaDuration: number }>;

const ANALYZE = fileURLToPath(new URL("../../src/monitor/analyze.ts", import.meta.url));
const HAVE_ANALYZE = existsSync(ANALYZE);
const CORE = new Set(["video.freeze", "video.black", "audio.silence", "audio.clipping"]);
const TOL = 0.2;

if (!HAVE_ANALYZE)
  console.warn(`skipping detectors-e2e: ${ANALYZE} is not in this tree yet (it lands with main)`);

describe.skipIf(!HAVE_ANALYZE)("detectors end to end through analyzeInput", () => {
  let analyzeInput: AnalyzeInput;
  let dir = "";
  let defects = "";
  let clean = "";
  let truth: GroundTruth;

  beforeAll(async () => {
    const mod = (await import(pathToFileURL(ANALYZE).href)) as { analyzeInput: AnalyzeInput };
    analyzeInput = mod.analyzeInput;
    dir = await mkdtemp(join(tmpdir(), "streamqc-e2e-"));
    defects = join(dir, "defects.ts");
    clean = join(dir, "clean.ts");
    truth = await generateClip(defects, {
      duration: 44,
      defects: parseDefectSpec(
        // Defects, then near misses: a noisy freeze and a logo on black still count; a dark
        // textured scene, quiet speech with short pauses and 1.2 s defects do not.
        "freeze@3:3,black@9:3,freeze-noisy@15:3,logo-black@21:3,dark@27:3,freeze@33:1.2,black@37:1.2," +
          "silence@3:3,quiet@9:5,clipping@16:2,silence@22:1.2,clipping@30:0.2",
      ),
    });
    await generateClip(clean, { duration: 20, defects: [], seed: 5 });
  });

  afterAll(async () => {
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  it("reports exactly the injected defects, within 0.2 s, and none of the near misses", async () => {
    const { incidents, mediaDuration } = await analyzeInput(defects, { stream: "e2e" });
    expect(Math.abs(mediaDuration - 44)).toBeLessThan(0.5);
    // Other detectors (loudness, for one) may rightly react to injected silence; judge ours.
    const core = incidents.filter((i) => CORE.has(i.type)).sort((a, b) => a.start - b.start);
    const expected = truth.defects.filter((d) => d.expect !== null);
    expect(expected.map((d) => d.expect)).toEqual([
      "video.freeze",
      "audio.silence",
      "video.black",
      "video.freeze",
      "audio.clipping",
      "video.black",
    ]);
    expect(core.map((i) => i.type).sort()).toEqual(expected.map((d) => d.expect).sort());
    for (const d of expected) {
      const match = core.filter(
        (i) =>
          i.type === d.expect && Math.abs(i.start - d.start) <= TOL && Math.abs((i.end ?? -1) - d.end) <= TOL,
      );
      expect(match, `${d.type} ${d.start}-${d.end} in ${JSON.stringify(core)}`).toHaveLength(1);
    }
  });

  it("reports nothing at all on a clean clip", async () => {
    const { incidents } = await analyzeInput(clean, { stream: "clean" });
    expect(incidents).toEqual([]);
  });

  it("passes per-type options to the detectors: a 1 s minimum turns the 1.2 s freeze into an incident", async () => {
    const { incidents } = await analyzeInput(defects, { detectors: { "video.freeze": { minDuration: 1 } } });
    const short = incidents.filter((i) => i.type === "video.freeze" && Math.abs(i.start - 33) <= TOL);
    expect(short).toHaveLength(1);
  });
});
