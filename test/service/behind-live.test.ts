import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { resolveProfile } from "../../src/config/profile.js";
import { freeUdpPorts, udpLoopArgs } from "../../src/demo/loopback.js";
import { BEHIND_CLEAR_SECONDS, BEHIND_WARN_SECONDS, BehindLive } from "../../src/service/behind-live.js";
import { StreamRunner } from "../../src/service/stream-runner.js";
import { makeClip, tempDir, waitFor } from "../helpers/media.js";

const tmp = tempDir();
const senders: ChildProcess[] = [];
afterAll(() => {
  for (const s of senders) s.kill("SIGKILL");
  tmp.cleanup();
});

describe("behind live (the measure)", () => {
  it("is 0 while media keeps pace with the clock, whatever the decoder's own latency", () => {
    const b = new BehindLive();
    // The first picture 2.5 s after the start, then real time, with jitter of ±0.3 s.
    for (let t = 2.5; t < 600; t += 1) {
      const { seconds, change } = b.observe(t, t - 2.5 + 0.3 * Math.sin(t));
      expect(seconds).toBeLessThan(0.61);
      expect(change).toBeNull();
    }
  });

  it("grows by the time the monitor falls behind, warns once, and clears once caught up", () => {
    const b = new BehindLive();
    const changes: string[] = [];
    let media = 0;
    let wall = 0;
    const step = (mediaStep: number): number => {
      wall += 1;
      media += mediaStep;
      const { seconds, change } = b.observe(wall, media);
      if (change) changes.push(change);
      return seconds;
    };
    for (let i = 0; i < 30; i++) step(1);
    // Half real time for 30 s: 15 s behind.
    let worst = 0;
    for (let i = 0; i < 30; i++) worst = Math.max(worst, step(0.5));
    expect(worst).toBeCloseTo(15, 5);
    expect(changes).toEqual(["late"]);
    // Catching up at twice real time.
    let s = worst;
    while (s >= BEHIND_CLEAR_SECONDS) s = step(2);
    expect(changes).toEqual(["late", "caught-up"]);
    expect(BEHIND_WARN_SECONDS).toBeGreaterThan(BEHIND_CLEAR_SECONDS);
  });

  it("a sender's clock 100 ppm slow stays under half a second in a day", () => {
    const b = new BehindLive();
    let worst = 0;
    for (let t = 0; t < 86_400; t += 10) worst = Math.max(worst, b.observe(t, t * (1 - 1e-4)).seconds);
    expect(worst).toBeLessThan(0.5);
  });
});

describe("behind live (a real stream whose decoder is paused)", () => {
  it("says how far behind a stopped decoder leaves the monitoring, warns, and clears when it catches up", async () => {
    const clip = makeClip(join(tmp.dir, "c.ts"), { duration: 4 });
    const port = (await freeUdpPorts(1))[0]!;
    const logs: { level: string; message: string }[] = [];
    const runner = new StreamRunner(
      { id: "s1", name: "paused", url: `udp://127.0.0.1:${port}`, profileName: "default", labels: {} },
      resolveProfile({}),
      {
        ffmpegPath: "ffmpeg",
        allowFiles: false,
        onIncident: () => {},
        // The pause must not look like a stall to the watchdog.
        stallTimeoutMs: 60_000,
        log: (level, message) => {
          logs.push({ level, message });
        },
      },
    );
    const sender = spawn("ffmpeg", ["-hide_banner", "-loglevel", "error", ...udpLoopArgs(clip, port)], {
      stdio: "ignore",
    });
    senders.push(sender);
    runner.start();
    try {
      await waitFor(() => runner.state().mediaTime > 4, 20_000, "4 s of media");
      expect(runner.state().behindLiveSeconds).not.toBeNull();
      expect(runner.state().behindLiveSeconds!).toBeLessThan(1.5);
      const pid = runner.decoderPidNow!;
      process.kill(pid, "SIGSTOP");
      await new Promise((r) => setTimeout(r, 12_500));
      const paused = runner.state().behindLiveSeconds!;
      process.kill(pid, "SIGCONT");
      expect(paused).toBeGreaterThanOrEqual(BEHIND_WARN_SECONDS);
      expect(paused).toBeLessThan(14);
      expect(logs.filter((l) => l.level === "warn" && l.message.includes("behind live"))).toHaveLength(1);
      // The bytes waited in Node while the decoder was stopped: it reads them all and catches up.
      await waitFor(
        () => (runner.state().behindLiveSeconds ?? 99) < BEHIND_CLEAR_SECONDS,
        20_000,
        "the decoder to catch up",
      );
      expect(logs.some((l) => l.message.includes("caught up"))).toBe(true);
      // Nothing was lost: media time follows the clock again.
      expect(runner.state().decoderErrors).toBe(0);
    } finally {
      sender.kill("SIGKILL");
      await runner.stop();
    }
  }, 90_000);
});
