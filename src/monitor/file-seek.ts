/**
 * Where a second read of a file seeks to begin on a keyframe at or before a media time.
 *
 * FFmpeg's input seek (`-ss` before `-i`, with `-copyts` too) counts from the file's start
 * time, not from its timestamps, and on MPEG-TS lands on the first keyframe at or after the
 * time given (ffmpeg 5.1, measured on our TS files, which start at 1.46 s): asked for a media
 * time mapped back to the file's own timestamps, a second read began 1.6-1.9 s late. So the
 * seek asks for a little before the keyframe wanted, counted from the start of the file (the
 * first timestamp the first read saw, `timeline.origin`, is the start but for one track's lead
 * over the other, tens of milliseconds).
 *
 * Light promotions of files seek this way too (light-session.ts), among every keyframe the
 * light decoder saw: given only its last few (as first tried), a promotion queued while the
 * light decoder ran on found none early enough and began at the oldest it had, seconds late
 * ("queues promotions beyond the limit" failed 1 of 14 runs on a loaded machine).
 */
import type { Timeline } from "../ingest/media-reader.js";
import { keyframeAtOrBefore } from "./replay-window.js";

/** Seconds before the keyframe the seek asks for: more than a track's lead, less than a GOP. */
const SEEK_LEAD = 0.2;

export interface FileSeek {
  /** For MediaReaderOptions.seekRaw. */
  readonly seek: number;
  /** Media time of the keyframe the read begins on (the first frame it gives). */
  readonly keyframe: number;
}

/**
 * The keyframe at or before `from` among `keyframes` (media times, as the first read saw them;
 * the first one when none is that early, 0 when none is known) and the seek that reaches it.
 */
export function fileSeek(from: number, keyframes: readonly number[], timeline: Timeline): FileSeek {
  const keyframe = keyframeAtOrBefore(from, keyframes) ?? keyframes[0] ?? 0;
  return { seek: Math.max(0, keyframe - timeline.base - SEEK_LEAD), keyframe };
}
