/**
 * `audio.clipping` and `audio.loudness` on real sound through lossy codecs, as broadcasters
 * send it: Big Buck Bunny normalised to -23 LUFS, hard-clipped BEFORE coding (a +30 dB gain
 * into ffmpeg's `aeval=exprs='clip(val(0),-1,1)|clip(val(1),-1,1)'`), then coded as AAC 128k, MP2 192k (MPEG-TS) and AC-3
 * 192k, decoded by real ffmpeg.
 *
 * What broke (issue 10): clipped sound decodes from a lossy codec with ragged tops and peaks
 * above full scale, not flat runs; the run-length rule began a 3 s clipped passage 1.5 s late,
 * split it at a 0.26 s pause, and missed a 0.6 s burst.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Condition, ConditionEvent } from "../../src/detect/detector.js";
import { findDetector } from "../../src/detect/registry.js";
import { runFfmpeg } from "../helpers/ffmpeg-audio.js";
import { tempDir } from "../helpers/media.js";
import { decodeAudio } from "./decoded-media.js";

const BBB = resolve("../shared/media/big-buck-bunny-60s-360p.mp4");
const HAVE_BBB = existsSync(BBB);
/** Onset and end tolerance, seconds. */
const TOL = 0.2;
/** Big Buck Bunny's first minute measures -25.9 LUFS integrated (ffmpeg ebur128): +2.9 dB is -23. */
const NORMALISE = "volume=2.9dB";
const CODECS = [
  { name: "AAC 128k", args: ["-c:a", "aac", "-b:a", "128k", "-f", "adts"], ext: "aac" },
  { name: "MP2 192k in MPEG-TS", args: ["-c:a", "mp2", "-b:a", "192k", "-f", "mpegts"], ext: "ts" },
  { name: "AC-3 192k", args: ["-c:a", "ac3", "-b:a", "192k", "-f", "ac3"], ext: "ac3" },
] as const;

if (!HAVE_BBB) console.warn(`skipping clipping-lossy-codecs: ${BBB} is absent`);

async function conditions(file: string, type: string): Promise<Condition[]> {
  const def = findDetector(type)!;
  const ended: Condition[] = [];
  const det = def.create(def.options.parse({}), (e: ConditionEvent) => {
    if (e.phase === "end") ended.push(e.condition);
  });
  const end = await decodeAudio(file, (b) => det.pushAudio!(b));
  det.flush(end);
  return ended;
}

describe.skipIf(!HAVE_BBB)("audio.clipping after lossy codecs (real content)", () => {
  const tmp = tempDir("streamqc-clip-lossy-");
  const pcm = (name: string) => join(tmp.dir, `${name}.wav`);
  const coded = (name: string, codec: (typeof CODECS)[number]) => join(tmp.dir, `${name}.${codec.ext}`);

  beforeAll(async () => {
    const make = (name: string, input: string[], filter: string) =>
      runFfmpeg(
        ["-loglevel", "error", "-y", ...input, "-vn", "-ac", "2", "-ar", "48000", "-af", filter].concat([
          "-c:a",
          "pcm_f32le",
          pcm(name),
        ]),
      );
    const bbb = ["-ss", "10", "-t", "20", "-i", BBB];
    // A 0.6 s burst at 2 s and a 3 s passage at 5 s, hard-clipped at full scale.
    const clip = (when: string) =>
      `${NORMALISE},volume='if(${when},31.6,1)':eval=frame:precision=float,aeval=exprs='clip(val(0),-1,1)|clip(val(1),-1,1)'`;
    await make("clean", bbb, NORMALISE);
    await make("clipped", bbb, clip("between(t,2,2.6)+between(t,5,8)"));
    // Speech-like: pink noise in 0.74 s syllables with 0.26 s pauses, clipped from 1 s to 4 s.
    await make(
      "speech",
      ["-f", "lavfi", "-i", "anoisesrc=color=pink:sample_rate=48000:amplitude=0.05:duration=6:seed=7"],
      `volume='if(lt(mod(t,1),0.74),1,0.001)':eval=frame,${clip("between(t,1,4)")}`,
    );
    for (const codec of CODECS)
      for (const name of ["clean", "clipped", "speech"])
        await runFfmpeg(["-loglevel", "error", "-y", "-i", pcm(name), ...codec.args, coded(name, codec)]);
  }, 180_000);

  afterAll(() => tmp.cleanup());

  for (const codec of CODECS) {
    it(`${codec.name}: a 0.6 s burst and a 3 s passage are two incidents, onsets and ends within ${TOL} s`, async () => {
      const found = await conditions(coded("clipped", codec), "audio.clipping");
      expect(found.map((c) => [c.start, c.end])).toHaveLength(2);
      const [burst, passage] = found as [Condition, Condition];
      expect(Math.abs(burst.start - 2)).toBeLessThanOrEqual(TOL);
      expect(Math.abs(burst.end! - 2.6)).toBeLessThanOrEqual(TOL);
      expect(Math.abs(passage.start - 5)).toBeLessThanOrEqual(TOL);
      expect(Math.abs(passage.end! - 8)).toBeLessThanOrEqual(TOL);
    });

    it(`${codec.name}: clipped speech with 0.26 s pauses is one incident from its onset (it was split and 1.5 s late)`, async () => {
      const found = await conditions(coded("speech", codec), "audio.clipping");
      expect(found).toHaveLength(1);
      expect(Math.abs(found[0]!.start - 1)).toBeLessThanOrEqual(TOL);
      // The last clipped syllable ends at 3.74 s (a pause follows).
      expect(Math.abs(found[0]!.end! - 3.74)).toBeLessThanOrEqual(TOL);
    });

    it(`${codec.name}: clean Big Buck Bunny gives no clipping`, async () => {
      expect(await conditions(coded("clean", codec), "audio.clipping")).toEqual([]);
    });
  }
});
