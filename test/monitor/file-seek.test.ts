/**
 * A second read of an MPEG-TS file (every-frame-upgrade.ts) begins on the keyframe at or
 * before the time asked for. Our TS files start at 1.46 s of
 * their own timestamps, and FFmpeg's input seek counts from that start and lands on the next
 * keyframe: the timestamp itself as the seek began a GOP and more too late.
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateClip } from "../../src/gen/clip-generator.js";
import { MediaReader, type Timeline } from "../../src/ingest/media-reader.js";
import { openSource } from "../../src/ingest/open-source.js";
import { fileSeek } from "../../src/monitor/file-seek.js";
import { tempDir } from "../helpers/media.js";

const tmp = tempDir("streamqc-file-seek-");
afterAll(() => tmp.cleanup());

/** The first frame's media time of a read of `file` from `seek`, on `timeline`. */
async function firstFrame(file: string, seek: number, timeline: Timeline): Promise<number | null> {
  let first: number | null = null;
  const reader = new MediaReader(
    openSource(file),
    { ffmpegPath: "ffmpeg", failFast: true, threads: 1, seekRaw: seek, timeline },
    {
      video: (f) => {
        if (first === null) {
          first = f.pts;
          void reader.close();
        }
      },
    },
  );
  reader.start();
  await reader.done;
  return first;
}

describe("fileSeek", () => {
  it("picks the keyframe at or before the time, the first one when none is that early", () => {
    const tl = { origin: 1.48, base: 0 };
    expect(fileSeek(5.1, [0, 2, 4, 6], tl)).toEqual({ seek: 3.8, keyframe: 4 });
    expect(fileSeek(4, [0, 2, 4, 6], tl)).toEqual({ seek: 3.8, keyframe: 4 });
    expect(fileSeek(0.1, [1, 3], tl)).toEqual({ seek: 0.8, keyframe: 1 });
    expect(fileSeek(3, [], tl)).toEqual({ seek: 0, keyframe: 0 });
  });

  it("a second read of a TS file begins on that keyframe (the file's own timestamps as the seek began later)", async () => {
    const file = join(tmp.dir, "keyframes.ts");
    await generateClip(file, { duration: 12, width: 320, height: 180, defects: [] }); // 2 s GOPs
    const keyframes: number[] = [];
    const first = new MediaReader(
      openSource(file),
      { ffmpegPath: "ffmpeg", failFast: true, threads: 1 },
      { event: (e) => void (e.kind === "keyframe" && keyframes.push(e.at)) },
    );
    first.start();
    await first.done;
    const timeline = first.timelineNow()!;
    expect(timeline.origin).toBeGreaterThan(1); // MPEG-TS timestamps start at 1.4 s
    expect(keyframes.length).toBeGreaterThanOrEqual(5);
    for (const from of [3.3, 6.1, 8.9]) {
      const { seek, keyframe } = fileSeek(from, keyframes, timeline);
      expect(keyframe).toBeLessThanOrEqual(from);
      expect(from - keyframe).toBeLessThan(2.05);
      expect(await firstFrame(file, seek, timeline)).toBeCloseTo(keyframe, 2);
      // The old mapping, the file's own timestamp of `from`, began after it (or past the end).
      const late = await firstFrame(file, from - timeline.base + timeline.origin, timeline);
      expect(late ?? Infinity).toBeGreaterThan(from);
    }
  }, 120_000);
});
