import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStreamqcError } from "../../src/errors.js";
import { generateClip, truthPathFor, type GroundTruth } from "../../src/gen/clip-generator.js";
import { parseDefectSpec } from "../../src/gen/defect-spec.js";
import { runTool, witness, type Interval } from "./witness.js";

/** ffmpeg's times are rebased to the earliest stream (audio starts ~20 ms before video in TS). */
const TOL = 0.2;

function near(found: Interval[], start: number, end: number): Interval[] {
  return found.filter((i) => Math.abs(i.start - start) <= TOL && Math.abs(i.end - end) <= TOL);
}

function overlaps(found: Interval[], start: number, end: number): Interval[] {
  return found.filter((i) => i.start < end && i.end > start);
}

describe("generateClip", () => {
  let dir = "";
  let clip = "";
  let truth: GroundTruth;
  let seen: Awaited<ReturnType<typeof witness>>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "streamqc-gen-"));
    clip = join(dir, "defects.ts");
    truth = await generateClip(clip, {
      duration: 34,
      defects: parseDefectSpec(
        "freeze@3:3,black@9:3,freeze-noisy@15:3,logo-black@21:3,dark@27:3,silence@3:3,quiet@9:4,clipping@16:2",
      ),
    });
    seen = await witness(clip);
  });

  afterAll(async () => {
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  it("writes the ground truth beside the clip", async () => {
    expect(truthPathFor(clip)).toBe(join(dir, "defects.truth.json"));
    const onDisk = JSON.parse(await readFile(truthPathFor(clip), "utf8")) as GroundTruth;
    expect(onDisk).toEqual(truth);
    expect(truth.duration).toBe(34);
    expect(truth.defects.map((d) => [d.type, d.start, d.end, d.expect])).toEqual([
      ["freeze", 3, 6, "video.freeze"],
      ["silence", 3, 6, "audio.silence"],
      ["black", 9, 12, "video.black"],
      ["quiet", 9, 13, null],
      ["freeze-noisy", 15, 18, "video.freeze"],
      ["clipping", 16, 18, "audio.clipping"],
      ["logo-black", 21, 24, "video.black"],
      ["dark", 27, 30, null],
    ]);
  });

  it("is H.264 + AAC 48 kHz stereo in MPEG-TS at 640x360 25 fps", async () => {
    const r = await runTool("ffprobe", [
      "-v",
      "error",
      "-show_entries",
      "stream=codec_name,width,height,r_frame_rate,sample_rate,channels,pix_fmt:format=format_name,duration",
      "-of",
      "json",
      clip,
    ]);
    const info = JSON.parse(r.stdout) as {
      streams: Record<string, unknown>[];
      format: { format_name: string; duration: string };
    };
    expect(info.format.format_name).toBe("mpegts");
    expect(Math.abs(Number(info.format.duration) - 34)).toBeLessThan(0.2);
    expect(info.streams).toContainEqual(
      expect.objectContaining({
        codec_name: "h264",
        width: 640,
        height: 360,
        r_frame_rate: "25/1",
        pix_fmt: "yuv420p",
      }),
    );
    expect(info.streams).toContainEqual(
      expect.objectContaining({ codec_name: "aac", sample_rate: "48000", channels: 2 }),
    );
  });

  it("freezes where the truth says, and only there (freezedetect)", () => {
    expect(near(seen.freezes, 3, 6)).toHaveLength(1);
    expect(near(seen.freezes, 15, 18)).toHaveLength(1);
    // A black picture is also a still one; everything else moves, including the dark scene.
    const expected = [
      [3, 6],
      [9, 12],
      [15, 18],
      [21, 24],
    ];
    for (const f of seen.freezes) {
      expect(
        expected.some(([a = 0, b = 0]) => f.start < b && f.end > a),
        `freeze ${f.start}-${f.end}`,
      ).toBe(true);
    }
  });

  it("is black where the truth says, logo or not, and the dark scene is not (blackdetect)", () => {
    expect(near(seen.blacks, 9, 12)).toHaveLength(1);
    expect(near(seen.blacks, 21, 24)).toHaveLength(1);
    expect(seen.blacks).toHaveLength(2);
  });

  it("is silent where the truth says and the quiet speech is not (silencedetect)", () => {
    expect(near(seen.silences, 3, 6)).toHaveLength(1);
    expect(seen.silences).toHaveLength(1);
    expect(overlaps(seen.silences, 9, 13)).toEqual([]);
  });

  it("clips at full scale where the truth says and stays below -6 dBFS elsewhere (astats)", () => {
    expect(seen.peaks.length).toBeGreaterThan(300);
    const hot = seen.peaks.filter((p) => p.dbfs >= -0.1);
    expect(hot.length).toBeGreaterThan(15);
    for (const p of hot) expect(p.t, `full-scale peak at ${p.t}`).toBeGreaterThanOrEqual(16 - 0.15);
    for (const p of hot) expect(p.t, `full-scale peak at ${p.t}`).toBeLessThanOrEqual(18);
    const cool = seen.peaks.filter((p) => p.t < 15.8 || p.t > 18.2);
    expect(Math.max(...cool.map((p) => p.dbfs))).toBeLessThan(-6);
  });

  it("makes 1920x1080 clips for the benchmark", async () => {
    const big = join(dir, "big.ts");
    await generateClip(big, { duration: 2, defects: [], width: 1920, height: 1080 });
    const r = await runTool("ffprobe", [
      "-v",
      "error",
      "-select_streams",
      "v",
      "-show_entries",
      "stream=width,height",
      "-of",
      "json",
      big,
    ]);
    const info = JSON.parse(r.stdout) as { streams: { width: number; height: number }[] };
    expect(info.streams[0]).toEqual({ width: 1920, height: 1080 });
  });

  it("refuses a defect that does not fit in the clip", async () => {
    const err: unknown = await generateClip(join(dir, "x.ts"), {
      duration: 5,
      defects: parseDefectSpec("black@4:3"),
    }).catch((e: unknown) => e);
    expect(isStreamqcError(err, "SQM_ERR_DEFECT_SPEC")).toBe(true);
  });

  it("reports a missing ffmpeg as SQM_ERR_FFMPEG_MISSING", async () => {
    const err: unknown = await generateClip(join(dir, "y.ts"), {
      duration: 1,
      defects: [],
      ffmpegPath: join(dir, "no-such-ffmpeg"),
    }).catch((e: unknown) => e);
    expect(isStreamqcError(err, "SQM_ERR_FFMPEG_MISSING")).toBe(true);
  });
});
