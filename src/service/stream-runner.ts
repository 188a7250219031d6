/**
 * StreamRunner: one monitored stream inside the service — its source, its one decoder, its
 * detectors, its live state and its cost. A failure here is this stream's alone: everything
 * is caught and turned into state and events.
 */
import type { ResolvedProfile } from "../config/profile.js";
import { errorMessage } from "../errors.js";
import { resolveDecodePolicy, type DecodePolicy } from "../ingest/decode-policy.js";
import { MediaReader, type MediaReaderOptions } from "../ingest/media-reader.js";
import type { HlsPlaylistState, StreamEvent, Thumbnail } from "../ingest/media.js";
import { processCpuSeconds } from "../ingest/process-cpu.js";
import { openSource } from "../ingest/open-source.js";
import type { Source } from "../ingest/source.js";
import type { Incident } from "../incident.js";
import { LevelMeter, type Levels } from "../monitor/level-meter.js";
import { LightSession, type PromotionChange, type PromotionState } from "../monitor/light-session.js";
import { LiveEveryFrameUpgrade } from "../monitor/live-every-frame-upgrade.js";
import { PromotionLimiter } from "../monitor/promotion-limiter.js";
import { StreamMonitor, type IncidentEvent } from "../monitor/stream-monitor.js";
import { BehindLive } from "./behind-live.js";
import { MEMORY_SAVE_SECONDS, type DetectorMemoryPort } from "./detector-memory.js";

export type StreamStatus = "starting" | "up" | "down" | "stopped" | "error";

export interface StreamDefinition {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly profileName: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface LoudnessNow {
  readonly momentary: number | null;
  readonly shortTerm: number | null;
  readonly integrated: number | null;
  readonly truePeak: number | null;
  readonly target: number | null;
  readonly truePeakLimit: number | null;
}

export interface FaultCounters {
  readonly open: number;
  readonly counts: Readonly<Record<string, number>>;
}

export interface StreamState {
  readonly id: string;
  readonly name: string;
  readonly status: StreamStatus;
  readonly since: string;
  readonly lastError: string | null;
  readonly mediaTime: number;
  /** Live sources: seconds the monitoring is behind the signal (behind-live.ts); null otherwise. */
  readonly behindLiveSeconds: number | null;
  readonly restarts: number;
  readonly frames: number;
  readonly decoderErrors: number;
  readonly levels: Levels;
  readonly measurements: Record<string, Readonly<Record<string, unknown>>>;
  readonly openIncidents: readonly Incident[];
  /** CPU seconds per second of media: decoder and detectors, since the stream started. */
  readonly cost: {
    readonly decoderCpuSeconds: number;
    readonly detectorCpuSeconds: number;
    readonly perMediaSecond: number | null;
  };
  readonly detectorCpuMs: Readonly<Record<string, number>>;
  /** How the stream is decoded: `light` (keyframes, promoted on trouble) or `full`. */
  readonly mode?: "full" | "light";
  /** Light mode: promotion to full decoding, and the detectors that are off. */
  readonly promotion?: PromotionState | null;
  /** Full mode: the decode policy now, and since when every frame (null: not, or not yet). */
  readonly decoding?: { readonly policy: DecodePolicy; readonly everyFrameFrom: number | null } | null;
  /** From the audio.loudness detector; null when the profile has none. */
  readonly loudness: LoudnessNow | null;
  /** TR 101 290 counters from the ts.health detector; null when it is not running. */
  readonly tr101290: FaultCounters | null;
  /** HLS fault counters from the hls.health detector; null when it is not running. */
  readonly hls: FaultCounters | null;
  /** HLS inputs: the playlist as the source last loaded it; null for other inputs. */
  readonly hlsPlaylist?: HlsPlaylistState | null;
  /** When the latest thumbnail arrived (ISO 8601); null before the first. */
  readonly thumbnailAt: string | null;
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

function loudnessFrom(m: Readonly<Record<string, unknown>> | undefined): LoudnessNow | null {
  if (m === undefined) return null;
  return {
    momentary: num(m["lufsMomentary"]),
    shortTerm: num(m["lufsShortTerm"]),
    integrated: num(m["lufsIntegrated"]),
    truePeak: num(m["truePeakDbtp"]),
    target: num(m["target"]),
    truePeakLimit: num(m["truePeakLimit"]),
  };
}

/** Only fault types seen so far are listed (fault detectors count per type as they see them). */
function faultsFrom(m: Readonly<Record<string, unknown>> | undefined): FaultCounters | null {
  if (m === undefined) return null;
  const counts: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) if (k !== "open" && typeof v === "number") counts[k] = v;
  return { open: num(m["open"]) ?? 0, counts };
}

export interface StreamRunnerDeps {
  readonly ffmpegPath: string;
  readonly allowFiles: boolean;
  /** Passed to MediaReaderOptions.stallTimeoutMs; default DEFAULT_STALL_TIMEOUT_MS. */
  readonly stallTimeoutMs?: number;
  /** Read local files as live (demo channels). */
  readonly realtimeFiles?: boolean;
  onIncident(event: IncidentEvent, runner: StreamRunner): void;
  onState?(state: StreamState, runner: StreamRunner): void;
  onLevels?(levels: Levels, thumbnail: Thumbnail | undefined, runner: StreamRunner): void;
  log?(level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>): void;
  /** Light streams: the process's promotion slots (light-session.ts). Default: one per runner. */
  readonly promotions?: PromotionLimiter;
  onPromotion?(change: PromotionChange, runner: StreamRunner): void;
  /** Where what the detectors learnt of the channel is kept between runs (detector-memory.ts). */
  readonly memory?: DetectorMemoryPort;
}

/** How long a stop waits for the detectors' memory to be saved (a store that is down must not hold it). */
const MEMORY_SAVE_TIMEOUT_MS = 2000;

export class StreamRunner {
  private reader: MediaReader | null = null;
  private session: LightSession | null = null;
  /** Full streams fed by streamqc with a detector that may need every frame (live-every-frame-upgrade.ts). */
  private upgrade: LiveEveryFrameUpgrade | null = null;
  private monitor: StreamMonitor | null = null;
  private status: StreamStatus = "stopped";
  private since = new Date();
  private lastError: string | null = null;
  private readonly meter = new LevelMeter();
  private levels: Levels = { peakDbfs: [], rmsDbfs: [] };
  private frames = 0;
  private restarts = 0;
  private decoderErrors = 0;
  private mediaTime = 0;
  private decoderCpuDone = 0;
  private decoderPid: number | undefined;
  private ticker: NodeJS.Timeout | null = null;
  private thumbnailAt: string | null = null;
  private playlist: HlsPlaylistState | null = null;
  private ticks = 0;

  constructor(
    readonly definition: StreamDefinition,
    private readonly profile: ResolvedProfile,
    private readonly deps: StreamRunnerDeps,
  ) {}

  get id(): string {
    return this.definition.id;
  }

  get running(): boolean {
    return this.reader !== null;
  }

  /** Starts monitoring; a bad URL puts the stream in `error` state rather than throwing. */
  start(): void {
    if (this.reader) return;
    let source;
    try {
      source = openSource(this.definition.url, {
        allowFiles: this.deps.allowFiles,
        realtime: this.deps.realtimeFiles ?? true,
      });
    } catch (err) {
      this.setStatus("error", errorMessage(err));
      return;
    }
    this.behind = source.live ? new BehindLive() : null;
    const readerOptions = {
      ffmpegPath: this.deps.ffmpegPath,
      threads: 1,
      thumbnails: true,
      detail: this.profile.detectors.some((d) => d.definition.needs.detail),
      ...(this.deps.stallTimeoutMs !== undefined ? { stallTimeoutMs: this.deps.stallTimeoutMs } : {}),
    };
    if (this.profile.mode === "light") {
      this.startLight(source, readerOptions);
      return;
    }
    const monitor = new StreamMonitor({
      stream: this.definition.name,
      profile: this.profile,
      onIncident: (e) => this.deps.onIncident(e, this),
    });
    this.monitor = monitor;
    this.recall(monitor);
    const policy = resolveDecodePolicy(undefined, this.profile.detectors);
    const fullOptions: MediaReaderOptions = { ...readerOptions, decodePolicy: policy };
    const handlerError = (err: unknown): void =>
      this.deps.log?.("error", `detector failed: ${errorMessage(err)}`);
    let reader: MediaReader;
    if (policy === "fast" && LiveEveryFrameUpgrade.applies(source)) {
      // A detector needs every frame for some content only (A/V sync: a sync pattern):
      // reference frames until it asks (live-every-frame-upgrade.ts).
      const upgrade = new LiveEveryFrameUpgrade(
        source,
        fullOptions,
        monitor,
        {
          video: (f) => {
            this.frames++;
            this.mediaTime = f.pts;
          },
          audio: (b) => this.meter.push(b),
          thumbnail: () => {
            this.thumbnailAt = new Date().toISOString();
          },
          event: (e) => this.event(e, null),
          handlerError,
        },
        (from) =>
          this.deps.log?.("info", "decoding every frame from now: a detector asked for it", {
            stream: this.definition.name,
            from,
          }),
      );
      this.upgrade = upgrade;
      reader = upgrade.reader;
    } else {
      reader = new MediaReader(source, fullOptions, {
        video: (f) => {
          this.frames++;
          this.mediaTime = f.pts;
          monitor.video(f);
        },
        detail: (f) => monitor.detail(f),
        audio: (b) => {
          this.meter.push(b);
          monitor.audio(b);
        },
        thumbnail: (t) => {
          this.thumbnailAt = new Date().toISOString();
          monitor.thumbnail(t);
        },
        event: (e) => this.event(e, monitor),
        handlerError,
      });
    }
    this.reader = reader;
    this.setStatus("starting", null);
    try {
      reader.start();
    } catch (err) {
      this.reader = null;
      this.setStatus("error", errorMessage(err));
      return;
    }
    reader.done.then(
      (r) => {
        if (this.reader === reader) {
          monitor.flush(r.mediaEnd);
          this.reader = null;
          this.setStatus(
            r.reason === "closed" ? "stopped" : "down",
            r.reason === "ended" ? "the source ended" : null,
          );
        }
      },
      (err: unknown) => {
        if (this.reader === reader) {
          this.reader = null;
          this.setStatus("error", errorMessage(err));
        }
      },
    );
    this.ticker = setInterval(() => this.tick(), 1000);
    this.ticker.unref();
  }

  /** Light mode: the session owns the light decoder, its monitor and promotions. */
  private startLight(source: Source, readerOptions: MediaReaderOptions): void {
    const session = new LightSession({
      stream: this.definition.name,
      source,
      profile: this.profile,
      reader: readerOptions,
      limiter: this.deps.promotions ?? new PromotionLimiter(1),
      onIncident: (e) => this.deps.onIncident(e, this),
      onPromotion: (change) => {
        this.deps.log?.(change.phase === "queued" ? "warn" : "info", `promotion: ${change.phase}`, {
          ...change,
        });
        this.deps.onPromotion?.(change, this);
        this.deps.onState?.(this.state(), this);
      },
      handlers: {
        video: (f) => {
          this.frames++;
          this.mediaTime = Math.max(this.mediaTime, f.pts);
        },
        audio: (b) => {
          this.meter.push(b);
          this.mediaTime = Math.max(this.mediaTime, b.pts);
        },
        event: (e) => this.event(e, null),
        handlerError: (err) => this.deps.log?.("error", `detector failed: ${errorMessage(err)}`),
      },
    });
    this.session = session;
    this.monitor = session.monitor;
    this.recall(session.monitor);
    this.reader = session.reader;
    this.setStatus("starting", null);
    try {
      session.start();
    } catch (err) {
      this.reader = null;
      this.session = null;
      this.setStatus("error", errorMessage(err));
      return;
    }
    session.done.then(
      (r) => {
        if (this.session === session) {
          this.reader = null;
          this.session = null;
          this.setStatus(
            r.reason === "closed" ? "stopped" : "down",
            r.reason === "ended" ? "the source ended" : null,
          );
        }
      },
      (err: unknown) => {
        if (this.session === session) {
          this.reader = null;
          this.session = null;
          this.setStatus("error", errorMessage(err));
        }
      },
    );
    this.ticker = setInterval(() => this.tick(), 1000);
    this.ticker.unref();
  }

  private event(e: StreamEvent, monitor: StreamMonitor | null): void {
    monitor?.event(e);
    switch (e.kind) {
      case "connected":
        this.setStatus("up", null);
        break;
      case "lost":
        if (this.status === "up") this.restarts++;
        this.setStatus("down", e.reason);
        this.deps.log?.("warn", `source lost: ${e.reason}`);
        break;
      case "decoder-error":
        this.decoderErrors++;
        break;
      case "playlist":
        this.playlist = e.playlist;
        break;
      default:
        break;
    }
  }

  /** An earlier run's memory, to this run's detectors once the store answers. */
  private recall(monitor: StreamMonitor): void {
    this.deps.memory?.load().then(
      (m) => {
        if (m === null || this.monitor !== monitor) return;
        monitor.recall(m.memory, m.ageSeconds);
        this.deps.log?.("info", "detectors start from what an earlier run learnt", {
          detectors: Object.keys(m.memory),
          ageSeconds: Math.round(m.ageSeconds),
        });
      },
      (err: unknown) => this.deps.log?.("warn", `could not read the detectors' memory: ${errorMessage(err)}`),
    );
  }

  /** This run's detectors' memory, to the store; a failure is logged, never thrown. */
  private async saveMemory(): Promise<void> {
    const port = this.deps.memory;
    const monitor = this.monitor;
    if (!port || !monitor) return;
    try {
      await port.save(monitor.memory());
    } catch (err) {
      this.deps.log?.("warn", `could not save the detectors' memory: ${errorMessage(err)}`);
    }
  }

  private tick(): void {
    if (++this.ticks % MEMORY_SAVE_SECONDS === 0) void this.saveMemory();
    this.levels = this.meter.take();
    this.observeBehind();
    const pid = this.reader?.pid;
    if (pid !== this.decoderPid) {
      // The decoder was restarted: bank the old one's last reading.
      this.decoderCpuDone += this.lastDecoderCpu;
      this.lastDecoderCpu = 0;
      this.decoderPid = pid;
    }
    if (pid !== undefined) this.lastDecoderCpu = processCpuSeconds(pid) ?? this.lastDecoderCpu;
    const promotedPid = this.session?.promotedPid;
    if (promotedPid !== this.promotedPid) {
      this.decoderCpuDone += this.lastPromotedCpu;
      this.lastPromotedCpu = 0;
      this.promotedPid = promotedPid;
    }
    if (promotedPid !== undefined)
      this.lastPromotedCpu = processCpuSeconds(promotedPid) ?? this.lastPromotedCpu;
    this.deps.onLevels?.(this.levels, this.monitor?.latestThumbnail(), this);
  }

  /** Live sources: how far monitoring is behind the signal (behind-live.ts); warns when it falls behind. */
  private observeBehind(): void {
    if (!this.behind || this.status !== "up" || this.mediaTime <= 0) return;
    const { seconds, change } = this.behind.observe(performance.now() / 1000, this.mediaTime);
    if (change === null) return;
    const fields = { stream: this.definition.name, behindLiveSeconds: seconds };
    if (change === "late") {
      this.deps.log?.(
        "warn",
        `monitoring is ${seconds.toFixed(0)} s behind live: this process cannot decode its streams in real time (too many for its CPU?), so incidents are reported late`,
        fields,
      );
    } else {
      this.deps.log?.("info", "monitoring has caught up with live", fields);
    }
    // A change of state: the wall and a fleet's relay hear of it.
    this.deps.onState?.(this.state(), this);
  }

  /** Seconds behind live now (null: not a live source, not up, or nothing decoded yet). */
  get behindLiveSeconds(): number | null {
    const s = this.status === "up" ? (this.behind?.seconds ?? null) : null;
    return s === null ? null : Math.round(s * 10) / 10;
  }

  private behind: BehindLive | null = null;
  private lastDecoderCpu = 0;
  private promotedPid: number | undefined;
  private lastPromotedCpu = 0;

  private setStatus(status: StreamStatus, error: string | null): void {
    if (status !== this.status || error !== this.lastError) {
      const changed = status !== this.status;
      this.status = status;
      this.lastError = error;
      if (changed) this.since = new Date();
      this.deps.onState?.(this.state(), this);
    }
  }

  /** One detector's current measurements, when it runs. */
  private measured(type: string): Readonly<Record<string, unknown>> | undefined {
    const d = this.monitor?.detectors.find((x) => x.type === type);
    return d?.measure?.();
  }

  /** Loudness now (for the levels event and the history), without measuring every detector. */
  loudness(): LoudnessNow | null {
    return loudnessFrom(this.measured("audio.loudness"));
  }

  /** The latest A/V offset estimate, ms (positive: audio lags); null when none. */
  avOffsetMs(): number | null {
    return num(this.measured("av.sync")?.["offsetMs"]);
  }

  /** The levels of the last second (as sent with `stream.levels`). */
  lastLevels(): Levels {
    return this.levels;
  }

  state(): StreamState {
    const detectorCpuMs = this.session?.detectorCost() ?? this.monitor?.detectorCost() ?? {};
    const detectorCpuSeconds = Object.values(detectorCpuMs).reduce((a, b) => a + b, 0) / 1000;
    const decoderCpuSeconds = this.decoderCpuDone + this.lastDecoderCpu + this.lastPromotedCpu;
    const measurements: Record<string, Readonly<Record<string, unknown>>> = {};
    for (const d of this.monitor?.detectors ?? []) if (d.measure) measurements[d.type] = d.measure();
    return {
      id: this.definition.id,
      name: this.definition.name,
      status: this.status,
      since: this.since.toISOString(),
      lastError: this.lastError,
      mediaTime: this.mediaTime,
      behindLiveSeconds: this.behindLiveSeconds,
      restarts: this.restarts,
      frames: this.frames,
      decoderErrors: this.decoderErrors,
      levels: this.levels,
      measurements,
      openIncidents: this.session?.openIncidents() ?? this.monitor?.openIncidents() ?? [],
      cost: {
        decoderCpuSeconds,
        detectorCpuSeconds,
        perMediaSecond: this.mediaTime > 0 ? (decoderCpuSeconds + detectorCpuSeconds) / this.mediaTime : null,
      },
      detectorCpuMs,
      mode: this.profile.mode ?? "full",
      promotion: this.session?.state() ?? null,
      decoding: this.session ? null : this.decoding,
      loudness: loudnessFrom(measurements["audio.loudness"]),
      tr101290: faultsFrom(measurements["ts.health"]),
      hls: faultsFrom(measurements["hls.health"]),
      hlsPlaylist: this.playlist,
      thumbnailAt: this.thumbnailAt,
    };
  }

  latestThumbnail(): Thumbnail | undefined {
    return this.monitor?.latestThumbnail();
  }

  /** The decoder's pid, for tests that kill it. */
  get decoderPidNow(): number | undefined {
    return this.reader?.pid;
  }

  /** Light streams fed by streamqc (UDP, HLS): bytes kept for a promotion to replay (memory accounting). */
  get replayBytesNow(): number {
    return this.session?.replayBytes ?? this.upgrade?.replayBytes ?? 0;
  }

  /** How the decoder decodes now, and since when every frame (null: reference frames). */
  get decoding(): { policy: DecodePolicy; everyFrameFrom: number | null } | null {
    const reader = this.reader;
    if (!reader) return null;
    return { policy: reader.decodePolicy, everyFrameFrom: this.upgrade?.everyFrameFrom() ?? null };
  }

  /** Stops monitoring; open incidents are closed at the current media time. Idempotent. */
  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.saveMemory(),
        new Promise<void>((r) => {
          timer = setTimeout(r, MEMORY_SAVE_TIMEOUT_MS);
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
    }
    const session = this.session;
    this.session = null;
    if (session) {
      this.reader = null;
      await session.close();
      this.setStatus("stopped", null);
      return;
    }
    const reader = this.reader;
    this.reader = null;
    this.upgrade = null;
    if (reader) {
      await reader.close();
      this.monitor?.flush(this.mediaTime);
    }
    this.setStatus("stopped", null);
  }
}
