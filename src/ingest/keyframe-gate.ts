/**
 * A decoder fed by streamqc (UDP, HLS, a replay) starts at a keyframe: the bytes before the
 * first random-access point of the video are left out, and the stream's last PAT and PMT are
 * written just before it, so that the decoder's first video packet carries what it needs to
 * know the picture (H.264/HEVC parameter sets, an MPEG-2 sequence header).
 *
 * Why: FFmpeg's MPEG-TS demuxer never knows it has seen every stream, so probing reads until
 * `-analyzeduration` every time a decoder starts. Joined mid-GOP, 5 s were needed to be sure
 * of reaching a keyframe (udp-source.ts): the first picture came 5 s after the first byte,
 * and the probed packets stayed in the decoder's heap (2.4 MiB per decoder, BENCHMARKS.md).
 * Started at a keyframe, 1 s of analysis always holds the parameters
 * (KEYFRAME_START_ANALYZE_US): pictures a second after the first byte, and less memory.
 *
 * What is lost: the packets before the keyframe, at most one keyframe interval of sound at
 * each decoder start (a decoder joined mid-GOP could not show those pictures anyway).
 *
 * A random-access point is a video PES start with the adaptation field's
 * random_access_indicator (ISO 13818-1 2.4.3.5; broadcast encoders and FFmpeg set it), or
 * one whose first bytes hold an H.264 IDR slice or SPS, an HEVC parameter set or IRAP
 * picture, or an MPEG-1/2 sequence header. A stream without video opens at its PMT. A stream
 * whose keyframes are not found in KEYFRAME_WAIT_MS opens where it is and `gaveUp` says so:
 * the reader then starts later decoders the old way.
 */

import { Writable } from "node:stream";
import { hevcSpsWithoutReorder, spsWithoutReorder } from "./h264-reorder.js";
import {
  LightVideoFilter,
  pesStartCodes,
  startCode,
  type PesInfo,
  type VideoCodec,
} from "./light-video-filter.js";
import { whenWritable } from "./replay-source.js";

const PACKET = 188;
const SYNC = 0x47;

/** The analysis a decoder started at a keyframe needs (µs): the parameters are in its first packet. */
export const KEYFRAME_START_ANALYZE_US = 1_000_000;
/** A light decoder's `-probesize` at a keyframe start (keyframeStartArgs). */
export const LIGHT_PROBE_BYTES = 1_000_000;
/** Longer than any keyframe interval a broadcaster uses (10 s is the long end). */
export const KEYFRAME_WAIT_MS = 12_000;

/** PMT stream_type values of video (ISO 13818-1 table 2-34, and the registered HEVC). */
const VIDEO_TYPES: ReadonlyMap<number, "mpeg2" | "h264" | "hevc" | "other"> = new Map([
  [0x01, "mpeg2"],
  [0x02, "mpeg2"],
  [0x10, "other"], // MPEG-4 part 2
  [0x1b, "h264"],
  [0x24, "hevc"],
  [0x42, "other"], // AVS
  [0xea, "other"], // VC-1
]);

/** The keyframe gate of one decoder run. `push` returns what the decoder gets of each chunk. */
export class KeyframeGate {
  private open = false;
  private given = false;
  /** A packet split between two chunks. */
  private carry: Uint8Array | null = null;
  /** The packets of the last PAT and of the last PMT, since their section began. */
  private pat: Uint8Array[] = [];
  private pmt: Uint8Array[] = [];
  private pmtPid = -1;
  private videoPid = -1;
  private codec: VideoCodec = "other";
  private tablesKnown = false;
  private firstAt: number | null = null;
  /** Bytes left out before the keyframe (diagnostics, tests). */
  skippedBytes = 0;

  /** SPS units rewritten without a reorder delay (h264-reorder.ts), for tests and diagnostics. */
  spsRewritten = 0;

  private readonly waitMs: number;
  private readonly now: () => number;
  private readonly light: boolean;
  private readonly onVideoPes: ((pes: PesInfo) => void) | undefined;
  /** A light decoder's video after the gate: keyframes only (light-video-filter.ts). */
  private filter: LightVideoFilter | null = null;

  constructor(
    opts: {
      /** How long to look for a keyframe before opening where the stream is. */
      waitMs?: number;
      now?: () => number;
      /**
       * A light decoder's gate (keyframes only): each H.264 or HEVC SPS goes to the decoder
       * without its reorder delay (h264-reorder.ts). The chunks given to `push` are never
       * changed: a rewritten chunk is a copy. Once open, the video's other PES packets are
       * left out (light-video-filter.ts) and `onVideoPes` gets every video PES's time and size.
       */
      light?: boolean;
      onVideoPes?: (pes: PesInfo) => void;
    } = {},
  ) {
    this.waitMs = opts.waitMs ?? KEYFRAME_WAIT_MS;
    this.now = opts.now ?? (() => performance.now());
    this.light = opts.light ?? false;
    this.onVideoPes = opts.onVideoPes;
  }

  /** True once the decoder gets every byte. */
  get opened(): boolean {
    return this.open;
  }

  /** True when no keyframe was found in time and the gate opened mid-GOP. */
  get gaveUp(): boolean {
    return this.given;
  }

  /** The bytes of `chunk` the decoder should get (the chunk itself once open), or null for none. */
  push(chunk: Uint8Array): Uint8Array | null {
    if (this.open) return this.withoutReorder(this.filtered(chunk));
    this.firstAt ??= this.now();
    if (this.now() - this.firstAt > this.waitMs) {
      // This chunk and all after it go to the decoder as they are.
      this.open = true;
      this.given = true;
      const carry = this.carry;
      this.carry = null;
      return this.withoutReorder(this.filtered(carry ? Buffer.concat([carry, chunk]) : chunk, true));
    }
    let bytes = chunk;
    if (this.carry) {
      bytes = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    let p = 0;
    while (p + PACKET <= bytes.length) {
      if (bytes[p] !== SYNC) {
        p++;
        continue;
      }
      if (this.packet(bytes, p)) {
        this.open = true;
        return this.withoutReorder(this.filtered(this.opening(bytes.subarray(p)), true));
      }
      p += PACKET;
    }
    if (p < bytes.length) this.carry = new Uint8Array(bytes.subarray(p));
    this.skippedBytes += p;
    return null;
  }

  /** A light gate's bytes without the video's other PES packets; `opening`: the first bytes after the gate opened. */
  private filtered(bytes: Uint8Array, opening = false): Uint8Array {
    if (opening && this.light && this.videoPid >= 0) {
      this.filter = new LightVideoFilter(this.videoPid, this.codec, (pes) => this.onVideoPes?.(pes));
    }
    return this.filter ? this.filter.push(bytes) : bytes;
  }

  /** `bytes`, or for a light H.264 or HEVC decoder a copy with every whole SPS of the video rewritten. */
  private withoutReorder(bytes: Uint8Array): Uint8Array {
    if (!this.light || (this.codec !== "h264" && this.codec !== "hevc") || this.videoPid < 0) return bytes;
    let out: Uint8Array | null = null;
    let p = bytes.indexOf(SYNC);
    while (p >= 0 && p + PACKET <= bytes.length) {
      if (bytes[p] !== SYNC) {
        p = bytes.indexOf(SYNC, p + 1);
        continue;
      }
      const b1 = bytes[p + 1]!;
      const pid = ((b1 & 0x1f) << 8) | bytes[p + 2]!;
      if (pid === this.videoPid && b1 & 0x40) {
        const payload = payloadStart(bytes, p);
        if (payload >= 0) {
          for (const [from, sps] of rewrittenSps(bytes, payload, p + PACKET, this.codec === "hevc")) {
            // A copy (a Buffer's slice() would be a view): the chunk is also the recording a promotion replays.
            out ??= new Uint8Array(bytes);
            out.set(sps, from);
            this.spsRewritten++;
          }
        }
      }
      p += PACKET;
    }
    return out ?? bytes;
  }

  /** The tables, then everything from the packet that opened the gate. */
  private opening(rest: Uint8Array): Uint8Array {
    const out = Buffer.concat([...this.pat, ...this.pmt, rest]);
    this.pat = [];
    this.pmt = [];
    return out;
  }

  /** Looks at one packet; true when the decoder should start at it. */
  private packet(buf: Uint8Array, p: number): boolean {
    const b1 = buf[p + 1]!;
    if (b1 & 0x80) return false;
    const pid = ((b1 & 0x1f) << 8) | buf[p + 2]!;
    const pusi = (b1 & 0x40) !== 0;
    // random_access_indicator, in an adaptation field that has a flags byte.
    const rai = ((buf[p + 3]! >> 4) & 2) !== 0 && buf[p + 4]! > 0 && (buf[p + 5]! & 0x40) !== 0;
    const payload = payloadStart(buf, p);
    const end = p + PACKET;
    if (pid === 0 || pid === this.pmtPid) {
      const kept = pid === 0 ? this.pat : this.pmt;
      if (pusi) kept.length = 0;
      // A section longer than a few packets is not a PAT or PMT a decoder needs.
      if ((pusi || kept.length > 0) && kept.length < 8) kept.push(new Uint8Array(buf.subarray(p, end)));
      if (payload >= 0) this.table(pid === 0 ? this.pat : this.pmt, pid);
      // No video in the programme: the sound starts right after the tables.
      return this.tablesKnown && this.videoPid < 0;
    }
    if (pid !== this.videoPid || !pusi || payload < 0) return false;
    return rai || startsAccessPoint(buf.subarray(payload, end), this.codec);
  }

  /** Parses the section in `packets` once complete: the PAT gives the PMT's PID, the PMT the video's. */
  private table(packets: Uint8Array[], pid: number): void {
    const section = sectionOf(packets);
    if (!section) return;
    if (pid === 0 && section[0] === 0x00) {
      for (let i = 8; i + 4 <= section.length - 4; i += 4) {
        const program = (section[i]! << 8) | section[i + 1]!;
        if (program === 0) continue;
        const pmtPid = ((section[i + 2]! & 0x1f) << 8) | section[i + 3]!;
        if (pmtPid !== this.pmtPid) {
          this.pmtPid = pmtPid;
          this.pmt = [];
          this.tablesKnown = false;
        }
        return;
      }
      return;
    }
    if (pid !== this.pmtPid || section[0] !== 0x02) return;
    const infoLen = ((section[10]! & 0x0f) << 8) | section[11]!;
    this.videoPid = -1;
    for (let i = 12 + infoLen; i + 5 <= section.length - 4;) {
      const codec = VIDEO_TYPES.get(section[i]!);
      if (codec) {
        this.videoPid = ((section[i + 1]! & 0x1f) << 8) | section[i + 2]!;
        this.codec = codec;
        break;
      }
      i += 5 + (((section[i + 3]! & 0x0f) << 8) | section[i + 4]!);
    }
    this.tablesKnown = true;
  }
}

/** The first section in PSI packets (pointer_field on the first), or null while incomplete. */
function sectionOf(packets: readonly Uint8Array[]): Uint8Array | null {
  const payloads: Uint8Array[] = [];
  for (const pkt of packets) {
    const start = payloadStart(pkt, 0);
    if (start >= 0) payloads.push(pkt.subarray(start));
  }
  if (payloads.length === 0) return null;
  const all = Buffer.concat(payloads);
  const from = 1 + all[0]!;
  if (from + 3 > all.length) return null;
  const length = 3 + (((all[from + 1]! & 0x0f) << 8) | all[from + 2]!);
  if (from + length > all.length || length < 16) return null;
  return all.subarray(from, from + length);
}

/**
 * The SPS units wholly inside `bytes[from, end)` (one TS packet's payload) that
 * spsWithoutReorder (hevcSpsWithoutReorder) rewrites, with where each starts (its header byte).
 */
function rewrittenSps(bytes: Uint8Array, from: number, end: number, hevc: boolean): [number, Uint8Array][] {
  const found: [number, Uint8Array][] = [];
  let i = from;
  for (;;) {
    i = startCode(bytes, i, end);
    if (i < 0) return found;
    const nal = i + 3;
    if (nal >= end) return found;
    if (hevc ? ((bytes[nal]! >> 1) & 0x3f) !== 33 : (bytes[nal]! & 0x1f) !== 7) {
      i = nal;
      continue;
    }
    const next = startCode(bytes, nal, end);
    // An SPS that runs into the next packet is left alone (the decoder keeps its delay).
    if (next < 0) return found;
    let last = next;
    while (last > nal && bytes[last - 1] === 0) last--;
    const sps = (hevc ? hevcSpsWithoutReorder : spsWithoutReorder)(bytes.subarray(nal, last));
    if (sps) found.push([nal, sps]);
    i = next;
  }
}

/** Where the payload of the TS packet at `p` begins (after any adaptation field), or -1 when it has none. */
function payloadStart(buf: Uint8Array, p: number): number {
  const afc = (buf[p + 3]! >> 4) & 3;
  const start = afc & 2 ? p + 5 + buf[p + 4]! : p + 4;
  return afc & 1 && start < p + PACKET ? start : -1;
}

/**
 * True when a video PES whose first packet's payload is `pes` begins an access unit a decoder
 * can start at: scans the elementary stream bytes of this packet for start codes.
 */
export function startsAccessPoint(pes: Uint8Array, codec: VideoCodec): boolean {
  if (codec === "other") return false;
  for (const i of pesStartCodes(pes)) {
    const b = pes[i + 3]!;
    if (codec === "h264") {
      const type = b & 0x1f;
      if (type === 5 || type === 7) return true;
    } else if (codec === "hevc") {
      const type = (b >> 1) & 0x3f;
      if ((type >= 16 && type <= 21) || type === 32 || type === 33) return true;
    } else if (b === 0xb3) {
      return true;
    }
  }
  return false;
}

/**
 * `inputArgs` with the analysis a keyframe start needs (the source's own `-analyzeduration`
 * replaced). A light decoder's input (keyframes and heads, light-video-filter.ts) also gets a
 * smaller `-probesize`: FFmpeg keeps a buffer of that size while it reads the stream's start,
 * and with the default 5 MB it held 1.6 MB of it for good (measured, one live 1080p light
 * channel: 24.4 MB private memory, 23.0 with 1 MB); 1 MB is several seconds of such input.
 */
export function keyframeStartArgs(args: readonly string[], light = false): string[] {
  const out = [...args];
  setInputOption(out, "-analyzeduration", String(KEYFRAME_START_ANALYZE_US));
  if (light) setInputOption(out, "-probesize", String(LIGHT_PROBE_BYTES));
  return out;
}

/** Sets an input option in `args`, in place: its value replaced, or it added before `-i`. */
function setInputOption(args: string[], name: string, value: string): void {
  const at = args.indexOf(name);
  if (at >= 0 && at + 1 < args.length) {
    args[at + 1] = value;
    return;
  }
  const input = args.lastIndexOf("-i");
  args.splice(input < 0 ? args.length : input, 0, name, value);
}

/**
 * What a source writes to for one decoder run: its bytes pass through `gate` to the decoder's
 * stdin. Ends and closes with the decoder's stdin; `gaveUp` is called if the gate gives up.
 */
export function gatedInput(target: Writable, gate: KeyframeGate, gaveUp: () => void): Writable {
  const input = new Writable({
    write: (chunk: Uint8Array, _encoding, done) => {
      const wasOpen = gate.opened;
      const out = gate.push(chunk);
      if (!wasOpen && gate.gaveUp) gaveUp();
      if (!out || out.length === 0 || target.destroyed || target.writableEnded) done();
      else if (target.write(out)) done();
      else whenWritable(target, done);
    },
    final: (done) => {
      if (!target.destroyed && !target.writableEnded) target.end();
      done();
    },
  });
  input.on("error", () => undefined);
  target.once("close", () => input.destroy());
  return input;
}
