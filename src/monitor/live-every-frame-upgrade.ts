/**
 * Full decoding of a live input that streamqc feeds (UDP, HLS) when a detector needs every
 * frame for some content only: the live counterpart of every-frame-upgrade.ts.
 *
 * The decoder runs on reference frames (`refs`) until a detector asks for every frame (A/V
 * sync, once sound onsets pair with picture changes: a sync pattern). The input's past cannot
 * be read again, but its last seconds are kept (replay-source.ts, `keepFeed`): the decoder is
 * then restarted under `fast` (MediaReader.redecode), fed from the keyframe at or before the
 * last frame delivered, so no frame is missing, and continues live on the same timeline.
 * What it repeats is dropped or goes to the asking detector alone (replay-filter.ts).
 *
 * Unlike a file, the live window the detector judges cannot be decoded again in full: the
 * detector forgets every picture it had from reference frames (StreamMonitor.restartVideo with
 * no lower bound) and judges every frame from the replayed keyframe on. A/V sync's first
 * estimate of a sync pattern therefore comes one window (about 16 s) after the change, and is
 * never made from pictures seen a frame late (reference frames miss one-frame flashes coded as
 * B-frames, or show them late: issue 13's measurements read -340 ms for -300).
 */
import { MediaReader, type MediaReaderOptions, type ReaderResult } from "../ingest/media-reader.js";
import type { MediaHandlers } from "../ingest/media-reader.js";
import { RecordingSource } from "../ingest/replay-source.js";
import type { Source } from "../ingest/source.js";
import { ReplayFilter, type UpgradeHandlers } from "./replay-filter.js";
import { keyframeAtOrBefore, longestInterval } from "./replay-window.js";
import type { StreamMonitor } from "./stream-monitor.js";

/** Bytes kept before the keyframe intervals are known (seconds). */
export const LIVE_REPLAY_DEFAULT_SECONDS = 8;
/** Never more: a broken stream without keyframes does not hold minutes of bytes. */
export const LIVE_REPLAY_MAX_SECONDS = 30;
/**
 * The decoder hands frames on after its input: bytes of a frame arrived before the frame came
 * out (reorder delay, muxing, the UDP drain tick). Reaching back this much more is enough.
 */
export const LIVE_REPLAY_MARGIN_SECONDS = 2;
/** Kept once every frame is decoded (a window must be > 0): next to nothing. */
const AFTER_SECONDS = 0.05;

export class LiveEveryFrameUpgrade {
  readonly reader: MediaReader;
  readonly done: Promise<ReaderResult>;
  private readonly recording: RecordingSource;
  private readonly filter: ReplayFilter;
  /** Recent keyframes (media seconds): where the replay starts, and how long the window must be. */
  private readonly keyframes: number[] = [];
  private closed = false;

  constructor(
    source: Source,
    options: MediaReaderOptions,
    private readonly monitor: StreamMonitor,
    handlers: UpgradeHandlers & Pick<MediaHandlers, "handlerError" | "log"> = {},
    /** Told once, when every frame is decoded from `from` (media seconds) on. */
    private readonly onEveryFrame?: (from: number) => void,
  ) {
    this.filter = new ReplayFilter(monitor, handlers);
    this.recording = new RecordingSource(source, LIVE_REPLAY_DEFAULT_SECONDS, { keepFeed: true });
    const f = this.filter;
    this.reader = new MediaReader(
      this.recording,
      { ...options, decodePolicy: "refs" },
      {
        ...f.readerHandlers(),
        video: (v) => {
          f.video(v);
          // The restarted decoder is under way: nothing will be replayed again, keep no bytes.
          if (f.from !== null && this.recording.windowSeconds > AFTER_SECONDS) {
            this.recording.windowSeconds = AFTER_SECONDS;
          }
        },
        audio: (b) => {
          f.audio(b);
          if (f.from === null && !this.closed) {
            const from = this.monitor.everyFrameFrom();
            if (from !== null) this.everyFrame();
          }
        },
        event: (e) => {
          if (
            f.from === null &&
            e.kind === "keyframe" &&
            e.at > (this.keyframes[this.keyframes.length - 1] ?? -Infinity)
          ) {
            this.keyframes.push(e.at);
            if (this.keyframes.length > 8) this.keyframes.shift();
            this.recording.windowSeconds = this.windowSeconds();
          }
          f.event(e);
        },
        ...(handlers.handlerError ? { handlerError: handlers.handlerError } : {}),
        ...(handlers.log ? { log: handlers.log } : {}),
      },
    );
    this.done = this.reader.done;
  }

  /** A live source streamqc feeds itself (its bytes can be kept): this applies. */
  static applies(source: Source): boolean {
    return source.live && source.feed !== undefined;
  }

  /** Media seconds every frame is decoded from, or null (reference frames so far). */
  everyFrameFrom(): number | null {
    return this.filter.from;
  }

  /** Bytes kept for the change now (memory accounting). */
  get replayBytes(): number {
    return this.recording.heldBytes;
  }

  start(): void {
    this.reader.start();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.reader.close();
  }

  /** Two of the longest recent keyframe intervals and the margin: the keyframe before the last frame is in it. */
  private windowSeconds(): number {
    if (this.keyframes.length < 3) return LIVE_REPLAY_DEFAULT_SECONDS;
    return Math.min(
      LIVE_REPLAY_MAX_SECONDS,
      2 * longestInterval(this.keyframes) + LIVE_REPLAY_MARGIN_SECONDS,
    );
  }

  /** Restart the decoder under `fast`, from the keyframe at or before the last frame delivered. */
  private everyFrame(): void {
    const f = this.filter;
    const keyframe = keyframeAtOrBefore(f.lastVideo, this.keyframes);
    if (keyframe === undefined) return; // no keyframe delivered yet: asked again on the next block
    const back = this.reader.mediaNow() - keyframe + LIVE_REPLAY_MARGIN_SECONDS;
    if (!this.reader.redecode("fast", performance.now() - back * 1000)) return;
    f.from = keyframe;
    // Forget every picture judged from reference frames (no lower bound): see the header.
    this.monitor.restartVideo(-Infinity);
    this.onEveryFrame?.(keyframe);
  }
}
