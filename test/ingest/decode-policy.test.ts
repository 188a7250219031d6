/**
 * The full-decoding policies (decode-policy.ts): deblocking skipped on frames nothing
 * references (`fast`), or those frames not decoded at all (`refs`), must not change a verdict.
 * Checked on real ffmpeg output: which frames are decoded and carry detail, how far the analysis
 * picture moves, freeze and black timing against exact decoding (H.264 with B-frames, MPEG-2),
 * no gap or damage made up from skipped frames, and the blockiness verdicts on corrupted and
 * clean encodes.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { resolveProfile } from "../../src/config/profile.js";
import { resolveDecodePolicy, type DecodePolicy } from "../../src/ingest/decode-policy.js";
import { MediaReader, decoderArgs } from "../../src/ingest/media-reader.js";
import type { DetailFrame, VideoFrame } from "../../src/ingest/media.js";
import { openSource } from "../../src/ingest/open-source.js";
import { generateClip } from "../../src/gen/clip-generator.js";
import { generateCorruptClip } from "../../src/gen/corrupt-clip.js";
import { generateSyncClip } from "../../src/gen/sync-clip.js";
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

  it("fast (a reader's default) skips deblocking on non-reference frames only, before the input", () => {
    const args = decoderArgs(source, { ffmpegPath: "ffmpeg", detail: true });
    expect(beforeInput(args).join(" ")).toContain("-skip_loop_filter:v noref");
    expect(args.join(" ")).not.toContain("-skip_frame");
    const detailFilter = args[args.indexOf("-filter:v:1") + 1]!;
    expect(detailFilter).toContain("eq(pict_type\\,PICT_TYPE_I)+eq(pict_type\\,PICT_TYPE_P)");
  });

  it("refs skips decoding non-reference frames, before the input, and takes detail from any decoded frame", () => {
    const args = decoderArgs(source, { ffmpegPath: "ffmpeg", detail: true, decodePolicy: "refs" });
    expect(beforeInput(args).join(" ")).toContain("-skip_frame:v noref");
    expect(args.join(" ")).not.toContain("skip_loop_filter");
    expect(args[args.indexOf("-filter:v:1") + 1]).not.toContain("pict_type");
  });

  it("auto is refs unless a detector needs every frame (av.sync), and an explicit choice is kept", () => {
    const all = resolveProfile({}).detectors;
    const noSync = resolveProfile({ detectors: { "av.sync": false } }).detectors;
    expect(resolveDecodePolicy(undefined, all)).toBe("fast");
    expect(resolveDecodePolicy("auto", all)).toBe("fast");
    expect(resolveDecodePolicy("auto", noSync)).toBe("refs");
    expect(resolveDecodePolicy(undefined, noSync)).toBe("refs");
    expect(resolveDecodePolicy("exact", noSync)).toBe("exact");
    expect(resolveDecodePolicy("refs", all)).toBe("refs");
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

/** Video-only incidents of a clip under one policy, with a profile that lets `auto` skip (no av.sync). */
async function videoIncidents(file: string, policy: DecodePolicy) {
  const { incidents } = await analyzeInput(file, {
    threads: 1,
    detectors: { "av.sync": false },
    decodePolicy: policy,
  });
  return incidents;
}

describe("refs: reference frames only", () => {
  it("decodes exactly the reference frames, bit-identical to exact decoding (x264, 3 B-frames, no pyramid)", async () => {
    const file = join(tmp.dir, "no-pyramid.ts");
    // Without B-pyramid no B-frame is a reference: the reference frames are the I and P frames.
    execFileSync("ffmpeg", [
      ...["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"],
      ...["-i", "testsrc2=s=640x360:r=25:d=4", "-c:v", "libx264", "-preset", "veryfast"],
      ...["-bf", "3", "-x264-params", "b-pyramid=none", "-g", "50", "-pix_fmt", "yuv420p", file],
    ]);
    const types = pictureTypes(file);
    const exact = await frames(file, "exact");
    const refs = await frames(file, "refs");
    expect(exact.video.length).toBe(types.length);
    const iOrP = exact.video.filter((_, i) => types[i] !== "B");
    expect(types.filter((t) => t === "B").length).toBeGreaterThan(types.length / 3);
    expect(refs.video.map((f) => f.pts)).toEqual(iOrP.map((f) => f.pts));
    for (let i = 0; i < iOrP.length; i++) {
      expect(Buffer.from(refs.video[i]!.luma).equals(Buffer.from(iOrP[i]!.luma)), `frame ${i}`).toBe(true);
    }
    // Detail frames are decoded (reference, deblocked) frames, still 2 a second.
    expect(refs.detail.length).toBeGreaterThanOrEqual(7);
    expect(refs.detail.length).toBeLessThanOrEqual(9);
    for (const d of refs.detail) expect(iOrP.some((v) => Math.abs(v.pts - d.pts) < 0.001)).toBe(true);
  });

  // H.264 as `gen` encodes it (x264 veryfast: 3 B-frames, pyramid: some B-frames are references),
  // and MPEG-2 with two B-frames per P, none of them a reference (two frames in three skipped).
  const codecs = [
    { name: "H.264 with B-frames", codec: null, tolerance: 0.081 },
    {
      name: "MPEG-2 IBBP",
      codec: ["-c:v", "mpeg2video", "-bf", "2", "-g", "12", "-q:v", "4"],
      tolerance: 0.121,
    },
  ] as const;
  for (const { name, codec, tolerance } of codecs) {
    it(`${name}: freeze and black as with exact decoding (within ${Math.round(tolerance / 0.04)} frame intervals), no gap or damage`, async () => {
      const h264 = join(tmp.dir, `defects-${codec ? "mpeg2" : "h264"}-src.ts`);
      const truth = await generateClip(h264, {
        duration: 12,
        width: 320,
        height: 180,
        defects: [
          { type: "freeze", start: 2.5, duration: 3 },
          { type: "black", start: 7, duration: 2.5 },
        ],
      });
      let file = h264;
      if (codec) {
        file = join(tmp.dir, "defects-mpeg2.ts");
        execFileSync("ffmpeg", [
          ...["-hide_banner", "-loglevel", "error", "-y", "-i", h264, "-map", "0"],
          ...[...codec, "-c:a", "copy", "-f", "mpegts", file],
        ]);
      }
      const types = pictureTypes(file);
      expect(types.filter((t) => t === "B").length).toBeGreaterThan(types.length / (codec ? 2 : 4));
      if (codec) {
        const refs = await frames(file, "refs");
        // Only I and P frames are decoded: about one in three.
        expect(refs.video.length).toBe(types.filter((t) => t !== "B").length);
      }
      const exact = await videoIncidents(file, "exact");
      const refs = await videoIncidents(file, "refs");
      const summary = (list: typeof exact) => list.map((i) => i.type);
      expect(summary(exact)).toEqual(["video.freeze", "video.black"]);
      // Nothing else: no stream.gap, no blockiness (missing reference), no extra freeze.
      expect(summary(refs)).toEqual(summary(exact));
      for (let k = 0; k < exact.length; k++) {
        const e = exact[k]!;
        const r = refs[k]!;
        expect(Math.abs(r.start - e.start), `${e.type} start`).toBeLessThanOrEqual(tolerance);
        expect(Math.abs(r.end! - e.end!), `${e.type} end`).toBeLessThanOrEqual(tolerance);
        const t = truth.defects[k]!;
        expect(Math.abs(r.start - t.start), `${e.type} start vs truth`).toBeLessThanOrEqual(0.5);
      }
    }, 240_000);
  }

  it("a clean clip with B-frames stays clean under auto (no av.sync: reference frames only)", async () => {
    const file = join(tmp.dir, "clean-refs.ts");
    await generateClip(file, { duration: 8, width: 320, height: 180, defects: [] });
    const { incidents } = await analyzeInput(file, { threads: 1, detectors: { "av.sync": false } });
    expect(incidents).toEqual([]);
  });

  it("reports corrupt@3.1:0.5 in life 720p as exact decoding does (damage to reference frames is seen)", async () => {
    const file = join(tmp.dir, "corrupt-life-refs.ts");
    const truth = await generateCorruptClip(file, {
      duration: 7,
      content: "life",
      corrupt: [{ start: 3.1, duration: 0.5 }],
    });
    const refs = (await videoIncidents(file, "refs")).filter((i) => i.type === "video.blockiness");
    const t = truth.incidents[0]!;
    expect(refs).toHaveLength(1);
    expect(Math.abs(refs[0]!.start - t.start)).toBeLessThanOrEqual(0.2);
    expect(Math.abs(refs[0]!.end! - t.end)).toBeLessThanOrEqual(0.2);
  }, 240_000);
});

describe("auto with av.sync on (the default profile)", () => {
  const summary = (incidents: readonly { type: string; start: number; end: number | null }[]): string[] =>
    incidents.map((i) => `${i.type} ${i.start.toFixed(2)}-${i.end === null ? "open" : i.end.toFixed(2)}`);

  it("a file: reference frames until a sync pattern is seen, then every frame again from the start; the same incidents as decoding every frame", async () => {
    // With reference frames only it read -340 ms from 2.78 s (eval --decode refs): the pattern's
    // one-frame flashes coded as B-frames are lost or seen a frame late. Every frame is decoded
    // again from the keyframe at or before the window A/V sync judges (here the start).
    const file = join(tmp.dir, "sync-300.ts");
    await generateSyncClip(file, { offsetMs: -300, duration: 14 });
    const auto = await analyzeInput(file, { threads: 1, detectors: { "video.blockiness": false } });
    expect(auto.decoding).toEqual({ policy: "refs-then-fast", everyFrameFrom: 0 });
    const sync = auto.incidents.filter((i) => i.type === "av.sync");
    expect(sync).toHaveLength(1);
    expect(sync[0]!.start).toBeLessThan(1.5); // the first flash is at 0.8 s
    expect(Math.abs(Number(sync[0]!.details.offsetMs) + 300)).toBeLessThanOrEqual(20);
    // Every other detector saw each moment once: nothing found twice, nothing lost, the same
    // times (freezes of the pattern's still frames, A/V sync) as every frame decoded throughout.
    const fast = await analyzeInput(file, {
      threads: 1,
      detectors: { "video.blockiness": false },
      decodePolicy: "fast",
    });
    expect(fast.decoding).toEqual({ policy: "fast" });
    expect(summary(auto.incidents)).toEqual(summary(fast.incidents));
    expect(auto.incidents.length).toBeGreaterThan(1);
  }, 240_000);

  it("a file without paired sound and picture events stays on reference frames", async () => {
    const file = join(tmp.dir, "clean-auto.ts");
    await generateClip(file, { duration: 8, width: 320, height: 180, defects: [] });
    const r = await analyzeInput(file, { threads: 1 });
    expect(r.decoding).toEqual({ policy: "refs", everyFrameFrom: null });
    expect(r.incidents).toEqual([]);
  }, 120_000);

  it("natural-content A/V sync on: every frame from the start", async () => {
    const file = join(tmp.dir, "clean-natural.ts");
    await generateClip(file, { duration: 6, width: 320, height: 180, defects: [] });
    const r = await analyzeInput(file, { threads: 1, detectors: { "av.sync": { naturalContent: true } } });
    expect(r.decoding?.policy).toBe("refs-then-fast");
    expect(r.decoding?.everyFrameFrom).toBe(0);
  }, 120_000);
});
