/**
 * Audio meters of one stream: a bar per channel (RMS filled, peak as a line, the held peak as
 * a tick) on a -60..0 dBFS scale, and the momentary loudness as text. Values are also in the
 * accessible name, since bars alone say nothing to a screen reader.
 */
import type { Meter } from "../live/live-store.js";
import { dbText } from "../util/format.js";

const FLOOR = -60;

function pos(db: number): number {
  if (!Number.isFinite(db)) return 0;
  return Math.max(0, Math.min(100, ((db - FLOOR) / -FLOOR) * 100));
}

const CHANNEL_NAMES = ["L", "R", "C", "LFE", "Ls", "Rs", "Lb", "Rb"];

export function AudioMeter({ meter, vertical = true }: { meter: Meter | null; vertical?: boolean }) {
  if (meter === null || meter.peakDbfs.length === 0) {
    return (
      <div class="meters meters-empty" role="img" aria-label="No audio levels">
        no audio
      </div>
    );
  }
  const label =
    meter.peakDbfs.map((p, c) => `${CHANNEL_NAMES[c] ?? `ch${c + 1}`} peak ${p.toFixed(0)} dBFS`).join(", ") +
    (meter.momentaryLufs !== null ? `, momentary ${meter.momentaryLufs.toFixed(1)} LUFS` : "");
  return (
    <div class={`meters ${vertical ? "vertical" : "horizontal"}`} role="img" aria-label={label}>
      <div class="meter-bars">
        {meter.peakDbfs.map((peak, c) => {
          const rms = meter.rmsDbfs[c] ?? FLOOR;
          const hold = meter.holdDbfs[c] ?? peak;
          const over = hold >= -1;
          return (
            <div class={`meter${over ? " over" : ""}`} key={c}>
              <div class="meter-rms" style={{ "--s": (pos(rms) / 100).toFixed(3) }} />
              <div class="meter-peak" style={{ "--v": `${pos(peak)}%` }} />
              <div class="meter-hold" style={{ "--v": `${pos(hold)}%` }} />
            </div>
          );
        })}
      </div>
      <div class="lufs" title="Momentary loudness">
        M {dbText(meter.momentaryLufs, "LUFS")}
      </div>
    </div>
  );
}
