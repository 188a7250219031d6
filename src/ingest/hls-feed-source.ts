/**
 * HLS as streamqc fetches it itself (src/ingest/hls/hls-source.ts): playlists are reloaded
 * by RFC 8216's rules and each new segment is written once, in order, to ffmpeg's stdin, and
 * through the MPEG-TS analyzer, so playlist faults (`hls.*`) and transport faults (`ts.*`) are
 * seen as well as the picture and sound. Segments are expected to be MPEG-TS.
 */
import type { Writable } from "node:stream";
import { HlsSource } from "./hls/hls-source.js";
import type { StreamEvent } from "./media.js";
import { registerHlsSource, type Feed, type FeedContext, type Source, type SourceEvents } from "./source.js";
import { TsAnalyzer } from "./ts-analyzer.js";

/** A segment not taken by ffmpeg within this long is dropped rather than stalling the source. */
const DRAIN_TIMEOUT_MS = 10_000;

/**
 * RFC 8216 (3.2) asks for a PAT and PMT at the start of each segment, not every 0.5 s as
 * TR 101 290 does for broadcast: packagers (FFmpeg's among them) write one per segment. The
 * repetition checks are relaxed to what HLS requires; a segment without them still fails.
 */
function hlsTsAnalyzer(emit: (e: StreamEvent) => void): TsAnalyzer {
  return new TsAnalyzer({
    onFault: (f) => emit(f),
    patTimeout: HLS_TABLE_TIMEOUT_S,
    pmtTimeout: HLS_TABLE_TIMEOUT_S,
  });
}

/** Longer than any sane target duration, so only a segment that lacks the tables trips it. */
const HLS_TABLE_TIMEOUT_S = 12;

export class HlsFeedSource implements Source {
  readonly kind = "hls" as const;
  readonly live = true;
  private hls: HlsSource | null = null;
  private stdin: Writable | null = null;
  private events: SourceEvents | null = null;
  private analyzer: TsAnalyzer | null = null;

  constructor(
    readonly url: string,
    private readonly rendition?: number | string,
  ) {}

  inputArgs(): string[] {
    return ["-f", "mpegts", "-probesize", "1000000", "-analyzeduration", "2000000", "-i", "pipe:0"];
  }

  async open(events: SourceEvents): Promise<void> {
    if (this.hls) return;
    this.events = events;
    const emit = (e: StreamEvent): void => {
      // Source-clock times become the reader's media time.
      events.emit({ ...e, at: events.now() });
      if (e.kind === "ended") this.stdin?.end();
    };
    this.analyzer = hlsTsAnalyzer(emit);
    this.hls = new HlsSource({
      url: this.url,
      ...(this.rendition !== undefined ? { rendition: this.rendition } : {}),
      onEvent: emit,
      onSegment: async (bytes, info) => {
        if (info.discontinuity) this.analyzer = hlsTsAnalyzer(emit);
        this.analyzer?.push(bytes);
        await this.write(bytes);
      },
    });
    void this.hls.start();
    return Promise.resolve();
  }

  private async write(bytes: Uint8Array): Promise<void> {
    const stdin = this.stdin;
    if (!stdin || stdin.destroyed || stdin.writableEnded) return;
    if (stdin.write(bytes)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        stdin.off("drain", done);
        stdin.off("close", done);
        resolve();
      };
      const timer = setTimeout(done, DRAIN_TIMEOUT_MS);
      stdin.once("drain", done);
      stdin.once("close", done);
    });
  }

  feed(ctx: FeedContext): Feed {
    this.stdin = ctx.stdin;
    return {
      stop: () => {
        if (this.stdin === ctx.stdin) this.stdin = null;
      },
    };
  }

  /** Counters of the checks, for metrics. */
  get counters(): Readonly<Record<string, number>> {
    return { ...(this.hls?.counters ?? {}), ...(this.analyzer?.counters ?? {}) };
  }

  async close(): Promise<void> {
    const hls = this.hls;
    this.hls = null;
    this.events = null;
    await hls?.close();
  }
}

registerHlsSource((url) => new HlsFeedSource(url.href));
