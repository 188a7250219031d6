/**
 * HLS source: follows one rendition of a live or VOD HLS stream, hands every new segment's
 * bytes to a consumer once and in order, and reports playlist and segment health as
 * `fault` StreamEvents (`hls.*`), plus `connected` / `lost` / `ended`.
 *
 * Reload timing follows RFC 8216 section 6.3.4: after a load that changed the playlist the
 * next load is one target duration after the previous one started; after an unchanged load,
 * half a target duration. An unreachable playlist is retried with exponential backoff and
 * full jitter, capped. Event times (`at`) are seconds of the source's clock since start().
 */
import { StreamqcError, errorMessage } from "../../errors.js";
import type { HlsPlaylistState, HlsVariantInfo, StreamEvent } from "../media.js";
import {
  PlaylistParseError,
  parsePlaylist,
  type MasterPlaylist,
  type MediaPlaylist,
  type Segment,
  type Variant,
} from "./playlist-parser.js";

export interface SegmentInfo {
  readonly url: string;
  /** Media sequence number; -1 for an initialization section (EXT-X-MAP). */
  readonly sequence: number;
  readonly duration: number;
  readonly discontinuity: boolean;
  readonly discontinuitySequence: number;
  /** True for the EXT-X-MAP initialization section sent before the segments that use it. */
  readonly init: boolean;
  /** Seconds the download took. */
  readonly downloadSeconds: number;
}

export interface HlsSourceOptions {
  readonly url: string;
  /** Which variant of a master playlist: index in playlist order, or NAME / RESOLUTION / URI. Default: highest BANDWIDTH. */
  readonly rendition?: number | string;
  /** Receives each segment once, in order; awaited, so a slow consumer slows the source. */
  readonly onSegment: (bytes: Uint8Array, info: SegmentInfo) => void | Promise<void>;
  readonly onEvent: (event: StreamEvent) => void;
  /** Seconds, monotonic. @defaultValue performance.now() / 1000 */
  readonly clock?: () => number;
  /** Timeout of one HTTP request, ms. @defaultValue 10000 */
  readonly requestTimeoutMs?: number;
  /** Extra attempts for a failed segment download. @defaultValue 2 */
  readonly segmentRetries?: number;
  /** Pause between segment attempts, ms. @defaultValue 250 */
  readonly segmentRetryDelayMs?: number;
  /** First delay after a failed playlist load, ms; doubles per failure. @defaultValue 500 */
  readonly backoffInitialMs?: number;
  /** Cap of the playlist backoff, ms. @defaultValue 30000 */
  readonly backoffMaxMs?: number;
  /** A live playlist unchanged for this many target durations is stale. @defaultValue 1.5 */
  readonly staleFactor?: number;
  /** Segments from the live edge to start at (RFC 8216 6.3.3 advises three target durations). @defaultValue 3 */
  readonly liveStartSegments?: number;
}

type Fault =
  | "hls.stale-playlist"
  | "hls.sequence-regress"
  | "hls.uri-changed"
  | "hls.segment-too-long"
  | "hls.segment-failed"
  | "hls.segment-slow"
  | "hls.malformed"
  | "hls.unsupported-encryption";

class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    url: string,
  ) {
    super(`HTTP ${status} for ${url}`);
  }
}

export class HlsSource {
  private readonly abort = new AbortController();
  private readonly clock: () => number;
  private t0 = 0;
  private closed = false;
  private running: Promise<void> | null = null;
  private online: boolean | null = null;
  private playlistFailures = 0;

  private prev: MediaPlaylist | null = null;
  private lastChangeAt = 0;
  private staleReported = false;
  private nextSequence: number | null = null;
  private currentMap: string | null = null;
  /** Counters per fault type, for metrics. */
  readonly counters: Record<string, number> = {};
  segmentsDelivered = 0;
  private mediaUrl: string;
  private variants: readonly HlsVariantInfo[] = [];
  private loads = 0;
  private lastLoadAt: string | null = null;
  private lastChangeWall: string | null = null;
  private lastSegment: HlsPlaylistState["lastSegment"] = null;
  private discontinuities = 0;
  private lastError: HlsPlaylistState["lastError"] = null;

  constructor(private readonly options: HlsSourceOptions) {
    this.clock = options.clock ?? (() => performance.now() / 1000);
    this.mediaUrl = options.url;
  }

  /** The playlist as this source sees it now (the state API and the channel page show it). */
  playlistState(): HlsPlaylistState {
    const p = this.prev;
    return {
      url: this.mediaUrl,
      variants: this.variants,
      version: p?.version ?? null,
      targetDuration: p?.targetDuration ?? null,
      mediaSequence: p?.mediaSequence ?? null,
      discontinuitySequence: p?.discontinuitySequence ?? null,
      playlistType: p?.playlistType ?? null,
      endList: p?.endList ?? false,
      segments: p?.segments.length ?? 0,
      windowSeconds: Math.round((p?.segments.reduce((a, s) => a + s.duration, 0) ?? 0) * 1000) / 1000,
      loads: this.loads,
      lastLoadAt: this.lastLoadAt,
      lastChangeAt: this.lastChangeWall,
      lastSegment: this.lastSegment,
      segmentsDelivered: this.segmentsDelivered,
      discontinuities: this.discontinuities,
      lastError: this.lastError,
    };
  }

  private announce(): void {
    this.emit({ kind: "playlist", at: this.now(), playlist: this.playlistState() });
  }

  private noteError(message: string): void {
    this.lastError = { at: new Date().toISOString(), message };
  }

  /** Runs until the playlist ends (EXT-X-ENDLIST), a fatal fault, or close(). */
  start(): Promise<void> {
    if (this.closed) throw new StreamqcError("SQM_ERR_CLOSED", "HlsSource used after close()");
    if (!this.running) {
      this.t0 = this.clock();
      this.running = this.run().catch((err: unknown) => {
        if (!this.closed) this.emit({ kind: "lost", at: this.now(), reason: errorMessage(err), fatal: true });
      });
    }
    return this.running;
  }

  /** Stops fetching; idempotent. Resolves when the run loop has stopped. */
  async close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    await this.running;
  }

  private now(): number {
    return this.clock() - this.t0;
  }

  private emit(event: StreamEvent): void {
    try {
      this.options.onEvent(event);
    } catch {
      // Listener exceptions never reach ingest (STYLE.md).
    }
  }

  private fault(type: Fault, message: string, details?: Record<string, unknown>): void {
    this.counters[type] = (this.counters[type] ?? 0) + 1;
    this.noteError(message);
    this.emit({ kind: "fault", at: this.now(), type, message, ...(details ? { details } : {}) });
  }

  private async run(): Promise<void> {
    const mediaUrl = await this.resolveMediaUrl();
    if (mediaUrl === null) return;
    this.mediaUrl = mediaUrl;
    for (;;) {
      if (this.closed) return;
      const loadStart = this.clock();
      const playlist = await this.loadPlaylist(mediaUrl);
      if (this.closed) return;
      if (playlist === "unreachable" || playlist === "malformed") this.announce();
      if (playlist === "unreachable") {
        await this.sleep(this.backoffMs());
        continue;
      }
      if (playlist === "malformed") {
        await this.sleep(Math.max(500, (this.prev?.targetDuration ?? 2) * 500));
        continue;
      }
      const changed = this.inspect(playlist);
      this.loads++;
      this.lastLoadAt = new Date().toISOString();
      if (changed) this.lastChangeWall = this.lastLoadAt;
      const done = await this.downloadNew(playlist, mediaUrl);
      if (done === "fatal" || this.closed) return;
      // After the downloads, so the state names the segment just delivered.
      this.announce();
      if (playlist.endList && this.nextSequence !== null && this.nextSequence >= lastSequence(playlist) + 1) {
        this.emit({ kind: "ended", at: this.now() });
        return;
      }
      // RFC 8216 6.3.4: wait a target duration from the start of the last load if it
      // changed, half of one if it did not.
      const wait = (changed ? 1 : 0.5) * playlist.targetDuration * 1000 - (this.clock() - loadStart) * 1000;
      await this.sleep(Math.max(0, wait));
    }
  }

  /** Loads the URL; a master playlist resolves to its chosen variant. */
  private async resolveMediaUrl(): Promise<string | null> {
    for (;;) {
      if (this.closed) return null;
      let text: string;
      try {
        text = await this.fetchText(this.options.url);
      } catch (err) {
        if (this.closed) return null;
        this.markLost(err);
        await this.sleep(this.backoffMs());
        continue;
      }
      this.markOnline(this.options.url);
      try {
        const p = parsePlaylist(text);
        if (p.kind === "media") return this.options.url;
        const chosen = this.chooseVariant(p);
        this.variants = p.variants.map((v) => ({
          uri: new URL(v.uri, this.options.url).href,
          bandwidth: v.bandwidth,
          resolution: v.resolution ? `${v.resolution.width}x${v.resolution.height}` : null,
          codecs: v.codecs ?? null,
          frameRate: v.frameRate ?? null,
          name: v.attributes["NAME"] ?? null,
          chosen: v === chosen,
        }));
        return new URL(chosen.uri, this.options.url).href;
      } catch (err) {
        if (err instanceof PlaylistParseError) {
          this.fault("hls.malformed", `${this.options.url}: ${err.message}`, {
            url: this.options.url,
            line: err.line,
          });
          await this.sleep(this.backoffMs());
          continue;
        }
        throw err;
      }
    }
  }

  private chooseVariant(master: MasterPlaylist): Variant {
    const r = this.options.rendition;
    const variants = master.variants;
    if (variants.length === 0)
      throw new StreamqcError("SQM_ERR_INPUT_UNREADABLE", "master playlist lists no variant");
    if (r === undefined) return variants.reduce((best, v) => (v.bandwidth > best.bandwidth ? v : best));
    if (typeof r === "number") {
      const v = variants[r];
      if (!v)
        throw new StreamqcError(
          "SQM_ERR_NOT_FOUND",
          `rendition ${r} does not exist (${variants.length} variants)`,
        );
      return v;
    }
    const v = variants.find(
      (x) => x.attributes["NAME"] === r || x.attributes["RESOLUTION"] === r || x.uri === r,
    );
    if (!v) throw new StreamqcError("SQM_ERR_NOT_FOUND", `no variant named "${r}"`);
    return v;
  }

  private async loadPlaylist(url: string): Promise<MediaPlaylist | "unreachable" | "malformed"> {
    let text: string;
    try {
      text = await this.fetchText(url);
    } catch (err) {
      if (!this.closed) this.markLost(err);
      return "unreachable";
    }
    this.markOnline(url);
    try {
      const p = parsePlaylist(text);
      if (p.kind !== "media")
        throw new PlaylistParseError(1, "expected a media playlist, got a master playlist");
      return p;
    } catch (err) {
      if (!(err instanceof PlaylistParseError)) throw err;
      this.fault("hls.malformed", `${url}: ${err.message}`, { url, line: err.line });
      return "malformed";
    }
  }

  /** Playlist-level checks; returns whether the playlist changed since the last load. */
  private inspect(p: MediaPlaylist): boolean {
    const prev = this.prev;
    const now = this.now();
    this.prev = p;
    const changed =
      !prev ||
      prev.mediaSequence !== p.mediaSequence ||
      prev.segments.length !== p.segments.length ||
      prev.endList !== p.endList ||
      prev.segments.at(-1)?.uri !== p.segments.at(-1)?.uri;
    for (const s of p.segments) {
      // RFC 8216 4.3.3.1: EXTINF rounded to the nearest integer must not exceed the target duration.
      if (
        Math.round(s.duration) > p.targetDuration &&
        (this.nextSequence === null || s.sequence >= this.nextSequence)
      ) {
        this.fault(
          "hls.segment-too-long",
          `segment ${s.sequence} lasts ${s.duration} s, target duration is ${p.targetDuration} s`,
          { sequence: s.sequence, duration: s.duration, targetDuration: p.targetDuration, uri: s.uri },
        );
      }
    }
    if (!prev) {
      this.lastChangeAt = now;
      return true;
    }
    if (p.mediaSequence < prev.mediaSequence) {
      this.fault(
        "hls.sequence-regress",
        `media sequence went back from ${prev.mediaSequence} to ${p.mediaSequence}`,
        { from: prev.mediaSequence, to: p.mediaSequence },
      );
      // The packager restarted: follow the new numbering from its live edge.
      this.nextSequence = null;
    } else {
      const before = new Map(prev.segments.map((s) => [s.sequence, s.uri]));
      const moved = p.segments.filter((s) => before.has(s.sequence) && before.get(s.sequence) !== s.uri);
      if (moved.length > 0) {
        const s = moved[0]!;
        this.fault(
          "hls.uri-changed",
          `segment ${s.sequence} changed URI from ${before.get(s.sequence)} to ${s.uri}` +
            (moved.length > 1 ? ` (and ${moved.length - 1} more)` : ""),
          { sequence: s.sequence, from: before.get(s.sequence), to: s.uri, segments: moved.length },
        );
      }
    }
    if (changed) {
      this.lastChangeAt = now;
      this.staleReported = false;
    } else if (!p.endList && !this.staleReported) {
      const limit = (this.options.staleFactor ?? 1.5) * p.targetDuration;
      if (now - this.lastChangeAt > limit) {
        this.staleReported = true;
        this.fault(
          "hls.stale-playlist",
          `live playlist unchanged for ${(now - this.lastChangeAt).toFixed(1)} s (limit ${limit} s)`,
          {
            unchangedSeconds: Math.round((now - this.lastChangeAt) * 10) / 10,
            mediaSequence: p.mediaSequence,
          },
        );
      }
    }
    return changed;
  }

  private async downloadNew(p: MediaPlaylist, playlistUrl: string): Promise<"ok" | "fatal"> {
    if (p.segments.length === 0) return "ok";
    if (this.nextSequence === null) {
      const live = !p.endList && p.playlistType !== "VOD";
      const skip = live ? Math.max(0, p.segments.length - (this.options.liveStartSegments ?? 3)) : 0;
      this.nextSequence = p.segments[skip]!.sequence;
    }
    for (const s of p.segments) {
      if (this.closed) return "ok";
      if (s.sequence < this.nextSequence) continue;
      if (s.key) {
        this.fault(
          "hls.unsupported-encryption",
          `segment ${s.sequence} is encrypted (EXT-X-KEY METHOD=${s.key.method}, RFC 8216 4.3.2.4); streamqc does not decrypt HLS`,
          { method: s.key.method, sequence: s.sequence },
        );
        this.emit({
          kind: "lost",
          at: this.now(),
          reason: `encrypted HLS (METHOD=${s.key.method}) is not supported`,
          fatal: true,
        });
        return "fatal";
      }
      if (s.map && s.map.uri !== this.currentMap) {
        const mapUrl = new URL(s.map.uri, playlistUrl).href;
        const got = await this.downloadSegment(mapUrl, s, true);
        if (got) this.currentMap = s.map.uri;
      }
      await this.downloadSegment(new URL(s.uri, playlistUrl).href, s, false);
      this.nextSequence = s.sequence + 1;
    }
    return "ok";
  }

  private async downloadSegment(url: string, s: Segment, init: boolean): Promise<boolean> {
    const attempts = 1 + (this.options.segmentRetries ?? 2);
    let lastError: unknown = null;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (this.closed) return false;
      const started = this.clock();
      try {
        const bytes = await this.fetchBytes(url);
        const took = this.clock() - started;
        if (!init && took > s.duration) {
          this.fault(
            "hls.segment-slow",
            `segment ${s.sequence} took ${took.toFixed(2)} s to download, it lasts ${s.duration} s`,
            {
              sequence: s.sequence,
              url,
              downloadSeconds: Math.round(took * 1000) / 1000,
              duration: s.duration,
            },
          );
        }
        try {
          await this.options.onSegment(bytes, {
            url,
            sequence: init ? -1 : s.sequence,
            duration: init ? 0 : s.duration,
            discontinuity: s.discontinuity,
            discontinuitySequence: s.discontinuitySequence,
            init,
            downloadSeconds: took,
          });
        } catch {
          // The consumer's failure is its own (e.g. a decoder restart); the source goes on.
        }
        if (!init) {
          this.segmentsDelivered++;
          if (s.discontinuity) this.discontinuities++;
          this.lastSegment = {
            sequence: s.sequence,
            duration: s.duration,
            downloadSeconds: Math.round(took * 1000) / 1000,
            at: new Date().toISOString(),
          };
        }
        return true;
      } catch (err) {
        if (this.closed) return false;
        lastError = err;
        if (attempt < attempts) await this.sleep(this.options.segmentRetryDelayMs ?? 250);
      }
    }
    const status = lastError instanceof HttpStatusError ? lastError.status : null;
    this.fault(
      "hls.segment-failed",
      `${init ? "initialization section" : `segment ${s.sequence}`} failed after ${attempts} attempts: ${errorMessage(lastError)}`,
      { sequence: s.sequence, url, attempts, status, init },
    );
    return false;
  }

  private markLost(err: unknown): void {
    this.playlistFailures++;
    this.noteError(`playlist unreachable: ${errorMessage(err)}`);
    if (this.online !== false) {
      this.online = false;
      this.emit({
        kind: "lost",
        at: this.now(),
        reason: `playlist unreachable: ${errorMessage(err)}`,
        fatal: false,
      });
    }
  }

  private markOnline(url: string): void {
    this.playlistFailures = 0;
    if (this.online !== true) {
      this.online = true;
      this.emit({ kind: "connected", at: this.now(), url });
    }
  }

  /** Exponential backoff with full jitter, capped: spreads reconnects of many monitors. */
  private backoffMs(): number {
    const initial = this.options.backoffInitialMs ?? 500;
    const cap = this.options.backoffMaxMs ?? 30_000;
    const ceiling = Math.min(cap, initial * 2 ** Math.max(0, this.playlistFailures - 1));
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  private signal(): AbortSignal {
    return AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.options.requestTimeoutMs ?? 10_000)]);
  }

  private async fetchText(url: string): Promise<string> {
    const res = await fetch(url, { signal: this.signal() });
    if (!res.ok) {
      await res.body?.cancel();
      throw new HttpStatusError(res.status, url);
    }
    return res.text();
  }

  private async fetchBytes(url: string): Promise<Uint8Array> {
    const res = await fetch(url, { signal: this.signal() });
    if (!res.ok) {
      await res.body?.cancel();
      throw new HttpStatusError(res.status, url);
    }
    return new Uint8Array(await res.arrayBuffer());
  }

  private sleep(ms: number): Promise<void> {
    if (this.closed || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.abort.signal;
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

function lastSequence(p: MediaPlaylist): number {
  return p.segments.at(-1)?.sequence ?? p.mediaSequence - 1;
}
