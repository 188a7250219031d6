import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MediaReader } from "../../src/ingest/media-reader.js";
import {
  ANALYSIS_HEIGHT,
  ANALYSIS_WIDTH,
  type AudioBlock,
  type DetailFrame,
  type StreamEvent,
  type VideoFrame,
} from "../../src/ingest/media.js";
import { openSource } from "../../src/ingest/open-source.js";
import { closedTcpPort, isAlive, makeClip, tempDir, waitFor } from "../helpers/media.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function collect() {
  const frames: VideoFrame[] = [];
  const audio: AudioBlock[] = [];
  const events: StreamEvent[] = [];
  return {
    frames,
    audio,
    events,
    handlers: {
      video: (f: VideoFrame) => frames.push(f),
      audio: (b: AudioBlock) => audio.push(b),
      event: (e: StreamEvent) => events.push(e),
    },
  };
}

describe("MediaReader on files", () => {
  it("gives every frame once with the media's own timestamps from zero, and all the audio", async () => {
    const clip = makeClip(join(tmp.dir, "clean.ts"), { duration: 4 });
    const c = collect();
    const reader = new MediaReader(openSource(clip), { ffmpegPath: "ffmpeg" }, c.handlers);
    reader.start();
    const result = await reader.done;
    expect(result.reason).toBe("ended");
    expect(c.frames.length).toBe(100);
    expect(c.frames[0]!.pts).toBeCloseTo(0, 1);
    expect(c.frames[0]!.luma.length).toBe(ANALYSIS_WIDTH * ANALYSIS_HEIGHT);
    for (let i = 1; i < c.frames.length; i++) {
      expect(c.frames[i]!.pts - c.frames[i - 1]!.pts).toBeCloseTo(0.04, 3);
    }
    const samples = c.audio.reduce((n, b) => n + b.frames, 0);
    expect(samples / 48000).toBeGreaterThan(3.9);
    expect(samples / 48000).toBeLessThan(4.1);
    const fmt = c.events.find((e) => e.kind === "format");
    expect(fmt).toMatchObject({ video: { width: 320, height: 240, fps: 25 }, audio: { sampleRate: 48000 } });
  });

  it("reads luma right from limited-range, full-range and RGB video", async () => {
    // A white picture: Y is 235 in limited range, 255 in full range; analysis frames are full range.
    const clips = {
      limited: ["-pix_fmt", "yuv420p", "-c:v", "libx264", "limited.ts"],
      full: ["-pix_fmt", "yuvj420p", "-color_range", "pc", "-c:v", "libx264", "full.ts"],
      rgb: ["-c:v", "png", "rgb.mkv"],
    };
    const seen: Record<string, { analysis: number; detail: number; fullRange: boolean }> = {};
    for (const [name, args] of Object.entries(clips)) {
      const out = join(tmp.dir, args[args.length - 1]!);
      execFileSync("ffmpeg", [
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "color=c=white:s=320x240:r=25:d=1",
        ...args.slice(0, -1),
        out,
      ]);
      let analysis = NaN;
      let detail: DetailFrame | null = null;
      let detailLuma = NaN;
      const reader = new MediaReader(
        openSource(out),
        { ffmpegPath: "ffmpeg", detail: true },
        {
          // Frames are valid only during the call: read what the test needs there.
          video: (f) => (analysis = f.luma[f.luma.length >> 1]!),
          detail: (f) => {
            detail = f;
            detailLuma = f.luma[f.luma.length >> 1]!;
          },
        },
      );
      reader.start();
      expect((await reader.done).reason).toBe("ended");
      seen[name] = {
        analysis,
        detail: detailLuma,
        fullRange: (detail as DetailFrame | null)?.fullRange ?? false,
      };
    }
    for (const name of Object.keys(clips)) expect(seen[name]!.analysis, name).toBeGreaterThanOrEqual(253);
    expect(seen.limited).toMatchObject({ fullRange: false });
    expect(Math.abs(seen.limited!.detail - 235)).toBeLessThanOrEqual(2);
    expect(seen.full).toMatchObject({ fullRange: true });
    expect(seen.full!.detail).toBeGreaterThanOrEqual(253);
  });

  it("shows a stretch with no frames as a gap, never as duplicated frames", async () => {
    const clip = makeClip(join(tmp.dir, "gap.ts"), { duration: 5, videoGap: [2, 3] });
    const c = collect();
    const reader = new MediaReader(openSource(clip), { ffmpegPath: "ffmpeg" }, c.handlers);
    reader.start();
    await reader.done;
    expect(c.frames.length).toBe(100);
    const jumps = c.frames.slice(1).map((f, i) => f.pts - c.frames[i]!.pts);
    const big = jumps.filter((d) => d > 0.5);
    expect(big.length).toBe(1);
    expect(big[0]).toBeCloseTo(1.04, 2);
  });

  it("rejects a missing file, a file that is not media, and names the cause", async () => {
    expect(() => openSource(join(tmp.dir, "nope.ts"))).toThrow(/no such file/);
    const bogus = join(tmp.dir, "bogus.ts");
    (await import("node:fs")).writeFileSync(bogus, "this is not a video\n".repeat(100));
    const reader = new MediaReader(openSource(bogus), { ffmpegPath: "ffmpeg" }, {});
    reader.start();
    await expect(reader.done).rejects.toThrow(/Invalid data found when processing input/);
  });

  it("reads a truncated file to its end", async () => {
    const clip = makeClip(join(tmp.dir, "full.ts"), { duration: 4 });
    const { readFileSync, writeFileSync } = await import("node:fs");
    const bytes = readFileSync(clip);
    const cut = join(tmp.dir, "cut.ts");
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2) + 77));
    const c = collect();
    const reader = new MediaReader(openSource(cut), { ffmpegPath: "ffmpeg" }, c.handlers);
    reader.start();
    const result = await reader.done;
    expect(result.reason).toBe("ended");
    expect(c.frames.length).toBeGreaterThan(20);
    expect(c.frames.length).toBeLessThan(100);
  });

  it("says clearly when ffmpeg is missing", () => {
    const reader = new MediaReader(
      openSource(makeClip(join(tmp.dir, "x.ts"), { duration: 1 })),
      {
        ffmpegPath: "/nonexistent/ffmpeg",
      },
      {},
    );
    expect(() => reader.start()).toThrow(
      /ffmpeg was not found at "\/nonexistent\/ffmpeg".*apt-get install -y ffmpeg/,
    );
  });
});

describe("MediaReader on live sources", () => {
  it("fails fast with the reason when a URL refuses connections", async () => {
    const reader = new MediaReader(
      openSource(`http://127.0.0.1:${await closedTcpPort()}/live.m3u8`),
      { ffmpegPath: "ffmpeg", failFast: true },
      {},
    );
    reader.start();
    await expect(reader.done).rejects.toThrow(/Connection refused|ECONNREFUSED/);
  });

  it("restarts a decoder killed with SIGKILL, reports the loss, and keeps the timeline going", async () => {
    const clip = makeClip(join(tmp.dir, "live.ts"), { duration: 3 });
    const c = collect();
    const reader = new MediaReader(
      openSource(clip, { realtime: true }),
      { ffmpegPath: "ffmpeg", backoff: { initialMs: 200, maxMs: 1000 } },
      c.handlers,
    );
    reader.start();
    await waitFor(() => c.frames.length > 25, 10_000, "first frames");
    const pid = reader.pid!;
    process.kill(pid, "SIGKILL");
    await waitFor(() => c.events.some((e) => e.kind === "lost"), 5000, "lost event");
    const before = c.frames.length;
    await waitFor(() => c.frames.length > before + 10, 5000, "frames after restart");
    expect(reader.pid).not.toBe(pid);
    expect(isAlive(pid)).toBe(false);
    const pts = c.frames.map((f) => f.pts);
    expect(pts.slice(1).every((t, i) => t > pts[i]!)).toBe(true);
    expect(c.events.filter((e) => e.kind === "connected").length).toBe(2);
    const newPid = reader.pid!;
    await reader.close();
    expect(isAlive(newPid)).toBe(false);
  });

  it("detects a decoder stopped with SIGSTOP (watchdog) and restarts it", async () => {
    const clip = makeClip(join(tmp.dir, "live2.ts"), { duration: 3 });
    const c = collect();
    const reader = new MediaReader(
      openSource(clip, { realtime: true }),
      { ffmpegPath: "ffmpeg", stallTimeoutMs: 1500, backoff: { initialMs: 100, maxMs: 500 } },
      c.handlers,
    );
    reader.start();
    await waitFor(() => c.frames.length > 10, 10_000, "first frames");
    const pid = reader.pid!;
    process.kill(pid, "SIGSTOP");
    await waitFor(
      () => c.events.some((e) => e.kind === "decoder-error" && e.message.includes("no progress")),
      6000,
      "watchdog",
    );
    await waitFor(() => reader.pid !== undefined && reader.pid !== pid, 5000, "restart");
    await waitFor(() => !isAlive(pid), 2000, "stopped decoder killed");
    const before = c.frames.length;
    await waitFor(() => c.frames.length > before + 5, 5000, "frames after restart");
    await reader.close();
  });
});

describe("no ffmpeg outlives its monitor", () => {
  it("kills the decoder when the monitor process is killed with SIGKILL", async () => {
    const { spawn } = await import("node:child_process");
    const clip = makeClip(join(tmp.dir, "orphan.ts"), { duration: 2 });
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "../fixtures/reader-child.ts"), clip],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    await waitFor(() => /pid (\d+)/.test(out), 15_000, "decoder pid");
    const pid = Number(/pid (\d+)/.exec(out)![1]);
    expect(isAlive(pid)).toBe(true);
    child.kill("SIGKILL");
    await waitFor(() => !isAlive(pid), 3000, "decoder to die with its monitor");
  });
});
