/**
 * Full decoding of a file when a detector needs every frame for some content only.
 *
 * A/V sync times picture changes to the frame, so a profile with it used to decode every frame
 * of every input (decode-policy.ts), although on a programme without paired sound and picture
 * events (everything but a sync pattern, with natural-content correlation off) it measures
 * nothing at all. Here a file is read with reference frames only (`refs`, the cheapest policy,
 * each decoded frame exact) until a detector asks for every frame (Detector.everyFrameFrom:
 * av.sync once a few sound onsets pair with picture changes at one lag). The file is then read
 * again from the time the detector asks for (`fast`: every frame), on the same media timeline;
 * what the second read repeats is dropped or goes to the asking detectors alone
 * (replay-filter.ts).
 *
 * Live inputs that streamqc feeds (UDP, HLS) change decoder in place, replaying their last
 * seconds (live-every-frame-upgrade.ts); those ffmpeg reads itself decode every frame.
 */
import { MediaReader, type MediaReaderOptions, type ReaderResult } from "../ingest/media-reader.js";
import type { Source } from "../ingest/source.js";
import { fileSeek } from "./file-seek.js";
import { ReplayFilter, type UpgradeHandlers } from "./replay-filter.js";
import type { StreamMonitor } from "./stream-monitor.js";

export class EveryFrameUpgrade {
  readonly done: Promise<ReaderResult>;
  private resolve!: (r: ReaderResult) => void;
  private reject!: (e: unknown) => void;
  private reader: MediaReader;
  private closed = false;
  private readonly filter: ReplayFilter;
  /** Media times of the keyframes the first read saw: where a second read can begin. */
  private readonly keyframes: number[] = [];

  constructor(
    private readonly source: Source,
    private readonly options: MediaReaderOptions,
    private readonly monitor: StreamMonitor,
    handlers: UpgradeHandlers = {},
  ) {
    this.filter = new ReplayFilter(monitor, handlers);
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
    return this.filter.from;
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
    const f = this.filter;
    const reader = new MediaReader(
      this.source,
      { ...this.options, decodePolicy: "refs" },
      {
        ...f.readerHandlers(),
        audio: (b) => {
          f.audio(b);
          // Detectors decide as sound arrives (A/V sync estimates once a second of audio).
          if (this.reader === reader && !this.closed) {
            const from = this.monitor.everyFrameFrom();
            if (from !== null) this.everyFrame(reader, from);
          }
        },
        event: (e) => {
          if (e.kind === "keyframe") this.keyframes.push(e.at);
          f.event(e);
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
    const f = this.filter;
    const wanted = Math.min(from, f.lastVideo);
    const { seek, keyframe } = fileSeek(wanted, this.keyframes, timeline);
    const start = Math.max(keyframe, wanted);
    f.from = start;
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
      f.readerHandlers(),
    );
    this.reader = reader;
    this.follow(reader);
    void prev.close();
    reader.start();
  }
}
