import { describe, expect, it } from "vitest";
import type { ConditionEvent } from "../../src/detect/detector.js";
import { StreamHealthOptions, streamHealthDetector } from "../../src/detect/stream-health-detector.js";
import type { AudioBlock, VideoFrame } from "../../src/ingest/media.js";

const SR = 48_000;
const BLOCK = 1024;

function setup() {
  const events: ConditionEvent[] = [];
  const det = streamHealthDetector.create(StreamHealthOptions.parse({}), (e) => events.push(e));
  const video = (pts: number): void =>
    det.pushVideo!({ pts, width: 4, height: 4, luma: new Uint8Array(16) } satisfies VideoFrame);
  const audio = (pts: number): void =>
    det.pushAudio!({
      pts,
      sampleRate: SR,
      channels: 1,
      frames: BLOCK,
      samples: new Float32Array(BLOCK),
    } satisfies AudioBlock);
  const gaps = () => events.filter((e) => e.condition.type === "stream.gap");
  return { det, video, audio, gaps };
}

describe("stream.gap from timestamps", () => {
  it("reports nothing when audio runs 1.5 s ahead of video in arrival and video then catches up (decoder delay at a loss)", () => {
    const { det, video, audio, gaps } = setup();
    let a = 0;
    for (let f = 0; f < 100; f++) video(f / 25);
    // Audio flows on to 5.5 s while video sits at 4 s, then video frames 4.0..5.5 arrive late.
    while (a < 5.5) audio((a += BLOCK / SR) - BLOCK / SR);
    for (let f = 100; f < 150; f++) video(f / 25);
    det.flush(6);
    expect(gaps()).toEqual([]);
  });

  it("opens a gap for a track that disappears once it lags by minGap + maxSkew, dated where it stopped, and closes it at flush", () => {
    const { det, video, audio, gaps } = setup();
    for (let f = 0; f < 25 * 10; f++) {
      video(f / 25);
      // Audio stops for good after 3 s.
      if (f / 25 < 3) audio(f / 25);
    }
    det.flush(10);
    const g = gaps();
    expect(g.map((e) => e.phase)).toEqual(["start", "end"]);
    expect(g[0]!.condition.details["track"]).toBe("audio");
    expect(g[0]!.condition.start).toBeCloseTo(2.96 + BLOCK / SR, 2);
    expect(g[1]!.condition.end).toBe(10);
  });

  it("reports a 1 s hole in the video timestamps once, start and end at the hole", () => {
    const { det, video, gaps } = setup();
    for (let f = 0; f < 250; f++) if (f < 100 || f >= 125) video(f / 25);
    det.flush(10);
    expect(gaps().map((e) => [e.phase, e.condition.start, e.condition.end])).toEqual([
      ["start", 4, null],
      ["end", 4, 5],
    ]);
  });
});
