/**
 * video.blockiness on the decoder's events as the reader emits them (pure: no ffmpeg), for the
 * two cases the real-lossy eval's tune half showed (issue 10): a hole in the pictures that
 * resumes on a predicted frame (decoders say nothing, the picture is damaged to the next
 * keyframe), and damage that goes on through a corrupt keyframe (one incident, not two); and
 * the sound's own hole dating the damage when the decoder withheld the first pictures.
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

  /**
   * Pictures and sound of one stream, in media-time order with the sound `lag` seconds behind
   * (as a reader's pipes deliver them): pictures missing over `hole`, sound over `soundHole`.
   */
  function feedAv(
    d: Detector,
    opts: {
      to: number;
      gop: number;
      hole: [number, number];
      soundHole: [number, number] | null;
      lag: number;
    },
  ) {
    const RATE = 48000;
    const BLOCK = 1024;
    const samples = new Float32Array(BLOCK * 2).fill(0.1);
    let a = 0;
    const soundUpTo = (t: number): void => {
      for (; a / RATE < Math.min(t, opts.to); a += BLOCK) {
        const pts = a / RATE;
        if (opts.soundHole && pts >= opts.soundHole[0] && pts < opts.soundHole[1]) continue;
        d.pushAudio?.({ pts, sampleRate: RATE, channels: 2, frames: BLOCK, samples });
      }
    };
    for (let n = 0; n < opts.to * FPS; n++) {
      const pts = n / FPS;
      soundUpTo(pts - opts.lag);
      if (pts >= opts.hole[0] && pts < opts.hole[1]) continue;
      if (n % opts.gop === 0) d.pushEvent?.({ kind: "keyframe", at: pts });
      d.pushVideo?.({ pts, width: W, height: H, luma });
    }
    soundUpTo(opts.to);
    d.flush(opts.to);
  }

  it("when the sound lost the same stretch and came back first, the damage is dated at the sound's return (the decoder withheld the pictures)", () => {
    // As measured on a camera clip of the tune half: a burst of lost packets from 13.56 s; the
    // sound is back at 14.76 s, but the decoder shows no picture before 15.56 s.
    for (const lag of [0, 0.3, -0.3]) {
      const h = harness(blockinessDetector);
      feedAv(h.detector, { to: 20, gop: 50, hole: [13.56, 15.56], soundHole: [13.57, 14.76], lag });
      const found = h.conditions();
      expect(found).toHaveLength(1);
      expect(found[0]!.details?.cause).toBe("missing-reference");
      // The first audio block at or after 14.76 s.
      expect(found[0]!.start).toBeCloseTo(Math.ceil((14.76 * 48000) / 1024) * (1024 / 48000), 5);
      expect(found[0]!.end).toBeCloseTo(16, 5);
    }
  });

  it("with the sound unbroken, or lost at another time, the damage starts at the first picture after the hole", () => {
    for (const soundHole of [null, [10, 11.2]] as [number, number][]) {
      const h = harness(blockinessDetector);
      feedAv(h.detector, { to: 20, gop: 50, hole: [13.56, 15.56], soundHole, lag: 0.3 });
      const found = h.conditions();
      expect(found).toHaveLength(1);
      expect(found[0]!.start).toBeCloseTo(15.56, 5);
    }
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
