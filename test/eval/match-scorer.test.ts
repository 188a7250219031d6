import { describe, expect, it } from "vitest";
import { f1, matchIntervals, scoreClips, type Interval } from "../../src/eval/match-scorer.js";
import { checkTargets } from "../../src/eval/report-table.js";
import { SCORED_TYPES } from "../../src/eval/eval-suite.js";
import type { EvalResult } from "../../src/eval/eval-runner.js";

const iv = (type: string, start: number, end: number | null): Interval => ({ type, start, end });

describe("matchIntervals", () => {
  it("matches same type, overlapping, onset within the tolerance", () => {
    const m = matchIntervals([iv("video.freeze", 3, 6)], [iv("video.freeze", 3.4, 6.1)]);
    expect(m).toHaveLength(1);
    expect(m[0]?.onsetError).toBeCloseTo(0.4, 9);
  });

  it("rejects an onset 0.6 s off, another type, and a detection that does not overlap", () => {
    expect(matchIntervals([iv("video.freeze", 3, 6)], [iv("video.freeze", 3.6, 6)])).toEqual([]);
    expect(matchIntervals([iv("video.freeze", 3, 6)], [iv("video.black", 3, 6)])).toEqual([]);
    // Onset 0.3 s before the truth but over before it starts.
    expect(matchIntervals([iv("audio.silence", 3, 6)], [iv("audio.silence", 2.7, 2.9)])).toEqual([]);
  });

  it("accepts exactly the tolerance and an open detection", () => {
    expect(matchIntervals([iv("av.sync", 10, 20)], [iv("av.sync", 10.5, null)])).toHaveLength(1);
  });

  it("is one-to-one: a split detection counts once, the closer onset wins", () => {
    const truths = [iv("video.freeze", 3, 6)];
    const dets = [iv("video.freeze", 3.3, 4), iv("video.freeze", 3.1, 6)];
    const m = matchIntervals(truths, dets);
    expect(m).toEqual([{ truth: 0, detection: 1, onsetError: expect.closeTo(0.1, 9) as number }]);
  });

  it("gives two truths of one type at the same time (a gap on both tracks) two detections", () => {
    const truths = [iv("stream.gap", 10, 12), iv("stream.gap", 10, 12)];
    const dets = [iv("stream.gap", 10.02, 12.02), iv("stream.gap", 10.03, 12.03)];
    expect(matchIntervals(truths, dets)).toHaveLength(2);
  });
});

describe("scoreClips", () => {
  it("counts truths, detections, true positives and onset errors per type, clip by clip", () => {
    const clips = [
      {
        truths: [iv("video.freeze", 3, 6), iv("video.black", 9, 12), iv("audio.silence", 4, 7)],
        detections: [
          iv("video.freeze", 3.2, 6),
          iv("video.black", 9.1, 12),
          iv("video.freeze", 20, 23), // false positive
          iv("audio.silence", 5, 7), // onset 1 s late: a miss and a false positive
        ],
      },
      {
        // The same times in another clip must not match across clips.
        truths: [iv("video.freeze", 20, 23)],
        detections: [iv("video.freeze", 20.4, 23)],
      },
    ];
    const scores = scoreClips(clips, ["video.freeze", "video.black", "audio.silence", "av.sync"]);
    expect(scores[0]).toEqual({
      type: "video.freeze",
      truths: 2,
      detections: 3,
      truePositives: 2,
      precision: 2 / 3,
      recall: 1,
      meanOnsetError: expect.closeTo(0.3, 9) as number,
    });
    expect(scores[1]).toMatchObject({ truths: 1, detections: 1, truePositives: 1, precision: 1, recall: 1 });
    expect(scores[1]?.meanOnsetError).toBeCloseTo(0.1, 9);
    expect(scores[2]).toEqual({
      type: "audio.silence",
      truths: 1,
      detections: 1,
      truePositives: 0,
      precision: 0,
      recall: 0,
      meanOnsetError: null,
    });
    expect(scores[3]).toEqual({
      type: "av.sync",
      truths: 0,
      detections: 0,
      truePositives: 0,
      precision: null,
      recall: null,
      meanOnsetError: null,
    });
    expect(f1(scores[0]!)).toBeCloseTo(0.8, 9);
    expect(f1(scores[3]!)).toBe(1);
  });

  it("neither credits nor blames an optional truth: its detection is no false positive, its absence no miss", () => {
    const optional = { type: "audio.loudness", start: 10, end: 30, onsetSlack: 20, optional: true };
    const [found] = scoreClips(
      [{ truths: [optional], detections: [{ type: "audio.loudness", start: 22, end: 30 }] }],
      ["audio.loudness"],
    );
    expect(found).toMatchObject({
      truths: 0,
      detections: 0,
      truePositives: 0,
      precision: null,
      recall: null,
    });
    const [absent] = scoreClips([{ truths: [optional], detections: [] }], ["audio.loudness"]);
    expect(absent).toMatchObject({ truths: 0, detections: 0 });
    // A second detection beside it is still false.
    const [twice] = scoreClips(
      [
        {
          truths: [optional],
          detections: [
            { type: "audio.loudness", start: 12, end: 14 },
            { type: "audio.loudness", start: 2, end: 4 },
          ],
        },
      ],
      ["audio.loudness"],
    );
    expect(twice).toMatchObject({ truths: 0, detections: 1, truePositives: 0, precision: 0 });
  });

  it("ignores types it was not asked to score", () => {
    const s = scoreClips([{ truths: [], detections: [iv("audio.true-peak", 1, 2)] }], ["audio.loudness"]);
    expect(s[0]).toMatchObject({ truths: 0, detections: 0 });
  });
});

describe("checkTargets", () => {
  const score = (type: string, truths: number, detections: number, tp: number) =>
    scoreClips(
      [
        {
          truths: Array.from({ length: truths }, (_, i) => iv(type, i * 10, i * 10 + 3)),
          detections: Array.from({ length: detections }, (_, i) =>
            iv(type, i * 10 + (i < tp ? 0 : 5), i * 10 + 8),
          ),
        },
      ],
      [type],
    )[0]!;

  it("fails a type under 0.95 precision or recall, and one below the baseline", () => {
    const result: EvalResult = {
      runs: [],
      parts: [],
      tolerance: 0.5,
      streamqc: [
        score("video.freeze", 20, 20, 20),
        score("video.black", 20, 20, 18),
        score("audio.silence", 20, 19, 19),
      ],
      baseline: [score("video.freeze", 20, 20, 20), null, score("audio.silence", 20, 20, 20)],
    };
    const checks = checkTargets(result);
    expect(checks.map((c) => c.pass)).toEqual([true, false, false]);
    expect(checks[1]?.reasons).toEqual(["precision 0.90 < 0.95", "recall 0.90 < 0.95"]);
    expect(checks[2]?.reasons).toEqual(["F1 0.97 < baseline 1.00"]);
  });

  it("scores every type the brief names", () => {
    expect([...SCORED_TYPES]).toEqual([
      "video.freeze",
      "video.black",
      "video.blockiness",
      "audio.silence",
      "audio.clipping",
      "audio.loudness",
      "av.sync",
      "stream.gap",
    ]);
  });
});
