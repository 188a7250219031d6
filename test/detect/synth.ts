/**
 * Frames and PCM built in the test: moving textures, freezes, black, dark scenes, tones,
 * silence, clipping. Deterministic (seeded), so a failure reproduces.
 */
import type { ConditionEvent, DetectorDefinition } from "../../src/detect/detector.js";
import type { AudioBlock, VideoFrame } from "../../src/ingest/media.js";

export const W = 320;
export const H = 180;
export const FPS = 25;
export const SR = 48_000;

/** mulberry32: a small seeded PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Smooth value noise: random levels on a 16-px lattice, bilinear between them. */
export class Texture {
  private readonly cells: Float32Array;
  private readonly n = 64;
  constructor(
    seed: number,
    private readonly lo = 40,
    private readonly hi = 200,
  ) {
    const r = rng(seed);
    this.cells = new Float32Array(this.n * this.n);
    for (let i = 0; i < this.cells.length; i++) this.cells[i] = this.lo + (this.hi - this.lo) * r();
  }
  /** The picture seen through a window offset by (ox, oy) pixels (fractions allowed). */
  render(ox: number, oy: number, out = new Uint8Array(W * H)): Uint8Array {
    const n = this.n;
    const cell = 16;
    for (let y = 0; y < H; y++) {
      const fy = (y + oy) / cell;
      const y0 = Math.floor(fy);
      const wy = fy - y0;
      const r0 = (((y0 % n) + n) % n) * n;
      const r1 = ((((y0 + 1) % n) + n) % n) * n;
      for (let x = 0; x < W; x++) {
        const fx = (x + ox) / cell;
        const x0 = Math.floor(fx);
        const wx = fx - x0;
        const c0 = ((x0 % n) + n) % n;
        const c1 = (((x0 + 1) % n) + n) % n;
        const a = (this.cells[r0 + c0] ?? 0) * (1 - wx) + (this.cells[r0 + c1] ?? 0) * wx;
        const b = (this.cells[r1 + c0] ?? 0) * (1 - wx) + (this.cells[r1 + c1] ?? 0) * wx;
        out[y * W + x] = Math.round(a * (1 - wy) + b * wy);
      }
    }
    return out;
  }
}

/** Adds uniform noise of +-amp to every pixel, in place. */
export function addNoise(luma: Uint8Array, amp: number, r: () => number): Uint8Array {
  for (let i = 0; i < luma.length; i++) {
    const v = (luma[i] ?? 0) + Math.round((r() * 2 - 1) * amp);
    luma[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return luma;
}

export function frame(pts: number, luma: Uint8Array): VideoFrame {
  return { pts, width: W, height: H, luma };
}

/** Frames at FPS from `from` to `to` (exclusive), each made by `make(t, index)`. */
export function* frames(from: number, to: number, make: (t: number) => Uint8Array): Generator<VideoFrame> {
  const first = Math.round(from * FPS);
  const last = Math.round(to * FPS);
  for (let i = first; i < last; i++) yield frame(i / FPS, make(i / FPS));
}

/** Stereo blocks of 1024 frames; `sample(t, channel)` gives each sample. */
export function* audio(
  from: number,
  to: number,
  sample: (t: number, c: number) => number,
): Generator<AudioBlock> {
  const blockFrames = 1024;
  const first = Math.round(from * SR);
  const last = Math.round(to * SR);
  for (let s = first; s < last; s += blockFrames) {
    const n = Math.min(blockFrames, last - s);
    const samples = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      const t = (s + i) / SR;
      samples[i * 2] = sample(t, 0);
      samples[i * 2 + 1] = sample(t, 1);
    }
    yield { pts: s / SR, sampleRate: SR, channels: 2, frames: n, samples };
  }
}

export interface Found {
  type: string;
  start: number;
  end: number | null;
  details: Readonly<Record<string, unknown>>;
  starts: number;
}

/** Runs a detector with its default options (plus overrides) and pairs its start/end events. */
export function harness(def: DetectorDefinition, overrides: Record<string, unknown> = {}) {
  const events: ConditionEvent[] = [];
  const detector = def.create(def.options.parse(overrides), (e) => events.push(e));
  const conditions = (): Found[] => {
    const out: Found[] = [];
    let cur: Found | undefined;
    for (const e of events) {
      if (e.phase === "start") {
        if (cur !== undefined) throw new Error("start while a condition is open");
        cur = { ...e.condition, starts: 1 };
      } else if (e.phase === "end") {
        if (cur === undefined) throw new Error("end without start");
        if (Math.abs(cur.start - e.condition.start) > 1e-9) throw new Error("end changed the start");
        out.push({ ...e.condition, starts: 1 });
        cur = undefined;
      }
    }
    if (cur !== undefined) out.push(cur);
    return out;
  };
  return { detector, events, conditions };
}
