/**
 * The light decoder's video (light-video-filter.ts): keyframes whole, other pictures cut to
 * their heads, on real encodes of each codec; every PES's time and size read in Node as
 * FFmpeg's demuxer reads them; the decoder shows the same keyframes; counters, PCRs and
 * losses stay what they were.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  LightVideoFilter,
  isBSlice,
  isKeyPes,
  type PesInfo,
  type VideoCodec,
} from "../../src/ingest/light-video-filter.js";
import { pesPts } from "../../src/ingest/ts-analyzer.js";
import { tempDir } from "../helpers/media.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const VIDEO_PID = 0x100;

/** testsrc2 + tone, 6 s, a keyframe every second, in MPEG-TS. */
function encode(name: string, video: readonly string[]): string {
  const out = join(tmp.dir, `${name}.ts`);
  execFileSync("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=6"],
    ...["-f", "lavfi", "-i", "sine=f=440:sample_rate=48000:d=6"],
    ...video,
    ...["-c:a", "aac", "-f", "mpegts", out],
  ]);
  return out;
}

const gop = ["-g", "25", "-keyint_min", "25", "-sc_threshold", "0"];
/** Name, codec, video options, and how many pictures `-skip_frame nokey` decodes of the 6 s. */
const ENCODES: readonly (readonly [string, Exclude<VideoCodec, "other">, readonly string[], number])[] = [
  [
    "H.264, x264's defaults (B-pyramid, IDR keyframes)",
    "h264",
    ["-c:v", "libx264", "-preset", "veryfast", ...gop],
    6,
  ],
  // Intra refresh: no I pictures after the first, a recovery-point SEI every 25 pictures
  // (FFmpeg's parser calls those keyframes; its decoder's nokey decodes only the IDR).
  [
    "H.264, intra refresh (recovery-point SEI)",
    "h264",
    [
      "-c:v",
      "libx264",
      "-preset",
      "veryfast",
      "-x264-params",
      "intra-refresh=1:keyint=25:min-keyint=25:scenecut=0",
    ],
    1,
  ],
  [
    "HEVC, x265's defaults (open GOPs, CRA keyframes)",
    "hevc",
    ["-c:v", "libx265", "-x265-params", "keyint=25:min-keyint=25:scenecut=0:log-level=error"],
    6,
  ],
  // FFmpeg's MPEG-2 encoder with B-frames puts an I picture every 24 here: 7 in 6 s.
  ["MPEG-2 with B-frames", "mpeg2", ["-c:v", "mpeg2video", "-bf", "2", "-b:v", "2M", ...gop], 7],
];
const NAMES = ENCODES.map(([name]) => name);
const files = new Map<string, { file: string; codec: Exclude<VideoCodec, "other">; decoded: number }>();
beforeAll(() => {
  ENCODES.forEach(([name, codec, video, decoded], i) =>
    files.set(name, { file: encode(`v${i}`, video), codec, decoded }),
  );
}, 240_000);

/** The file through a filter in 1316-byte reads (as UDP): the bytes out and every PES's info. */
function filtered(bytes: Buffer, codec: VideoCodec): { out: Buffer; pes: PesInfo[] } {
  const pes: PesInfo[] = [];
  const filter = new LightVideoFilter(VIDEO_PID, codec, (p) => pes.push(p));
  const parts: Uint8Array[] = [];
  for (let p = 0; p < bytes.length; p += 1316) parts.push(filter.push(bytes.subarray(p, p + 1316)));
  return { out: Buffer.concat(parts), pes };
}

/** ffprobe's rows (CSV fields) of `entries` for the video stream. */
function probeVideo(file: string, entries: string): string[][] {
  const r = spawnSync(
    "ffprobe",
    ["-v", "error", "-select_streams", "v", "-show_entries", entries, "-of", "csv=p=0", file],
    { encoding: "utf8" },
  );
  return r.stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => l.split(","));
}

/** ffprobe's video packets: time, size, keyframe. */
function probePackets(file: string): { pts: number; size: number; key: boolean }[] {
  return probeVideo(file, "packet=pts_time,size,flags").map(([pts, size, flags]) => ({
    pts: Number(pts),
    size: Number(size),
    key: flags!.includes("K"),
  }));
}

/** The payload of the TS packet at `at`. */
function payloadOf(b: Buffer, at: number): Buffer {
  const afc = (b[at + 3]! >> 4) & 3;
  return b.subarray(at + (afc & 2 ? 5 + b[at + 4]! : 4), at + 188);
}

/** framemd5 lines (with timestamps) of the keyframes as a light decoder decodes them, and what it logged. */
function keyframes(file: string): { frames: string[]; log: string } {
  const r = spawnSync(
    "ffmpeg",
    [
      ...["-hide_banner", "-loglevel", "warning", "-copyts", "-skip_frame", "nokey", "-flags", "+low_delay"],
      ...["-i", file, "-map", "0:v", "-f", "framemd5", "-"],
    ],
    { encoding: "utf8" },
  );
  return { frames: r.stdout.split("\n").filter((l) => l !== "" && !l.startsWith("#")), log: r.stderr };
}

interface TsPacket {
  readonly at: number;
  readonly pid: number;
  readonly pusi: boolean;
  readonly cc: number;
  readonly payload: boolean;
  readonly pcr: number | null;
}

function tsPackets(bytes: Buffer): TsPacket[] {
  const out: TsPacket[] = [];
  for (let p = 0; p + 188 <= bytes.length; p += 188) {
    expect(bytes[p]).toBe(0x47);
    const afc = (bytes[p + 3]! >> 4) & 3;
    const hasPcr = (afc & 2) !== 0 && bytes[p + 4]! >= 7 && (bytes[p + 5]! & 0x10) !== 0;
    out.push({
      at: p,
      pid: ((bytes[p + 1]! & 0x1f) << 8) | bytes[p + 2]!,
      pusi: (bytes[p + 1]! & 0x40) !== 0,
      cc: bytes[p + 3]! & 15,
      payload: (afc & 1) !== 0,
      pcr: hasPcr ? bytes.readUIntBE(p + 6, 6) : null,
    });
  }
  return out;
}

/** Positions in the video PID's payload packets where the continuity counter does not go on by one. */
function counterJumps(bytes: Buffer): number[] {
  const video = tsPackets(bytes).filter((p) => p.pid === VIDEO_PID && p.payload);
  const jumps: number[] = [];
  for (let i = 1; i < video.length; i++) {
    if (video[i]!.cc !== ((video[i - 1]!.cc + 1) & 15)) jumps.push(i);
  }
  return jumps;
}

function videoBytes(bytes: Buffer): number {
  return tsPackets(bytes).filter((p) => p.pid === VIDEO_PID).length * 188;
}

describe("the light decoder's video: keyframes whole, other pictures' heads", () => {
  it.each(NAMES)("%s", (name) => {
    const { file, codec, decoded } = files.get(name)!;
    const input = readFileSync(file);
    const { out, pes } = filtered(input, codec);
    const cut = join(tmp.dir, "filtered.ts");
    writeFileSync(cut, out);

    // Every PES's time, size and keyframe flag as FFmpeg's demuxer gives them (the last one
    // ends only when another begins; HEVC's parser may give a byte of a start code to the
    // access unit before).
    const probed = probePackets(file);
    expect(probed.filter((p) => p.key).length).toBeGreaterThanOrEqual(6);
    expect(pes).toHaveLength(probed.length - 1);
    pes.forEach((p, i) => {
      expect(p.pts).toBeCloseTo(probed[i]!.pts, 5);
      expect(Math.abs(p.size - probed[i]!.size)).toBeLessThanOrEqual(2);
      expect(p.keyframe).toBe(probed[i]!.key);
    });

    // The decoder shows the same keyframes at the same times, and says nothing about the cuts.
    const before = keyframes(file);
    const after = keyframes(cut);
    expect(after.frames).toEqual(before.frames);
    expect(after.frames).toHaveLength(decoded);
    expect(after.log).toBe("");

    // Far fewer video bytes; the counters run on; every PCR is still there.
    expect(videoBytes(out)).toBeLessThan(videoBytes(input) * 0.5);
    expect(counterJumps(out)).toEqual([]);
    const pcrs = (b: Buffer) => tsPackets(b).flatMap((p) => (p.pcr === null ? [] : [p.pcr]));
    expect(pcrs(out)).toEqual(pcrs(input));
    // Other PIDs pass as they are.
    const others = (b: Buffer) =>
      Buffer.concat(tsPackets(b).flatMap((p) => (p.pid === VIDEO_PID ? [] : [b.subarray(p.at, p.at + 188)])));
    expect(others(out).equals(others(input))).toBe(true);
  });

  it.each(NAMES)("tells keyframes by their first packet as FFmpeg's parser does: %s", (name) => {
    const { file, codec } = files.get(name)!;
    const input = readFileSync(file);
    const probed = probePackets(file);
    const starts = tsPackets(input).filter((p) => p.pid === VIDEO_PID && p.pusi);
    expect(starts).toHaveLength(probed.length);
    starts.forEach((p, i) => {
      expect(isKeyPes(payloadOf(input, p.at), codec), `PES ${i}`).toBe(probed[i]!.key);
    });
  });

  it("gives H.264 B pictures no head while FFmpeg analyses the stream (3 s), and heads after", () => {
    const { file } = files.get(NAMES[0]!)!;
    const input = readFileSync(file);
    // B or not, per PES in the order they are sent (by file position), as ffprobe decodes them.
    const types = probeVideo(file, "frame=pkt_pos,pict_type")
      .sort((a, b) => Number(a[0]) - Number(b[0]))
      .map((f) => f[1] === "B");
    const b = (buf: Buffer) =>
      tsPackets(buf)
        .filter((p) => p.pid === VIDEO_PID && p.pusi)
        .map((p) => {
          const pes = payloadOf(buf, p.at);
          return isBSlice(pes, 9 + pes[8]!);
        });
    // The slice header read in Node says B exactly where the decoder does.
    expect(b(input)).toEqual(types);
    expect(types.filter((t) => t).length).toBeGreaterThan(50);
    const { out } = filtered(input, "h264");
    const kept = tsPackets(out).filter((p) => p.pid === VIDEO_PID && p.pusi);
    const pts = (p: TsPacket) => pesPts(payloadOf(out, p.at), 0) / 90_000;
    const first = pts(kept[0]!);
    const bHeads = kept.filter((p, i) => b(out)[i]).map((p) => pts(p) - first);
    expect(bHeads.length).toBeGreaterThan(20);
    expect(Math.min(...bHeads)).toBeGreaterThanOrEqual(3);
  });

  it("a loss inside a keyframe still reaches the decoder as a loss; one in a left-out picture does not", () => {
    const { file, codec } = files.get(NAMES[0]!)!;
    const input = readFileSync(file);
    const video = tsPackets(input).filter((p) => p.pid === VIDEO_PID);
    const starts = video.filter((p) => p.pusi).map((p) => video.indexOf(p));
    // The 3rd keyframe's PES (25 pictures a GOP) and the picture after the next: a packet from the middle of each.
    const key = starts[50]!;
    const other = starts[52]!;
    expect(starts[53]! - other).toBeGreaterThan(6);
    const dropKey = video[key + 5]!.at;
    const dropOther = video[other + Math.floor((starts[53]! - other) * 0.8)]!.at;
    const without = (at: number) => Buffer.concat([input.subarray(0, at), input.subarray(at + 188)]);
    expect(counterJumps(filtered(without(dropKey), codec).out)).toHaveLength(1);
    expect(counterJumps(filtered(without(dropOther), codec).out)).toEqual([]);
  });

  it("undoes the 33-bit wrap of the timestamps", () => {
    const { file, codec } = files.get(NAMES[0]!)!;
    // The same stream with its timestamps 3 s before the counter wraps.
    const shifted = join(tmp.dir, "wrap.ts");
    execFileSync("ffmpeg", [
      ...["-hide_banner", "-loglevel", "error", "-y", "-i", file, "-map", "0", "-c", "copy"],
      ...["-output_ts_offset", String(2 ** 33 / 90_000 - 3), "-f", "mpegts", shifted],
    ]);
    const { pes } = filtered(readFileSync(shifted), codec);
    const times = pes.map((p) => p.pts);
    const start = Math.min(...times);
    expect(start).toBeGreaterThan(2 ** 33 / 90_000 - 4);
    // Past the wrap the times go on: 6 s of pictures in little more than 6 s.
    expect(Math.max(...times) - start).toBeGreaterThan(5.5);
    expect(Math.max(...times) - start).toBeLessThan(6.5);
  });
});
