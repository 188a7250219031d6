/**
 * `stream.down` and `stream.gap`, from stream events and timestamps alone.
 *
 * - `stream.down`: from the reader's `lost` event until it reports `connected` again.
 * - `stream.gap`: video or audio missing for >= minGap seconds (default 0.5 s), judged from
 *   the media's own timestamps: a jump in one track's PTS, or one track falling silent while
 *   the other goes on (a track that disappears opens the gap until it returns).
 */
import { z } from "zod";
import { defineDetector, type ConditionSink, type Detector } from "./detector.js";
import type { AudioBlock, StreamEvent, VideoFrame } from "../ingest/media.js";

export const StreamHealthOptions = z
  .object({
    /** Seconds of missing video or audio that make a gap. Default 0.5 s (issue 3). */
    minGap: z.number().positive().default(0.5),
  })
  .strict();

type Track = "video" | "audio";

interface TrackState {
  /** Media time just after the last frame or block of this track. */
  next: number | null;
  openSince: number | null;
}

class StreamHealthDetector implements Detector {
  readonly type = "stream.health";
  private readonly tracks: Record<Track, TrackState> = {
    video: { next: null, openSince: null },
    audio: { next: null, openSince: null },
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
    if (st.openSince !== null) {
      this.sink({ phase: "end", condition: this.gap(track, st.openSince, pts) });
      st.openSince = null;
    } else if (st.next !== null && pts - st.next >= this.opts.minGap) {
      this.sink({ phase: "start", condition: this.gap(track, st.next, null) });
      this.sink({ phase: "end", condition: this.gap(track, st.next, pts) });
    }
    if (st.next === null || next > st.next) st.next = next;
    // The other track falling silent while this one goes on: a track that disappeared.
    const otherName: Track = track === "video" ? "audio" : "video";
    const other = this.tracks[otherName];
    if (other.next !== null && other.openSince === null && pts - other.next >= this.opts.minGap) {
      other.openSince = other.next;
      this.sink({ phase: "start", condition: this.gap(otherName, other.next, null) });
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
      if (st.openSince !== null) {
        this.sink({ phase: "end", condition: this.gap(track, st.openSince, Math.max(endPts, st.openSince)) });
        st.openSince = null;
      }
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
  needs: { video: true, audio: true },
  options: StreamHealthOptions,
  create: (options, sink) => new StreamHealthDetector(options, sink),
});
