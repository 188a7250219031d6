/**
 * The full-decoding policy (decode-policy.ts): deblocking skipped on frames nothing references
 * must not change a verdict. Checked on real ffmpeg output: which frames carry detail, how far
 * the analysis picture moves, and the blockiness verdicts on corrupted and clean encodes.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { DecodePolicy } from "../../src/ingest/decode-policy.js";
import { MediaReader, decoderArgs } from "../../src/ingest/media-reader.js";
import type { DetailFrame, VideoFrame } from "../../src/ingest/media.js";
import { openSource } from "../../src/ingest/open-source.js";
import { generateCorruptClip } from "../../src/gen/corrupt-clip.js";
import { analyzeInput } from "../../src/monitor/analyze.js";
import { tempDir } from "../helpers/media.js";

const tmp = tempDir("streamqc-decode-policy-");
afterAll(() => tmp.cleanup());

/** Both policies' analysis and detail frames of one file (copies: the reader reuses its buffers). */
async function frames(
  file: string,
  policy: DecodePolicy,
): Promise<{ video: VideoFrame[]; detail: DetailFrame[] }> {
  const video: VideoFrame[] = [];
  const detail: DetailFrame[] = [];
  const reader = new MediaReader(
    openSource(file),
    { ffmpegPath: "ffmpeg", detail: true, threads: 1, decodePolicy: policy },
    {
      video: (f) => video.push({ ...f, luma: new Uint8Array(f.luma) }),
      detail: (f) => detail.push({ ...f, luma: new Uint8Array(f.luma) }),
    },
  );
  reader.start();
  await reader.done;
  return { video, detail };
}

/** The picture type of every video frame in presentation order, as ffprobe decodes them. */
function pictureTypes(file: string): string[] {
  const out = execFileSync(
    "ffprobe",
    ["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pict_type", "-of", "csv=p=0", file],
    { encoding: "utf8" },
  );
  return out
    .split("\n")
    .map((l) => l.trim().replace(/,.*$/, ""))
    .filter((l) => l.length > 0);
}

describe("decode policy: the decoder command", () => {
  // Any existing file: the command is built, not run.
  const source = openSource(import.meta.filename);
  const beforeInput = (args: string[]): string[] => args.slice(0, args.indexOf("-i"));

  it("fast (the default) skips deblocking on non-reference frames only, before the input", () => {
    const args = decoderArgs(source, { ffmpegPath: "ffmpeg", detail: true });
    expect(beforeInput(args).join(" ")).toContain("-skip_loop_filter:v noref");
    expect(args.join(" ")).not.toContain("-skip_frame");
    const detailFilter = args[args.indexOf("-filter:v:1") + 1]!;
    expect(detailFilter).toContain("eq(pict_type\\,PICT_TYPE_I)+eq(pict_type\\,PICT_TYPE_P)");
  });

  it("exact decodes every frame as encoded and takes detail from any frame", () => {
    const args = decoderArgs(source, { ffmpegPath: "ffmpeg", detail: true, decodePolicy: "exact" });
    expect(args.join(" ")).not.toContain("skip_loop_filter");
    expect(args[args.indexOf("-filter:v:1") + 1]).not.toContain("pict_type");
  });
});

describe("decode policy on real encodes", () => {
  it("takes detail frames only from I and P frames (deblocked), still 2 a second", async () => {
    // 400 kb/s at 640x360: heavy quantisation, so deblocking matters most here.
    const file = join(tmp.dir, "lowrate.ts");
    await generateCorruptClip(file, { duration: 6, content: "mandelbrot", size: "640x360", bitrate: "400k" });
    const types = pictureTypes(file);
    const { video, detail } = await frames(file, "fast");
    expect(video.length).toBe(types.length);
    expect(types.filter((t) => t === "B").length).toBeGreaterThan(types.length / 4);
    // 6 s at 2 a second: one per half-second slot.
    expect(detail.length).toBeGreaterThanOrEqual(11);
    expect(detail.length).toBeLessThanOrEqual(13);
    for (const d of detail) {
      const index = video.findIndex((v) => Math.abs(v.pts - d.pts) < 0.001);
      expect(index, `detail frame at ${d.pts}`).toBeGreaterThanOrEqual(0);
      expect(["I", "P"]).toContain(types[index]);
    }
  });

  it("moves the 160x90 analysis picture by under one level on average, and reference frames not at all", async () => {
    const file = join(tmp.dir, "lowrate-2.ts");
    await generateCorruptClip(file, { duration: 4, content: "mandelbrot", size: "640x360", bitrate: "400k" });
    const types = pictureTypes(file);
    const exact = await frames(file, "exact");
    const fast = await frames(file, "fast");
    expect(fast.video.length).toBe(exact.video.length);
    let changedFrames = 0;
    for (let i = 0; i < exact.video.length; i++) {
      const a = exact.video[i]!.luma;
      const b = fast.video[i]!.luma;
      let sum = 0;
      for (let p = 0; p < a.length; p++) sum += Math.abs(a[p]! - b[p]!);
      const mean = sum / a.length;
      // Skipping deblocking on a frame nothing references leaves I and P frames (references) exact.
      if (types[i] !== "B") expect(mean, `${types[i]} frame ${i}`).toBe(0);
      expect(mean, `frame ${i}`).toBeLessThan(1);
      if (mean > 0) changedFrames++;
    }
    // The policy does something: some B-frames differ.
    expect(changedFrames).toBeGreaterThan(0);
    // Detail frames (I and P) are identical to the exact decode's at the same times.
    for (const d of fast.detail) {
      const same = exact.video.findIndex((v) => Math.abs(v.pts - d.pts) < 0.001);
      expect(same).toBeGreaterThanOrEqual(0);
    }
  });

  it("reports corrupt@3.1:0.5 in life 720p at the same times as exact decoding", async () => {
    const file = join(tmp.dir, "corrupt-life.ts");
    const truth = await generateCorruptClip(file, {
      duration: 7,
      content: "life",
      corrupt: [{ start: 3.1, duration: 0.5 }],
    });
    const blockiness = async (policy: DecodePolicy) =>
      (
        await analyzeInput(file, { detectors: { "av.sync": false }, threads: 1, decodePolicy: policy })
      ).incidents.filter((i) => i.type === "video.blockiness");
    const fast = await blockiness("fast");
    const exact = await blockiness("exact");
    const t = truth.incidents[0]!;
    expect(fast).toHaveLength(1);
    expect(Math.abs(fast[0]!.start - t.start)).toBeLessThanOrEqual(0.2);
    expect(Math.abs(fast[0]!.end! - t.end)).toBeLessThanOrEqual(0.2);
    expect(fast.map((i) => [i.start, i.end])).toEqual(exact.map((i) => [i.start, i.end]));
  }, 240_000);

  it("is quiet on a clean 640x360 encode at 400 kb/s (no block edges from undeblocked frames)", async () => {
    const file = join(tmp.dir, "clean-400k.ts");
    await generateCorruptClip(file, { duration: 5, content: "mandelbrot", size: "640x360", bitrate: "400k" });
    const { incidents } = await analyzeInput(file, { threads: 1, detectors: { "av.sync": false } });
    expect(incidents.filter((i) => i.type.startsWith("video."))).toEqual([]);
  });
});
