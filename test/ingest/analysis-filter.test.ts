/**
 * The analysis picture (ANALYSIS_FILTER) is made without copying each frame's luma first: the
 * scaler reads it in place (a 2 MiB frame pool less per 1080p decoder, BENCHMARKS.md). The
 * frames must stay bit-identical to the chain that copied it out with `extractplanes=y`, on
 * every kind of source a detector's thresholds were tuned on: limited and full range, 4:2:0,
 * 4:2:2, 4:4:4, 10-bit and RGB (converted first), and the real clip when it is here.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ANALYSIS_FILTER, ANALYSIS_HEIGHT, ANALYSIS_WIDTH, LUMA_FORMATS } from "../../src/ingest/media.js";
import { ffmpegLavfi, tempDir } from "../helpers/media.js";

const tmp = tempDir("streamqc-analysis-filter-");
afterAll(() => tmp.cleanup());

/** The chain before: the luma copied out of each decoded frame, then scaled. */
const COPYING_FILTER =
  `format=${LUMA_FORMATS},extractplanes=y,scale=320:180:flags=fast_bilinear,` +
  `scale=${ANALYSIS_WIDTH}:${ANALYSIS_HEIGHT}:flags=area:out_range=full,format=gray`;

/** Each analysis frame's hash, with its time, as the decoder command makes them (`-color_range tv`). */
function frameHashes(file: string, filter: string): string[] {
  const out = execFileSync(
    "ffmpeg",
    ["-hide_banner", "-loglevel", "error", "-threads", "1", "-color_range", "tv", "-i", file].concat([
      "-map",
      "0:v:0",
      "-filter:v",
      filter,
      "-f",
      "framemd5",
      "-",
    ]),
    { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
  );
  return out.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
}

/** A moving test picture (gradients, colour bars, text) encoded in one pixel format. */
function encode(name: string, pixFmt: string, codec: string, extra: string[] = []): string {
  const file = join(tmp.dir, `${name}.mkv`);
  ffmpegLavfi("testsrc2=size=640x360:rate=25:duration=1", [
    "-pix_fmt",
    pixFmt,
    ...extra,
    "-c:v",
    codec,
    "-preset",
    "ultrafast",
    "-y",
    file,
  ]);
  return file;
}

describe("analysis filter", () => {
  const cases: [string, string, string, string[]][] = [
    ["4:2:0 limited", "yuv420p", "libx264", []],
    ["4:2:0 full range", "yuvj420p", "libx264", []],
    ["4:2:2 full range tag", "yuv422p", "libx264", ["-color_range", "pc"]],
    ["4:4:4", "yuv444p", "libx264", []],
    ["10-bit", "yuv420p10le", "libx264", []],
    ["RGB", "gbrp", "libx264rgb", []],
  ];
  for (const [name, pixFmt, codec, extra] of cases) {
    it(`${name}: frames bit-identical to the luma-copying chain`, () => {
      const file = encode(pixFmt, pixFmt, codec, extra);
      const now = frameHashes(file, ANALYSIS_FILTER);
      expect(now.length).toBe(25);
      expect(now).toEqual(frameHashes(file, COPYING_FILTER));
      // Not trivially equal: the picture moves, so its frames differ.
      expect(new Set(now.map((l) => l.split(",").pop())).size).toBeGreaterThan(20);
    });
  }

  const real = resolve(import.meta.dirname, "../../../shared/media/big-buck-bunny-60s-360p.mp4");
  it.skipIf(!existsSync(real))("real clip (Big Buck Bunny, 3 s): bit-identical", () => {
    const cut = join(tmp.dir, "bbb.mp4");
    execFileSync("ffmpeg", [
      "-hide_banner",
      "-loglevel",
      "error",
      "-t",
      "3",
      "-i",
      real,
      "-c",
      "copy",
      "-y",
      cut,
    ]);
    const now = frameHashes(cut, ANALYSIS_FILTER);
    expect(now.length).toBeGreaterThan(60);
    expect(now).toEqual(frameHashes(cut, COPYING_FILTER));
  });
  if (!existsSync(real)) console.warn(`analysis-filter test: ${real} absent, real-clip case skipped`);
});
