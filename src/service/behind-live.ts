/**
 * How far a live stream's monitoring is behind the live signal: an overloaded process (more
 * channels than its cores decode in real time) falls behind, its incidents come later and
 * later, and nothing else says so. The operator must be told.
 *
 * A live source delivers media in real time, and the reader keeps media time running with the
 * wall clock across outages (media-reader.ts). So while the monitor keeps up, wall time minus
 * media time stays constant (the decoder's own latency: probing, the B-frame reorder delay,
 * an HLS segment's length); when it falls behind, that difference grows by exactly the delay.
 * Behind live = the difference now minus its smallest value over the last hour (a sender's
 * clock 100 ppm slow adds 0.36 s in an hour; a backlog that never grows nor shrinks for an
 * hour is forgotten).
 */

/** Log a warning (and show it) from this many seconds behind; it clears below BEHIND_CLEAR_SECONDS. */
export const BEHIND_WARN_SECONDS = 10;
export const BEHIND_CLEAR_SECONDS = 3;
const BUCKET_SECONDS = 60;
const WINDOW_BUCKETS = 60;

export class BehindLive {
  /** The smallest wall-minus-media difference per minute, oldest first. */
  private readonly minima: { bucket: number; min: number }[] = [];
  private last: number | null = null;
  private warned = false;

  /**
   * One observation: `wallSeconds` (any monotonic clock) and the media time reached then.
   * Returns seconds behind live, and whether that just crossed the warning (or cleared).
   */
  observe(
    wallSeconds: number,
    mediaSeconds: number,
  ): { seconds: number; change: "late" | "caught-up" | null } {
    const difference = wallSeconds - mediaSeconds;
    const bucket = Math.floor(wallSeconds / BUCKET_SECONDS);
    const newest = this.minima.at(-1);
    if (newest && newest.bucket === bucket) newest.min = Math.min(newest.min, difference);
    else this.minima.push({ bucket, min: difference });
    while (this.minima[0]!.bucket <= bucket - WINDOW_BUCKETS) this.minima.shift();
    let base = difference;
    for (const m of this.minima) if (m.min < base) base = m.min;
    const seconds = difference - base;
    this.last = seconds;
    let change: "late" | "caught-up" | null = null;
    if (!this.warned && seconds >= BEHIND_WARN_SECONDS) {
      this.warned = true;
      change = "late";
    } else if (this.warned && seconds < BEHIND_CLEAR_SECONDS) {
      this.warned = false;
      change = "caught-up";
    }
    return { seconds, change };
  }

  /** The last value (null before the first observation). */
  get seconds(): number | null {
    return this.last;
  }
}
