/**
 * av.sync's natural-content correlation (opt-in, `naturalContent: true`) on real programme:
 * Big Buck Bunny coded as H.264 + AAC in MPEG-TS, in sync and with its sound shifted by a
 * known offset. The rule under test is issue 10's "no estimate rather than a wrong one": every
 * estimate it gives is within 40 ms of the truth, and in-sync content opens no incident. (On
 * this minute of Big Buck Bunny it gives none at all: its picture and sound share one short
 * stretch of events, with a rival lag 300 ms away; see DETECTORS.md.)
 */
import { afterAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { runFfmpeg } from "../../src/gen/corrupt-clip.js";
import { generateClip } from "../../src/gen/clip-generator.js";
import { analyzeInput } from "../../src/monitor/analyze.js";
import { measureAvSync } from "../helpers/av-sync-measure.js";
import { tempDir } from "../helpers/media.js";

const tmp = tempDir("streamqc-avnat-");
afterAll(() => tmp.cleanup());
const BBB = resolve("../shared/media/big-buck-bunny-60s-360p.mp4");
/** Big Buck Bunny's own sound sits about +20 ms after its picture once coded (measured). */
const NATIVE_MS = 20;
const NATURAL = { naturalContent: true };
/** A minute of media encoded and decoded on a shared 2-core machine. */
const SLOW = 300_000;

async function shifted(ms: number): Promise<string> {
  const out = join(tmp.dir, `bbb${ms}.ts`);
  const audio = ms < 0 ? `atrim=start=${-ms / 1000},asetpts=PTS-STARTPTS` : `adelay=delays=${ms}:all=1`;
  await runFfmpeg("ffmpeg", [
    "-nostdin",
    "-i",
    BBB,
    "-t",
    "59",
    "-filter_complex",
    `[0:v]fps=25[v];[0:a]${audio},aresample=48000[a]`,
    "-map",
    "[v]",
    "-map",
    "[a]",
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-threads",
    "1",
    "-c:a",
    "aac",
    "-b:a",
    "128k",
    "-ac",
    "2",
    "-f",
    "mpegts",
    out,
  ]);
  return out;
}

describe.runIf(existsSync(BBB))("av.sync natural content on Big Buck Bunny (real, AAC)", () => {
  for (const ms of [0, -250, 160]) {
    it(
      `sound shifted ${ms} ms: every estimate within 40 ms of the truth, no incident unless outside the tolerance`,
      async () => {
        const file = await shifted(ms);
        const { measurements, conditions } = await measureAvSync(file, NATURAL);
        const truth = ms + NATIVE_MS;
        for (const m of measurements)
          if (m.offsetMs !== null) expect(Math.abs(m.offsetMs - truth)).toBeLessThanOrEqual(40);
        if (ms === 0) expect(conditions).toHaveLength(0);
        // Any incident carries an estimate checked above.
        for (const c of conditions.filter((e) => e.phase === "start"))
          expect(Math.abs(Number(c.condition.details?.offsetMs) - truth)).toBeLessThanOrEqual(40);
      },
      SLOW,
    );
  }
});

describe("av.sync natural content on generated programme", () => {
  it(
    "gives no av.sync incident on the demo's generated programme (the live demo channel read a false -188 ms under the earlier single-window rule)",
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
