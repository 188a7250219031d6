/**
 * A recording of the bytes a feeding source (UDP, HLS) writes to its decoder, kept for a few
 * seconds, so a second decoder can start in the past: a light stream promoted to full
 * decoding replays the last seconds (back past the keyframe before the trouble) and then
 * follows the live bytes, and the full decoder times the incident's onset as if it had been
 * decoding all along. Both decoders read the same transport stream, so with `-copyts` they
 * see the same timestamps and one media timeline (MediaReaderOptions.timeline).
 */
import { Writable } from "node:stream";
import type { Feed, FeedContext, Source, SourceEvents } from "./source.js";

interface Chunk {
  readonly at: number;
  readonly bytes: Uint8Array;
}

type Listener = (bytes: Uint8Array) => void;

/** Calls `done` once `target` can take more, or is gone (a decoder killed while it was full). */
export function whenWritable(target: Writable, done: () => void): void {
  let called = false;
  const once = (): void => {
    if (called) return;
    called = true;
    target.off("drain", once);
    target.off("close", once);
    done();
  };
  target.on("drain", once);
  target.on("close", once);
}

export interface RecordingOptions {
  /**
   * Keep reading the source between decoder runs (a decoder restarted on purpose, redecode):
   * the bytes that arrive while no decoder listens are recorded, and the next run is fed them
   * from `FeedContext.replayFrom`. The source's own feed then stops only when it closes.
   */
  readonly keepFeed?: boolean;
}

/** Wraps a feeding source: same behaviour, and its bytes of the last `seconds` kept. */
export class RecordingSource implements Source {
  private readonly chunks: Chunk[] = [];
  private readonly listeners = new Set<Listener>();
  /** Replays to end when the source ends (see `tap`), and whether it has. */
  private readonly endListeners = new Set<() => void>();
  private ended = false;
  private bytesKept = 0;
  /** keepFeed: the source's one feed and the decoder stdin it writes to now (null between runs). */
  private kept: { readonly feed: Feed; readonly tap: Writable } | null = null;
  private target: Writable | null = null;

  constructor(
    private readonly inner: Source,
    /** Seconds of bytes kept (wall time; a live source's media time runs at the same pace). */
    private seconds: number,
    private readonly options: RecordingOptions = {},
  ) {}

  /** Seconds of bytes kept from now on (the session sizes it from the stream's keyframes). */
  get windowSeconds(): number {
    return this.seconds;
  }
  set windowSeconds(seconds: number) {
    if (!(seconds > 0)) throw new RangeError(`replay window must be > 0 seconds, got ${seconds}`);
    this.seconds = seconds;
  }

  async open(events: SourceEvents): Promise<void> {
    await this.inner.open?.(events);
  }

  async close(): Promise<void> {
    const kept = this.kept;
    this.kept = null;
    this.target = null;
    if (kept) {
      kept.feed.stop();
      kept.tap.destroy();
    }
    await this.inner.close?.();
  }

  get url(): string {
    return this.inner.url;
  }
  get kind(): Source["kind"] {
    return this.inner.kind;
  }
  get live(): boolean {
    return this.inner.live;
  }
  /** Read by the reader's watchdog (a source between HLS segments is idle, not stalled). */
  get idle(): boolean {
    return (this.inner as { idle?: boolean }).idle === true;
  }

  /** Bytes held now (for memory accounting). */
  get heldBytes(): number {
    return this.bytesKept;
  }

  inputArgs(): string[] {
    return this.inner.inputArgs();
  }

  feed(ctx: FeedContext): Feed {
    if (this.options.keepFeed) return this.attach(ctx);
    const tap = this.tap(() => ctx.stdin);
    const inner = this.inner.feed!({ stdin: tap });
    return {
      stop: () => {
        inner.stop();
        tap.destroy();
      },
    };
  }

  /** What the source's feed writes to: each chunk recorded, then passed to `target()` if any. */
  private tap(target: () => Writable | null): Writable {
    const tap = new Writable({
      highWaterMark: 16 * 1024 * 1024,
      write: (chunk: Buffer, _enc, done) => {
        this.record(chunk);
        const t = target();
        if (!t || t.destroyed || t.write(chunk)) done();
        else whenWritable(t, done);
      },
      // The source wrote its last bytes (an HLS programme's last segment): the end of input for
      // the decoder it feeds and for every replay. Without it a recorded programme's decoders
      // waited for more, and `analyze --mode light` of an HLS VOD never ended.
      final: (done) => {
        const t = target();
        if (t && !t.destroyed && !t.writableEnded) t.end();
        this.ended = true;
        for (const l of [...this.endListeners]) l();
        done();
      },
    });
    tap.on("error", () => undefined);
    return tap;
  }

  /** The chunks recorded at or after `at` (performance.now() time), oldest first. */
  private since(at: number): Chunk[] {
    const first = this.chunks.findIndex((c) => c.at >= at);
    return first < 0 ? [] : this.chunks.slice(first);
  }

  /** keepFeed: this run's stdin gets the bytes since `replayFrom`, then the live ones. */
  private attach(ctx: FeedContext): Feed {
    const stdin = ctx.stdin;
    if (ctx.replayFrom !== undefined) {
      for (const c of this.since(ctx.replayFrom)) if (!stdin.destroyed) stdin.write(c.bytes);
    }
    this.target = stdin;
    if (!this.kept) {
      const tap = this.tap(() => this.target);
      this.kept = { feed: this.inner.feed!({ stdin: tap }), tap };
    }
    return {
      stop: () => {
        if (this.target === stdin) this.target = null;
      },
    };
  }

  private record(bytes: Uint8Array): void {
    const now = performance.now();
    this.chunks.push({ at: now, bytes });
    this.bytesKept += bytes.byteLength;
    const limit = now - this.seconds * 1000;
    while (this.chunks.length > 0 && this.chunks[0]!.at < limit) {
      this.bytesKept -= this.chunks.shift()!.bytes.byteLength;
    }
    for (const l of this.listeners) l(bytes);
  }

  /**
   * A source for a second decoder: the bytes of the last `seconds` (at most what is kept),
   * then the live bytes as they come. How far back it really starts is `startedSecondsAgo`.
   */
  replay(seconds: number): { source: Source; startedSecondsAgo: number } {
    const now = performance.now();
    const backlog = this.since(now - seconds * 1000);
    const startedSecondsAgo = backlog.length > 0 ? (now - backlog[0]!.at) / 1000 : 0;
    const listeners = this.listeners;
    const inputArgs = this.inner.inputArgs();
    const url = this.inner.url;
    const source: Source = {
      url,
      kind: this.inner.kind,
      live: true,
      inputArgs: () => inputArgs,
      // A reader starts a feeding source's decoder on its `connected` event: the recording's
      // bytes are there now. (Without it the promoted decoder never started: every promotion
      // of a live UDP or HLS stream decoded nothing and its incidents kept keyframe timing.)
      open: (events: SourceEvents) => {
        events.emit({ kind: "connected", at: events.now(), url });
        // The recorded source's end is this one's: said before its decoder's input ends, so the
        // reader takes the decoder's exit for the end of the stream, not an outage.
        const ended = (): void => events.emit({ kind: "ended", at: events.now() });
        if (this.ended) ended();
        else this.endListeners.add(ended);
        return Promise.resolve();
      },
      feed: (ctx: FeedContext): Feed => {
        const stdin = ctx.stdin;
        const write: Listener = (bytes) => {
          if (!stdin.destroyed && stdin.writableLength < 16 * 1024 * 1024) stdin.write(bytes);
        };
        const end = (): void => {
          if (!stdin.destroyed && !stdin.writableEnded) stdin.end();
        };
        for (const c of backlog) write(c.bytes);
        backlog.length = 0;
        if (this.ended) {
          end();
          return { stop: () => undefined };
        }
        listeners.add(write);
        this.endListeners.add(end);
        return {
          stop: () => {
            listeners.delete(write);
            this.endListeners.delete(end);
          },
        };
      },
    };
    return { source, startedSecondsAgo };
  }
}
