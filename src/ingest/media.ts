/**
 * What ingest hands to every detector: timestamped frames, audio blocks and stream events.
 * Times are seconds of media time from the stream's first timestamp (zero), as the source
 * itself timed them: a stretch with no frames is a gap in `pts`, never duplicated frames.
 */

/** Analysis frames: grayscale luma scaled down in FFmpeg (see ANALYSIS_WIDTH/HEIGHT). */
export interface VideoFrame {
  readonly pts: number;
  readonly width: number;
  readonly height: number;
  /**
   * Row-major 8-bit luma, `width * height` bytes, full range as FFmpeg's `gray` gives it.
   * Valid only while the handler runs: the reader reuses its buffers, so copy what you keep.
   */
  readonly luma: Uint8Array;
}

/**
 * Detail frames: the centre of the picture at its native resolution (no scaling, so the
 * codec's block grid is exact and the decoder does no extra scaling work), at a reduced rate,
 * for detectors that need detail (block edges). The crop is aligned to the 16-pixel grid.
 * Under the `fast` decode policy only I and P frames, which are deblocked, become detail frames.
 * Unlike analysis frames, their luma is the decoder's own Y plane, not stretched to full range
 * (that conversion cost ffmpeg more than the crop): 16-235 for limited-range video, the
 * broadcast norm and what untagged video is taken to be; 0-255 when `fullRange`.
 */
export interface DetailFrame extends VideoFrame {
  readonly detail: true;
  /** Detail pixels per source pixel: 1 for the native crop. */
  readonly pixelScale: number;
  /** The source is tagged full range (JPEG levels); otherwise its luma spans 16-235. */
  readonly fullRange: boolean;
}

/** A colour JPEG of the picture at a reduced rate, from the same decoder, for evidence. */
export interface Thumbnail {
  readonly pts: number;
  readonly jpeg: Uint8Array;
}

/** Interleaved float PCM in [-1, 1]. */
export interface AudioBlock {
  readonly pts: number;
  readonly sampleRate: number;
  readonly channels: number;
  /** Sample frames in this block (samples.length / channels). */
  readonly frames: number;
  /** Valid only while the handler runs, like a frame's luma: copy what you keep. */
  readonly samples: Float32Array;
}

/**
 * The analysis frame: 160x90 gray, every frame. Each pixel averages 4x4 samples of a 12x12
 * source cell at 1080p; the detectors average blocks of pixels on top. Small enough that the
 * pipe, the demuxer and the detectors' pixel loops stay a small part of the decode's cost.
 */
export const ANALYSIS_WIDTH = 160;
export const ANALYSIS_HEIGHT = 90;
/**
 * The pixel formats whose luma the scaler reads as is: 8-bit planar YUV and gray, what H.264
 * and MPEG-2 decode to. Anything else (RGB, 10-bit) is first converted to one of them at full
 * size by the scaler ffmpeg inserts: correct, and costlier than for 8-bit sources.
 * (Listing 10-bit formats too leaves ffmpeg unable to choose one for an RGB source.)
 */
export const LUMA_FORMATS = "yuv420p|yuvj420p|yuv422p|yuvj422p|yuv444p|yuvj444p|gray";
/**
 * How ffmpeg makes analysis frames. The luma plane alone (the first scaler writes gray),
 * `fast_bilinear` to 320x180, which reads only the source rows and columns next to each
 * output sample (about a tenth of what `area` over every source pixel
 * costs: +10 % of the decode's instructions for `area` at 1080p), then a 2x2 `area` average to
 * 160x90, where the range is stretched to full (0-255). The decoder takes untagged video as
 * limited range (`-color_range tv` in decoderArgs), as the old `format=gray` conversion did:
 * the frames are bit-identical to it (checked on limited- and full-range sources), and the
 * chain costs 2.3 % of the decode's instructions less than that one did (callgrind, video
 * only, 4 s of the bench clip; the whole decoder command: 0.9 % less).
 * The scaler reads the luma in place: an `extractplanes=y` before it copied every frame's
 * luma first, a 2 MiB frame pool per 1080p decoder for the same output (framemd5-identical on
 * 4:2:0, 4:2:2, 4:4:4, full-range, 10-bit and RGB sources; BENCHMARKS.md "light decoder's memory").
 */
export const ANALYSIS_FILTER =
  `format=${LUMA_FORMATS},scale=320:180:flags=fast_bilinear,format=gray,` +
  `scale=${ANALYSIS_WIDTH}:${ANALYSIS_HEIGHT}:flags=area:out_range=full,format=gray`;
/** Detail frames: at most this much of the picture's centre, at native resolution. */
export const DETAIL_WIDTH = 960;
export const DETAIL_HEIGHT = 540;
export const DETAIL_FPS = 2;
export const THUMBNAIL_WIDTH = 320;
export const THUMBNAIL_FPS = 1;
export const AUDIO_SAMPLE_RATE = 48_000;
/**
 * Audio reaches Node in blocks of this many samples (85 ms at 48 kHz) instead of the codec's
 * frames (AAC: 1024): a quarter of the packets, pipe reads and detector calls. ffmpeg's
 * `asetnsamples` joins consecutive frames; a gap inside one block is closed up (its later
 * samples sit up to one block early), and the next block starts at its true time again.
 */
export const AUDIO_BLOCK_SAMPLES = 4096;

/** One variant of an HLS master playlist, as the monitor saw it. */
export interface HlsVariantInfo {
  readonly uri: string;
  readonly bandwidth: number;
  readonly resolution: string | null;
  readonly codecs: string | null;
  readonly frameRate: number | null;
  readonly name: string | null;
  /** The variant this monitor follows. */
  readonly chosen: boolean;
}

/**
 * What an HLS monitor shows of the playlist it follows (RFC 8216 terms), refreshed at every
 * playlist load. Wall-clock times are ISO 8601, so a reader computes ages against its own clock.
 */
export interface HlsPlaylistState {
  /** The media playlist followed (the chosen variant's, under a master playlist). */
  readonly url: string;
  /** The master playlist's variants; empty when the URL is a media playlist. */
  readonly variants: readonly HlsVariantInfo[];
  readonly version: number | null;
  readonly targetDuration: number | null;
  readonly mediaSequence: number | null;
  readonly discontinuitySequence: number | null;
  readonly playlistType: "EVENT" | "VOD" | null;
  readonly endList: boolean;
  /** Segments listed in the latest load, and the seconds they cover. */
  readonly segments: number;
  readonly windowSeconds: number;
  /** Playlist loads so far, and when the last one succeeded and last changed the playlist. */
  readonly loads: number;
  readonly lastLoadAt: string | null;
  readonly lastChangeAt: string | null;
  /** The latest segment handed to the decoder. */
  readonly lastSegment: {
    readonly sequence: number;
    readonly duration: number;
    readonly downloadSeconds: number;
    readonly at: string;
  } | null;
  /** Segments delivered so far, and how many of them started a discontinuity (EXT-X-DISCONTINUITY). */
  readonly segmentsDelivered: number;
  readonly discontinuities: number;
  /** The latest playlist or segment error (HTTP, parse, fault), if any. */
  readonly lastError: { readonly at: string; readonly message: string } | null;
}

/**
 * Stream events are faults and facts as data (STYLE.md, "Faults are data"): the monitor
 * routes them to recovery and to detectors that report on stream health.
 */
export type StreamEvent =
  | { readonly kind: "connected"; readonly at: number; readonly url: string }
  | { readonly kind: "lost"; readonly at: number; readonly reason: string; readonly fatal: boolean }
  | { readonly kind: "ended"; readonly at: number }
  | {
      readonly kind: "format";
      readonly at: number;
      readonly video: { readonly width: number; readonly height: number; readonly fps: number } | null;
      readonly audio: { readonly sampleRate: number; readonly channels: number } | null;
      /** Seconds, when the input declares it (files). */
      readonly duration?: number;
    }
  | {
      readonly kind: "decoder-error";
      readonly at: number;
      /** The decoder's own words, e.g. "concealing 120 DC, 120 AC, 120 MV errors in P frame". */
      readonly message: string;
      /** Macroblocks concealed, when the decoder says. */
      readonly concealed?: number;
      /**
       * True when `at` is the exact time of the damaged frame (ffmpeg flagged that decoded
       * frame corrupt); otherwise `at` is the reader's media time when the report arrived.
       */
      readonly frame?: boolean;
    }
  | {
      /** The decoder produced a keyframe (IDR): the picture is rebuilt from scratch here. */
      readonly kind: "keyframe";
      readonly at: number;
    }
  | {
      /** An HLS playlist was loaded (or failed to be): the playlist state as it is now. */
      readonly kind: "playlist";
      readonly at: number;
      readonly playlist: HlsPlaylistState;
    }
  | {
      readonly kind: "fault";
      readonly at: number;
      /** A dotted incident type such as `hls.stale-playlist` or `ts.continuity`. */
      readonly type: string;
      readonly message: string;
      readonly details?: Readonly<Record<string, unknown>>;
    };
