/**
 * StreamMonitor runs one stream's detectors: it feeds every enabled detector from the same
 * in-memory frames and audio, turns their conditions into incidents (the public schema),
 * keeps recent thumbnails for evidence, and measures the CPU time each detector costs.
 */
import { randomUUID } from "node:crypto";
import type { Condition, ConditionEvent, Detector } from "../detect/detector.js";
import type { ResolvedProfile } from "../config/profile.js";
import type { AudioBlock, DetailFrame, StreamEvent, Thumbnail, VideoFrame } from "../ingest/media.js";
import type { MediaHandlers } from "../ingest/media-reader.js";
import { roundTime, type Incident } from "../incident.js";

export type IncidentPhase = "open" | "update" | "close";

export interface Evidence {
  /** The last thumbnail before the onset. */
  readonly before?: Thumbnail;
  /** The first thumbnail at or after the onset. */
  readonly during?: Thumbnail;
}

export interface IncidentEvent {
  readonly phase: IncidentPhase;
  readonly incident: Incident;
  readonly evidence: Evidence;
}

export interface StreamMonitorOptions {
  readonly stream: string;
  readonly profile: ResolvedProfile;
  onIncident(event: IncidentEvent): void;
  /** Wall clock for startedAt/endedAt; injectable for tests. */
  readonly clock?: () => Date;
}

interface Running {
  readonly detector: Detector;
  cpuMs: number;
}

const THUMBNAIL_HISTORY = 40;

export class StreamMonitor implements MediaHandlers {
  private readonly running: Running[] = [];
  private readonly open = new Map<string, Incident>();
  private readonly thumbs: Thumbnail[] = [];
  private lastPts = 0;
  private readonly clock: () => Date;
  readonly counts = { video: 0, audio: 0, detail: 0, events: 0 };

  constructor(private readonly options: StreamMonitorOptions) {
    this.clock = options.clock ?? (() => new Date());
    for (const { definition, options: opts } of options.profile.detectors) {
      const detector = definition.create(opts, (e) => this.condition(e));
      this.running.push({ detector, cpuMs: 0 });
    }
  }

  /** The detectors that run, for `watch` and the API's current state. */
  get detectors(): readonly Detector[] {
    return this.running.map((r) => r.detector);
  }

  /** What the detectors learnt of the channel (Detector.memory), by type; only those with any. */
  memory(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const r of this.running) {
      const m = r.detector.memory?.();
      if (m !== undefined) out[r.detector.type] = m;
    }
    return out;
  }

  /** An earlier run's `memory()`, saved `ageSeconds` ago, to the detectors of those types. */
  recall(memory: Readonly<Record<string, unknown>>, ageSeconds: number): void {
    for (const r of this.running)
      if (r.detector.recall && memory[r.detector.type] !== undefined)
        this.timed(r, () => r.detector.recall!(memory[r.detector.type], ageSeconds));
  }

  /** CPU milliseconds spent in each detector so far. */
  detectorCost(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.running) out[r.detector.type] = (out[r.detector.type] ?? 0) + r.cpuMs;
    return out;
  }

  openIncidents(): Incident[] {
    return [...this.open.values()];
  }

  video(frame: VideoFrame): void {
    this.counts.video++;
    this.lastPts = Math.max(this.lastPts, frame.pts);
    for (const r of this.running) if (r.detector.pushVideo) this.timed(r, () => r.detector.pushVideo!(frame));
  }

  /**
   * The earliest media time from which a detector wants every frame (Detector.everyFrameFrom),
   * or null while none does.
   */
  everyFrameFrom(): number | null {
    let from: number | null = null;
    for (const r of this.running) {
      const t = r.detector.everyFrameFrom?.() ?? null;
      if (t !== null && (from === null || t < from)) from = t;
    }
    return from;
  }

  /** Every frame from `from` is coming: the detectors that asked forget what they saw from there. */
  restartVideo(from: number): void {
    for (const r of this.running)
      if (r.detector.everyFrameFrom?.() != null) this.timed(r, () => r.detector.restartVideo?.(from));
  }

  /** A frame already seen decoded as a reference frame (or skipped): to the detectors that asked alone. */
  replayVideo(frame: VideoFrame): void {
    for (const r of this.running)
      if (r.detector.pushVideo && r.detector.everyFrameFrom?.() != null)
        this.timed(r, () => r.detector.pushVideo!(frame));
  }

  detail(frame: DetailFrame): void {
    this.counts.detail++;
    for (const r of this.running)
      if (r.detector.pushDetail) this.timed(r, () => r.detector.pushDetail!(frame));
  }

  audio(block: AudioBlock): void {
    this.counts.audio++;
    this.lastPts = Math.max(this.lastPts, block.pts + block.frames / block.sampleRate);
    for (const r of this.running) if (r.detector.pushAudio) this.timed(r, () => r.detector.pushAudio!(block));
  }

  event(event: StreamEvent): void {
    this.counts.events++;
    for (const r of this.running) if (r.detector.pushEvent) this.timed(r, () => r.detector.pushEvent!(event));
  }

  thumbnail(thumb: Thumbnail): void {
    this.thumbs.push(thumb);
    if (this.thumbs.length > THUMBNAIL_HISTORY) this.thumbs.shift();
  }

  /** The newest thumbnail, for live previews. */
  latestThumbnail(): Thumbnail | undefined {
    return this.thumbs[this.thumbs.length - 1];
  }

  /** End of input: every detector closes what is open at `endPts`. */
  flush(endPts = this.lastPts): void {
    for (const r of this.running) this.timed(r, () => r.detector.flush(endPts));
  }

  private timed(r: Running, fn: () => void): void {
    const t0 = performance.now();
    fn();
    r.cpuMs += performance.now() - t0;
  }

  private key(c: Condition): string {
    return `${c.type}@${c.start.toFixed(3)}`;
  }

  private condition(e: ConditionEvent): void {
    const c = e.condition;
    const key = this.key(c);
    const now = this.clock().toISOString();
    const severity = this.options.profile.severityOf(c.type);
    if (e.phase === "start") {
      const incident: Incident = {
        id: randomUUID(),
        stream: this.options.stream,
        type: c.type,
        start: roundTime(c.start),
        end: null,
        duration: null,
        severity,
        details: { ...c.details },
        startedAt: now,
        endedAt: null,
      };
      this.open.set(key, incident);
      this.options.onIncident({ phase: "open", incident, evidence: this.evidenceAt(c.start) });
      return;
    }
    let incident = this.open.get(key);
    if (!incident) {
      // An end without a start (a detector that reports whole conditions at once): open it now.
      this.condition({ phase: "start", condition: { ...c, end: null } });
      incident = this.open.get(key);
      if (!incident) return;
    }
    if (e.phase === "update") {
      const updated: Incident = { ...incident, details: { ...incident.details, ...c.details } };
      this.open.set(key, updated);
      this.options.onIncident({ phase: "update", incident: updated, evidence: {} });
      return;
    }
    const end = roundTime(c.end ?? this.lastPts);
    const closed: Incident = {
      ...incident,
      end,
      duration: roundTime(end - incident.start),
      details: { ...incident.details, ...c.details },
      endedAt: now,
    };
    this.open.delete(key);
    this.options.onIncident({ phase: "close", incident: closed, evidence: {} });
  }

  private evidenceAt(start: number): Evidence {
    let before: Thumbnail | undefined;
    let during: Thumbnail | undefined;
    for (const t of this.thumbs) {
      if (t.pts < start) before = t;
      else if (!during) during = t;
    }
    return { ...(before ? { before } : {}), ...(during ? { during } : {}) };
  }
}
