/**
 * The clean programme of the false-alarm run: a sound track laid over the pictures is brought
 * to the target from the part of it the programme uses, not from the whole file (music that
 * opens quietly left the camera programme 2.4 LU under the target).
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { statSync } from "node:fs";
import { cachedCleanProgramme, generateCleanProgramme } from "../../src/gen/clean-programme.js";
import { generateClip } from "../../src/gen/clip-generator.js";
import { probeLoudness } from "../../src/gen/loudness-probe.js";
import { ffmpegLavfi, tempDir } from "../helpers/media.js";

const tmp = tempDir("streamqc-clean-programme-");
afterAll(() => tmp.cleanup());

/** A 48 kHz sound file `name` in the temporary folder from an `aevalsrc` expression. */
function sound(name: string, expression: string, seconds: number): string {
  const file = join(tmp.dir, name);
  ffmpegLavfi(`aevalsrc=${expression}:s=48000:d=${seconds}`, ["-y", file]);
  return file;
}

describe("generateCleanProgramme with a sound track of its own", () => {
  it("measures the gain on the part used: a track quiet for 6 s then 34 dB louder gives a 6 s programme at -23 LUFS", async () => {
    const base = join(tmp.dir, "base.ts");
    await generateClip(base, { duration: 8, width: 320, height: 180, defects: [] });
    const voice = sound("voice.wav", "if(lt(t\\,6)\\,0.01\\,0.5)*sin(2*PI*440*t)", 30);
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

  it("reuses a cached programme only when it was made the same way", async () => {
    const base = join(tmp.dir, "base-cache.ts");
    await generateClip(base, { duration: 4, width: 320, height: 180, defects: [] });
    const quiet = sound("quiet.wav", "0.01*sin(2*PI*440*t)", 10);
    const loud = sound("loud.wav", "0.5*sin(2*PI*660*t)", 10);
    const out = join(tmp.dir, "cached.ts");
    const made = { base, segment: 4, seconds: 3, profile: "h264-aac-2m" as const };
    const first = await cachedCleanProgramme(out, { ...made, voice: quiet });
    const mtime = statSync(out).mtimeMs;
    // The same recipe: the file on disk is the answer, not made again.
    const again = await cachedCleanProgramme(out, { ...made, voice: quiet });
    expect(again).toEqual(first);
    expect(statSync(out).mtimeMs).toBe(mtime);
    // Another sound track, same length and encode (all the old cache compared): made again.
    const other = await cachedCleanProgramme(out, { ...made, voice: loud });
    expect(other.recipe?.voice).toBe(loud);
    expect(first.gainDb - other.gainDb).toBeGreaterThan(25);
    expect(statSync(out).mtimeMs).toBeGreaterThan(mtime);
  }, 60_000);
});
