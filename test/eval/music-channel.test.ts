/**
 * The music channel's parts that decide what is measured: which pieces fall in which half, and
 * that every piece is played at -23 LUFS (measured on the channel by FFmpeg's own meter).
 */
import { afterAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { channel, musicHalves } from "../../src/eval/music-channel.js";
import { runFfmpeg } from "../../src/gen/corrupt-clip.js";
import { probeLoudness } from "../../src/gen/loudness-probe.js";
import { tempDir } from "../helpers/media.js";

const tmp = tempDir("streamqc-music-");
afterAll(() => tmp.cleanup());

/** A tone of `seconds` at `volumeDb` into `name` (the container from its extension). */
async function piece(name: string, seconds: number, volumeDb: number, rate = 8000): Promise<string> {
  const path = join(tmp.dir, name);
  await runFfmpeg("ffmpeg", [
    "-nostdin",
    "-f",
    "lavfi",
    "-i",
    `sine=frequency=997:sample_rate=${rate}:duration=${seconds}`,
    "-af",
    `volume=${volumeDb}dB`,
    "-y",
    path,
  ]);
  return path;
}

describe("music channel", () => {
  it("splits the pieces of a minute or more by name without extension: odd ones tune, even ones held out", async () => {
    const files = [
      await piece("c.ogg", 61, -10),
      await piece("a.ogg", 59, -10),
      await piece("b.mp3", 61, -10),
      await piece("a-x.ogg", 61, -10),
    ];
    const { tune, heldOut } = await musicHalves(files, "ffprobe");
    const names = (ps: { path: string }[]): string[] => ps.map((p) => p.path.slice(tmp.dir.length + 1));
    // a.ogg (59 s) is left out; "a-x" < "b" < "c".
    expect(names(heldOut)).toEqual(["a-x.ogg", "c.ogg"]);
    expect(names(tune)).toEqual(["b.mp3"]);
  });

  it("plays every piece at -23 LUFS, back to back", async () => {
    const quiet = await piece("quiet.ogg", 8, -30, 48000);
    const loud = await piece("loud.mp3", 8, -8, 48000);
    const out = join(tmp.dir, "channel.ts");
    await channel(
      "ffmpeg",
      [
        { path: quiet, seconds: 8 },
        { path: loud, seconds: 8 },
      ],
      out,
      "aac",
    );
    // Each piece's own stretch of the channel, a second in from its edges.
    const first = await probeLoudness("ffmpeg", out, "atrim=start=1:end=7");
    const second = await probeLoudness("ffmpeg", out, "atrim=start=9:end=15");
    expect(first.integrated).toBeCloseTo(-23, 0);
    expect(second.integrated).toBeCloseTo(-23, 0);
  });
});
