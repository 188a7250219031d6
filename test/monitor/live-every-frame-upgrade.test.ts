/**
 * A live UDP stream in full mode with the default profile (A/V sync on): reference frames until
 * A/V sync asks for every frame, then the decoder is restarted under `fast` from the kept bytes
 * (live-every-frame-upgrade.ts). Real ffmpeg publishing in real time over loopback UDP.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveProfile } from "../../src/config/profile.js";
import { freeUdpPorts, udpOnceArgs } from "../../src/demo/loopback.js";
import { generateClip } from "../../src/gen/clip-generator.js";
import { generateSyncClip } from "../../src/gen/sync-clip.js";
import type { IncidentEvent } from "../../src/monitor/stream-monitor.js";
import { StreamRunner } from "../../src/service/stream-runner.js";
import { tempDir } from "../helpers/media.js";

const tmp = tempDir("streamqc-live-upgrade-");
afterAll(() => tmp.cleanup());

interface Run {
  readonly incidents: IncidentEvent[];
  readonly decoding: StreamRunner["decoding"];
  readonly logs: string[];
  readonly decoderPids: Set<number>;
  /** Bytes kept for a restart when the input had been sent. */
  readonly keptBytes: number;
}

/** Publishes `clip` once, in real time, to a runner on the default profile; stops when it has been sent. */
async function monitorLive(clip: string): Promise<Run> {
  const port = (await freeUdpPorts(1))[0]!;
  const incidents: IncidentEvent[] = [];
  const logs: string[] = [];
  const runner = new StreamRunner(
    { id: "s1", name: "live", url: `udp://127.0.0.1:${port}`, profileName: "default", labels: {} },
    resolveProfile({}),
    {
      ffmpegPath: "ffmpeg",
      allowFiles: false,
      onIncident: (e) => incidents.push(e),
      log: (_level, message) => logs.push(message),
    },
  );
  runner.start();
  await new Promise((r) => setTimeout(r, 300));
  const args = udpOnceArgs(clip, port);
  const publisher = spawn("ffmpeg", ["-hide_banner", "-nostdin", "-loglevel", "error", ...args], {
    stdio: "ignore",
  });
  const decoderPids = new Set<number>();
  const sampler = setInterval(() => {
    const pid = runner.decoderPidNow;
    if (pid !== undefined) decoderPids.add(pid);
  }, 200);
  try {
    await new Promise((r) => publisher.once("exit", r));
    // The decoder hands on the last second of the input after the input ends.
    await new Promise((r) => setTimeout(r, 1500));
    // What the API shows of it.
    expect(runner.state().decoding).toEqual(runner.decoding);
    return { incidents, decoding: runner.decoding, logs, decoderPids, keptBytes: runner.replayBytesNow };
  } finally {
    clearInterval(sampler);
    publisher.kill("SIGKILL");
    await runner.stop();
  }
}

describe("a live stream with A/V sync on (the default profile)", () => {
  let syncClip: string;
  let cleanClip: string;
  beforeAll(async () => {
    syncClip = join(tmp.dir, "sync-300.ts");
    cleanClip = join(tmp.dir, "clean.ts");
    await Promise.all([
      generateSyncClip(syncClip, { offsetMs: -300, duration: 26 }),
      generateClip(cleanClip, { duration: 10, width: 320, height: 180, defects: [] }),
    ]);
  }, 120_000);

  it("changes to every frame once a sync pattern is seen, with no hole, and reads the offset as decoding every frame does", async () => {
    const run = await monitorLive(syncClip);
    expect(run.decoding?.policy).toBe("fast");
    const from = run.decoding?.everyFrameFrom ?? null;
    expect(from).not.toBeNull();
    // The first flash is at 0.8 s, one a second: A/V sync asks after a few of them.
    expect(from!).toBeLessThan(10);
    expect(run.logs).toContain("decoding every frame from now: a detector asked for it");
    // One decoder before the change and one after it: nothing else restarted.
    expect(run.decoderPids.size).toBe(2);
    // Once every frame is decoded nothing is kept for a replay (a few chunks at most).
    expect(run.keptBytes).toBeLessThan(100_000);
    const opened = run.incidents.filter((e) => e.phase === "open");
    const sync = opened.filter((e) => e.incident.type === "av.sync");
    expect(sync).toHaveLength(1);
    expect(Math.abs(Number(sync[0]!.incident.details.offsetMs) + 300)).toBeLessThanOrEqual(20);
    // The restart replays from a keyframe at or before the last frame delivered: no picture is
    // missing (no gap), no decoder damage, and no incident is reported twice.
    const types = opened.map((e) => e.incident.type);
    expect(types).not.toContain("stream.gap");
    expect(types).not.toContain("video.blockiness");
    const starts = opened.map((e) => `${e.incident.type}@${e.incident.start.toFixed(2)}`);
    expect(new Set(starts).size).toBe(starts.length);
    // After the change the picture detectors see what decoding every frame sees: the file
    // decoded with `fast` (analyze --decode fast) freezes at 11.92, 15.36 and 17.64 s, where the
    // pattern pauses. (Before it, on reference frames, the pattern's one-frame flashes coded as
    // B-frames are not seen: the live run found a freeze at 2.86-5.26 s there; DETECTORS.md.)
    const freezesAfter = opened
      .filter((e) => e.incident.type === "video.freeze" && e.incident.start > from!)
      .map((e) => e.incident.start);
    expect(freezesAfter).toHaveLength(3);
    [11.92, 15.36, 17.64].forEach((t, i) => expect(Math.abs(freezesAfter[i]! - t)).toBeLessThanOrEqual(0.1));
  }, 120_000);

  it("stays on reference frames on a stream without paired sound and picture events", async () => {
    const run = await monitorLive(cleanClip);
    expect(run.decoding).toEqual({ policy: "refs", everyFrameFrom: null });
    expect(run.decoderPids.size).toBe(1);
    // On reference frames the last seconds are kept, for a change that may come.
    expect(run.keptBytes).toBeGreaterThan(100_000);
    expect(run.incidents.filter((e) => e.phase === "open").map((e) => e.incident.type)).toEqual([]);
  }, 60_000);
});
