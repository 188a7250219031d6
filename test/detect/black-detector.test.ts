import { describe, expect, it } from "vitest";
import { blackDetector } from "../../src/detect/black-detector.js";
import { addNoise, frames, H, harness, rng, Texture, W } from "./synth.js";

const TOL = 0.2;

function blackFrame(r: () => number, logo: boolean): Uint8Array {
  // Limited-range black (16) with a little encoder noise.
  const luma = addNoise(new Uint8Array(W * H).fill(16), 2, r);
  if (logo) {
    // A 24x12 bright logo: 0.5% of the picture.
    for (let y = 10; y < 22; y++) luma.fill(235, y * W + 280, y * W + 304);
  }
  return luma;
}

function scene(blacks: { from: number; to: number; logo?: boolean }[], dark?: [number, number]) {
  const tex = new Texture(3);
  // A night scene: all pixels between 2 and 30, so every pixel is "near black", but textured and moving.
  const night = new Texture(4, 2, 30);
  const r = rng(9);
  return (t: number): Uint8Array => {
    const b = blacks.find((x) => t >= x.from && t < x.to);
    if (b) return blackFrame(r, b.logo === true);
    if (dark && t >= dark[0] && t < dark[1]) return night.render(t * 20, 0);
    return tex.render(t * 20, t * 5);
  };
}

function run(make: (t: number) => Uint8Array, to: number) {
  const h = harness(blackDetector);
  for (const f of frames(0, to, make)) h.detector.pushVideo?.(f);
  h.detector.flush(to);
  return h.conditions();
}

describe("video.black", () => {
  it("reports 3 s of black with its onset and end", () => {
    const found = run(scene([{ from: 4, to: 7 }]), 10);
    expect(found).toHaveLength(1);
    const [c] = found;
    expect(c?.type).toBe("video.black");
    expect(Math.abs((c?.start ?? 0) - 4)).toBeLessThanOrEqual(TOL);
    expect(Math.abs((c?.end ?? 0) - 7)).toBeLessThanOrEqual(TOL);
    expect(c?.details["meanLuma"]).toBeGreaterThan(14);
    expect(c?.details["meanLuma"]).toBeLessThan(18);
    expect(c?.details["blackRatio"]).toBe(1);
  });

  it("counts black with a small bright logo as black", () => {
    const found = run(scene([{ from: 2, to: 6, logo: true }]), 9);
    expect(found).toHaveLength(1);
    expect(Math.abs((found[0]?.start ?? 0) - 2)).toBeLessThanOrEqual(TOL);
    expect(Math.abs((found[0]?.end ?? 0) - 6)).toBeLessThanOrEqual(TOL);
    expect(found[0]?.details["blackRatio"]).toBeLessThan(1);
  });

  it("does not report a dark scene with visible moving texture", () => {
    expect(run(scene([], [2, 8]), 10)).toEqual([]);
  });

  it("does not report clean moving content, nor 1.2 s of black", () => {
    expect(run(scene([]), 8)).toEqual([]);
    expect(run(scene([{ from: 3, to: 4.2 }]), 8)).toEqual([]);
  });

  it("ends black at a gap in timestamps", () => {
    const h = harness(blackDetector);
    const make = scene([{ from: 1, to: 99 }]);
    for (const f of frames(0, 4, make)) h.detector.pushVideo?.(f);
    for (const f of frames(6, 7, make)) h.detector.pushVideo?.(f);
    h.detector.flush(7);
    const found = h.conditions();
    expect(found).toHaveLength(1);
    expect(Math.abs((found[0]?.end ?? 0) - 4)).toBeLessThanOrEqual(TOL);
  });
});
