/**
 * MediaReader: decode one input once, in one ffmpeg child, and hand timestamped frames,
 * PCM and stream events to the monitor. It owns the decoder's lifecycle: start, watchdog,
 * reconnection with capped exponential backoff and jitter, and the media timeline across
 * restarts (an outage shows as a gap in `pts`, never as duplicated frames).
 */
import { StreamqcError, errorMessage } from "../errors.js";
import { checkFfmpegBanner, knownFfmpeg, locateFfmpeg } from "./ffmpeg-binary.js";
import { FfmpegProcess, describeFailure, type FfmpegExit } from "./ffmpeg-process.js";
import { queueDecoderStart } from "./decoder-start-queue.js";
import {
  ANALYSIS_FILTER,
  AUDIO_BLOCK_SAMPLES,
  AUDIO_SAMPLE_RATE,
  DETAIL_FPS,
  DETAIL_HEIGHT,
  DETAIL_WIDTH,
  LUMA_FORMATS,
  THUMBNAIL_FPS,
  THUMBNAIL_WIDTH,
  type AudioBlock,
  type DetailFrame,
  type StreamEvent,
  type Thumbnail,
  type VideoFrame,
} from "./media.js";
import {
  DEFAULT_DECODE_POLICY,
  detailFrameCondition,
  policyDecoderOptions,
  type DecodePolicy,
} from "./decode-policy.js";
import { NutDemuxer, type NutPacket, type NutStream } from "./nut-demuxer.js";
import { KeyframeGate, gatedInput, keyframeStartArgs } from "./keyframe-gate.js";
import type { PesInfo } from "./light-video-filter.js";
import type { Feed, Source } from "./source.js";

export interface MediaHandlers {
  video?(frame: VideoFrame): void;
  detail?(frame: DetailFrame): void;
  thumbnail?(thumb: Thumbnail): void;
  audio?(block: AudioBlock): void;
  /** Light mode: every compressed video packet's time and size (the picture is decoded on keyframes only). */
  packet?(packet: VideoPacket): void;
  event?(event: StreamEvent): void;
  /** ffmpeg's log, line by line. */
  log?(line: string): void;
  /** A handler threw: reported here, never allowed to break ingest. */
  handlerError?(err: unknown): void;
}

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

export interface MediaReaderOptions {
  readonly ffmpegPath: string;
  /** Decode detail frames (the picture's centre, up to DETAIL_WIDTH x DETAIL_HEIGHT, gray, at DETAIL_FPS). */
  readonly detail?: boolean;
  /** Encode JPEG thumbnails (THUMBNAIL_FPS) for evidence. */
  readonly thumbnails?: boolean;
  /** Decoder threads; 1 gives the most per core with many streams, 0 lets ffmpeg decide. */
  readonly threads?: number;
  /** The watchdog kills a decoder that writes nothing for this long. */
  readonly stallTimeoutMs?: number;
  readonly backoff?: BackoffOptions;
  /** The first connection failing is fatal (analyze); otherwise the reader keeps retrying. */
  readonly failFast?: boolean;
  /** Stop after this many seconds of media. */
  readonly duration?: number;
  /**
   * `light` decodes keyframes only (`-skip_frame nokey`), decodes audio fully and hands every
   * compressed video packet's time and size to `packet`; detail frames are not made. Default `full`.
   */
  readonly mode?: DecodeMode;
  /** Files only: start decoding at this many seconds of the input's own timestamps (`-ss`, input seek). */
  readonly seekRaw?: number;
  /**
   * Map the first run's timestamps onto another reader's timeline (`media = raw - origin + base`)
   * instead of starting at zero: a promoted decoder of the same input then speaks the same media time.
   */
  readonly timeline?: Timeline;
  /** Full mode: which decoder work may be skipped (decode-policy.ts). Default DEFAULT_DECODE_POLICY. */
  readonly decodePolicy?: DecodePolicy;
}

export type DecodeMode = "full" | "light";

export interface Timeline {
  readonly origin: number;
  readonly base: number;
}

/** A compressed video packet as the demuxer gave it: no pixels, for cheap checks in light mode. */
export interface VideoPacket {
  readonly pts: number;
  readonly size: number;
  readonly keyframe: boolean;
}

export interface ReaderResult {
  /** Media seconds of the last frame or audio sample seen. */
  readonly mediaEnd: number;
  readonly restarts: number;
  readonly reason: "ended" | "duration" | "closed";
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 };
export const DEFAULT_STALL_TIMEOUT_MS = 10_000;

const CONCEALING = /concealing (\d+) DC, (\d+) AC, (\d+) MV errors/;
/**
 * Each decoded video frame logs one line from a `select` expression in the analysis filter
 * (`print`): its PTS in seconds, plus KEYFRAME_FLAG when the decoder marked it a keyframe.
 * The filter graph runs when ffmpeg pushes the decoded frame into it, in the same thread
 * and right after ffmpeg's corrupt-frame check, so a corrupt-frame warning comes just before
 * its frame's line. One short line per frame: `-debug_ts` gave the same facts in about 20
 * lines per frame, each one for Node to read and match.
 */
const KEYFRAME_FLAG = 1e9;
/**
 * A light gate's PES are held until the decoder's output reaches their time (`gatePes`); a
 * decoder that stops giving output holds at most this many (a minute of 50 fps video), the
 * oldest then going on regardless.
 */
const MAX_HELD_PES = 3000;
/** How far ahead of the decoder's output a held PES may go on: about the NUT interleaving's. */
const PES_LEAD_SECONDS = 0.2;
const FRAME_MARKER = /^(?:\[[^\]]*\] )?\[info\] (-?(?:\d+\.\d+|nan|inf))$/;
export const FRAME_MARKER_FILTER = `select='1+0*print(t+key*${KEYFRAME_FLAG})'`;
const CORRUPT_FRAME = /corrupt decoded frame in stream \d+/;
/** Decoded frames after which error reports not tied to a frame are passed on as they are (beyond any B-frame reorder delay). */
const UNTIED_AFTER_FRAMES = 16;
const DECODER_ERROR =
  /^\[(h264|hevc|mpeg2video|mpeg4|aac|mp2|mp3|ac3|vp9|av1|mpegts)[^\]]*\] \[(error|warning)\]/;
const INPUT_VIDEO = /Stream #0:\d+.*: Video: .*?, (\d+)x(\d+)[ ,].*?(\d+(?:\.\d+)?) fps/;
/** A pixel format of JPEG levels (`yuvj420p`) or tagged full range (`yuv420p(pc, ...)`). */
const FULL_RANGE = /, (?:yuvj\w*|\w+\(pc[,)])/;
const DURATION = /^\[info\]\s+Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/;
const INPUT_AUDIO = /Stream #0:\d+.*: Audio: .*?, (\d+) Hz, ([^,]+),/;

/**
 * Keeps at most `fps` frames a second with `select`, not `fps`: the fps filter would duplicate
 * frames across a gap. The 1 ms margin keeps frames whose spacing rounds just under the period.
 */
function selectAtRate(fps: number): string {
  return `select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,${(1 / fps - 0.001).toFixed(3)})'`;
}

/**
 * Like selectAtRate, among the frames `condition` allows only: the first such frame in each
 * 1/fps slot of media time, so the rate stays `fps` although eligible frames come unevenly
 * (P-frames every few frames between B-frames).
 */
function selectAtRateWhere(fps: number, condition: string): string {
  return (
    `select='${condition}*(isnan(prev_selected_t)+` +
    `gte(floor(t*${fps})\\,floor(prev_selected_t*${fps})+1))'`
  );
}

/** Builds the one ffmpeg command that decodes once and writes every view of the picture and sound. */
export function decoderArgs(
  source: Source,
  opts: MediaReaderOptions,
  banner = false,
  /** The run's input starts at a keyframe (keyframe-gate.ts): a short analysis is enough. */
  keyframeStart = false,
): string[] {
  const threads = String(opts.threads ?? 0);
  const policy = opts.decodePolicy ?? DEFAULT_DECODE_POLICY;
  const detailCondition = detailFrameCondition(policy);
  const args = [
    // The banner's first line is the version, checked there once instead of by a separate `ffmpeg -version`.
    ...(banner ? [] : ["-hide_banner"]),
    "-nostats",
    "-nostdin",
    "-loglevel",
    "repeat+level+info",
    "-threads",
    threads,
    // Keep the media's own timestamps: without these ffmpeg rebases time and duplicates frames.
    "-copyts",
    // Untagged video is limited range (the decoder keeps a stream's own tag): see ANALYSIS_FILTER.
    "-color_range",
    "tv",
    // Light: the video decoder skips every frame but keyframes (audio decodes in full), and
    // skips their deblocking too: no decoded frame references them, and the pictures light
    // mode judges (160x90 block means, black shares, 320-wide thumbnails) cannot tell
    // (measured: about 0.1 CPU-s less a minute of 1080p; BENCHMARKS.md).
    ...(opts.mode === "light"
      ? ["-skip_frame:v", "nokey", "-skip_loop_filter:v", "all", "-flags:v", "+low_delay"]
      : []),
    // Full: the decode policy's cuts (decode-policy.ts); light mode sets its own above.
    ...(opts.mode === "light" ? [] : policyDecoderOptions(policy)),
    ...(opts.seekRaw !== undefined ? ["-ss", opts.seekRaw.toFixed(3)] : []),
    ...(keyframeStart ? keyframeStartArgs(source.inputArgs(), opts.mode === "light") : source.inputArgs()),
    "-map",
    "0:v:0?",
    "-map",
    "0:a:0?",
    "-filter:v:0",
    // The frame marker first: it logs each decoded frame, to tie decoder errors to the exact damaged frame.
    `${FRAME_MARKER_FILTER},${ANALYSIS_FILTER}`,
    "-c:v:0",
    "rawvideo",
    "-filter:a",
    `asetnsamples=n=${AUDIO_BLOCK_SAMPLES}:p=0`,
    "-c:a",
    "pcm_f32le",
    "-ar",
    String(AUDIO_SAMPLE_RATE),
  ];
  let v = 1;
  if (opts.detail && opts.mode !== "light") {
    args.push(
      "-map",
      "0:v:0?",
      `-filter:v:${v}`,
      // Only frames whose picture may be judged for block edges (deblocked) under the policy.
      `${detailCondition === null ? selectAtRate(DETAIL_FPS) : selectAtRateWhere(DETAIL_FPS, detailCondition)},` +
        // The centre at native size, offsets on the 16-pixel macroblock grid.
        `crop=w='min(iw\\,${DETAIL_WIDTH})':h='min(ih\\,${DETAIL_HEIGHT})':` +
        `x='trunc((iw-min(iw\\,${DETAIL_WIDTH}))/32)*16':y='trunc((ih-min(ih\\,${DETAIL_HEIGHT}))/32)*16',` +
        // The Y plane as the decoder gave it (see DetailFrame), 8 bits.
        `format=${LUMA_FORMATS},extractplanes=y,format=gray`,
      `-c:v:${v}`,
      "rawvideo",
    );
    v++;
  }
  if (opts.mode === "light" && !keyframeStart) {
    // Every compressed packet, copied (no decoding): its time and size, for gaps and for the
    // cheap signs of trouble between keyframes (a frozen picture codes to near-empty frames).
    // A fed light decoder is given keyframes only: its gate reads every packet's time and size
    // in Node instead (light-video-filter.ts).
    args.push("-map", "0:v:0?", `-c:v:${v}`, "copy");
    v++;
  }
  if (opts.thumbnails) {
    args.push(
      "-map",
      "0:v:0?",
      `-filter:v:${v}`,
      // Bilinear, not the default bicubic: downscaling 1080p six times over, swscale widens
      // either filter to the ratio (no aliasing), and bilinear takes half the taps (measured,
      // light mode: 0.05 CPU-s less a minute of 1080p, BENCHMARKS.md). Evidence pictures only.
      `${selectAtRate(THUMBNAIL_FPS)},scale=${THUMBNAIL_WIDTH}:-2:flags=bilinear,format=yuvj420p`,
      `-c:v:${v}`,
      "mjpeg",
      `-q:v:${v}`,
      "5",
    );
  }
  args.push(
    "-fps_mode",
    "passthrough",
    "-filter_threads",
    "1",
    // Encoders single-threaded too: left to itself, the mjpeg encoder of the 320-wide
    // thumbnails starts a slice thread per core (4 threads on 2 cores, more on a big server),
    // each with its own stack and allocator arena: 1.7 MiB private memory per decoder here.
    "-threads",
    "1",
    // Write whole 32 KB buffers, not every packet: each write wakes Node, and a wake-up costs
    // more than the bytes (measured: 1,600 instead of 2,100 reads a minute of 1080p, about 0.1
    // CPU-s less). At 160x90 plus audio 32 KB fill in under 0.1 s of media.
    "-flush_packets",
    "0",
    // Hand packets on within 0.1 s even when one stream (thumbnails, detail) is sparse: alert latency.
    "-max_interleave_delta",
    "100000",
    "-f",
    "nut",
    "pipe:1",
  );
  return args;
}

type Role = "video" | "detail" | "thumbnail" | "audio" | "packets" | "other";

function assignRoles(streams: readonly NutStream[], opts: MediaReaderOptions): Role[] {
  let raw = 0;
  return streams.map((s) => {
    if (s.kind === "audio") return "audio";
    if (s.kind !== "video") return "other";
    if (s.fourcc === "MJPG") return "thumbnail";
    raw++;
    if (raw === 1) return "video";
    if (opts.mode === "light") return raw === 2 ? "packets" : "other";
    return raw === 2 && opts.detail ? "detail" : "other";
  });
}

export class MediaReader {
  readonly done: Promise<ReaderResult>;
  private resolveDone!: (r: ReaderResult) => void;
  private rejectDone!: (e: unknown) => void;
  private proc: FfmpegProcess | null = null;
  private feed: Feed | null = null;
  private closed = false;
  private started = false;
  private finished = false;
  private restarts = 0;
  private attempt = 0;
  private everConnected = false;
  private restartTimer: NodeJS.Timeout | null = null;
  /** Takes a queued decoder start off the queue (decoder-start-queue.ts); null when none waits. */
  private cancelStart: (() => void) | null = null;
  private waitingForSource = false;
  /** See `keyframeStarts`. */
  private keyframeStart = true;
  private sourceConnected = false;
  private sourceEnded = false;
  private watchdog: NodeJS.Timeout | null = null;
  private readonly startedAt = performance.now();
  // Timeline: media = raw - runOrigin + runBase.
  private runOrigin: number | null = null;
  private runBase = 0;
  private lastMedia = 0;
  private readonly lastByRole = new Map<Role, number>();
  private lastPacketWall = 0;
  private anyPacket = false;
  /** Keyframes and frames ffmpeg flagged corrupt, by decode PTS, waiting for their analysis frame. */
  private frameNotes: { raw: number; keyframe: boolean; messages: string[]; concealed: number }[] = [];
  private pcmScratch = new Float32Array(0);
  /** The input video's luma levels, from ffmpeg's description of it (detail frames carry them). */
  private fullRange = false;
  /** Counters for metrics and tests. */
  readonly stats = { videoFrames: 0, audioBlocks: 0, detailFrames: 0, thumbnails: 0, decoderErrors: 0 };
  /** The decode policy of this and later runs (redecode changes it). */
  private policy: DecodePolicy;
  /** A decoder stopped on purpose (redecode): the next run keeps the timeline and replays from then. */
  private switching: { timeline: Timeline; replayFrom: number } | null = null;
  private keptTimeline: Timeline | null = null;
  /** A light gate's video PES not yet reached by this run's output, oldest first (see `gatePes`). */
  private heldPes: PesInfo[] = [];

  constructor(
    readonly source: Source,
    private readonly options: MediaReaderOptions,
    private readonly handlers: MediaHandlers,
  ) {
    this.policy = options.decodePolicy ?? DEFAULT_DECODE_POLICY;
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // Nobody awaiting a failure must not crash the process; callers that care await `done`.
    this.done.catch(() => undefined);
  }

  /** Seconds since the reader started: the clock for events that have no media time. */
  private now(): number {
    return (performance.now() - this.startedAt) / 1000;
  }

  /** Media time now: the last media time plus the wall time since, so outages extend the timeline. */
  mediaNow(): number {
    if (!this.anyPacket) return 0;
    return this.lastMedia + (performance.now() - this.lastPacketWall) / 1000;
  }

  /**
   * Fed decoders start at a keyframe with a short analysis (keyframe-gate.ts); false once a
   * run found no keyframe in time: later runs then start where they join, with the source's
   * own analysis.
   */
  get keyframeStarts(): boolean {
    return this.keyframeStart;
  }

  /** How raw timestamps map to media time now (`media = raw - origin + base`); null before the first packet. */
  timelineNow(): Timeline | null {
    return this.runOrigin === null ? null : { origin: this.runOrigin, base: this.runBase };
  }

  get running(): boolean {
    return this.proc !== null;
  }

  /** The decode policy the decoder runs under now. */
  get decodePolicy(): DecodePolicy {
    return this.policy;
  }

  /**
   * A feeding source only: stops the running decoder and starts one under `policy` at once,
   * on the same media timeline (the same transport stream, `-copyts`: the same timestamps),
   * fed first the bytes that arrived since `replayFrom` (performance.now() time; the source
   * must keep them, replay-source.ts) and then the live ones. Frames, audio and events from
   * the replayed part come again: the caller drops what it has already had
   * (replay-filter.ts). False when there is no running decoder to change.
   */
  redecode(policy: DecodePolicy, replayFrom: number): boolean {
    if (!this.source.feed || !this.proc || this.closed || this.finished || this.runOrigin === null)
      return false;
    this.policy = policy;
    this.switching = { timeline: { origin: this.runOrigin, base: this.runBase }, replayFrom };
    this.cancelStart?.();
    this.cancelStart = null;
    this.proc.kill("SIGKILL");
    return true;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    locateFfmpeg(this.options.ffmpegPath);
    void this.openAndRun();
  }

  private async openAndRun(): Promise<void> {
    try {
      await this.source.open?.({ emit: (e) => this.sourceEvent(e), now: () => this.mediaNow() });
    } catch (err) {
      this.fail(err);
      return;
    }
    if (!this.source.feed) this.requestRun();
    // A feeding source starts the decoder when its bytes arrive (its `connected` event).
  }

  /**
   * Events of a source that feeds stdin: when its bytes stop, the decoder is stopped (ffmpeg
   * would otherwise smooth the restarted sender's timestamps into a continuous timeline);
   * when they come back, a fresh decoder starts and the outage stays a gap in media time.
   */
  private sourceEvent(event: StreamEvent): void {
    this.emit(event);
    if (this.closed || this.finished) return;
    if (event.kind === "lost") {
      if (event.fatal || (this.options.failFast && !this.sourceConnected)) {
        this.fail(
          new StreamqcError("SQM_ERR_INPUT_UNREADABLE", `cannot read ${this.source.url}: ${event.reason}`),
        );
        return;
      }
      this.waitingForSource = true;
      this.cancelStart?.();
      this.cancelStart = null;
      this.proc?.kill("SIGKILL");
    } else if (event.kind === "connected") {
      this.sourceConnected = true;
      this.waitingForSource = false;
      if (!this.proc && !this.restartTimer) this.requestRun();
    } else if (event.kind === "ended") {
      // The source wrote its last bytes (an HLS playlist with EXT-X-ENDLIST): the decoder's end is the end.
      this.sourceEnded = true;
    }
  }

  private emit(event: StreamEvent): void {
    this.safe(() => this.handlers.event?.(event));
  }

  private safe(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (this.handlers.handlerError) this.handlers.handlerError(err);
      else console.error(`streamqc: a handler failed: ${errorMessage(err)}`);
    }
  }

  /**
   * Starts the decoder on a later turn of the event loop (decoder-start-queue.ts): never
   * inside the UDP drain tick or another source's callback, where many channels starting at
   * once blocked every socket for seconds.
   */
  private requestRun(): void {
    if (this.cancelStart || this.closed || this.finished) return;
    this.cancelStart = queueDecoderStart(() => {
      this.cancelStart = null;
      if (this.proc) return;
      try {
        this.run();
      } catch (err) {
        this.fail(err);
      }
    });
  }

  private run(): void {
    if (this.closed || this.finished) return;
    const opts = this.options;
    let roles: Role[] = [];
    let streams: readonly NutStream[] = [];
    let formatSent = false;
    let inputVideo: { width: number; height: number; fps: number } | null = null;
    let inputAudio: { sampleRate: number; channels: number } | null = null;
    let inputDuration: number | undefined;
    let keyframeSeen = false;
    let corruptNext: { messages: string[]; concealed: number } | null = null;
    let framesBeforeKey = 0;
    let pending = { messages: [] as string[], concealed: 0, age: 0 };
    this.frameNotes = [];
    const demuxer = new NutDemuxer({
      onStreams: (s) => {
        streams = s;
        roles = assignRoles(s, opts);
      },
      onPacket: (p) => this.packet(p, streams, roles),
    });
    const stallMs = opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    this.runOrigin = null;
    this.lastByRole.clear();
    const switching = this.switching;
    this.switching = null;
    this.keptTimeline = switching?.timeline ?? null;
    let demuxFailed = false;
    let versionChecked = knownFfmpeg(opts.ffmpegPath) !== undefined;
    // A fed decoder starts at a keyframe (keyframe-gate.ts), unless one already waited in vain.
    // Light decoders also get their H.264 and HEVC parameter sets without a reorder delay
    // (h264-reorder.ts).
    this.heldPes = [];
    const gate =
      this.source.feed && this.keyframeStart
        ? new KeyframeGate({ light: opts.mode === "light", onVideoPes: (pes) => this.gatePes(pes) })
        : null;
    const proc = new FfmpegProcess({
      ffmpegPath: opts.ffmpegPath,
      args: decoderArgs(this.source, { ...opts, decodePolicy: this.policy }, !versionChecked, gate !== null),
      stdin: this.source.feed !== undefined,
      onStdout: (chunk) => {
        if (demuxFailed) return;
        try {
          demuxer.push(chunk);
        } catch (err) {
          demuxFailed = true;
          this.emit({
            kind: "decoder-error",
            at: this.mediaNow(),
            message: `bad decoder output: ${errorMessage(err)}`,
          });
          proc.kill();
        }
      },
      onStderrLine: (line) => {
        if (!versionChecked) {
          const verdict = checkFfmpegBanner(opts.ffmpegPath, line);
          if (verdict !== null) {
            versionChecked = true;
            if (verdict !== "ok") {
              this.fail(verdict);
              proc.kill("SIGKILL");
              return;
            }
          }
        }
        const marker = FRAME_MARKER.exec(line);
        if (marker) {
          const value = Number(marker[1]);
          const keyframe = value >= KEYFRAME_FLAG / 2;
          // A frame without a timestamp (NaN) cannot be tied: its notes go on untied.
          const raw = Number.isFinite(value) ? (keyframe ? value - KEYFRAME_FLAG : value) : null;
          if (raw !== null) {
            // A damaged keyframe's report goes first: a keyframe decoded with concealment does
            // not rebuild the picture, so it must not end the damage (issue 10: an MPEG-2
            // channel with scattered loss was split in two at each corrupt I-frame).
            if (corruptNext) {
              this.frameNotes.push({ raw, keyframe: false, ...corruptNext });
              corruptNext = null;
            }
            if (keyframe) {
              this.frameNotes.push({ raw, keyframe: true, messages: [], concealed: 0 });
            }
          } else if (corruptNext) {
            this.emitDecoderError(corruptNext.messages, corruptNext.concealed, this.mediaNow(), false);
            corruptNext = null;
          }
          // Streams without IDR frames (intra refresh) never say keyframe: give up waiting after ~10 s.
          if ((keyframe || ++framesBeforeKey > 250) && !keyframeSeen) {
            // Joining a stream mid-GOP gives broken frames until the first keyframe: not damage.
            keyframeSeen = true;
            pending = { messages: [], concealed: 0, age: 0 };
          }
          if (pending.messages.length > 0 && ++pending.age > UNTIED_AFTER_FRAMES) {
            this.emitDecoderError(pending.messages, pending.concealed, this.mediaNow(), false);
            pending = { messages: [], concealed: 0, age: 0 };
          }
          return;
        }
        this.safe(() => this.handlers.log?.(line));
        if (!keyframeSeen && (CORRUPT_FRAME.test(line) || CONCEALING.test(line) || DECODER_ERROR.test(line)))
          return;
        if (CORRUPT_FRAME.test(line)) {
          // ffmpeg warns of a corrupt frame just before its marker line: tie it to the next one.
          corruptNext = { messages: pending.messages, concealed: pending.concealed };
          pending = { messages: [], concealed: 0, age: 0 };
          return;
        }
        if (!formatSent) {
          const mv = INPUT_VIDEO.exec(line);
          if (mv) {
            inputVideo = { width: Number(mv[1]), height: Number(mv[2]), fps: Number(mv[3]) };
            this.fullRange = FULL_RANGE.test(line);
          }
          const md = DURATION.exec(line);
          if (md) inputDuration = Number(md[1]) * 3600 + Number(md[2]) * 60 + Number(md[3]);
          const ma = INPUT_AUDIO.exec(line);
          if (ma) inputAudio = { sampleRate: Number(ma[1]), channels: channelCount(ma[2] ?? "") };
          if (line.includes("Stream mapping:") || line.includes("Output #0")) {
            formatSent = true;
            this.emit({
              kind: "format",
              at: this.mediaNow(),
              video: inputVideo,
              audio: inputAudio,
              ...(inputDuration !== undefined ? { duration: inputDuration } : {}),
            });
          }
        }
        const conceal = CONCEALING.exec(line);
        if (conceal || DECODER_ERROR.test(line)) {
          // Held until ffmpeg says which frame came out damaged (or a few frames pass).
          pending.messages.push(line.replace(/^\[[^\]]*\] \[[a-z]+\] /, ""));
          if (conceal) pending.concealed += Number(conceal[1]);
        }
      },
    });
    this.proc = proc;
    if (this.source.feed && proc.stdin) {
      this.feed = this.source.feed({
        stdin: gate ? gatedInput(proc.stdin, gate, () => (this.keyframeStart = false)) : proc.stdin,
        ...(switching ? { replayFrom: switching.replayFrom } : {}),
      });
    }
    this.watchdog = setInterval(
      () => {
        // A decoder whose gate still waits for a keyframe has been given nothing yet: not stalled
        // (the gate gives up on its own, KEYFRAME_WAIT_MS). A long GOP joined just after its
        // keyframe otherwise met the watchdog first, and every restart joined mid-GOP again.
        const idle = (this.source as { idle?: boolean }).idle === true || (gate !== null && !gate.opened);
        if (idle) proc.lastOutputAt = performance.now();
        if (performance.now() - proc.lastOutputAt > stallMs) {
          this.emit({
            kind: "decoder-error",
            at: this.mediaNow(),
            message: `decoder made no progress for ${stallMs / 1000} s; restarting it`,
          });
          proc.kill("SIGKILL");
        }
      },
      Math.min(1000, stallMs / 4),
    );
    this.watchdog.unref();
    void proc.exited.then((exit) => this.exited(proc, exit));
  }

  /**
   * A compressed video packet's time and size (the decoder's copy, or a light gate's PES read
   * in Node): reported, never moving the timeline. Packets without a timestamp (pre-roll, some
   * MP4 edits) come out with nonsense ones: skipped.
   */
  private videoPacket(raw: number, size: number, keyframe: boolean): void {
    if (this.runOrigin === null || this.finished) return;
    const at = raw - this.runOrigin + this.runBase;
    if (!(Math.abs(at - this.lastMedia) < 30)) return;
    const info: VideoPacket = { pts: at, size, keyframe };
    this.safe(() => this.handlers.packet?.(info));
  }

  /**
   * A light gate's video PES, read in Node as the bytes go to the decoder: held until the
   * decoder's output reaches its time, as the decoder's copy of each packet did. The gate reads
   * a fast-fed input (an HLS segment written at once, a replay) far ahead of what the decoder has
   * decoded, and video times a segment ahead of the sound made the gap detector see the sound
   * missing. Before the run's first output there is no timeline to place them on at all.
   */
  private gatePes(pes: PesInfo): void {
    this.heldPes.push(pes);
    if (this.heldPes.length > MAX_HELD_PES) {
      const oldest = this.heldPes.shift()!;
      this.videoPacket(oldest.pts, oldest.size, oldest.keyframe);
    }
    this.releasePes();
  }

  /** Hands on the held PES the decoder's output has reached (all of them with `all`). */
  private releasePes(all = false): void {
    if (this.runOrigin === null || this.heldPes.length === 0) return;
    const upTo = this.lastMedia + PES_LEAD_SECONDS + this.runOrigin - this.runBase;
    let n = 0;
    while (n < this.heldPes.length && (all || this.heldPes[n]!.pts <= upTo)) n++;
    if (n === 0) return;
    for (const pes of this.heldPes.splice(0, n)) this.videoPacket(pes.pts, pes.size, pes.keyframe);
  }

  private packet(p: NutPacket, streams: readonly NutStream[], roles: Role[]): void {
    if (this.finished) return;
    const st = streams[p.stream];
    const role = roles[p.stream];
    if (!st || !role || role === "other") return;
    const raw = (p.pts * st.timeBase.num) / st.timeBase.den;
    if (role === "packets") {
      this.videoPacket(raw, p.data.byteLength, p.key);
      return;
    }
    if (this.runOrigin === null) {
      this.runOrigin = raw;
      const fixed = this.keptTimeline ?? (this.anyPacket ? undefined : this.options.timeline);
      this.keptTimeline = null;
      if (fixed) {
        this.runOrigin = fixed.origin;
        this.runBase = fixed.base;
      } else if (this.anyPacket) {
        // A new decoder run after an outage: continue the timeline by the wall time that passed.
        this.runBase = this.lastMedia + (performance.now() - this.lastPacketWall) / 1000;
      }
      if (!this.everConnected || this.restarts > 0) {
        if (!this.source.feed) this.emit({ kind: "connected", at: this.runBase, url: this.source.url });
      }
      this.everConnected = true;
      this.attempt = 0;
    }
    let media = raw - this.runOrigin + this.runBase;
    // Judged per stream: audio and video interleave loosely, so one may run ahead of the other.
    const lastOfRole = this.lastByRole.get(role);
    if (lastOfRole !== undefined && media < lastOfRole - 1) {
      // Timestamps went backwards (the sender restarted, a discontinuity or a wrap ffmpeg passed
      // on): rebase after the last media time by the wall time that passed, so an outage stays a gap.
      this.runOrigin = raw;
      this.runBase = this.lastMedia + Math.max(0.04, (performance.now() - this.lastPacketWall) / 1000);
      media = this.runBase;
    }
    this.lastByRole.set(role, media);
    if (role === "video" || role === "audio") {
      if (media > this.lastMedia || !this.anyPacket) this.lastMedia = media;
      this.lastPacketWall = performance.now();
      this.anyPacket = true;
    }
    this.releasePes();
    switch (role) {
      case "video": {
        while (this.frameNotes.length > 0 && this.frameNotes[0]!.raw <= raw + 0.002) {
          const note = this.frameNotes.shift()!;
          if (note.keyframe) this.emit({ kind: "keyframe", at: media });
          else this.emitDecoderError(note.messages, note.concealed, media, true);
        }
        this.stats.videoFrames++;
        const frame: VideoFrame = { pts: media, width: st.width ?? 0, height: st.height ?? 0, luma: p.data };
        this.safe(() => this.handlers.video?.(frame));
        break;
      }
      case "detail": {
        this.stats.detailFrames++;
        const frame: DetailFrame = {
          pts: media,
          width: st.width ?? 0,
          height: st.height ?? 0,
          luma: p.data,
          detail: true,
          pixelScale: 1,
          fullRange: this.fullRange,
        };
        this.safe(() => this.handlers.detail?.(frame));
        break;
      }
      case "thumbnail": {
        this.stats.thumbnails++;
        // Kept for evidence: a copy, since the packet's bytes are reused after this call.
        const thumb: Thumbnail = { pts: media, jpeg: new Uint8Array(p.data) };
        this.safe(() => this.handlers.thumbnail?.(thumb));
        break;
      }
      case "audio": {
        this.stats.audioBlocks++;
        const channels = st.channels ?? 1;
        const samples = this.floatView(p.data);
        const block: AudioBlock = {
          pts: media,
          sampleRate: st.sampleRate ?? AUDIO_SAMPLE_RATE,
          channels,
          frames: Math.floor(samples.length / channels),
          samples,
        };
        this.safe(() => this.handlers.audio?.(block));
        break;
      }
    }
    const limit = this.options.duration;
    if (limit !== undefined && media >= limit && (role === "video" || role === "audio")) {
      this.finish("duration");
    }
  }

  /**
   * The packet's PCM as floats: a view when it starts on a 4-byte boundary, else a copy into a
   * scratch buffer reused for every block (like the packet, valid only during the handlers).
   */
  private floatView(data: Uint8Array): Float32Array {
    const n = data.byteLength >> 2;
    if ((data.byteOffset & 3) === 0) return new Float32Array(data.buffer, data.byteOffset, n);
    if (this.pcmScratch.length < n) this.pcmScratch = new Float32Array(n);
    const out = this.pcmScratch.subarray(0, n);
    new Uint8Array(out.buffer, 0, n * 4).set(data.subarray(0, n * 4));
    return out;
  }

  private emitDecoderError(messages: readonly string[], concealed: number, at: number, frame: boolean): void {
    this.stats.decoderErrors++;
    const message = messages.length > 0 ? messages.slice(-3).join("; ") : "corrupt decoded frame";
    this.emit({
      kind: "decoder-error",
      at,
      message,
      frame,
      ...(concealed > 0 ? { concealed } : {}),
    });
  }

  private exited(proc: FfmpegProcess, exit: FfmpegExit): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    this.feed?.stop();
    this.feed = null;
    if (this.proc === proc) {
      this.proc = null;
      // The run's output is all out: so are the packets it was given.
      this.releasePes(true);
    }
    if (this.closed || this.finished) return;
    if (this.switching) {
      // Stopped on purpose (redecode): the next decoder starts at once, nothing was lost;
      // unless the source went away meanwhile, when its return starts one as after any outage.
      if (this.waitingForSource) this.switching = null;
      else this.requestRun();
      return;
    }
    const reason = describeFailure(exit);
    if (!this.source.live) {
      if (exit.beforeOutput) {
        this.fail(new StreamqcError("SQM_ERR_INPUT_UNREADABLE", `cannot read ${this.source.url}: ${reason}`));
        return;
      }
      if (exit.code !== 0) {
        this.emit({ kind: "decoder-error", at: this.mediaNow(), message: `decoder stopped: ${reason}` });
      }
      this.finish("ended");
      return;
    }
    if (!this.everConnected && this.options.failFast) {
      this.fail(new StreamqcError("SQM_ERR_INPUT_UNREADABLE", `cannot read ${this.source.url}: ${reason}`));
      return;
    }
    if (this.sourceEnded) {
      this.finish("ended");
      return;
    }
    if (this.source.feed && this.waitingForSource) return;
    const why = exit.code === 0 && !exit.requested ? "the source ended" : reason;
    this.emit({ kind: "lost", at: this.mediaNow(), reason: why, fatal: false });
    const base = this.options.backoff ?? DEFAULT_BACKOFF;
    const ceiling = Math.min(base.maxMs, base.initialMs * 2 ** this.attempt);
    // Equal jitter: at least half the ceiling, so retries neither stampede nor spin.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt++;
    this.restarts++;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.requestRun();
    }, delay);
  }

  private finish(reason: ReaderResult["reason"]): void {
    if (this.finished) return;
    this.finished = true;
    const proc = this.proc;
    if (reason === "ended") this.emit({ kind: "ended", at: this.lastMedia });
    void this.teardown().then(() => {
      this.resolveDone({ mediaEnd: this.lastMedia, restarts: this.restarts, reason });
    });
    if (proc) void proc.close();
  }

  private fail(err: unknown): void {
    if (this.finished) return;
    this.finished = true;
    void this.teardown().then(() => this.rejectDone(err));
  }

  private async teardown(): Promise<void> {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.cancelStart?.();
    this.cancelStart = null;
    if (this.watchdog) clearInterval(this.watchdog);
    this.feed?.stop();
    const proc = this.proc;
    if (proc) await proc.close();
    await this.source.close?.();
  }

  /** Stops decoding; resolves once ffmpeg has exited. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) {
      await this.done.catch(() => undefined);
      return;
    }
    this.closed = true;
    if (!this.finished) {
      this.finished = true;
      await this.teardown();
      this.resolveDone({ mediaEnd: this.lastMedia, restarts: this.restarts, reason: "closed" });
    }
    await this.done.catch(() => undefined);
  }
}

function channelCount(layout: string): number {
  const l = layout.trim();
  if (l === "mono") return 1;
  if (l === "stereo") return 2;
  const m = /^(\d+)\.(\d+)/.exec(l);
  if (m) return Number(m[1]) + Number(m[2]);
  const n = /^(\d+) channels/.exec(l);
  return n ? Number(n[1]) : 0;
}
