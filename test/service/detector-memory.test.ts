/**
 * What the detectors learnt of a channel outlives the run (detector-memory.ts): kept in the
 * store (real SQLite here; the fleet uses the same settings on PostgreSQL), read back by the
 * next run of the same stream and URL, never by another source.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { resolveProfile } from "../../src/config/profile.js";
import { detectorMemory, memoryKey } from "../../src/service/detector-memory.js";
import { StreamRunner } from "../../src/service/stream-runner.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { makeClip, waitFor } from "../helpers/media.js";

const dir = mkdtempSync(join(tmpdir(), "streamqc-memory-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A loudness memory as the detector writes it: 6 LU of quiet swing on the one-minute horizon. */
const LEARNT = { quiet: [6, 5, 3, 1], loud: [1, 1, 0.5, 0], seconds: 1800 };

describe("detector memory in the store", () => {
  it("is read back for the same stream and URL, with its age; not for another URL or a malformed value", async () => {
    const store = new SqliteStore(join(dir, "port.db"));
    try {
      let now = new Date("2026-12-01T10:00:00Z");
      const port = detectorMemory(store, { id: "s1", url: "udp://239.1.1.1:5000" }, () => now);
      expect(await port.load()).toBeNull();
      await port.save({ "audio.loudness": LEARNT });
      now = new Date("2026-12-01T10:05:00Z");
      expect(await port.load()).toEqual({ memory: { "audio.loudness": LEARNT }, ageSeconds: 300 });
      // The stream now points at another source: a new programme, nothing recalled.
      expect(await detectorMemory(store, { id: "s1", url: "udp://239.1.1.2:5000" }).load()).toBeNull();
      // Something else under the key (a hand edit, an older format): ignored, not thrown.
      await store.setSetting(memoryKey("s1"), { url: "udp://239.1.1.1:5000", detectors: [] });
      expect(await port.load()).toBeNull();
      // Nothing learnt yet: nothing written over what is there.
      await store.setSetting(memoryKey("s2"), { kept: true });
      await detectorMemory(store, { id: "s2", url: "x" }).save({});
      expect(await store.getSetting(memoryKey("s2"))).toEqual({ kept: true });
    } finally {
      await store.close();
    }
  });

  it("a stream's run starts from the stored swing (its loudness limit raised) and saves it back when stopped", async () => {
    const clip = makeClip(join(dir, "tone.ts"), { duration: 6 });
    const store = new SqliteStore(join(dir, "runner.db"));
    const stream = { id: "s1", url: clip };
    try {
      await detectorMemory(store, stream).save({ "audio.loudness": LEARNT });
      const logs: string[] = [];
      const runner = new StreamRunner(
        { ...stream, name: "tone", profileName: "default", labels: {} },
        resolveProfile({}),
        {
          ffmpegPath: "ffmpeg",
          allowFiles: true,
          realtimeFiles: true,
          onIncident: () => {},
          memory: detectorMemory(store, stream),
          log: (_level, message) => logs.push(message),
        },
      );
      runner.start();
      const limit = () => runner.state().measurements["audio.loudness"]?.["offTargetLimitQuietLu"];
      try {
        // 6 LU learnt + the 2.5 LU margin: 8.5 instead of the 4.5 a channel starts with.
        await waitFor(() => limit() === 8.5, 10_000, "the recalled limit");
        expect(logs.some((m) => m.includes("earlier run learnt"))).toBe(true);
        await waitFor(() => runner.state().mediaTime > 4, 15_000, "4 s of programme");
      } finally {
        await runner.stop();
      }
      const saved = (await store.getSetting(memoryKey("s1"))) as {
        url: string;
        detectors: Record<string, { quiet: number[]; seconds: number }>;
      };
      expect(saved.url).toBe(clip);
      expect(saved.detectors["audio.loudness"]!.quiet).toEqual(LEARNT.quiet);
      // Nothing new learnt in these seconds: the recalled swing counts down, it is not renewed.
      expect(saved.detectors["audio.loudness"]!.seconds).toBeLessThanOrEqual(1800 - 3);
    } finally {
      await store.close();
    }
  }, 30_000);

  it("without a memory port (or with nothing stored) the limit is the base one", async () => {
    const clip = join(dir, "tone.ts");
    const runner = new StreamRunner(
      { id: "s9", name: "tone", url: clip, profileName: "default", labels: {} },
      resolveProfile({}),
      { ffmpegPath: "ffmpeg", allowFiles: true, realtimeFiles: true, onIncident: () => {} },
    );
    runner.start();
    try {
      await waitFor(
        () => runner.state().measurements["audio.loudness"]?.["offTargetLimitQuietLu"] !== undefined,
        10_000,
        "a loudness measurement",
      );
      expect(runner.state().measurements["audio.loudness"]?.["offTargetLimitQuietLu"]).toBe(4.5);
    } finally {
      await runner.stop();
    }
  }, 30_000);
});
