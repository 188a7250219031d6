/**
 * Signs of trouble on a light stream: cheap reasons to decode it in full for a while
 * (promotion), never verdicts on their own. From the keyframes the light decoder gives:
 * two keyframes alike (a frozen picture spanning them) and a black keyframe. From the sizes
 * of the compressed packets between keyframes, which cost no decoding: a picture that
 * freezes codes to near-empty frames (measured on our clips: 23-60 bytes against 4,000-7,000
 * when it moves), and one that freezes under sensor noise to frames ten times larger
 * (about 61,000), so a sustained change of the packet size by `sizeFactor` in either
 * direction is a sign. Still shots of real content shrink too: that costs a promotion that
 * finds nothing, not a false alarm.
 */
import type { VideoFrame } from "../ingest/media.js";
import type { VideoPacket } from "../ingest/media-reader.js";

export interface TroubleSign {
  /** Media seconds when the sign was seen. */
  readonly at: number;
  readonly kind: string;
  readonly detail: string;
}

export interface TroubleSignOptions {
  /** Mean block-mean difference (0..255) below which two keyframes are alike. */
  readonly alikeLevel: number;
  /** Luma level at or below which a pixel is black (analysis frames are full range). */
  readonly blackLevel: number;
  /** Share of black pixels that makes a keyframe black. */
  readonly blackRatio: number;
  /** Packet size change, either way, that is a sign when it lasts `recentPackets`. */
  readonly sizeFactor: number;
  readonly recentPackets: number;
  readonly baselinePackets: number;
}

export const DEFAULT_TROUBLE_SIGNS: TroubleSignOptions = {
  alikeLevel: 1.5,
  blackLevel: 32,
  blackRatio: 0.95,
  sizeFactor: 4,
  recentPackets: 12,
  baselinePackets: 96,
};

const COLS = 16;
const ROWS = 9;

export class TroubleSigns {
  private prev = new Float32Array(COLS * ROWS);
  private cur = new Float32Array(COLS * ROWS);
  private hasPrev = false;
  private readonly sizes: Float64Array;
  private count = 0;
  private sinceCheck = 0;
  private readonly scratchRecent: number[] = [];
  private readonly scratchBase: number[] = [];
  /** The last size change reported, so one lasting change is one sign. */
  private shifted = false;

  constructor(
    private readonly sign: (s: TroubleSign) => void,
    private readonly opts: TroubleSignOptions = DEFAULT_TROUBLE_SIGNS,
  ) {
    this.sizes = new Float64Array(opts.recentPackets + opts.baselinePackets);
  }

  /** A decoded keyframe (light mode decodes nothing else). */
  keyframe(frame: VideoFrame): void {
    const { width, height, luma } = frame;
    if (width < COLS || height < ROWS || luma.length < width * height) return;
    const bw = Math.floor(width / COLS);
    const bh = Math.floor(height / ROWS);
    let black = 0;
    const cur = this.cur;
    cur.fill(0);
    for (let y = 0; y < bh * ROWS; y++) {
      const row = y * width;
      const by = Math.floor(y / bh) * COLS;
      for (let x = 0; x < bw * COLS; x++) {
        const v = luma[row + x]!;
        if (v <= this.opts.blackLevel) black++;
        cur[by + Math.floor(x / bw)]! += v;
      }
    }
    const n = bw * bh;
    let diff = 0;
    for (let i = 0; i < cur.length; i++) {
      cur[i] = cur[i]! / n;
      diff += Math.abs(cur[i]! - this.prev[i]!);
    }
    diff /= cur.length;
    const blackShare = black / (bw * bh * COLS * ROWS);
    if (blackShare >= this.opts.blackRatio) {
      this.sign({
        at: frame.pts,
        kind: "black-keyframe",
        detail: `${(blackShare * 100).toFixed(0)} % black`,
      });
    } else if (this.hasPrev && diff < this.opts.alikeLevel) {
      this.sign({ at: frame.pts, kind: "keyframes-alike", detail: `mean difference ${diff.toFixed(2)}` });
    }
    [this.prev, this.cur] = [this.cur, this.prev];
    this.hasPrev = true;
  }

  /** Every compressed video packet, keyframes included (they reset nothing: only P/B sizes count). */
  packet(p: VideoPacket): void {
    if (p.keyframe) return;
    this.sizes[this.count % this.sizes.length] = p.size;
    this.count++;
    const { recentPackets, baselinePackets, sizeFactor } = this.opts;
    // Judged every few packets: a sign within a quarter second is soon enough.
    if (++this.sinceCheck < 6 || this.count < recentPackets + baselinePackets / 4) return;
    this.sinceCheck = 0;
    const recent = this.scratchRecent;
    const base = this.scratchBase;
    recent.length = 0;
    base.length = 0;
    const len = this.sizes.length;
    const have = Math.min(this.count, len);
    for (let k = 1; k <= have; k++) {
      const v = this.sizes[(this.count - k) % len]!;
      if (k <= recentPackets) recent.push(v);
      else base.push(v);
    }
    const r = median(recent);
    const b = median(base);
    const shifted = r * sizeFactor < b || r > b * sizeFactor;
    if (shifted && !this.shifted) {
      this.sign({
        at: p.pts,
        kind: "packet-size",
        detail: `coded frames ${r < b ? "shrank" : "grew"} from ${b.toFixed(0)} to ${r.toFixed(0)} bytes`,
      });
    }
    this.shifted = shifted;
  }
}

function median(xs: number[]): number {
  xs.sort((a, b) => a - b);
  const m = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[m]! : (xs[m - 1]! + xs[m]!) / 2;
}
