import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freeUdpPorts } from "../../src/demo/loopback.js";
import {
  KEYFRAME_START_ANALYZE_US,
  KeyframeGate,
  keyframeStartArgs,
  LIGHT_PROBE_BYTES,
} from "../../src/ingest/keyframe-gate.js";
import { MediaReader } from "../../src/ingest/media-reader.js";
import type { StreamEvent, VideoFrame } from "../../src/ingest/media.js";
import { openSource } from "../../src/ingest/open-source.js";
import { tempDir, waitFor } from "../helpers/media.js";

const tmp = tempDir();
const senders: ChildProcess[] = [];
let h264: string;
let hevc: string;
let mpeg2: string;
let audioOnly: string;

/** testsrc2 with a keyframe every `gop` frames at 25 fps (never elsewhere), in MPEG-TS. */
function encode(out: string, video: readonly string[], gop: number, audio = true): string {
  execFileSync("ffmpeg", [
    "-hide_banner",
    "-loglevel",
    "error",
    "-y",
    "-f",
    "lavfi",
    "-i",
    "testsrc2=s=320x180:r=25:d=12",
    ...(audio ? ["-f", "lavfi", "-i", "sine=f=440:sample_rate=48000:d=12"] : []),
    ...video,
    "-g",
    String(gop),
    "-keyint_min",
    String(gop),
    "-sc_threshold",
    "0",
    ...(audio ? ["-c:a", "aac"] : []),
    "-f",
    "mpegts",
    out,
  ]);
  return out;
}

beforeAll(() => {
  // 4 s between keyframes: a decoder joined just after one waits nearly 4 s for the next.
  h264 = encode(join(tmp.dir, "h264.ts"), ["-c:v", "libx264", "-preset", "ultrafast"], 100);
  hevc = encode(join(tmp.dir, "hevc.ts"), ["-c:v", "libx265", "-x265-params", "log-level=none"], 100);
  mpeg2 = encode(join(tmp.dir, "mpeg2.ts"), ["-c:v", "mpeg2video"], 100);
  audioOnly = join(tmp.dir, "audio.ts");
  execFileSync("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000:d=6"],
    ...["-c:a", "aac", "-f", "mpegts", audioOnly],
  ]);
}, 120_000);

afterAll(() => {
  for (const s of senders) s.kill("SIGKILL");
  tmp.cleanup();
});

/** The bytes of `file` from `fraction` of its length (not on a packet boundary), through a gate in 1316-byte reads. */
function gated(
  file: string,
  fraction: number,
  gate = new KeyframeGate(),
): { bytes: Buffer; gate: KeyframeGate } {
  const all = readFileSync(file);
  const from = Math.floor((all.length * fraction) / 188) * 188 + 57;
  const out: Buffer[] = [];
  for (let p = from; p < all.length; p += 1316) {
    const o = gate.push(all.subarray(p, Math.min(all.length, p + 1316)));
    if (o) out.push(Buffer.from(o));
  }
  return { bytes: Buffer.concat(out), gate };
}

/** The video frames ffprobe finds (key flag, pts) reading `file` with the short analysis. */
function probeVideo(file: string): { key: boolean; pts: number }[] {
  const r = spawnSync(
    "ffprobe",
    [
      ...["-v", "error", "-analyzeduration", String(KEYFRAME_START_ANALYZE_US), "-select_streams", "v:0"],
      ...["-show_entries", "frame=key_frame,pts_time", "-of", "csv=p=0", file],
    ],
    { encoding: "utf8" },
  );
  return r.stdout
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const [key, pts] = l.split(",");
      return { key: key === "1", pts: Number(pts) };
    });
}

/** Clears the random_access_indicator of every packet, so only the elementary stream can tell. */
function withoutRandomAccessFlags(file: string, out: string): string {
  const b = Buffer.from(readFileSync(file));
  for (let p = 0; p + 188 <= b.length; p += 188) {
    if ((b[p + 3]! >> 4) & 2 && b[p + 4]! > 0) b[p + 5] = b[p + 5]! & ~0x40;
  }
  writeFileSync(out, b);
  return out;
}

/**
 * The H.264 clip (4 s GOP) sent live over UDP in a loop, read by a full MediaReader started
 * `joinMs` after the sender, until `pictures` frames came (then closed).
 */
async function readLiveH264(
  joinMs: number,
  pictures: number,
  what: string,
  options: { stallTimeoutMs?: number } = {},
): Promise<{ reader: MediaReader; frames: VideoFrame[]; events: StreamEvent[] }> {
  const port = (await freeUdpPorts(1))[0]!;
  const sender = spawn(
    "ffmpeg",
    [
      ...["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", h264],
      ...["-c", "copy", "-f", "mpegts", `udp://127.0.0.1:${port}?pkt_size=1316`],
    ],
    { stdio: "ignore" },
  );
  senders.push(sender);
  await new Promise((r) => setTimeout(r, joinMs));
  const frames: VideoFrame[] = [];
  const events: StreamEvent[] = [];
  const reader = new MediaReader(
    openSource(`udp://127.0.0.1:${port}`),
    { ffmpegPath: "ffmpeg", threads: 1, ...options },
    { video: (f) => frames.push(f), event: (e) => events.push(e) },
  );
  reader.start();
  try {
    await waitFor(() => frames.length >= pictures, 20_000, what);
  } finally {
    await reader.close();
    sender.kill("SIGKILL");
  }
  return { reader, frames, events };
}

describe("keyframe gate", () => {
  it.each([
    ["H.264", () => h264],
    ["HEVC", () => hevc],
    ["MPEG-2", () => mpeg2],
  ])(
    "starts %s joined mid-GOP at the next keyframe, with its tables: 1 s of analysis finds the picture",
    (_name, file) => {
      for (const [label, input] of [
        ["flagged", file()],
        ["unflagged", withoutRandomAccessFlags(file(), join(tmp.dir, "noflag.ts"))],
      ] as const) {
        // 10 % in: 1.2 s of a 12 s clip with keyframes at 0, 4 and 8 s.
        const { bytes, gate } = gated(input, 0.1);
        const out = join(tmp.dir, `gated-${label}.ts`);
        writeFileSync(out, bytes);
        const frames = probeVideo(out);
        expect(gate.opened, label).toBe(true);
        expect(gate.gaveUp, label).toBe(false);
        expect(gate.skippedBytes, label).toBeGreaterThan(0);
        expect(frames[0]?.key, label).toBe(true);
        // The keyframe at 4 s (MPEG-TS starts at 1.4 s; HEVC's B-frames delay it by 2 frames).
        expect(Math.abs(frames[0]!.pts - 1.4 - 4), label).toBeLessThan(0.1);
        expect(frames.length, label).toBeGreaterThanOrEqual(7.9 * 25);
      }
    },
    60_000,
  );

  it("the same bytes ungated, joined where the gate began, are what 1 s of analysis cannot read", () => {
    const all = readFileSync(h264);
    const from = Math.floor((all.length * 0.1) / 188) * 188;
    const out = join(tmp.dir, "ungated.ts");
    writeFileSync(out, all.subarray(from));
    const r = spawnSync(
      "ffprobe",
      [
        "-v",
        "error",
        "-analyzeduration",
        String(KEYFRAME_START_ANALYZE_US),
        "-show_entries",
        "stream=width",
        out,
      ],
      { encoding: "utf8" },
    );
    // Why the gate exists: the decoder could not tell the picture size (and failed to start).
    expect(r.stderr + r.stdout).toMatch(/unspecified size|width=0/);
  });

  it("opens a programme without video at its tables, and loses none of its sound after them", () => {
    const { bytes, gate } = gated(audioOnly, 0);
    expect(gate.opened).toBe(true);
    expect(gate.skippedBytes).toBe(0);
    const all = readFileSync(audioOnly);
    // Everything but the 57 bytes the test began inside the first packet (and PAT and PMT once more).
    expect(bytes.length).toBeGreaterThanOrEqual(all.length - 188 * 3);
  });

  it("gives up when no keyframe can be found in time, and the decoder gets the bytes from then on", () => {
    // VC-1's stream_type: keyframes are known by the flag only, and the flags are gone.
    const b = Buffer.from(readFileSync(withoutRandomAccessFlags(h264, join(tmp.dir, "x.ts"))));
    for (let p = 0; p + 188 <= b.length; p += 188) {
      const pid = ((b[p + 1]! & 0x1f) << 8) | b[p + 2]!;
      // The PMT of an FFmpeg TS is on PID 0x1000; its first stream (0x1b, H.264) becomes 0xea.
      if (pid === 0x1000 && b[p + 1]! & 0x40) {
        const s = p + 5 + b[p + 4]!;
        const infoLen = ((b[s + 10]! & 0x0f) << 8) | b[s + 11]!;
        b[s + 12 + infoLen] = 0xea;
      }
    }
    let clock = 0;
    const gate = new KeyframeGate({ waitMs: 10_000, now: () => clock });
    let given: Uint8Array | null = null;
    for (let p = 0; p < b.length && !gate.opened; p += 1316) {
      clock += 50;
      given = gate.push(b.subarray(p, p + 1316));
    }
    expect(gate.gaveUp).toBe(true);
    expect(clock).toBeGreaterThan(10_000);
    expect(given).not.toBeNull();
    expect(gate.push(b.subarray(0, 188))).toEqual(b.subarray(0, 188));
  });

  it("gives the decoder the short analysis in place of the source's", () => {
    const source = openSource("udp://127.0.0.1:5999");
    const args = keyframeStartArgs(source.inputArgs());
    expect(args[args.indexOf("-analyzeduration") + 1]).toBe(String(KEYFRAME_START_ANALYZE_US));
    expect(args.filter((a) => a === "-analyzeduration")).toHaveLength(1);
    expect(args.slice(-2)).toEqual(["-i", "pipe:0"]);
    expect(args[args.indexOf("-probesize") + 1]).toBe("5000000");
    // A light decoder's input is keyframes and heads: a smaller probe buffer, in place of the source's.
    const light = keyframeStartArgs(source.inputArgs(), true);
    expect(light[light.indexOf("-probesize") + 1]).toBe(String(LIGHT_PROBE_BYTES));
    expect(light.filter((a) => a === "-probesize")).toHaveLength(1);
  });

  it("a decoder waiting for a keyframe longer than the stall watchdog is not restarted as stalled", async () => {
    // Joined 0.5 s into a 4 s GOP: 3.5 s with nothing to decode, against a 2 s watchdog.
    const { reader, events } = await readLiveH264(500, 25, "a second of pictures", {
      stallTimeoutMs: 2000,
    });
    expect(events.filter((e) => e.kind === "decoder-error")).toEqual([]);
    expect(reader.keyframeStarts).toBe(true);
  }, 60_000);

  it("a live UDP stream joined mid-GOP: the first decoder starts at the next keyframe and is never restarted", async () => {
    // Joined 1.5 s into the first 4 s GOP.
    const { reader, frames, events } = await readLiveH264(1500, 50, "two seconds of pictures");
    expect(reader.keyframeStarts).toBe(true);
    expect(events.filter((e) => e.kind === "decoder-error")).toEqual([]);
    expect(events.filter((e) => e.kind === "lost")).toEqual([]);
    // The first picture is the keyframe at 4 s of the clip; media time starts at the first
    // packet after it (the sound is muxed up to 0.3 s ahead of the picture).
    const first = events.find((e) => e.kind === "keyframe");
    expect(first?.at).toBe(frames[0]!.pts);
    expect(frames[0]!.pts).toBeLessThan(0.4);
  }, 60_000);
});
