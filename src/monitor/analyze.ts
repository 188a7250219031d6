/**
 * analyze: one input, every detector, to the end (or for a duration), incidents out.
 * The library behind `streamqc analyze`, also used by the tests and `eval`.
 */
import { ffmpegPathFrom } from "../config/config.js";
import { resolveProfile, type ProfileInput } from "../config/profile.js";
import {
  AUTO_DECODE_POLICY,
  resolveDecodePolicy,
  type DecodeChoice,
  type DecodePolicy,
} from "../ingest/decode-policy.js";
import { MediaReader, type DecodeMode, type MediaReaderOptions } from "../ingest/media-reader.js";
import type { StreamEvent, VideoFrame } from "../ingest/media.js";
import { openSource } from "../ingest/open-source.js";
import type { Incident } from "../incident.js";
import { LightSession, type PromotionChange } from "./light-session.js";
import { PromotionLimiter } from "./promotion-limiter.js";
import { StreamMonitor, type IncidentEvent } from "./stream-monitor.js";
import { EveryFrameUpgrade } from "./every-frame-upgrade.js";
import { LiveEveryFrameUpgrade } from "./live-every-frame-upgrade.js";

export type { DecodeChoice };

export interface AnalyzeOptions {
  /** Seconds of media to analyze (live inputs); files are read to the end by default. */
  readonly duration?: number;
  /** The stream name put in incidents; default: the input's base name. */
  readonly stream?: string;
  /** Per-detector option overrides, as in a profile's `detectors`. */
  readonly detectors?: Record<string, unknown>;
  readonly profile?: ProfileInput;
  readonly ffmpegPath?: string;
  /** Decoder threads; default 0 (ffmpeg decides). */
  readonly threads?: number;
  readonly onIncident?: (event: IncidentEvent) => void;
  readonly onEvent?: (event: StreamEvent) => void;
  /** Progress: media seconds decoded so far. */
  readonly onProgress?: (mediaSeconds: number) => void;
  readonly signal?: AbortSignal;
  /** `light`: keyframes only, promoted to full decoding on a sign of trouble (light-session.ts). Default `full`. */
  readonly mode?: DecodeMode;
  /** Light mode: promotions of this process at once (default 1 for one input). */
  readonly limiter?: PromotionLimiter;
  readonly onPromotion?: (change: PromotionChange) => void;
  /** Light mode: false never promotes (keyframe timing only). Default true. */
  readonly promote?: boolean;
  /**
   * Which decoder work full decoding may skip (decode-policy.ts). Default `auto`: reference
   * frames only unless a detector of the profile needs every frame.
   */
  readonly decodePolicy?: DecodeChoice;
}

export interface AnalyzeResult {
  readonly incidents: Incident[];
  readonly mediaDuration: number;
  readonly detectorCpuMs: Record<string, number>;
  /**
   * Full mode: how the video was decoded. `everyFrameFrom`: a file under `auto` decoded
   * reference frames, then every frame from that media time on (null: reference frames only).
   */
  readonly decoding?: {
    readonly policy: DecodePolicy | "refs-then-fast";
    readonly everyFrameFrom?: number | null;
  };
  /** Light mode: how many promotions ran and how much media they decoded in full. */
  readonly promotions?: {
    readonly count: number;
    readonly fullSeconds: number;
    readonly unconfirmed: number;
  };
}

export function streamNameOf(input: string): string {
  const cleaned = input.replace(/[?#].*$/, "").replace(/\/+$/, "");
  return cleaned.split("/").pop() || input;
}

export async function analyzeInput(input: string, options: AnalyzeOptions = {}): Promise<AnalyzeResult> {
  const profileInput: ProfileInput = {
    ...(options.profile ?? {}),
    detectors: {
      ...(options.profile?.detectors ?? {}),
      ...((options.detectors ?? {}) as ProfileInput["detectors"]),
    },
  };
  const profile = resolveProfile(profileInput);
  const needsDetail = profile.detectors.some((d) => d.definition.needs.detail);
  const source = openSource(input);
  const incidents: Incident[] = [];
  const monitor = new StreamMonitor({
    stream: options.stream ?? streamNameOf(input),
    profile,
    onIncident: (e) => {
      if (e.phase === "close") incidents.push(e.incident);
      options.onIncident?.(e);
    },
  });
  const readerOptions: MediaReaderOptions = {
    ffmpegPath: options.ffmpegPath ?? ffmpegPathFrom({}),
    detail: needsDetail,
    thumbnails: false,
    threads: options.threads ?? 0,
    failFast: true,
    ...(options.duration !== undefined ? { duration: options.duration } : {}),
  };
  if (options.mode === "light") {
    // Promotions decode every frame (full timing is their point) unless a policy was chosen.
    const chosen = options.decodePolicy;
    const light = chosen && chosen !== "auto" ? { ...readerOptions, decodePolicy: chosen } : readerOptions;
    return analyzeLight(input, source, profile, light, options);
  }
  const policy = resolveDecodePolicy(options.decodePolicy, profile.detectors);
  let lastProgress = 0;
  const progress = (f: VideoFrame): void => {
    if (options.onProgress && f.pts - lastProgress >= 1) {
      lastProgress = f.pts;
      options.onProgress(f.pts);
    }
  };
  // `auto` with a detector that needs every frame: reference frames until that detector asks
  // for every frame; a file is then read again (every-frame-upgrade.ts), a live input streamqc
  // feeds restarts its decoder on the bytes it kept (live-every-frame-upgrade.ts); a live input
  // ffmpeg reads itself decodes every frame.
  const upgrading = (options.decodePolicy ?? "auto") === "auto" && policy !== AUTO_DECODE_POLICY;
  const handlers = { video: progress, ...(options.onEvent ? { event: options.onEvent } : {}) };
  const reader =
    upgrading && EveryFrameUpgrade.applies(source)
      ? new EveryFrameUpgrade(source, readerOptions, monitor, handlers)
      : upgrading && LiveEveryFrameUpgrade.applies(source)
        ? new LiveEveryFrameUpgrade(source, readerOptions, monitor, handlers)
        : new MediaReader(
            source,
            { ...readerOptions, decodePolicy: policy },
            {
              video: (f) => {
                monitor.video(f);
                progress(f);
              },
              detail: (f) => monitor.detail(f),
              audio: (b) => monitor.audio(b),
              event: (e) => {
                monitor.event(e);
                options.onEvent?.(e);
              },
            },
          );
  const abort = (): void => void reader.close();
  options.signal?.addEventListener("abort", abort, { once: true });
  let wallLimit: NodeJS.Timeout | undefined;
  if (options.duration !== undefined && source.live) {
    // A live source that never delivers must not hang analyze: stop at duration + grace in wall time.
    wallLimit = setTimeout(abort, (options.duration + 15) * 1000);
  }
  try {
    reader.start();
    const result = await reader.done;
    monitor.flush(result.mediaEnd);
    incidents.sort((a, b) => a.start - b.start || a.type.localeCompare(b.type));
    return {
      incidents,
      mediaDuration: result.mediaEnd,
      detectorCpuMs: monitor.detectorCost(),
      decoding:
        reader instanceof EveryFrameUpgrade || reader instanceof LiveEveryFrameUpgrade
          ? decodingOf(reader)
          : { policy },
    };
  } finally {
    if (wallLimit) clearTimeout(wallLimit);
    options.signal?.removeEventListener("abort", abort);
    await reader.close();
  }
}

async function analyzeLight(
  input: string,
  source: ReturnType<typeof openSource>,
  profile: ReturnType<typeof resolveProfile>,
  readerOptions: MediaReaderOptions,
  options: AnalyzeOptions,
): Promise<AnalyzeResult> {
  const incidents: Incident[] = [];
  let lastProgress = 0;
  const session = new LightSession({
    stream: options.stream ?? streamNameOf(input),
    source,
    profile,
    reader: readerOptions,
    limiter: options.limiter ?? new PromotionLimiter(1),
    ...(options.promote === false ? { promote: false } : {}),
    onIncident: (e) => {
      if (e.phase === "close") incidents.push(e.incident);
      options.onIncident?.(e);
    },
    ...(options.onPromotion ? { onPromotion: options.onPromotion } : {}),
    handlers: {
      video: (f) => {
        if (options.onProgress && f.pts - lastProgress >= 1) {
          lastProgress = f.pts;
          options.onProgress(f.pts);
        }
      },
      ...(options.onEvent ? { event: options.onEvent } : {}),
    },
  });
  const abort = (): void => void session.close();
  options.signal?.addEventListener("abort", abort, { once: true });
  let wallLimit: NodeJS.Timeout | undefined;
  if (options.duration !== undefined && source.live) {
    wallLimit = setTimeout(abort, (options.duration + 15) * 1000);
  }
  try {
    session.start();
    const result = await session.done;
    incidents.sort((a, b) => a.start - b.start || a.type.localeCompare(b.type));
    const st = session.state();
    return {
      incidents,
      mediaDuration: result.mediaEnd,
      detectorCpuMs: session.detectorCost(),
      promotions: { count: st.promotions, fullSeconds: st.fullSeconds, unconfirmed: st.unconfirmed },
    };
  } finally {
    if (wallLimit) clearTimeout(wallLimit);
    options.signal?.removeEventListener("abort", abort);
    await session.close();
  }
}

function decodingOf(
  reader: EveryFrameUpgrade | LiveEveryFrameUpgrade,
): NonNullable<AnalyzeResult["decoding"]> {
  const from = reader.everyFrameFrom();
  return { policy: from === null ? "refs" : "refs-then-fast", everyFrameFrom: from };
}
