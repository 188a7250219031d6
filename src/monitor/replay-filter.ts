/**
 * What reaches the monitor once a decoder has been started again, under another policy, a
 * little in the past (every-frame-upgrade.ts for files, live-every-frame-upgrade.ts for
 * feeding live sources): the replayed part comes twice, so
 *
 * - video frames at or before the last one delivered go to the detectors that asked for every
 *   frame alone (StreamMonitor.replayVideo), from `from` on; later frames go to every detector;
 * - audio, detail frames, thumbnails and events already delivered are dropped (an audio block
 *   that straddles the last sample delivered is cut there), so every other detector sees each
 *   moment once and no incident is found twice.
 *
 * Before `from` is set everything passes (the first decoder).
 */
import type { AudioBlock, DetailFrame, StreamEvent, Thumbnail, VideoFrame } from "../ingest/media.js";
import type { MediaHandlers } from "../ingest/media-reader.js";
import type { StreamMonitor } from "./stream-monitor.js";

/** Callbacks besides the monitor's: progress, levels, thumbnails and the caller's own event log. */
export interface UpgradeHandlers {
  video?(frame: VideoFrame): void;
  audio?(block: AudioBlock): void;
  thumbnail?(thumbnail: Thumbnail): void;
  event?(event: StreamEvent): void;
}

const EPS = 1e-6;

export class ReplayFilter {
  lastVideo = -Infinity;
  private lastDetail = -Infinity;
  private lastAudioEnd = -Infinity;
  private lastThumbnail = -Infinity;
  /** Media seconds the replayed frames count from (null: no replay yet). */
  from: number | null = null;

  constructor(
    private readonly monitor: StreamMonitor,
    private readonly handlers: UpgradeHandlers = {},
  ) {}

  /** A reader's handlers that go through this filter (callers override the ones they watch). */
  readerHandlers(): Required<Pick<MediaHandlers, "video" | "detail" | "thumbnail" | "audio" | "event">> {
    return {
      video: (f) => this.video(f),
      detail: (f) => this.detail(f),
      thumbnail: (t) => this.thumbnail(t),
      audio: (b) => this.audio(b),
      event: (e) => this.event(e),
    };
  }

  video(f: VideoFrame): void {
    if (this.from !== null && f.pts <= this.lastVideo + EPS) {
      if (f.pts >= this.from - EPS) this.monitor.replayVideo(f);
      return;
    }
    this.lastVideo = Math.max(this.lastVideo, f.pts);
    this.monitor.video(f);
    this.handlers.video?.(f);
  }

  detail(f: DetailFrame): void {
    if (this.from !== null && f.pts <= this.lastDetail + EPS) return;
    this.lastDetail = Math.max(this.lastDetail, f.pts);
    this.monitor.detail(f);
  }

  thumbnail(t: Thumbnail): void {
    if (this.from !== null && t.pts <= this.lastThumbnail + EPS) return;
    this.lastThumbnail = Math.max(this.lastThumbnail, t.pts);
    this.monitor.thumbnail(t);
    this.handlers.thumbnail?.(t);
  }

  audio(b: AudioBlock): void {
    const end = b.pts + b.frames / b.sampleRate;
    const replayed = this.from !== null;
    if (replayed && end <= this.lastAudioEnd + EPS) return;
    let block = b;
    if (replayed && b.pts < this.lastAudioEnd - EPS) {
      // Straddles the last sample delivered: only what comes after it.
      const skip = Math.min(b.frames - 1, Math.round((this.lastAudioEnd - b.pts) * b.sampleRate));
      block = {
        pts: b.pts + skip / b.sampleRate,
        sampleRate: b.sampleRate,
        channels: b.channels,
        frames: b.frames - skip,
        samples: b.samples.subarray(skip * b.channels),
      };
    }
    this.lastAudioEnd = Math.max(this.lastAudioEnd, end);
    this.monitor.audio(block);
    this.handlers.audio?.(block);
  }

  event(e: StreamEvent): void {
    if (this.from !== null) {
      // The input's format was told once; what happened up to the last frame was told by the first decoder.
      if (e.kind === "format") return;
      if ("at" in e && e.at <= this.lastVideo + EPS && e.kind !== "ended") return;
    }
    this.monitor.event(e);
    this.handlers.event?.(e);
  }
}
