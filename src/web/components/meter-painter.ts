/**
 * The one painter of every meter canvas on the page. A level change marks its canvas dirty;
 * one requestAnimationFrame callback draws all dirty canvases, so a hundred streams cost at
 * most one draw per canvas per frame and nothing at all between frames. Canvas sizes come
 * from one ResizeObserver (never from reading layout, which would force a synchronous layout).
 */
import { effect, type ReadonlySignal } from "@preact/signals";
import type { Meter } from "../live/live-store.js";

const FLOOR = -60;
const CHANNEL_NAMES = ["L", "R", "C", "LFE", "Ls", "Rs", "Lb", "Rb"];
/** The accessible name is refreshed at most this often: a reader does not want 2 Hz chatter. */
const LABEL_EVERY_MS = 3000;
/** Room at the right for the momentary loudness (CSS pixels). */
const TEXT_W = 84;
const BAR_MAX_H = 7;
const GAP = 2;

const COLORS = {
  track: "#0a0c0f",
  green: "#2ea043",
  amber: "#d29922",
  red: "#da3633",
  peak: "#e6e8eb",
  hold: "#ffd84d",
  over: "#ff4d4d",
  text: "#e6e8eb",
  dim: "#aab1bb",
};

interface Painted {
  readonly canvas: HTMLCanvasElement;
  readonly meter: ReadonlySignal<Meter | null>;
  /** Device pixels of the canvas's box, from the ResizeObserver; 0 until known. */
  w: number;
  h: number;
  dpr: number;
  channels: number;
  labelAt: number;
}

const byCanvas = new Map<Element, Painted>();
const dirty = new Set<Painted>();
let frameRequested = false;
let resizer: ResizeObserver | null = null;

function sizes(): ResizeObserver {
  resizer ??= new ResizeObserver((entries) => {
    for (const e of entries) {
      const p = byCanvas.get(e.target);
      if (!p) continue;
      const dpr = window.devicePixelRatio || 1;
      const box = e.devicePixelContentBoxSize?.[0];
      p.w = Math.round(box ? box.inlineSize : e.contentRect.width * dpr);
      p.h = Math.round(box ? box.blockSize : e.contentRect.height * dpr);
      p.dpr = dpr;
      mark(p);
    }
  });
  return resizer;
}

function mark(p: Painted): void {
  dirty.add(p);
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(drawDirty);
}

function drawDirty(): void {
  frameRequested = false;
  const now = Date.now();
  for (const p of dirty) if (p.w > 0 && p.h > 0) draw(p, now);
  dirty.clear();
}

function pos(db: number): number {
  if (!Number.isFinite(db)) return 0;
  return Math.max(0, Math.min(1, (db - FLOOR) / -FLOOR));
}

function draw(p: Painted, now: number): void {
  const { canvas } = p;
  // Assigning a size clears the bitmap and reallocates it: only when it really changed.
  if (canvas.width !== p.w) canvas.width = p.w;
  if (canvas.height !== p.h) canvas.height = p.h;
  const ctx = canvas.getContext("2d", { alpha: true, willReadFrequently: true });
  if (!ctx) return;
  ctx.setTransform(p.dpr, 0, 0, p.dpr, 0, 0);
  const W = p.w / p.dpr;
  const H = p.h / p.dpr;
  ctx.clearRect(0, 0, W, H);
  const m = p.meter.peek();
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  const n = m?.peakDbfs.length ?? 0;
  if (m === null || n === 0) {
    ctx.fillStyle = COLORS.dim;
    ctx.fillText("no audio", 0, H / 2);
    setLabel(p, "No audio levels", 0, now);
    return;
  }
  const barsW = Math.max(20, W - TEXT_W);
  const barH = Math.max(1, Math.min(BAR_MAX_H, (H - GAP * (n - 1)) / n));
  const top = (H - (barH * n + GAP * (n - 1))) / 2;
  for (let c = 0; c < n; c++) {
    const y = top + c * (barH + GAP);
    const peak = m.peakDbfs[c] ?? FLOOR;
    const rms = m.rmsDbfs[c] ?? FLOOR;
    const hold = m.holdDbfs[c] ?? peak;
    ctx.fillStyle = COLORS.track;
    ctx.fillRect(0, y, barsW, barH);
    // RMS filled in three zones: green to -18 dBFS, amber to -6, red above.
    const r = pos(rms) * barsW;
    const zones: [number, string][] = [
      [0.7, COLORS.green],
      [0.9, COLORS.amber],
      [1, COLORS.red],
    ];
    let x0 = 0;
    for (const [edge, color] of zones) {
      const x1 = Math.min(r, edge * barsW);
      if (x1 > x0) {
        ctx.fillStyle = color;
        ctx.fillRect(x0, y, x1 - x0, barH);
      }
      x0 = edge * barsW;
    }
    ctx.fillStyle = COLORS.peak;
    ctx.fillRect(Math.max(0, pos(peak) * barsW - 2), y, 2, barH);
    const over = hold >= -1;
    ctx.fillStyle = over ? COLORS.over : COLORS.hold;
    const hw = over ? 3 : 2;
    ctx.fillRect(Math.max(0, pos(hold) * barsW - hw), y, hw, barH);
  }
  ctx.fillStyle = COLORS.text;
  const lufs = m.momentaryLufs;
  ctx.fillText(
    `M ${lufs === null || !Number.isFinite(lufs) ? "—" : `${lufs.toFixed(1)} LUFS`}`,
    barsW + 8,
    H / 2,
  );
  const label =
    m.peakDbfs.map((v, c) => `${CHANNEL_NAMES[c] ?? `ch${c + 1}`} peak ${v.toFixed(0)} dBFS`).join(", ") +
    (lufs !== null && Number.isFinite(lufs) ? `, momentary ${lufs.toFixed(1)} LUFS` : "");
  setLabel(p, label, n, now);
}

function setLabel(p: Painted, label: string, channels: number, now: number): void {
  if (channels === p.channels && now - p.labelAt < LABEL_EVERY_MS) return;
  p.labelAt = now;
  if (channels !== p.channels) {
    p.channels = channels;
    p.canvas.dataset["channels"] = String(channels);
  }
  p.canvas.setAttribute("aria-label", label);
}

/** Draws `meter` on `canvas` whenever it changes, until the returned function is called. */
export function paintMeter(canvas: HTMLCanvasElement, meter: ReadonlySignal<Meter | null>): () => void {
  const p: Painted = { canvas, meter, w: 0, h: 0, dpr: 1, channels: -1, labelAt: 0 };
  byCanvas.set(canvas, p);
  sizes().observe(canvas);
  const stop = effect(() => {
    // Subscribes to the signal without rendering anything: the frame callback draws.
    void meter.value;
    mark(p);
  });
  return () => {
    stop();
    sizes().unobserve(canvas);
    byCanvas.delete(canvas);
    dirty.delete(p);
  };
}
