/**
 * The last hour of one stream's measurements, in memory, for the channel page's plots:
 * loudness (momentary, short-term, integrated), true peak, levels per channel and the A/V
 * offset, one sample a second. A ring of typed columns: no object per sample, a fixed size
 * per stream (about 160 KB for stereo at 3600 samples), nothing written to disk (the plots
 * show what the service saw since it started; incidents are what is kept).
 */
import type { StreamHistory } from "../api/schemas.js";
import type { Levels } from "../monitor/level-meter.js";
import type { LoudnessNow } from "./stream-runner.js";

export interface HistorySample {
  /** Wall clock, Unix milliseconds. */
  readonly t: number;
  readonly momentary: number | null;
  readonly shortTerm: number | null;
  readonly integrated: number | null;
  readonly truePeak: number | null;
  readonly avOffsetMs: number | null;
  readonly peakDbfs: readonly number[];
  readonly rmsDbfs: readonly number[];
}

/** Channels kept per stream; 7.1 fits, more are not plotted. */
const MAX_CHANNELS = 8;
const SCALARS = ["momentary", "shortTerm", "integrated", "truePeak", "avOffsetMs"] as const;

export class StreamHistoryRing {
  private readonly t: Float64Array;
  private readonly scalars: Record<(typeof SCALARS)[number], Float32Array>;
  private readonly peak: Float32Array[] = [];
  private readonly rms: Float32Array[] = [];
  /** Index of the next write; `count` samples end just before it. */
  private head = 0;
  private count = 0;

  constructor(
    readonly capacity = 3600,
    readonly intervalSeconds = 1,
  ) {
    this.t = new Float64Array(capacity);
    this.scalars = {
      momentary: new Float32Array(capacity),
      shortTerm: new Float32Array(capacity),
      integrated: new Float32Array(capacity),
      truePeak: new Float32Array(capacity),
      avOffsetMs: new Float32Array(capacity),
    };
  }

  push(s: HistorySample): void {
    const i = this.head;
    this.t[i] = s.t;
    for (const k of SCALARS) this.scalars[k][i] = s[k] ?? NaN;
    const channels = Math.min(MAX_CHANNELS, Math.max(s.peakDbfs.length, s.rmsDbfs.length));
    // A channel seen for the first time has no past: its column starts as NaN (null).
    while (this.peak.length < channels) {
      this.peak.push(new Float32Array(this.capacity).fill(NaN));
      this.rms.push(new Float32Array(this.capacity).fill(NaN));
    }
    for (let c = 0; c < this.peak.length; c++) {
      this.peak[c]![i] = s.peakDbfs[c] ?? NaN;
      this.rms[c]![i] = s.rmsDbfs[c] ?? NaN;
    }
    this.head = (i + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  get size(): number {
    return this.count;
  }

  /** Samples taken at or after `fromMs`, oldest first, as columns (uPlot's layout). */
  since(
    streamId: string,
    fromMs: number,
    reference: { target: number | null; truePeakLimit: number | null },
  ): StreamHistory {
    const idx: number[] = [];
    for (let k = this.count; k > 0; k--) {
      const i = (this.head - k + this.capacity) % this.capacity;
      if (this.t[i]! >= fromMs) idx.push(i);
    }
    const col = (a: Float32Array, digits: number): (number | null)[] =>
      idx.map((i) => {
        const v = a[i]!;
        return Number.isFinite(v) ? round(v, digits) : null;
      });
    return {
      streamId,
      intervalSeconds: this.intervalSeconds,
      t: idx.map((i) => round(this.t[i]! / 1000, 3)),
      momentary: col(this.scalars.momentary, 1),
      shortTerm: col(this.scalars.shortTerm, 1),
      integrated: col(this.scalars.integrated, 1),
      truePeak: col(this.scalars.truePeak, 1),
      avOffsetMs: col(this.scalars.avOffsetMs, 0),
      peakDbfs: this.peak.map((a) => col(a, 1)),
      rmsDbfs: this.rms.map((a) => col(a, 1)),
      target: reference.target,
      truePeakLimit: reference.truePeakLimit,
    };
  }
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** What a history sample reads from a running stream besides its levels. */
export interface MeasuredRun {
  loudness(): LoudnessNow | null;
  avOffsetMs(): number | null;
}

/**
 * The rings of every stream a process runs: one sample per `stream.levels` tick. Used by the
 * single-process service and by fleet workers (which serve it on their live endpoint).
 */
export class StreamHistories {
  readonly #rings = new Map<string, StreamHistoryRing>();

  constructor(private readonly samples = 3600) {}

  record(id: string, levels: Levels, run: MeasuredRun, now = Date.now()): void {
    let ring = this.#rings.get(id);
    if (!ring) this.#rings.set(id, (ring = new StreamHistoryRing(this.samples)));
    const loudness = run.loudness();
    ring.push({
      t: now,
      momentary: loudness?.momentary ?? null,
      shortTerm: loudness?.shortTerm ?? null,
      integrated: loudness?.integrated ?? null,
      truePeak: loudness?.truePeak ?? null,
      avOffsetMs: run.avOffsetMs(),
      peakDbfs: levels.peakDbfs,
      rmsDbfs: levels.rmsDbfs,
    });
  }

  /** The last `seconds` of a stream (empty columns when it has none), with its references. */
  read(id: string, seconds: number, run: MeasuredRun | undefined, now = Date.now()): StreamHistory {
    const loudness = run?.loudness() ?? null;
    const reference = { target: loudness?.target ?? null, truePeakLimit: loudness?.truePeakLimit ?? null };
    const ring = this.#rings.get(id);
    if (!ring) return new StreamHistoryRing(1).since(id, Infinity, reference);
    return ring.since(id, now - seconds * 1000, reference);
  }

  delete(id: string): void {
    this.#rings.delete(id);
  }
}
