/**
 * A Source names an input and says how ffmpeg reaches it: either ffmpeg opens the URL
 * itself (files, SRT, RTMP, HTTP), or the source fetches or receives the bytes and feeds
 * them to ffmpeg's stdin (UDP datagrams, HLS segments), which lets streamqc see transport
 * and playlist faults that the decoder would hide.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { Writable } from "node:stream";
import { StreamqcError } from "../errors.js";
import type { StreamEvent } from "./media.js";

export type SourceKind = "file" | "http" | "hls" | "udp" | "srt" | "rtmp";

export interface FeedContext {
  /** ffmpeg's stdin for this run of the decoder. */
  readonly stdin: Writable;
  /**
   * Write the bytes that arrived since this wall time (performance.now()) first, when the
   * source keeps them (replay-source.ts): a decoder restarted on purpose continues without a
   * hole. Sources that keep nothing ignore it.
   */
  readonly replayFrom?: number;
}

/** Where a source reports its own events (lost, connected, faults), for its whole life. */
export interface SourceEvents {
  readonly emit: (event: StreamEvent) => void;
  /** The reader's media time now, for event times. */
  readonly now: () => number;
}

export interface Feed {
  stop(): void;
}

export interface Source {
  readonly url: string;
  readonly kind: SourceKind;
  /** Live sources are reconnected when they drop; files are read to the end once. */
  readonly live: boolean;
  /** ffmpeg's input options and its `-i` argument. */
  inputArgs(): string[];
  /** Sources that feed stdin start doing so for each run of the decoder. */
  feed?(ctx: FeedContext): Feed;
  /**
   * Opens resources that outlive one decoder run (a UDP socket). Idempotent. A source that
   * feeds stdin reports `lost` when its bytes stop and `connected` when they come back; the
   * reader then stops the decoder and starts a fresh one, so the outage is a gap in media time.
   */
  open?(events: SourceEvents): Promise<void>;
  /** Idempotent. */
  close?(): Promise<void>;
}

/** Network reads that stall this long fail, so the reader can reconnect (microseconds for ffmpeg). */
const RW_TIMEOUT_US = "10000000";

class NativeSource implements Source {
  constructor(
    readonly url: string,
    readonly kind: SourceKind,
    readonly live: boolean,
    private readonly target: string,
    private readonly options: readonly string[] = [],
  ) {}

  inputArgs(): string[] {
    return [...this.options, "-i", this.target];
  }
}

export interface SourceOptions {
  /** Allow `file:` URLs and paths (the service refuses them unless its config allows). */
  readonly allowFiles?: boolean;
  /** Read files at their native rate, as if live (demo channels, tests of live behaviour). */
  readonly realtime?: boolean;
}

export type SourceFactory = (url: URL) => Source;
let udpFactory: SourceFactory | undefined;
let hlsFactory: SourceFactory | undefined;
/** Sources that feed stdin live in their own modules; they register here to keep imports one-way. */
export function registerUdpSource(factory: SourceFactory): void {
  udpFactory = factory;
}
export function registerHlsSource(factory: SourceFactory): void {
  hlsFactory = factory;
}

/** Turns a user's input string into a Source, validating it; throws StreamqcError with a fix. */
export function openSource(input: string, options: SourceOptions = {}): Source {
  const allowFiles = options.allowFiles ?? true;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(input)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === "file") {
    const path = scheme === "file" ? decodeURIComponent(new URL(input).pathname) : input;
    if (!allowFiles) {
      throw new StreamqcError("SQM_ERR_FORBIDDEN_URL", `reading local files is not allowed: ${input}`);
    }
    const abs = resolve(path);
    if (!existsSync(abs)) {
      throw new StreamqcError("SQM_ERR_INPUT_UNREADABLE", `cannot read ${path}: no such file`);
    }
    const pre = options.realtime ? ["-re", "-stream_loop", "-1"] : [];
    return new NativeSource(input, "file", options.realtime ?? false, abs, pre);
  }
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new StreamqcError("SQM_ERR_INPUT_UNSUPPORTED", `not a valid URL: ${input}`);
  }
  switch (scheme) {
    case "http":
    case "https": {
      if (/\.m3u8?$/i.test(url.pathname) && hlsFactory) return hlsFactory(url);
      // Progressive HTTP: ffmpeg reads it to the end.
      return new NativeSource(input, "http", false, input, ["-rw_timeout", RW_TIMEOUT_US]);
    }
    case "udp":
    case "rtp":
      if (!udpFactory) throw new Error("UDP source is not registered");
      return udpFactory(url);
    case "srt":
      return new NativeSource(input, "srt", true, input, []);
    case "rtmp":
    case "rtmps":
      return new NativeSource(input, "rtmp", true, input, ["-rw_timeout", RW_TIMEOUT_US]);
    default:
      throw new StreamqcError(
        "SQM_ERR_INPUT_UNSUPPORTED",
        `unsupported input scheme "${scheme}:" in ${input}; use a file path, http(s) (HLS), udp, srt or rtmp`,
      );
  }
}
