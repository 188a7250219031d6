/**
 * The clean programme of the false-alarm run: a sound track laid over the pictures is brought
 * to the target from the part of it the programme uses, not from the whole file (music that
 * opens quietly left the camera programme 2.4 LU under the target).
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateCleanProgramme } from "../../src/gen/clean-programme.js";
import { generateClip } from "../../src/gen/clip-generator.js";
import { probeLoudness } from "../../src/gen/loudness-probe.js";
import { tempDir } from "../helpers/media.js";

const tmp = tempDir("streamqc-clean-programme-");
afterAll(() => tmp.cleanup());

describe("generateCleanProgramme with a sound track of its own", () => {
  it("measures the gain on the part used: a track quiet for 6 s then 34 dB louder gives a 6 s programme at -23 LUFS", async () => {
    const base = join(tmp.dir, "base.ts");
    await generateClip(base, { duration: 8, width: 320, height: 180, defects: [] });
    const voice = join(tmp.dir, "voice.wav");
    execFileSync("ffmpeg", [
      "-hide_banner",
      "-loglevel",
      "error",
      "-f",
      "lavfi",
      "-i",
      "aevalsrc=if(lt(t\\,6)\\,0.01\\,0.5)*sin(2*PI*440*t):s=48000:d=30",
      "-y",
      voice,
    ]);
    const out = join(tmp.dir, "programme.ts");
    const p = await generateCleanProgramme(out, {
      base,
      segment: 8,
      seconds: 6,
      profile: "h264-aac-2m",
      voice,
    });
    expect(Math.abs(p.measured.integrated - -23)).toBeLessThanOrEqual(1);
    expect(Math.abs((await probeLoudness("ffmpeg", out)).integrated - -23)).toBeLessThanOrEqual(1);
  }, 60_000);
});
