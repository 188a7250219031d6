/**
 * `stream.down` and `stream.gap`, from stream events and timestamps alone.
 *
 * - `stream.down`: from the reader's `lost` event until it reports `connected` again.
 * - `stream.gap`: video or audio missing for >= minGap seconds (default 0.5 s), judged from
 *   the media's own timestamps: a jump in one track's PTS, or one track falling silent while
 *   the other goes on (a track that disappears opens the gap until it returns).
 *
 * The two tracks arrive through separate pipes, so one can run ahead of the other by a few
 * hundred milliseconds without anything missing. A track that lags is therefore only a
 * suspect: its gap opens once it lags by `minGap + maxSkew`, and when it comes back the gap is
 * judged by its own timestamps (a late block at the expected time clears the suspicion). So a
 * gap is one incident per track, never zero-length and never shorter than `minGap`.
 */
import { z } from "zod";
import { defineDetector, type ConditionSink, type Detector } from "./detector.js";
import type { AudioBlock, StreamEvent, VideoFrame } from "../ingest/media.js";

export const StreamHealthOptions = z
  .object({
    /** Seconds of missing video or audio that make a gap. Default 0.5 s (issue 3). */
    minGap: z.number().positive().default(0.5),
    /**
     * Seconds one track may run ahead of the other in arrival before the lagging one is
     * reported missing while it is still away. At a packet loss the decoder holds the frames
     * before it until the next packet arrives, while the other track flows on: the lag then
     * reaches the length of the loss itself (1.5 s measured for a 1.7 s loss), so this is
     * larger than the gaps we expect. @defaultValue 5
     */
    maxSkew: z.number().min(0).max(60).default(5),
  })
  .strict();

type Track = "video" | "audio";

interface TrackState {
  /** Media time just after the last frame or block of this track. */
  next: number | null;
  /** Where this track may have stopped (the other ran ahead by minGap); null when not suspected. */
  suspectSince: number | null;
  /** Whether the suspected gap was reported open (it lagged by minGap + maxSkew). */
  opened: boolean;
}

class StreamHealthDetector implements Detector {
  readonly type = "stream.health";
  private readonly tracks: Record<Track, TrackState> = {
    video: { next: null, suspectSince: null, opened: false },
    audio: { next: null, suspectSince: null, opened: false },
  };
  private downSince: number | null = null;
  private downReason = "";
  private frameDuration = 0.04;
  private lastVideoPts: number | null = null;

  constructor(
    private readonly opts: z.output<typeof StreamHealthOptions>,
    private readonly sink: ConditionSink,
  ) {}

  pushVideo(frame: VideoFrame): void {
    if (this.lastVideoPts !== null) {
      const d = frame.pts - this.lastVideoPts;
      if (d > 0 && d < 0.2) this.frameDuration = this.frameDuration * 0.9 + d * 0.1;
    }
    this.lastVideoPts = frame.pts;
    this.arrive("video", frame.pts, frame.pts + this.frameDuration);
  }

  pushAudio(block: AudioBlock): void {
    this.arrive("audio", block.pts, block.pts + block.frames / block.sampleRate);
  }

  pushEvent(event: StreamEvent): void {
    if (event.kind === "lost" && this.downSince === null) {
      this.downSince = event.at;
      this.downReason = event.reason;
      this.sink({
        phase: "start",
        condition: { type: "stream.down", start: event.at, end: null, details: { reason: event.reason } },
      });
    } else if (event.kind === "connected" && this.downSince !== null) {
      this.closeDown(event.at);
    }
  }

  private closeDown(at: number): void {
    if (this.downSince === null) return;
    this.sink({
      phase: "end",
      condition: {
        type: "stream.down",
        start: this.downSince,
        end: Math.max(at, this.downSince),
        details: { reason: this.downReason },
      },
    });
    this.downSince = null;
  }

  private arrive(track: Track, pts: number, next: number): void {
    const st = this.tracks[track];
    const minGap = this.opts.minGap;
    // Where this track's media stopped: the suspected start, or just after its last block.
    const since = st.suspectSince ?? st.next;
    if (since !== null && pts - since >= minGap) {
      if (!st.opened) this.sink({ phase: "start", condition: this.gap(track, since, null) });
      this.sink({ phase: "end", condition: this.gap(track, since, pts) });
    } else if (st.opened && since !== null) {
      // Reported missing while away, yet back within minGap of where it stopped: no gap after
      // all, but the open incident must close; it closes where it began (never reported as a
      // gap of its own length). Only a skew beyond maxSkew can cause this.
      this.sink({ phase: "end", condition: this.gap(track, since, since + minGap) });
    }
    st.suspectSince = null;
    st.opened = false;
    if (st.next === null || next > st.next) st.next = next;
    // The other track falling behind while this one goes on: it may have disappeared.
    const otherName: Track = track === "video" ? "audio" : "video";
    const other = this.tracks[otherName];
    if (other.next === null) return;
    const lag = pts - other.next;
    if (other.suspectSince === null && lag >= minGap) other.suspectSince = other.next;
    if (other.suspectSince !== null && !other.opened && lag >= minGap + this.opts.maxSkew) {
      other.opened = true;
      this.sink({ phase: "start", condition: this.gap(otherName, other.suspectSince, null) });
    }
  }

  private gap(track: Track, start: number, end: number | null) {
    return {
      type: "stream.gap",
      start,
      end,
      details: { track, seconds: end === null ? null : Math.round((end - start) * 1000) / 1000 },
    };
  }

  flush(endPts: number): void {
    for (const track of ["video", "audio"] as const) {
      const st = this.tracks[track];
      // A gap reported open ends with the input. A mere suspect (a track ending a little
      // before the other, as files often do) is not a gap.
      const since = st.suspectSince;
      if (since !== null && st.opened) {
        this.sink({
          phase: "end",
          condition: this.gap(track, since, Math.max(endPts, since + this.opts.minGap)),
        });
      }
      st.suspectSince = null;
      st.opened = false;
    }
    this.closeDown(endPts);
  }

  measure() {
    return { down: this.downSince !== null };
  }
}

export const streamHealthDetector = defineDetector({
  type: "stream.health",
  description: "stream.down (source lost) and stream.gap (video or audio missing) from events and timestamps",
  emits: [
    { type: "stream.down", severity: "critical" },
    { type: "stream.gap", severity: "major" },
  ],
  needs: { video: true, audio: true },
  options: StreamHealthOptions,
  create: (options, sink) => new StreamHealthDetector(options, sink),
});
