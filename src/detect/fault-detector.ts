/**
 * Stream-health detectors from fault events: `ts.health` (TR 101 290 faults from the TS
 * analyzer) and `hls.health` (playlist and segment faults from the HLS source). One generic
 * module: a fault event whose type starts with one of the detector's prefixes opens a
 * condition of that exact type (`ts.continuity`, `hls.stale-playlist`...); the same fault
 * again within `holdSeconds` extends it; the condition ends at its last fault once an event
 * (or a frame or audio block, if the monitor feeds them) shows `holdSeconds` passed without
 * it, or at flush.
 */
import { z } from "zod";
import type { AudioBlock, StreamEvent, VideoFrame } from "../ingest/media.js";
import { TS_CHECKS } from "../ingest/ts-analyzer.js";
import { defineDetector, type Condition, type ConditionSink, type Detector } from "./detector.js";

/** The faults the HLS source reports (src/ingest/hls/hls-source.ts; DETECTORS.md lists them). */
export const HLS_FAULT_TYPES = [
  "hls.stale-playlist",
  "hls.sequence-regress",
  "hls.uri-changed",
  "hls.segment-too-long",
  "hls.segment-failed",
  "hls.segment-slow",
  "hls.malformed",
  "hls.unsupported-encryption",
] as const;

export const FaultOptionsSchema = z.object({
  /**
   * A fault recurring within this many seconds extends its condition. Longer than the
   * sources' 1 s folding of repeats, so a persistent fault is one condition. @defaultValue 3
   */
  holdSeconds: z.number().min(0).max(3600).default(3),
  /** Fault types to ignore, exact (e.g. `ts.pts-gap` on streams with sparse subtitles). @defaultValue [] */
  ignore: z.array(z.string()).default([]),
});

export type FaultOptions = z.output<typeof FaultOptionsSchema>;

interface Open {
  readonly type: string;
  readonly start: number;
  last: number;
  count: number;
  readonly firstMessage: string;
  lastMessage: string;
  readonly pids: Set<number>;
  readonly firstDetails: Readonly<Record<string, unknown>>;
}

export class FaultDetector implements Detector {
  private readonly open = new Map<string, Open>();
  private readonly counts = new Map<string, number>();

  constructor(
    readonly type: string,
    private readonly prefixes: readonly string[],
    private readonly options: FaultOptions,
    private readonly sink: ConditionSink,
  ) {}

  pushEvent(event: StreamEvent): void {
    this.advance(event.at);
    if (event.kind !== "fault") return;
    if (!this.prefixes.some((p) => event.type.startsWith(p)) || this.options.ignore.includes(event.type))
      return;
    const n = typeof event.details?.["count"] === "number" ? event.details["count"] : 1;
    this.counts.set(event.type, (this.counts.get(event.type) ?? 0) + n);
    const pid = event.details?.["pid"];
    const o = this.open.get(event.type);
    if (o) {
      o.last = Math.max(o.last, event.at);
      o.count += n;
      o.lastMessage = event.message;
      if (typeof pid === "number") o.pids.add(pid);
      this.sink({ phase: "update", condition: this.condition(o, null) });
      return;
    }
    const fresh: Open = {
      type: event.type,
      start: event.at,
      last: event.at,
      count: n,
      firstMessage: event.message,
      lastMessage: event.message,
      pids: new Set(typeof pid === "number" ? [pid] : []),
      firstDetails: event.details ?? {},
    };
    this.open.set(event.type, fresh);
    this.sink({ phase: "start", condition: this.condition(fresh, null) });
  }

  pushVideo(frame: VideoFrame): void {
    this.advance(frame.pts);
  }

  pushAudio(block: AudioBlock): void {
    this.advance(block.pts);
  }

  private advance(now: number): void {
    for (const [type, o] of this.open) {
      if (now - o.last > this.options.holdSeconds) {
        this.open.delete(type);
        this.sink({ phase: "end", condition: this.condition(o, o.last) });
      }
    }
  }

  private condition(o: Open, end: number | null): Condition {
    const { count: _c, pid: _p, ...rest } = o.firstDetails;
    return {
      type: o.type,
      start: o.start,
      end,
      details: {
        ...rest,
        count: o.count,
        message: o.firstMessage,
        ...(o.lastMessage !== o.firstMessage ? { lastMessage: o.lastMessage } : {}),
        ...(o.pids.size > 0 ? { pids: [...o.pids].sort((a, b) => a - b) } : {}),
      },
    };
  }

  flush(endPts: number): void {
    for (const o of this.open.values()) {
      this.sink({ phase: "end", condition: this.condition(o, Math.min(endPts, o.last)) });
    }
    this.open.clear();
  }

  measure(): Readonly<Record<string, number | string | boolean | null>> {
    const out: Record<string, number> = { open: this.open.size };
    for (const [type, n] of this.counts) out[type] = n;
    return out;
  }
}

export const transportHealthDetector = defineDetector({
  type: "ts.health",
  description: "MPEG-TS health (ETSI TR 101 290 priority 1 and 2) from the TS analyzer's ts.* faults.",
  // Transport faults: the picture and sound usually survive them, so minor unless a profile says otherwise.
  emits: Object.keys(TS_CHECKS).map((type) => ({ type, severity: "minor" as const })),
  needs: {},
  options: FaultOptionsSchema,
  create: (options, sink) => new FaultDetector("ts.health", ["ts."], options, sink),
});

export const hlsHealthDetector = defineDetector({
  type: "hls.health",
  description: "HLS playlist and segment health (RFC 8216) from the HLS source's hls.* faults.",
  emits: HLS_FAULT_TYPES.map((type) => ({ type, severity: "minor" as const })),
  needs: {},
  options: FaultOptionsSchema,
  create: (options, sink) => new FaultDetector("hls.health", ["hls."], options, sink),
});
