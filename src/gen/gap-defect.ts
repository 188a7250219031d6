/**
 * `gap@T:D`: video and audio both missing for D seconds, as when a contribution link drops
 * packets. The frames and audio frames in the window are removed before the encoders
 * (`select` / `aselect`) and the remaining ones keep their timestamps (the clip is written
 * with `-fps_mode passthrough`), so the file has a hole in its timeline, not a freeze or a
 * silence. Audio is removed in whole encoder frames, so the audio hole is quantised to them.
 */
import type { Defect } from "./defect-spec.js";

function keep(gaps: readonly Defect[]): string {
  // `between` is inclusive; a frame at exactly T + D is the first one back.
  return gaps.map((g) => `not(between(t,${g.start},${g.start + g.duration - 1e-6}))`).join("*");
}

/** Video filter that drops the frames in every gap window. */
export function gapVideoFilter(gaps: readonly Defect[]): string {
  return `select='${keep(gaps)}'`;
}

/** Audio filter that drops the audio in every gap window. */
export function gapAudioFilter(gaps: readonly Defect[]): string {
  return `aselect='${keep(gaps)}'`;
}
