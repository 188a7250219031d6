import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { NutDemuxer, type NutPacket, type NutStream } from "../../src/ingest/nut-demuxer.js";
import { ffmpegLavfi, makeClip, tempDir } from "../helpers/media.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** A NUT file as the reader's decoder writes one (gray raw video and float PCM), made once. */
let nutFile: string | undefined;
function rawNut(): string {
  if (nutFile) return nutFile;
  const clip = makeClip(join(tmp.dir, "in.ts"), { duration: 2 });
  const nut = join(tmp.dir, "out.nut");
  execFileSync("ffmpeg", [
    "-hide_banner",
    "-loglevel",
    "error",
    "-copyts",
    "-i",
    clip,
    "-map",
    "0:v:0",
    "-map",
    "0:a:0",
    "-vf",
    "scale=320:180,format=gray",
    "-c:v",
    "rawvideo",
    "-c:a",
    "pcm_f32le",
    "-fps_mode",
    "passthrough",
    "-f",
    "nut",
    nut,
  ]);
  nutFile = nut;
  return nut;
}

/** FFmpeg's own checksum of every packet of `file`, as it demuxes it. */
function packetMd5s(file: string): (string | undefined)[] {
  return execFileSync(
    "ffmpeg",
    ["-hide_banner", "-loglevel", "error", "-i", file, "-map", "0", "-c", "copy", "-f", "framemd5", "-"],
    { encoding: "utf8" },
  )
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.split(",").map((f) => f.trim())[5]);
}

describe("NutDemuxer", () => {
  it("gives every packet with the pts and size ffprobe reports, whatever the chunking", () => {
    const nut = rawNut();
    const probe = execFileSync(
      "ffprobe",
      ["-v", "error", "-show_entries", "packet=stream_index,pts,size", "-of", "csv=p=0", nut],
      { encoding: "utf8" },
    )
      .trim()
      .split("\n")
      .map((l) => l.split(",").map(Number));
    const bytes = readFileSync(nut);
    for (const chunk of [1, 7, 4096, 65536, bytes.length]) {
      let streams: readonly NutStream[] = [];
      const packets: NutPacket[] = [];
      const d = new NutDemuxer({ onStreams: (s) => (streams = s), onPacket: (p) => packets.push(p) });
      for (let i = 0; i < bytes.length; i += chunk) d.push(bytes.subarray(i, i + chunk));
      expect(streams.map((s) => s.kind)).toEqual(["video", "audio"]);
      expect(streams[0]).toMatchObject({ width: 320, height: 180, fourcc: "Y800" });
      expect(packets.map((p) => [p.stream, p.pts, p.data.length])).toEqual(probe);
    }
  });

  it("hands each packet's exact bytes while the caller reuses one read buffer", () => {
    const nut = rawNut();
    // FFmpeg's own checksum of every packet, as it demuxes the same file.
    const expected = packetMd5s(nut);
    const bytes = readFileSync(nut);
    const reused = Buffer.alloc(5000);
    const sums: string[] = [];
    const d = new NutDemuxer({
      onStreams: () => undefined,
      onPacket: (p) => sums.push(createHash("md5").update(p.data).digest("hex")),
    });
    for (let i = 0; i < bytes.length; i += reused.length) {
      const n = bytes.copy(reused, 0, i, i + reused.length);
      d.push(reused.subarray(0, n));
      reused.fill(0xaa); // what a reused buffer holds after the call is never read again
    }
    expect(sums.length).toBe(expected.length);
    expect(sums).toEqual(expected);
  });

  it("gives units far larger than its starting buffer exactly, in pipe-sized reads", () => {
    // 1080p gray frames (2 MiB each): the buffer starts at 128 KiB and must grow to hold one.
    const nut = join(tmp.dir, "big.nut");
    ffmpegLavfi("testsrc2=size=1920x1080:rate=25:duration=0.2", [
      "-vf",
      "format=gray",
      "-c:v",
      "rawvideo",
      "-f",
      "nut",
      nut,
    ]);
    const expected = packetMd5s(nut);
    expect(expected.length).toBe(5);
    const bytes = readFileSync(nut);
    for (const chunk of [4096, 65536]) {
      const sums: string[] = [];
      const sizes: number[] = [];
      const d = new NutDemuxer({
        onStreams: () => undefined,
        onPacket: (p) => {
          sizes.push(p.data.length);
          sums.push(createHash("md5").update(p.data).digest("hex"));
        },
      });
      for (let i = 0; i < bytes.length; i += chunk) d.push(bytes.subarray(i, i + chunk));
      expect(sizes).toEqual(Array(5).fill(1920 * 1080));
      expect(sums).toEqual(expected);
    }
  });

  it("fails with a clear error on a damaged startcode instead of giving wrong frames", () => {
    const clip = makeClip(join(tmp.dir, "in2.ts"), { duration: 2, audio: false });
    const nut = join(tmp.dir, "out2.nut");
    execFileSync("ffmpeg", [
      "-hide_banner",
      "-loglevel",
      "error",
      "-i",
      clip,
      "-vf",
      "scale=64:36,format=gray",
      "-c:v",
      "rawvideo",
      "-f",
      "nut",
      nut,
    ]);
    const bytes = Buffer.from(readFileSync(nut));
    const clean: NutPacket[] = [];
    new NutDemuxer({ onStreams: () => undefined, onPacket: (p) => clean.push(p) }).push(bytes);
    expect(clean.length).toBe(50);
    const syncpoint = Buffer.from("4e4be4adeeca4569", "hex");
    const second = bytes.indexOf(syncpoint, bytes.indexOf(syncpoint) + 8);
    expect(second).toBeGreaterThan(0);
    bytes[second + 3] = bytes[second + 3]! ^ 0xff;
    expect(() =>
      new NutDemuxer({ onStreams: () => undefined, onPacket: () => undefined }).push(bytes),
    ).toThrow(/unknown NUT startcode/);
  });
});
