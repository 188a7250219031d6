/**
 * Full decoding of a file when a detector needs every frame for some content only.
 *
 * A/V sync times picture changes to the frame, so a profile with it used to decode every frame
 * of every input (decode-policy.ts), although on a programme without paired sound and picture
 * events (everything but a sync pattern, with natural-content correlation off) it measures
 * nothing at all. Here a file is read with reference frames only (`refs`, the cheapest policy,
 * each decoded frame exact) until a detector asks for every frame (Detector.everyFrameFrom:
 * av.sync once a few sound onsets pair with picture changes at one lag). The file is then read
 * again from the time the detector asks for (`fast`: every frame), on the same media timeline:
 *
 * - video frames at or before the last one delivered go to the asking detectors alone, which
 *   forgot what they had judged from pictures after that time (Detector.restartVideo), so they
 *   see every frame of the window they judge; later frames go to every detector;
 * - audio, detail frames and events already delivered are dropped (an audio block that
 *   straddles the last sample delivered is cut there), so every other detector sees each
 *   moment once and no incident is found twice.
 *
 * Live inputs are not read this way: their past cannot be read again, and a decoder started
 * from now would leave a hole until its first keyframe. They decode every frame (`fast`) as
 * before.
 */
import type { AudioBlock, StreamEvent, VideoFrame } from "../ingest/media.js";
import { MediaReader, type MediaReaderOptions, type ReaderResult } from "../ingest/media-reader.js";
import type { Source } from "../ingest/source.js";
import { fileSeek } from "./file-seek.js";
import type { StreamMonitor } from "./stream-monitor.js";

/** Callbacks besides the monitor's: progress and the caller's own event log. */
export interface UpgradeHandlers {
  video?(frame: VideoFrame): void;
  event?(event: StreamEvent): void;
}

const EPS = 1e-6;

export class EveryFrameUpgrade {
  readonly done: Promise<ReaderResult>;
  private resolve!: (r: ReaderResult) => void;
  private reject!: (e: unknown) => void;
  private reader: MediaReader;
  private closed = false;
  /** Media seconds every frame was decoded from (null: reference frames throughout). */
  private from: number | null = null;
  private lastVideo = -Infinity;
  private lastDetail = -Infinity;
  private lastAudioEnd = -Infinity;
  /** Media times of the keyframes the first read saw: where a second read can begin. */
  private readonly keyframes: number[] = [];

  constructor(
    private readonly source: Source,
    private readonly options: MediaReaderOptions,
    private readonly monitor: StreamMonitor,
    private readonly handlers: UpgradeHandlers = {},
  ) {
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.reader = this.first();
  }

  /** The input is a file and a detector of the profile needs every frame: this applies. */
  static applies(source: Source): boolean {
    return source.kind === "file" && !source.live;
  }

  /** Media seconds every frame was decoded from, or null (reference frames throughout). */
  everyFrameFrom(): number | null {
    return this.from;
  }

  start(): void {
    this.reader.start();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.reader.close();
  }

  private follow(reader: MediaReader): void {
    reader.done.then(
      (r) => {
        if (this.reader === reader) this.resolve(r);
      },
      (err: unknown) => {
        if (this.reader === reader) this.reject(err);
      },
    );
  }

  /** Reference frames only, every detector fed, until a detector asks for every frame. */
  private first(): MediaReader {
    const reader = new MediaReader(
      this.source,
      { ...this.options, decodePolicy: "refs" },
      {
        video: (f) => {
          this.lastVideo = Math.max(this.lastVideo, f.pts);
          this.monitor.video(f);
          this.handlers.video?.(f);
        },
        detail: (f) => {
          this.lastDetail = Math.max(this.lastDetail, f.pts);
          this.monitor.detail(f);
        },
        audio: (b) => {
          this.lastAudioEnd = Math.max(this.lastAudioEnd, b.pts + b.frames / b.sampleRate);
          this.monitor.audio(b);
          // Detectors decide as sound arrives (A/V sync estimates once a second of audio).
          if (this.reader === reader && !this.closed) {
            const from = this.monitor.everyFrameFrom();
            if (from !== null) this.everyFrame(reader, from);
          }
        },
        event: (e) => {
          if (e.kind === "keyframe") this.keyframes.push(e.at);
          this.monitor.event(e);
          this.handlers.event?.(e);
        },
      },
    );
    this.follow(reader);
    return reader;
  }

  /** Read the file again from `from` with every frame decoded; `prev` stops. */
  private everyFrame(prev: MediaReader, from: number): void {
    const timeline = prev.timelineNow();
    if (timeline === null) return; // nothing decoded yet: asked again on the next block
    // A second read begins on a keyframe: the last one at or before the time asked for.
    const wanted = Math.min(from, this.lastVideo);
    const { seek, keyframe } = fileSeek(wanted, this.keyframes, timeline);
    const start = Math.max(keyframe, wanted);
    this.from = start;
    this.monitor.restartVideo(start);
    const reader = new MediaReader(
      this.source,
      {
        ...this.options,
        decodePolicy: "fast",
        timeline,
        seekRaw: seek,
        // A file that gives nothing for a while is a busy machine, not a stalled source.
        stallTimeoutMs: Math.max(this.options.stallTimeoutMs ?? 0, 120_000),
      },
      {
        video: (f) => this.video(f, start),
        detail: (f) => {
          if (f.pts <= this.lastDetail + EPS) return;
          this.lastDetail = f.pts;
          this.monitor.detail(f);
        },
        audio: (b) => this.audio(b),
        event: (e) => this.event(e),
      },
    );
    this.reader = reader;
    this.follow(reader);
    void prev.close();
    reader.start();
  }

  private video(f: VideoFrame, start: number): void {
    if (f.pts <= this.lastVideo + EPS) {
      if (f.pts >= start - EPS) this.monitor.replayVideo(f);
      return;
    }
    this.lastVideo = f.pts;
    this.monitor.video(f);
    this.handlers.video?.(f);
  }

  private audio(b: AudioBlock): void {
    const end = b.pts + b.frames / b.sampleRate;
    if (end <= this.lastAudioEnd + EPS) return;
    let block = b;
    if (b.pts < this.lastAudioEnd - EPS) {
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
    this.lastAudioEnd = end;
    this.monitor.audio(block);
  }

  private event(e: StreamEvent): void {
    // The input's format was told once; what happened up to the last frame was told by the first read.
    if (e.kind === "format") return;
    if ("at" in e && e.at <= this.lastVideo + EPS && e.kind !== "ended") return;
    this.monitor.event(e);
    this.handlers.event?.(e);
  }
}
