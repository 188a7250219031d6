/**
 * Light mode on real encoded media: keyframes only, promoted to full decoding on a sign of
 * trouble. Defects at known times; clean media gives nothing; the promotion limit queues.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateClip } from "../../src/gen/clip-generator.js";
import { parseDefectSpec } from "../../src/gen/defect-spec.js";
import { analyzeInput } from "../../src/monitor/analyze.js";
import { resolveProfile } from "../../src/config/profile.js";
import { freeUdpPorts, udpOnceArgs } from "../../src/demo/loopback.js";
import { openSource } from "../../src/ingest/open-source.js";
import { LightSession, type PromotionChange } from "../../src/monitor/light-session.js";
import type { IncidentEvent } from "../../src/monitor/stream-monitor.js";
import { PromotionLimiter } from "../../src/monitor/promotion-limiter.js";
import {
  REPLAY_DEFAULT_SECONDS,
  REPLAY_MARGIN_SECONDS,
  REPLAY_MAX_SECONDS,
  replayWindowSeconds,
} from "../../src/monitor/replay-window.js";
import { tempDir } from "../helpers/media.js";

const GOP = 2; // the generator's keyframe interval (-g fps*2)
const REAL = join(import.meta.dirname, "../../../shared/media/big-buck-bunny-60s-360p.mp4");

let dir: { dir: string; cleanup: () => void };
let defects: string;
let defects2: string;
let defects2Hevc: string;
let gapped: string;
let clean: string;

beforeAll(async () => {
  dir = tempDir("streamqc-light-");
  defects = join(dir.dir, "defects.ts");
  defects2 = join(dir.dir, "defects2.ts");
  clean = join(dir.dir, "clean.ts");
  const common = { width: 320, height: 180, fps: 25, ffmpegPath: "ffmpeg" };
  await Promise.all([
    generateClip(defects, {
      ...common,
      duration: 24,
      defects: parseDefectSpec("freeze@4.5:4,black@13.3:3"),
      seed: 3,
    }),
    generateClip(defects2, { ...common, duration: 16, defects: parseDefectSpec("black@5.5:3"), seed: 4 }),
    generateClip(clean, { ...common, duration: 16, defects: [], seed: 5 }),
    generateClip((gapped = join(dir.dir, "gapped.ts")), {
      ...common,
      duration: 14,
      defects: parseDefectSpec("gap@6.3:1.5"),
      seed: 6,
    }),
  ]);
  // The same clip as HEVC with x265's B-pyramid (a reorder delay of 2, which light decoders
  // drop: h264-reorder.ts) and open GOPs (CRA keyframes with leading pictures), a keyframe
  // every 2 s; the sound copied.
  defects2Hevc = join(dir.dir, "defects2-hevc.ts");
  await new Promise<void>((resolve, reject) => {
    const ff = spawn(
      "ffmpeg",
      [
        ...["-hide_banner", "-loglevel", "error", "-y", "-i", defects2, "-map", "0:v", "-map", "0:a"],
        ...[
          "-c:v",
          "libx265",
          "-preset",
          "veryfast",
          "-x265-params",
          "keyint=50:min-keyint=50:log-level=error",
        ],
        ...["-c:a", "copy", "-f", "mpegts", defects2Hevc],
      ],
      { stdio: "ignore" },
    );
    ff.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`x265 encode exited ${String(code)}`)),
    );
  });
}, 120_000);

afterAll(() => dir.cleanup());

/** ffmpeg with `args`, quietly; throws when it fails. */
function runFfmpeg(args: readonly string[]): void {
  execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", ...args]);
}

function pick(list: { type: string; start: number }[], type: string): { type: string; start: number }[] {
  return list.filter((i) => i.type === type);
}

describe("light mode", () => {
  it("finds a freeze and black at known times within one keyframe interval without promotion", async () => {
    const r = await analyzeInput(defects, { threads: 1, mode: "light", promote: false });
    const freeze = pick(r.incidents, "video.freeze");
    const black = pick(r.incidents, "video.black");
    expect(freeze).toHaveLength(1);
    expect(black).toHaveLength(1);
    expect(Math.abs(freeze[0]!.start - 4.5)).toBeLessThanOrEqual(GOP + 0.05);
    expect(Math.abs(black[0]!.start - 13.3)).toBeLessThanOrEqual(GOP + 0.05);
    for (const i of [...freeze, ...black])
      expect(r.incidents.find((x) => x === i)?.details.timing).toBe("keyframe");
    expect(r.promotions?.count).toBe(0);
  });

  it("promotes on trouble and the confirmed incidents carry full-mode timing", async () => {
    const changes: PromotionChange[] = [];
    const [light, full] = await Promise.all([
      analyzeInput(defects, { threads: 1, mode: "light", onPromotion: (c) => changes.push(c) }),
      analyzeInput(defects, { threads: 1 }),
    ]);
    expect(changes.some((c) => c.phase === "promoted")).toBe(true);
    expect(light.promotions!.count).toBeGreaterThanOrEqual(1);
    for (const type of ["video.freeze", "video.black"]) {
      const l = light.incidents.filter((i) => i.type === type);
      const f = full.incidents.filter((i) => i.type === type);
      expect(l).toHaveLength(1);
      expect(f).toHaveLength(1);
      // The same onset and end as decoding every frame, to the frame.
      expect(Math.abs(l[0]!.start - f[0]!.start)).toBeLessThanOrEqual(0.041);
      expect(Math.abs(l[0]!.end! - f[0]!.end!)).toBeLessThanOrEqual(0.041);
      expect(l[0]!.details).toMatchObject({ timing: "full", promoted: true });
    }
    expect(Math.abs(pick(light.incidents, "video.freeze")[0]!.start - 4.5)).toBeLessThanOrEqual(0.1);
    expect(Math.abs(pick(light.incidents, "video.black")[0]!.start - 13.3)).toBeLessThanOrEqual(0.1);
    // Audio is decoded in full either way: the same incidents.
    expect(light.incidents.filter((i) => i.type.startsWith("audio.")).map((i) => i.start)).toEqual(
      full.incidents.filter((i) => i.type.startsWith("audio.")).map((i) => i.start),
    );
  });

  it("gives no incident and no promotion on clean media", async () => {
    const r = await analyzeInput(clean, { threads: 1, mode: "light" });
    expect(r.incidents).toEqual([]);
    expect(r.promotions?.count).toBe(0);
  });

  it.skipIf(!existsSync(REAL))("gives no incident on clean real content (Big Buck Bunny)", async () => {
    const r = await analyzeInput(REAL, { threads: 1, mode: "light", duration: 30 });
    const scored = r.incidents.filter((i) => !i.type.startsWith("audio.loudness"));
    expect(scored).toEqual([]);
  });

  it.skipIf(!existsSync(REAL))(
    "an HLS programme read faster than real time gives no gap and ends with the programme (regressions: the gate's video times ran a segment ahead of the sound; the analysis never ended)",
    async () => {
      // Big Buck Bunny as 4 s HLS segments, served over HTTP: each segment is read whole and
      // written to the decoder at once, while the decoder decodes at its own pace.
      const hls = join(dir.dir, "hls");
      mkdirSync(hls);
      runFfmpeg([
        ...["-i", REAL, "-t", "24", "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-c:a", "aac"],
        ...["-f", "hls", "-hls_time", "4", "-hls_list_size", "0", "-hls_playlist_type", "vod"],
        join(hls, "index.m3u8"),
      ]);
      const server = createServer((req, res) => {
        const name = basename(req.url ?? "");
        try {
          res.end(readFileSync(join(hls, name)));
        } catch {
          res.statusCode = 404;
          res.end();
        }
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      const port = (server.address() as AddressInfo).port;
      try {
        const r = await analyzeInput(`http://127.0.0.1:${port}/index.m3u8`, { threads: 1, mode: "light" });
        expect(r.incidents.filter((i) => !i.type.startsWith("audio.loudness"))).toEqual([]);
        // And it ends with the programme (regression: a recorded programme's decoders, the
        // light one and any promotion's replay, waited for more input for ever).
        expect(r.mediaDuration).toBeGreaterThan(23);
      } finally {
        server.close();
      }
    },
    60_000,
  );

  it("queues promotions beyond the limit and confirms them in turn", async () => {
    const limiter = new PromotionLimiter(1);
    const changes: PromotionChange[] = [];
    const onPromotion = (c: PromotionChange): void => void changes.push(c);
    const [a, b] = await Promise.all([
      analyzeInput(defects, { threads: 1, mode: "light", limiter, onPromotion, stream: "a" }),
      analyzeInput(defects2, { threads: 1, mode: "light", limiter, onPromotion, stream: "b" }),
    ]);
    expect(limiter.active).toBe(0);
    expect(limiter.waiting).toBe(0);
    expect(limiter.totals.queued).toBeGreaterThanOrEqual(1);
    expect(changes.some((c) => c.phase === "queued")).toBe(true);
    // Never two promoted at once.
    let promoted = 0;
    let most = 0;
    for (const c of changes) {
      if (c.phase === "promoted") promoted++;
      if (c.phase === "light") promoted = Math.max(0, promoted - 1);
      most = Math.max(most, promoted);
    }
    expect(most).toBe(1);
    const blackB = pick(b.incidents, "video.black");
    expect(blackB).toHaveLength(1);
    expect(Math.abs(blackB[0]!.start - 5.5)).toBeLessThanOrEqual(0.1);
    expect(pick(a.incidents, "video.freeze")).toHaveLength(1);
  });
});

describe("PromotionLimiter", () => {
  it("grants up to max, queues the rest in order, and a released slot goes to the oldest", async () => {
    const lim = new PromotionLimiter(2);
    const order: string[] = [];
    const t = ["a", "b", "c", "d"].map((s) => {
      const ticket = lim.acquire(s);
      void ticket.granted.then(() => order.push(s));
      return ticket;
    });
    await Promise.resolve();
    expect(order).toEqual(["a", "b"]);
    expect(lim.waitingStreams()).toEqual(["c", "d"]);
    t[3]!.release(); // d leaves the queue without ever running
    t[0]!.release();
    t[0]!.release(); // idempotent
    await Promise.resolve();
    expect(order).toEqual(["a", "b", "c"]);
    expect(lim.active).toBe(2);
    expect(lim.waiting).toBe(0);
  });

  it("does not promote a stream that is down (regression: an outage queued full decoders of silent streams)", async () => {
    const port = (await freeUdpPorts(1))[0]!;
    const incidents: IncidentEvent[] = [];
    const changes: PromotionChange[] = [];
    const session = new LightSession({
      stream: "silent",
      source: openSource(`udp://127.0.0.1:${port}`),
      profile: resolveProfile({}),
      reader: { ffmpegPath: "ffmpeg", threads: 1 },
      limiter: new PromotionLimiter(1),
      onIncident: (e) => incidents.push(e),
      onPromotion: (c) => changes.push(c),
    });
    session.start();
    try {
      // Nothing is sent: the UDP source reports the stream lost after 5 s.
      const deadline = Date.now() + 15_000;
      while (!incidents.some((e) => e.incident.type === "stream.down") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(incidents.some((e) => e.phase === "open" && e.incident.type === "stream.down")).toBe(true);
      await new Promise((r) => setTimeout(r, 500));
      expect(changes).toEqual([]);
      expect(session.state().promotions).toBe(0);
    } finally {
      await session.close();
    }
  }, 30_000);
});

describe("replay window", () => {
  it("keeps the default until three keyframes are seen, then the lookback plus the latest keyframe's lateness and a margin", () => {
    expect(replayWindowSeconds(5, [])).toBe(REPLAY_DEFAULT_SECONDS);
    expect(replayWindowSeconds(5, [2.6, 2.7])).toBe(REPLAY_DEFAULT_SECONDS);
    // A 1.3 s GOP whose keyframes come two intervals late: 5 + 2.7 + margin, not 12.
    expect(replayWindowSeconds(5, [2.6, 2.7, 2.5])).toBeCloseTo(5 + 2.7 + REPLAY_MARGIN_SECONDS, 9);
    // Long GOPs need more than the old fixed 12 s: the window grows, to a cap.
    expect(replayWindowSeconds(25, [20, 20, 20])).toBe(REPLAY_MAX_SECONDS);
  });
});

describe("light mode on a live UDP stream", () => {
  it.each([
    ["H.264", () => defects2],
    ["HEVC", () => defects2Hevc],
  ])(
    "%s: replays the recording on promotion: the black incident gets full timing; the window is sized from the keyframes; one decoder thread",
    async (_codec, clip) => {
      const port = (await freeUdpPorts(1))[0]!;
      const incidents: IncidentEvent[] = [];
      const changes: PromotionChange[] = [];
      const session = new LightSession({
        stream: "live",
        source: openSource(`udp://127.0.0.1:${port}`),
        profile: resolveProfile({}),
        reader: { ffmpegPath: "ffmpeg", threads: 1, thumbnails: true },
        limiter: new PromotionLimiter(1),
        onIncident: (e) => incidents.push(e),
        onPromotion: (c) => changes.push(c),
      });
      session.start();
      await new Promise((r) => setTimeout(r, 300));
      // defects2: 16 s, black 5.5-8.5, a keyframe every 2 s; published once in real time.
      const args = udpOnceArgs(clip(), port);
      const publisher = spawn("ffmpeg", ["-hide_banner", "-nostdin", "-loglevel", "error", ...args], {
        stdio: "ignore",
      });
      const published = new Promise((r) => publisher.once("exit", r));
      const threads: number[] = [];
      let window = 0;
      let held = 0;
      try {
        const sampler = setInterval(() => {
          const pid = session.reader.pid;
          if (pid === undefined) return;
          try {
            threads.push(readdirSync(`/proc/${pid}/task`).length);
          } catch {
            // the decoder is between restarts
          }
          window = session.replaySeconds;
          held = Math.max(held, session.replayBytes);
        }, 500);
        await published;
        // The promoted decoder follows the live bytes: give it the 10 s clean period's last frames.
        await new Promise((r) => setTimeout(r, 1500));
        clearInterval(sampler);
      } finally {
        publisher.kill("SIGKILL");
        await session.close();
      }
      expect(changes.some((c) => c.phase === "promoted")).toBe(true);
      const black = incidents.filter((e) => e.phase === "open" && e.incident.type === "video.black");
      expect(black).toHaveLength(1);
      // Nothing else: no decoder errors from the light decoder's rewritten parameter sets.
      expect(incidents.filter((e) => e.phase === "open").map((e) => e.incident.type)).toEqual([
        "video.black",
      ]);
      expect(black[0]!.incident.details).toMatchObject({ timing: "full", promoted: true });
      expect(Math.abs(black[0]!.incident.start - 5.5)).toBeLessThanOrEqual(0.1);
      // Lookback max(5, 2 x 2 s + 1) plus the measured lateness and a margin: under the old fixed 12 s.
      expect(window).toBeGreaterThan(5 + REPLAY_MARGIN_SECONDS);
      expect(window).toBeLessThan(REPLAY_DEFAULT_SECONDS);
      // What is held follows the window (plus one 40 ms batch), never the whole stream.
      const bytesPerSecond = statSync(clip()).size / 16;
      expect(held).toBeLessThan(bytesPerSecond * (window + 1) * 1.3);
      // The thumbnails' mjpeg encoder no longer starts a thread per core.
      expect(threads.length).toBeGreaterThan(3);
      expect(Math.max(...threads)).toBe(1);
    },
    60_000,
  );

  it("times the video from the packets its gate reads: a 1.5 s hole is one video gap at its time", async () => {
    // A fed light decoder gets keyframes and the heads of other pictures (light-video-filter.ts);
    // the gap detector's video times come from the whole stream, read in Node.
    const port = (await freeUdpPorts(1))[0]!;
    const incidents: IncidentEvent[] = [];
    const session = new LightSession({
      stream: "live",
      source: openSource(`udp://127.0.0.1:${port}`),
      profile: resolveProfile({}),
      reader: { ffmpegPath: "ffmpeg", threads: 1 },
      limiter: new PromotionLimiter(1),
      onIncident: (e) => incidents.push(e),
    });
    session.start();
    await new Promise((r) => setTimeout(r, 300));
    const publisher = spawn(
      "ffmpeg",
      ["-hide_banner", "-nostdin", "-loglevel", "error", ...udpOnceArgs(gapped, port)],
      { stdio: "ignore" },
    );
    try {
      await new Promise((r) => publisher.once("exit", r));
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      publisher.kill("SIGKILL");
      await session.close();
    }
    const gaps = incidents.filter((e) => e.phase === "open" && e.incident.type === "stream.gap");
    const video = gaps.filter((e) => e.incident.details.track === "video");
    expect(video).toHaveLength(1);
    // Where decoding every frame of the file puts it: 6.371 s (the hole's first missing
    // picture); within a frame or two of that.
    expect(Math.abs(video[0]!.incident.start - 6.371)).toBeLessThanOrEqual(0.1);
    // Besides the two gaps, only the transport's own view of the hole and the pictures that
    // lost their reference after it.
    const others = incidents.filter((e) => e.phase === "open" && e.incident.type !== "stream.gap");
    expect(others.map((e) => e.incident.type).sort()).toEqual([
      "ts.pcr-gap",
      "ts.pts-gap",
      "video.blockiness",
    ]);
    expect(others.find((e) => e.incident.type === "video.blockiness")!.incident.details).toMatchObject({
      cause: "missing-reference",
    });
  }, 60_000);
});
