/**
 * video.blockiness on the decoder's events as the reader emits them (pure: no ffmpeg), for the
 * two cases the real-lossy eval's tune half showed (issue 10): a hole in the pictures that
 * resumes on a predicted frame (decoders say nothing, the picture is damaged to the next
 * keyframe), and damage that goes on through a corrupt keyframe (one incident, not two).
 */
import { describe, expect, it } from "vitest";
import { blockinessDetector } from "../../src/detect/blockiness-detector.js";
import type { Detector } from "../../src/detect/detector.js";
import { harness } from "./synth.js";

const W = 160;
const H = 90;
const FPS = 25;
const luma = new Uint8Array(W * H).fill(100);

/** Frames at 25 fps over [from, to), skipping [holeFrom, holeTo); a keyframe every `gop` frames. */
function feed(
  d: Detector,
  opts: { to: number; gop: number; hole?: [number, number]; errorsAt?: number[]; keyErrorsAt?: number[] },
) {
  for (let n = 0; n < opts.to * FPS; n++) {
    const pts = n / FPS;
    if (opts.hole && pts >= opts.hole[0] && pts < opts.hole[1]) continue;
    const key = n % opts.gop === 0;
    const damaged = opts.errorsAt?.some((t) => Math.abs(t - pts) < 1e-6) ?? false;
    // The reader sends a frame's damage report before its keyframe mark (media-reader.ts).
    if (damaged)
      d.pushEvent?.({
        kind: "decoder-error",
        at: pts,
        message: "corrupt decoded frame",
        concealed: 50,
        frame: true,
      });
    if (key) d.pushEvent?.({ kind: "keyframe", at: pts });
    d.pushVideo?.({ pts, width: W, height: H, luma });
  }
  d.flush(opts.to);
}

describe("video.blockiness after lost pictures and through corrupt keyframes", () => {
  it("a 1.6 s hole resuming on a predicted frame is damaged from the first frame after it to the next keyframe", () => {
    const h = harness(blockinessDetector);
    // Keyframes every 2 s; pictures missing from 11.9 to 13.5 s.
    feed(h.detector, { to: 20, gop: 50, hole: [11.9, 13.5] });
    const found = h.conditions();
    expect(found).toHaveLength(1);
    expect(found[0]!.start).toBeCloseTo(13.52, 5); // the first frame after the hole
    expect(found[0]!.end).toBeCloseTo(14, 5);
    expect(found[0]!.details?.cause).toBe("missing-reference");
  });

  it("a hole that resumes on a keyframe is clean, and a hole under 0.5 s is the decoder's to report", () => {
    const onKey = harness(blockinessDetector);
    feed(onKey.detector, { to: 20, gop: 50, hole: [11.9, 14] });
    expect(onKey.conditions()).toHaveLength(0);
    const short = harness(blockinessDetector);
    feed(short.detector, { to: 20, gop: 50, hole: [12, 12.4] });
    expect(short.conditions()).toHaveLength(0);
  });

  it("damage through a corrupt keyframe is one incident, ended by the first clean keyframe", () => {
    const h = harness(blockinessDetector);
    // GOP of 12 frames (0.48 s, MPEG-2): keyframes at 2.88, 3.36, 3.84; damage 3.12-3.64 including 3.36.
    const errorsAt = Array.from({ length: 14 }, (_, k) => (78 + k) / FPS);
    feed(h.detector, { to: 6, gop: 12, errorsAt });
    const found = h.conditions();
    expect(found).toHaveLength(1);
    expect(found[0]!.start).toBeCloseTo(3.12, 5);
    expect(found[0]!.end).toBeCloseTo(3.84, 5);
  });
});
