import { describe, expect, it } from "vitest";
import { freezeDetector } from "../../src/detect/freeze-detector.js";
import { addNoise, frames, harness, rng, Texture } from "./synth.js";

const TOL = 0.2;

/** Content panning at `speed` px/s; between `a` and `b` the picture holds the frame at `a`. */
function scene(speed: number, freezes: [number, number][] = [], noise = 0, seed = 1) {
  const tex = new Texture(seed);
  const r = rng(seed + 100);
  return (t: number): Uint8Array => {
    const held = freezes.find(([a, b]) => t >= a && t < b);
    const tt = held ? held[0] : t;
    const luma = tex.render(tt * speed, tt * speed * 0.4);
    return noise > 0 ? addNoise(luma, noise, r) : luma;
  };
}

function run(make: (t: number) => Uint8Array, to: number, overrides: Record<string, unknown> = {}) {
  const h = harness(freezeDetector, overrides);
  for (const f of frames(0, to, make)) h.detector.pushVideo?.(f);
  h.detector.flush(to);
  return h.conditions();
}

describe("video.freeze", () => {
  it("reports a 3 s freeze with its true onset and end", () => {
    const found = run(scene(30, [[5, 8]]), 12);
    expect(found).toHaveLength(1);
    const [c] = found;
    expect(c?.type).toBe("video.freeze");
    expect(Math.abs((c?.start ?? 0) - 5)).toBeLessThanOrEqual(TOL);
    expect(Math.abs((c?.end ?? 0) - 8)).toBeLessThanOrEqual(TOL);
    expect(c?.details["frozenFor"]).toBeCloseTo(3, 1);
  });

  it("holds a frozen picture that carries fresh sensor noise on every frame", () => {
    // +-12 levels of uniform noise on every pixel of every frame, moving content otherwise.
    const found = run(scene(30, [[4, 9]], 12), 12);
    expect(found).toHaveLength(1);
    expect(Math.abs((found[0]?.start ?? 0) - 4)).toBeLessThanOrEqual(TOL);
    expect(Math.abs((found[0]?.end ?? 0) - 9)).toBeLessThanOrEqual(TOL);
  });

  it("holds a frozen picture whose noise moves a few blocks past the threshold on every frame", () => {
    // Coarse noise (as an encoder leaves on a still picture): after the first frozen frame,
    // 8 random 10x10 blocks of each frame (1.4 % of 576, over maxChangedRatio) shift by 6
    // levels. The noise lands on other blocks each frame; a real change stays put.
    const base = scene(30, [[3, 9]]);
    const r = rng(7);
    const make = (t: number): Uint8Array => {
      const luma = Uint8Array.from(base(t));
      if (t < 3.02 || t >= 9) return luma;
      for (let k = 0; k < 8; k++) {
        const bx = Math.floor(r() * 32) * 10;
        const by = Math.floor(r() * 18) * 10;
        for (let y = by; y < by + 10; y++)
          for (let x = bx; x < bx + 10; x++) luma[y * 320 + x] = Math.min(255, luma[y * 320 + x]! + 6);
      }
      return luma;
    };
    const found = run(make, 12);
    expect(found).toHaveLength(1);
    expect(Math.abs((found[0]?.start ?? 0) - 3)).toBeLessThanOrEqual(TOL);
    expect(Math.abs((found[0]?.end ?? 0) - 9)).toBeLessThanOrEqual(TOL);
  });

  it("reports nothing for a 1.2 s freeze", () => {
    expect(run(scene(30, [[5, 6.2]]), 10)).toEqual([]);
  });

  it("reports nothing on clean moving content, noisy or not", () => {
    expect(run(scene(30), 10)).toEqual([]);
    expect(run(scene(30, [], 12), 10)).toEqual([]);
  });

  it("reports nothing on slow but real motion (3 px/s, under 0.15 px per frame)", () => {
    expect(run(scene(3), 12)).toEqual([]);
  });

  it("ends a freeze at a gap in timestamps and does not count the gap", () => {
    const h = harness(freezeDetector);
    const make = scene(30, [[2, 20]]);
    for (const f of frames(0, 4.5, make)) h.detector.pushVideo?.(f);
    // No frames from 4.5 to 7: the same picture resumes after the gap.
    for (const f of frames(7, 8, make)) h.detector.pushVideo?.(f);
    h.detector.flush(8);
    const found = h.conditions();
    expect(found).toHaveLength(1);
    expect(Math.abs((found[0]?.start ?? 0) - 2)).toBeLessThanOrEqual(TOL);
    expect(Math.abs((found[0]?.end ?? 0) - 4.5)).toBeLessThanOrEqual(TOL);
  });

  it("closes an open freeze at flush", () => {
    const found = run(scene(30, [[6, 99]]), 10);
    expect(found).toHaveLength(1);
    expect(found[0]?.end).toBe(10);
  });

  it("leaves a still black picture with a logo to video.black unless reportFlat is set", () => {
    const black = new Uint8Array(320 * 180).fill(16);
    for (let y = 10; y < 22; y++) black.fill(235, y * 320 + 280, y * 320 + 304);
    const moving = scene(30);
    const make = (t: number) => (t >= 3 && t < 7 ? black : moving(t));
    expect(run(make, 10)).toEqual([]);
    const flat = run(make, 10, { reportFlat: true });
    expect(flat).toHaveLength(1);
    expect(Math.abs((flat[0]?.start ?? 0) - 3)).toBeLessThanOrEqual(TOL);
  });

  it("reports a still uniform grey slate: only flat black is left to video.black", () => {
    const grey = new Uint8Array(320 * 180).fill(128);
    const moving = scene(30);
    const found = run((t) => (t >= 3 && t < 7 ? grey : moving(t)), 10);
    expect(found).toHaveLength(1);
    expect(Math.abs((found[0]?.start ?? 0) - 3)).toBeLessThanOrEqual(TOL);
    expect(Math.abs((found[0]?.end ?? 0) - 7)).toBeLessThanOrEqual(TOL);
  });

  it("reports a freeze exactly minDuration long", () => {
    const found = run(scene(30, [[5, 7]]), 10);
    expect(found).toHaveLength(1);
  });
});

describe("video.freeze: a single frame's noise crossing the threshold", () => {
  it("holds the freeze when one frozen frame has 3 blocks over the threshold (eval syn-freeze-gap)", () => {
    // A frozen picture; at 6 s one frame carries a bright spot over 3 blocks (as chance noise
    // gave it on a noisy freeze); the next frame is frozen again.
    const frozen = scene(0)(0);
    const blip = Uint8Array.from(frozen);
    for (let y = 50; y < 60; y++)
      for (let x = 100; x < 130; x++) blip[y * 320 + x] = Math.min(255, (blip[y * 320 + x] ?? 0) + 40);
    const still = (t: number): Uint8Array => (Math.abs(t - 6) < 0.001 ? blip : frozen);
    const moving = scene(30);
    const found = run((t) => (t >= 3 && t < 9 ? still(t) : moving(t)), 12);
    expect(found).toHaveLength(1);
    expect(Math.abs((found[0]?.start ?? 0) - 3)).toBeLessThanOrEqual(TOL);
    expect(Math.abs((found[0]?.end ?? 0) - 9)).toBeLessThanOrEqual(TOL);
  });

  it("still ends the freeze at the first changed frame when the change persists", () => {
    const found = run(scene(30, [[3, 7]]), 10);
    expect(found).toHaveLength(1);
    expect(Math.abs((found[0]?.end ?? 0) - 7)).toBeLessThanOrEqual(0.04 + 1e-6);
  });
});
