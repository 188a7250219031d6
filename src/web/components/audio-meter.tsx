/**
 * Audio meters of one stream, drawn on one canvas: a bar per channel (RMS filled, peak as a
 * line, the held peak as a tick) on a -60..0 dBFS scale, and the momentary loudness as text.
 *
 * Why a canvas: with a hundred tiles updating twice a second, meters built from elements
 * (even moved by transform on their own layers) made Chromium re-layerize hundreds of layers
 * and re-shape the loudness text on every frame (the wall ran at 1-5 fps, see BENCHMARKS.md).
 * A canvas costs one bitmap draw per changed tile and no style, layout or layer work. The
 * component renders once; level changes go straight to the shared painter (meter-painter.ts),
 * which draws the canvases that changed at most once per animation frame.
 *
 * The values are also in the accessible name (bars alone say nothing to a screen reader),
 * refreshed every few seconds rather than twice a second.
 */
import type { ReadonlySignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import type { Meter } from "../live/live-store.js";
import { paintMeter } from "./meter-painter.js";

export function AudioMeter({ meter }: { meter: ReadonlySignal<Meter | null> }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = ref.current;
    return canvas ? paintMeter(canvas, meter) : undefined;
  }, [meter]);
  return (
    <div class="meters">
      <canvas ref={ref} class="meter-canvas" role="img" aria-label="No audio levels" data-channels="0" />
    </div>
  );
}
