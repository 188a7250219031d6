/**
 * LightSession: one stream monitored in light mode, promoted to full decoding on suspicion.
 *
 * The light decoder decodes keyframes only and audio in full; every transport, playlist,
 * timestamp and decoder check runs on it (light-profile.ts). When it shows a sign of trouble
 * (trouble-signs.ts, a decoder error, a fault, or any detector's condition: a level or
 * loudness alarm, a black keyframe...), the stream is promoted: a second decoder, in full,
 * starts `lookback` seconds in the past (files: an input seek; feeding sources: the recorded
 * bytes replayed, replay-source.ts; other live sources: from now) and runs the picture
 * detectors on every frame, on the light decoder's media timeline. It stops after
 * `cleanSeconds` without a sign and without an open incident: the stream is light again. The
 * light decoder never stops, so nothing of audio, transport or gaps is lost across a switch.
 *
 * For the types promotion re-times (PROMOTED_TYPES) the full decoder is the authority: a
 * light incident is held until its promotion starts, then dropped when the full decoder
 * covers its onset (it reports the same incident with full timing, or finds it was nothing),
 * or passed on marked `timing: "keyframe"` when it cannot (a live source without a recording,
 * a promotion that waited longer than the recording reaches back, or the session closing).
 * Promotions are limited per process (promotion-limiter.ts): the excess waits its turn.
 */
import { PROMOTED_TYPES, lightProfile, promotedProfile, type LightProfile } from "./light-profile.js";
import type { ResolvedProfile } from "../config/profile.js";
import { errorMessage } from "../errors.js";
import {
  MediaReader,
  type MediaHandlers,
  type MediaReaderOptions,
  type ReaderResult,
} from "../ingest/media-reader.js";
import type { StreamEvent } from "../ingest/media.js";
import { RecordingSource } from "../ingest/replay-source.js";
import type { Source } from "../ingest/source.js";
import type { PromotionLimiter, PromotionTicket } from "./promotion-limiter.js";
import { StreamMonitor, type IncidentEvent } from "./stream-monitor.js";
import { TroubleSigns, type TroubleSign } from "./trouble-signs.js";
import { REPLAY_DEFAULT_SECONDS, longestInterval, replayWindowSeconds } from "./replay-window.js";
import { fileSeek } from "./file-seek.js";

export type PromotionPhase = "light" | "queued" | "promoted";

export interface PromotionChange {
  readonly stream: string;
  readonly phase: PromotionPhase;
  /** What caused it (queued, promoted), or why it ended (light). */
  readonly reason: string;
  /** Media seconds: the sign's time (queued), where full decoding starts (promoted) or ended (light). */
  readonly at: number;
  /** Promoted: seconds the promotion waited for a slot. */
  readonly waitedSeconds?: number;
}

export interface PromotionState {
  readonly mode: "light";
  readonly phase: PromotionPhase;
  /** Wall clock of the last change (ISO 8601). */
  readonly since: string;
  readonly trigger: TroubleSign | null;
  /** Media seconds the current promotion decodes in full from. */
  readonly from: number | null;
  readonly promotions: number;
  /** Media seconds decoded in full so far, over all promotions. */
  readonly fullSeconds: number;
  /** Light incidents that could not be confirmed and went out with keyframe timing. */
  readonly unconfirmed: number;
  /** Detectors that are off in light mode, with why. */
  readonly off: Readonly<Record<string, string>>;
}

export interface LightSessionOptions {
  readonly stream: string;
  readonly source: Source;
  /** The stream's full profile; the light and promoted profiles are made from it. */
  readonly profile: ResolvedProfile;
  /** The reader options a full decoder would get (mode and detail are set here). */
  readonly reader: MediaReaderOptions;
  readonly limiter: PromotionLimiter;
  /** Seconds without a sign after which a promoted stream goes back to light. Default 10. */
  readonly cleanSeconds?: number;
  /** Least seconds decoded again before a sign; the session widens it to two keyframe intervals + 1 s. Default 5. */
  readonly lookbackSeconds?: number;
  /** False: never promote; every incident keeps its keyframe timing (the cheapest monitoring). Default true. */
  readonly promote?: boolean;
  readonly onIncident: (event: IncidentEvent) => void;
  readonly onPromotion?: (change: PromotionChange) => void;
  /** Called for the light decoder's media (progress, levels, thumbnails, state). */
  readonly handlers?: Pick<MediaHandlers, "video" | "audio" | "thumbnail" | "event" | "handlerError" | "log">;
}

interface Held {
  readonly start: number;
  readonly events: IncidentEvent[];
}

interface Request {
  from: number;
  holdUntil: number;
  readonly trigger: TroubleSign;
  readonly requestedAt: number;
  ticket: PromotionTicket | null;
  started: boolean;
  ended: boolean;
  reader: MediaReader | null;
  monitor: StreamMonitor | null;
  position: number;
  readonly held: Map<string, Held>;
  /** Light incidents dropped because this run covers their onset: released if it never reaches it. */
  readonly covered: Map<string, Held>;
}

/**
 * Incidents that are no reason to decode in full: a stream that is down has nothing to
 * decode (measured: a network-wide outage of 16 light channels queued 12 promotions of
 * streams sending nothing, and the 4 granted ones decoded nothing). Its return, with any
 * damage, still signs through decoder and transport errors.
 */
const NOT_SIGNS: ReadonlySet<string> = new Set(["stream.down"]);

/** Keyframes of a file kept for promotions' seeks: 10 hours at a 2 s GOP, 144 KiB. */
const MAX_FILE_KEYFRAMES = 18_000;

export const DEFAULT_CLEAN_SECONDS = 10;
export const DEFAULT_LOOKBACK_SECONDS = 5;

export class LightSession {
  readonly reader: MediaReader;
  /** The light monitor: every detector, light versions (its measurements are the stream's). */
  readonly monitor: StreamMonitor;
  readonly done: Promise<ReaderResult>;
  private readonly light: LightProfile;
  private readonly promoted: ResolvedProfile;
  private readonly signs: TroubleSigns;
  private readonly recording: RecordingSource | null;
  private readonly requests: Request[] = [];
  private readonly suppressed = new Set<string>();
  private readonly passing = new Set<string>();
  private lightPos = 0;
  private coveredTo = -Infinity;
  private readonly keyframes: number[] = [];
  /**
   * Files: every keyframe the light decoder saw (media seconds), where a promotion's read can
   * begin. Not just the recent ones: a queued promotion of a file may start long after the
   * light decoder (faster than real time) has passed its keyframe.
   */
  private readonly fileKeyframes: number[] = [];
  /** How late recent keyframes reached the session: the light position minus their time (replay-window.ts). */
  private readonly lateness: number[] = [];
  private closed = false;
  private drained: (() => void) | null = null;
  private phase: PromotionPhase = "light";
  private since = new Date();
  private trigger: TroubleSign | null = null;
  private counts = { promotions: 0, fullSeconds: 0, unconfirmed: 0 };
  private readonly clean: number;
  private readonly minLookback: number;

  constructor(private readonly opts: LightSessionOptions) {
    this.clean = opts.cleanSeconds ?? DEFAULT_CLEAN_SECONDS;
    this.minLookback = opts.lookbackSeconds ?? DEFAULT_LOOKBACK_SECONDS;
    this.light = lightProfile(opts.profile);
    this.promoted = promotedProfile(opts.profile);
    this.monitor = new StreamMonitor({
      stream: opts.stream,
      profile: this.light.profile,
      onIncident: (e) => this.lightIncident(e),
    });
    this.signs = new TroubleSigns((s) => this.sign(s));
    const h = opts.handlers ?? {};
    this.recording = opts.source.feed ? new RecordingSource(opts.source, REPLAY_DEFAULT_SECONDS) : null;
    const monitor = this.monitor;
    this.reader = new MediaReader(
      this.recording ?? opts.source,
      { ...opts.reader, mode: "light", detail: false },
      {
        video: (f) => {
          this.lightPos = Math.max(this.lightPos, f.pts);
          monitor.video(f);
          this.signs.keyframe(f);
          h.video?.(f);
        },
        packet: (p) => {
          this.lightPos = Math.max(this.lightPos, p.pts);
          for (const t of this.light.packetTimed) t.packetTime(p.pts);
          this.signs.packet(p);
        },
        audio: (b) => {
          this.lightPos = Math.max(this.lightPos, b.pts);
          monitor.audio(b);
          h.audio?.(b);
        },
        thumbnail: (t) => {
          monitor.thumbnail(t);
          h.thumbnail?.(t);
        },
        event: (e) => {
          monitor.event(e);
          this.lightEvent(e);
          h.event?.(e);
        },
        ...(h.log ? { log: h.log } : {}),
        ...(h.handlerError ? { handlerError: h.handlerError } : {}),
      },
    );
    this.done = this.reader.done.then(async (r) => {
      monitor.flush(r.mediaEnd);
      // A file's promotions finish after the light pass (it runs far ahead): wait for them.
      if (!this.closed && this.requests.length > 0) {
        await new Promise<void>((resolve) => (this.drained = resolve));
      }
      this.releaseAll();
      return r;
    });
    this.done.catch(() => undefined);
  }

  start(): void {
    this.reader.start();
  }

  state(): PromotionState {
    const off: Record<string, string> = {};
    for (const d of this.monitor.detectors) {
      const m = d.measure?.();
      if (m?.off === true) off[d.type] = String(m.reason);
    }
    const head = this.requests[0];
    return {
      mode: "light",
      phase: this.phase,
      since: this.since.toISOString(),
      trigger: this.trigger,
      from: head?.started ? head.from : null,
      promotions: this.counts.promotions,
      fullSeconds: this.counts.fullSeconds + (head?.started ? Math.max(0, head.position - head.from) : 0),
      unconfirmed: this.counts.unconfirmed,
      off,
    };
  }

  /** CPU milliseconds per detector, light and promoted runs together. */
  detectorCost(): Record<string, number> {
    const out = this.monitor.detectorCost();
    for (const r of this.requests) {
      for (const [k, v] of Object.entries(r.monitor?.detectorCost() ?? {})) out[k] = (out[k] ?? 0) + v;
    }
    return out;
  }

  /** Open incidents: the light monitor's, less those held or dropped, plus the promoted run's. */
  openIncidents(): IncidentEvent["incident"][] {
    const own = this.monitor
      .openIncidents()
      .filter((i) => this.passing.has(idOf(i)) || !PROMOTED_TYPES.has(i.type));
    return [...own, ...(this.requests[0]?.monitor?.openIncidents() ?? [])];
  }

  /** The promoted decoder's pid, while there is one (for cost accounting). */
  get promotedPid(): number | undefined {
    return this.requests[0]?.reader?.pid;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.reader.close();
    for (const r of [...this.requests]) await this.endRun(r, r.position, "closed");
    this.releaseAll();
  }

  private lightEvent(e: StreamEvent): void {
    if (e.kind === "keyframe") {
      this.keyframes.push(e.at);
      if (this.keyframes.length > 8) this.keyframes.shift();
      if (!this.opts.source.live && this.fileKeyframes.length < MAX_FILE_KEYFRAMES)
        this.fileKeyframes.push(e.at);
      this.lateness.push(Math.max(0, this.lightPos - e.at));
      if (this.lateness.length > 8) this.lateness.shift();
      if (this.recording) this.recording.windowSeconds = this.replaySeconds;
    } else if (e.kind === "decoder-error") {
      this.sign({ at: e.at, kind: "decoder-error", detail: e.message });
    } else if (e.kind === "fault") {
      this.sign({ at: e.at, kind: "fault", detail: e.type });
    }
  }

  /** Seconds of bytes kept for a promotion to replay now (feeding sources only; replay-window.ts). */
  get replaySeconds(): number {
    return replayWindowSeconds(this.lookback(), this.lateness);
  }

  /** Bytes kept for a promotion to replay now (memory accounting). */
  get replayBytes(): number {
    return this.recording?.heldBytes ?? 0;
  }

  /** Two keyframe intervals back (the onset lies before the keyframe that showed it) and a second more. */
  private lookback(): number {
    const longest = Math.max(2, longestInterval(this.keyframes));
    return Math.max(this.minLookback, 2 * longest + 1);
  }

  private sign(s: TroubleSign): Request | null {
    if (this.closed || this.opts.promote === false) return null;
    const at = Math.max(s.at, 0);
    const last = this.requests[this.requests.length - 1];
    const lookback = this.lookback();
    if (last && !last.ended && at - lookback <= last.holdUntil) {
      last.holdUntil = Math.max(last.holdUntil, at + this.clean);
      return last;
    }
    const req: Request = {
      from: Math.max(0, at - lookback, this.coveredTo),
      holdUntil: at + this.clean,
      trigger: { ...s, at },
      requestedAt: performance.now(),
      ticket: null,
      started: false,
      ended: false,
      reader: null,
      monitor: null,
      position: 0,
      held: new Map(),
      covered: new Map(),
    };
    this.requests.push(req);
    if (this.requests.length === 1) this.begin(req);
    return req;
  }

  private setPhase(
    phase: PromotionPhase,
    reason: string,
    at: number,
    extra: { waitedSeconds?: number } = {},
  ): void {
    this.phase = phase;
    this.since = new Date();
    this.opts.onPromotion?.({ stream: this.opts.stream, phase, reason, at, ...extra });
  }

  private begin(req: Request): void {
    req.from = Math.max(req.from, this.coveredTo);
    const ticket = this.opts.limiter.acquire(this.opts.stream);
    req.ticket = ticket;
    this.trigger = req.trigger;
    let granted = false;
    void ticket.granted.then(() => {
      granted = true;
      this.startRun(req);
    });
    // A grant resolves on the next microtask: say "queued" only when it really waits.
    queueMicrotask(() => {
      if (!granted && !req.ended) {
        this.setPhase("queued", `${req.trigger.kind}: ${req.trigger.detail}`, req.trigger.at);
      }
    });
  }

  private startRun(req: Request): void {
    if (this.closed || req.ended) {
      req.ticket?.release();
      return;
    }
    const timeline = this.reader.timelineNow();
    const src = this.opts.source;
    let source: Source = src;
    const options: MediaReaderOptions = {
      ...this.opts.reader,
      mode: "full",
      detail: this.promoted.detectors.some((d) => d.definition.needs.detail),
      failFast: false,
      ...(timeline ? { timeline } : {}),
    };
    let readerOptions = options;
    if (!src.live && src.kind === "file" && timeline) {
      // Files: seek back to the keyframe at or before the start (file-seek.ts). A file that
      // gives nothing for a while is a busy machine, not a stalled source: a long watchdog.
      readerOptions = {
        ...options,
        seekRaw: fileSeek(req.from, this.fileKeyframes, timeline).seek,
        stallTimeoutMs: Math.max(options.stallTimeoutMs ?? 0, 120_000),
      };
    } else if (this.recording) {
      const replay = this.recording.replay(Math.max(0, this.lightPos - req.from));
      source = replay.source;
      req.from = Math.max(req.from, this.lightPos - replay.startedSecondsAgo);
    } else {
      // A live source ffmpeg reads itself cannot be read in the past: full decoding from now.
      req.from = Math.max(req.from, this.lightPos);
    }
    const monitor = new StreamMonitor({
      stream: this.opts.stream,
      profile: this.promoted,
      onIncident: (e) => this.promotedIncident(e, req),
    });
    req.monitor = monitor;
    req.position = req.from;
    const reader = new MediaReader(source, readerOptions, {
      video: (f) => {
        req.position = Math.max(req.position, f.pts);
        monitor.video(f);
        if (f.pts >= req.holdUntil && monitor.openIncidents().length === 0) {
          void this.endRun(req, f.pts, `${this.clean} s clean`);
        }
      },
      detail: (f) => monitor.detail(f),
      thumbnail: (t) => monitor.thumbnail(t),
      // The picture detectors that read the sound (blockiness dates lost pictures by its
      // holes); the sound's own detectors are the light monitor's.
      audio: (b) => monitor.audio(b),
      event: (e) => {
        if (e.kind === "keyframe" || e.kind === "decoder-error") monitor.event(e);
      },
      ...(this.opts.handlers?.handlerError ? { handlerError: this.opts.handlers.handlerError } : {}),
    });
    req.reader = reader;
    req.started = true;
    this.counts.promotions++;
    const waited = (performance.now() - req.requestedAt) / 1000;
    this.setPhase("promoted", `${req.trigger.kind}: ${req.trigger.detail}`, req.from, {
      waitedSeconds: waited,
    });
    // Light incidents held for this promotion: dropped where it covers their onset.
    for (const [id, held] of req.held) {
      if (held.start >= req.from - 1e-3) this.cover(req, id, held);
      else this.release(id, held);
    }
    req.held.clear();
    reader.done.then(
      (r) => void this.endRun(req, r.mediaEnd, r.reason === "closed" ? "closed" : "the input ended"),
      (err: unknown) => void this.endRun(req, req.position, `promoted decoder failed: ${errorMessage(err)}`),
    );
    try {
      reader.start();
    } catch (err) {
      void this.endRun(req, req.position, `promoted decoder failed: ${errorMessage(err)}`);
    }
  }

  private async endRun(req: Request, at: number, why: string): Promise<void> {
    if (req.ended) return;
    req.ended = true;
    const i = this.requests.indexOf(req);
    if (i >= 0) this.requests.splice(i, 1);
    if (req.started) {
      req.monitor?.flush(Math.max(at, req.position));
      this.coveredTo = Math.max(this.coveredTo, at);
      this.counts.fullSeconds += Math.max(0, at - req.from);
    }
    for (const [id, held] of req.held) this.release(id, held);
    req.held.clear();
    // A run that stopped early (its decoder failed) never confirmed what lies beyond it.
    const reached = req.started ? Math.max(at, req.position) : -Infinity;
    for (const [id, held] of req.covered) {
      if (held.start > reached) {
        this.suppressed.delete(id);
        this.release(id, held);
      }
    }
    req.covered.clear();
    req.ticket?.release();
    const reader = req.reader;
    req.reader = null;
    const next = this.requests[0];
    if (next && !this.closed) this.begin(next);
    else this.setPhase("light", why, at);
    if (this.requests.length === 0) this.drained?.();
    if (reader) await reader.close();
  }

  private lightIncident(e: IncidentEvent): void {
    const inc = e.incident;
    if (e.phase === "open" && !NOT_SIGNS.has(inc.type)) {
      this.sign({ at: this.lightPos, kind: "condition", detail: inc.type });
    }
    if (!PROMOTED_TYPES.has(inc.type) || this.passing.has(idOf(inc))) {
      if (PROMOTED_TYPES.has(inc.type)) this.opts.onIncident(keyframeTimed(e));
      else this.opts.onIncident(e);
      if (e.phase === "close") this.passing.delete(idOf(inc));
      return;
    }
    if (this.suppressed.has(idOf(inc))) {
      for (const r of this.requests) r.covered.get(idOf(inc))?.events.push(e);
      if (e.phase === "close") this.suppressed.delete(idOf(inc));
      return;
    }
    for (const r of this.requests) {
      const held = r.held.get(idOf(inc));
      if (held) {
        held.events.push(e);
        return;
      }
    }
    if (e.phase !== "open") return;
    // The sign above made or extended a promotion; one not started yet reaches back before this onset.
    const req = this.requests.find((r) => !r.ended && inc.start <= r.holdUntil);
    if (req && !req.started) {
      req.from = Math.max(0, Math.min(req.from, inc.start - 1), this.coveredTo);
      if (req.from <= inc.start + 1e-3) {
        req.held.set(idOf(inc), { start: inc.start, events: [e] });
        return;
      }
    } else if (req && req.from <= inc.start + 1e-3) {
      this.cover(req, idOf(inc), { start: inc.start, events: [e] });
      return;
    }
    this.release(idOf(inc), { start: inc.start, events: [e] });
  }

  private cover(req: Request, id: string, held: Held): void {
    this.suppressed.add(id);
    req.covered.set(id, held);
  }

  /** A light incident no promotion could confirm goes out as it is, with keyframe timing. */
  private release(id: string, held: Held): void {
    this.counts.unconfirmed++;
    const closed = held.events.some((e) => e.phase === "close");
    if (!closed) this.passing.add(id);
    for (const e of held.events) this.opts.onIncident(keyframeTimed(e));
  }

  private releaseAll(): void {
    for (const r of this.requests) {
      for (const [id, held] of r.held) this.release(id, held);
      r.held.clear();
    }
  }

  private promotedIncident(e: IncidentEvent, _req: Request): void {
    const inc = e.incident;
    this.opts.onIncident({
      ...e,
      incident: { ...inc, details: { ...inc.details, timing: "full", promoted: true } },
    });
  }
}

function keyframeTimed(e: IncidentEvent): IncidentEvent {
  return { ...e, incident: { ...e.incident, details: { ...e.incident.details, timing: "keyframe" } } };
}

function idOf(inc: IncidentEvent["incident"]): string {
  return inc.id ?? `${inc.type}@${inc.start}`;
}
