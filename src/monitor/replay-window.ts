/**
 * How many seconds of a light stream's bytes are kept for a promotion to replay
 * (replay-source.ts), sized from what the stream shows instead of a fixed span: the bytes
 * are most of what Node holds per light channel (6.3 Mb/s 1080p: 0.75 MiB a second).
 *
 * A promotion reaches back `lookback` media seconds from the sign (two keyframe intervals and
 * a second, at least the session's minimum), and the sign itself comes late: the light
 * decoder hands a keyframe on only after the decoder's reorder delay (with B-frames, ffmpeg's
 * H.264 decoder holds `has_b_frames` pictures, which in light mode are keyframes), while the
 * packets, and with them the light position the replay is measured from, run ahead. That
 * lateness is measured on every keyframe (the light position minus the keyframe's time),
 * so the window is the lookback, plus the largest recent lateness, plus a margin for a sign
 * that is handled a little after its keyframe.
 *
 * Also the keyframe arithmetic every replay shares (light promotions, file seeks,
 * live-every-frame-upgrade.ts): the longest interval, and the keyframe at or before a time.
 */

/** Kept until the stream has shown enough keyframes to size the window. */
export const REPLAY_DEFAULT_SECONDS = 12;
/** Never more: a stream with 10 s keyframe intervals (LIGHT_MAX_FRAME_GAP) fits, a broken one does not hold minutes. */
export const REPLAY_MAX_SECONDS = 40;
/** For a sign handled after its keyframe (detector hysteresis, the event loop) and chunk granularity. */
export const REPLAY_MARGIN_SECONDS = 1.5;
/** Keyframes needed before the measured window replaces the default. */
export const REPLAY_MIN_KEYFRAMES = 3;

/**
 * The replay window in seconds, from the session's lookback now and the lateness of its
 * recent keyframes (seconds each); the default until REPLAY_MIN_KEYFRAMES are seen.
 */
export function replayWindowSeconds(lookback: number, lateness: readonly number[]): number {
  if (lateness.length < REPLAY_MIN_KEYFRAMES) return REPLAY_DEFAULT_SECONDS;
  const late = Math.max(0, ...lateness);
  return Math.min(REPLAY_MAX_SECONDS, lookback + late + REPLAY_MARGIN_SECONDS);
}

/** The longest interval between consecutive times (seconds; keyframes in order), 0 for fewer than two. */
export function longestInterval(times: readonly number[]): number {
  let longest = 0;
  for (let i = 1; i < times.length; i++) longest = Math.max(longest, times[i]! - times[i - 1]!);
  return longest;
}

/** The latest keyframe at or before `t` (media seconds), or undefined when none is. */
export function keyframeAtOrBefore(t: number, keyframes: readonly number[]): number | undefined {
  let found: number | undefined;
  for (const k of keyframes) if (k <= t + 1e-6 && (found === undefined || k > found)) found = k;
  return found;
}
