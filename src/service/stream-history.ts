/**
 * The last hour of one stream's measurements, in memory, for the channel page's plots:
 * loudness (momentary, short-term, integrated), true peak, levels per channel and the A/V
 * offset, one sample a second. A ring of typed columns: no object per sample, a fixed size
 * per stream (about 160 KB for stereo at 3600 samples). With a store, a downsampled copy (one
 * sample per 10 s: the highest peaks, the latest loudness) is written there and read back when
 * a stream starts, so the plots survive a restart; the store keeps the hour the page shows.
 */
import type { StreamHistory } from "../api/schemas.js";
import type { Levels } from "../monitor/level-meter.js";
import type { HistoryStore, Json } from "../store/store.js";
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

  /** Every sample held, oldest first. */
  samples(): HistorySample[] {
    const out: HistorySample[] = [];
    const v = (x: number | undefined): number | null => (x !== undefined && Number.isFinite(x) ? x : null);
    for (let k = this.count; k > 0; k--) {
      const i = (this.head - k + this.capacity) % this.capacity;
      out.push({
        t: this.t[i]!,
        momentary: v(this.scalars.momentary[i]),
        shortTerm: v(this.scalars.shortTerm[i]),
        integrated: v(this.scalars.integrated[i]),
        truePeak: v(this.scalars.truePeak[i]),
        avOffsetMs: v(this.scalars.avOffsetMs[i]),
        peakDbfs: this.peak.map((a) => a[i] ?? NaN),
        rmsDbfs: this.rms.map((a) => a[i] ?? NaN),
      });
    }
    return out;
  }

  /** Puts older samples (read back from the store) before the ones held, keeping the newest. */
  prepend(older: readonly HistorySample[]): void {
    const held = this.samples();
    const first = held[0]?.t ?? Infinity;
    const all = [...older.filter((s) => s.t < first), ...held].slice(-this.capacity);
    this.head = 0;
    this.count = 0;
    for (const s of all) this.push(s);
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

/** Downsampling and retention of the stored copy. */
export const STORED_EVERY_MS = 10_000;
export const STORED_KEEP_MS = 3_600_000;

/** The stored form of a sample: short keys, levels rounded to 0.1 dB. */
function toJson(s: HistorySample): Json {
  const r = (x: number | null): number | null => (x === null || !Number.isFinite(x) ? null : round(x, 1));
  return {
    m: r(s.momentary),
    s: r(s.shortTerm),
    i: r(s.integrated),
    tp: r(s.truePeak),
    av: s.avOffsetMs === null ? null : Math.round(s.avOffsetMs),
    pk: s.peakDbfs.map(r),
    rms: s.rmsDbfs.map(r),
  };
}

function fromJson(t: number, j: Json): HistorySample | null {
  if (j === null || typeof j !== "object" || Array.isArray(j)) return null;
  const n = (x: Json | undefined): number | null => (typeof x === "number" ? x : null);
  const list = (x: Json | undefined): number[] => (Array.isArray(x) ? x.map((v) => n(v) ?? NaN) : []);
  return {
    t,
    momentary: n(j["m"]),
    shortTerm: n(j["s"]),
    integrated: n(j["i"]),
    truePeak: n(j["tp"]),
    avOffsetMs: n(j["av"]),
    peakDbfs: list(j["pk"]),
    rmsDbfs: list(j["rms"]),
  };
}

const maxOf = (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : Math.max(a, b);

/**
 * One stored sample per STORED_EVERY_MS: the highest peak and true peak of the interval (a
 * short overload must stay visible), the latest loudness, RMS and A/V offset.
 */
function merge(acc: HistorySample, s: HistorySample): HistorySample {
  const n = Math.max(acc.peakDbfs.length, s.peakDbfs.length);
  const peakDbfs = Array.from({ length: n }, (_, c) =>
    Math.max(acc.peakDbfs[c] ?? -Infinity, s.peakDbfs[c] ?? -Infinity),
  );
  return {
    ...s,
    t: acc.t,
    truePeak: maxOf(acc.truePeak, s.truePeak),
    avOffsetMs: s.avOffsetMs ?? acc.avOffsetMs,
    peakDbfs,
  };
}

/**
 * The rings of every stream a process runs: one sample per `stream.levels` tick. Used by the
 * single-process service and by fleet workers (which serve it on their live endpoint).
 */
export class StreamHistories {
  readonly #rings = new Map<string, StreamHistoryRing>();
  /** With a store: the interval being downsampled and the samples not yet written, per stream. */
  readonly #bucket = new Map<string, HistorySample>();
  readonly #pending = new Map<string, HistorySample[]>();
  #timer: NodeJS.Timeout | null = null;
  #writes = 0;
  #writing: Promise<void> = Promise.resolve();
  /** Failed writes so far (a store outage loses plot points, never the service). */
  writeFailures = 0;

  constructor(
    private readonly samples = 3600,
    private readonly store?: HistoryStore,
  ) {
    if (store) {
      this.#timer = setInterval(() => void this.flush(), STORED_EVERY_MS);
      this.#timer.unref();
    }
  }

  /** Reads a stream's stored hour back into its ring (when a stream starts). */
  async restore(id: string, now = Date.now()): Promise<void> {
    if (!this.store) return;
    const rows = await this.store.readHistory(id, now - STORED_KEEP_MS).catch(() => {
      this.writeFailures++;
      return [];
    });
    const older = rows.flatMap((r) => fromJson(r.t, r.sample) ?? []);
    if (older.length === 0) return;
    let ring = this.#rings.get(id);
    if (!ring) this.#rings.set(id, (ring = new StreamHistoryRing(this.samples)));
    ring.prepend(older);
  }

  /** Writes the downsampled samples due, and prunes the store's old ones now and then. */
  flush(now = Date.now()): Promise<void> {
    const store = this.store;
    if (!store) return Promise.resolve();
    const batches = [...this.#pending];
    this.#pending.clear();
    const prune = this.#writes++ % 6 === 0;
    // Writes run one after another, never overlapping a slow previous one.
    this.#writing = this.#writing.then(async () => {
      // Every stream in one write: one commit (with SQLite, one fsync on this thread) instead
      // of one per stream, which at 64 channels stalled the event loop every STORED_EVERY_MS.
      if (batches.length > 0) {
        await store
          .appendHistories(
            batches.map(([id, list]) => ({
              streamId: id,
              samples: list.map((s) => ({ t: s.t, sample: toJson(s) })),
            })),
          )
          .catch(() => {
            this.writeFailures++;
          });
      }
      if (prune)
        await store.pruneHistory(now - STORED_KEEP_MS).catch(() => {
          this.writeFailures++;
        });
    });
    return this.#writing;
  }

  /** Stops the timer and writes what is pending (and each stream's current interval). */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    for (const [id, b] of this.#bucket) this.#queue(id, b);
    this.#bucket.clear();
    await this.flush();
  }

  #queue(id: string, s: HistorySample): void {
    const list = this.#pending.get(id);
    if (list) list.push(s);
    else this.#pending.set(id, [s]);
  }

  #downsample(id: string, s: HistorySample): void {
    const b = this.#bucket.get(id);
    if (b === undefined) {
      this.#bucket.set(id, s);
    } else if (s.t - b.t >= STORED_EVERY_MS) {
      this.#queue(id, b);
      this.#bucket.set(id, s);
    } else {
      this.#bucket.set(id, merge(b, s));
    }
  }

  /** Samples the stream's second; returns the loudness it read, for the caller's levels event. */
  record(id: string, levels: Levels, run: MeasuredRun, now = Date.now()): LoudnessNow | null {
    let ring = this.#rings.get(id);
    if (!ring) this.#rings.set(id, (ring = new StreamHistoryRing(this.samples)));
    const loudness = run.loudness();
    const sample: HistorySample = {
      t: now,
      momentary: loudness?.momentary ?? null,
      shortTerm: loudness?.shortTerm ?? null,
      integrated: loudness?.integrated ?? null,
      truePeak: loudness?.truePeak ?? null,
      avOffsetMs: run.avOffsetMs(),
      peakDbfs: levels.peakDbfs,
      rmsDbfs: levels.rmsDbfs,
    };
    ring.push(sample);
    if (this.store) this.#downsample(id, sample);
    return loudness;
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
    this.#bucket.delete(id);
    this.#pending.delete(id);
  }
}
