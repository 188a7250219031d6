/** Peak and RMS levels per channel over the last block, in dBFS, for `watch` and live state. */
import type { AudioBlock } from "../ingest/media.js";

export function dbfs(x: number): number {
  return x > 0 ? 20 * Math.log10(x) : -Infinity;
}

export interface Levels {
  readonly peakDbfs: number[];
  readonly rmsDbfs: number[];
}

export class LevelMeter {
  private peak: Float64Array = new Float64Array(0);
  private sumSq: Float64Array = new Float64Array(0);
  private count = 0;

  push(block: AudioBlock): void {
    const ch = block.channels;
    if (this.peak.length !== ch) {
      this.peak = new Float64Array(ch);
      this.sumSq = new Float64Array(ch);
      this.count = 0;
    }
    const s = block.samples;
    const end = block.frames * ch;
    // One channel at a time with peak and sum in locals; the sum continues from the stored
    // one, so the squares are added in the same order as sample by sample.
    for (let c = 0; c < ch; c++) {
      let peak = this.peak[c]!;
      let sum = this.sumSq[c]!;
      for (let i = c; i < end; i += ch) {
        const v = s[i]!;
        const a = v < 0 ? -v : v;
        if (a > peak) peak = a;
        sum += v * v;
      }
      this.peak[c] = peak;
      this.sumSq[c] = sum;
    }
    this.count += block.frames;
  }

  /** Levels since the last call; resets. */
  take(): Levels {
    const peakDbfs = Array.from(this.peak, (p) => round1(dbfs(p)));
    const rmsDbfs = Array.from(this.sumSq, (s) => round1(dbfs(Math.sqrt(s / Math.max(1, this.count)))));
    this.peak.fill(0);
    this.sumSq.fill(0);
    this.count = 0;
    return { peakDbfs, rmsDbfs };
  }
}

function round1(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 10) / 10 : -120;
}
