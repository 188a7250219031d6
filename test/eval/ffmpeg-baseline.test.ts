import { describe, expect, it } from "vitest";
import {
  blockinessIncidents,
  clippingIncidents,
  loudnessIncidents,
  parseMetadataPrint,
  parseMomentary,
} from "../../src/eval/ffmpeg-baseline.js";

describe("baseline parsers", () => {
  it("reads ebur128's per-100 ms lines", () => {
    const log =
      "[Parsed_ebur128_1 @ 0x5] t: 0.399979   TARGET:-23 LUFS    M: -21.6 S:-120.7     I: -21.6 LUFS       LRA:   0.0 LU\n" +
      "[Parsed_ebur128_1 @ 0x5] t: 12.5       TARGET:-23 LUFS    M:-120.7 S: -22.7     I: -22.9 LUFS       LRA:   0.4 LU\n";
    expect(parseMomentary(log)).toEqual([
      { t: 0.399979, m: -21.6 },
      { t: 12.5, m: -120.7 },
    ]);
  });

  it("reads metadata=mode=print output", () => {
    const text =
      "frame:0    pts:1920    pts_time:0.0213333\nlavfi.block=17.28\nframe:1    pts:5520    pts_time:0.0613333\nlavfi.block=6.41\n";
    expect(parseMetadataPrint(text, "lavfi.block")).toEqual([
      { t: 0.0213333, v: 17.28 },
      { t: 0.0613333, v: 6.41 },
    ]);
  });
});

describe("baseline incidents", () => {
  const steps = (f: (t: number) => number, to: number) =>
    Array.from({ length: Math.round(to * 10) }, (_, i) => ({ t: (i + 1) / 10, m: f((i + 1) / 10) }));

  it("loudness: nothing at -23 LUFS; a +12 LU section from 10 s opens within 0.5 s", () => {
    expect(
      loudnessIncidents(
        steps(() => -23, 30),
        30,
      ),
    ).toEqual([]);
    const found = loudnessIncidents(
      steps((t) => (t >= 10 && t < 16 ? -11 : -23), 30),
      30,
    );
    expect(found).toHaveLength(1);
    expect(found[0]?.start).toBeGreaterThanOrEqual(10);
    expect(found[0]?.start).toBeLessThanOrEqual(10.5);
  });

  it("loudness: all-silent windows are not judged", () => {
    expect(
      loudnessIncidents(
        steps(() => -120, 20),
        20,
      ),
    ).toEqual([]);
  });

  it("clipping: an episode of full-scale frames of 1 s is reported, 0.3 s is not", () => {
    const frame = 1024 / 48000;
    const frames = (a: number, b: number) =>
      Array.from({ length: Math.round(20 / frame) }, (_, i) => ({
        t: i * frame,
        v: i * frame >= a && i * frame < b ? 0.5 : -12,
      }));
    const one = clippingIncidents(frames(5, 6), frame);
    expect(one).toHaveLength(1);
    expect(Math.abs((one[0]?.start ?? 0) - 5)).toBeLessThanOrEqual(frame);
    expect(clippingIncidents(frames(5, 5.3), frame)).toEqual([]);
  });

  it("blockiness: a jump over 1.25 x the recent median for 2 frames opens, 1 frame does not", () => {
    const f = (bad: number[]) =>
      Array.from({ length: 200 }, (_, i) => ({ t: i / 25, v: bad.includes(i) ? 20 : 10 }));
    expect(blockinessIncidents(f([100]))).toEqual([]);
    const two = blockinessIncidents(f([100, 101, 102]));
    expect(two).toEqual([{ type: "video.blockiness", start: 4, end: 4.12 }]);
  });
});
