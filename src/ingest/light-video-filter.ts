/**
 * What a light decoder is fed of the video: the keyframes' PES packets, and of every other
 * PES only its head (its PES header and the first few hundred bytes of its picture: enough
 * for the decoder to read the slice header and skip it). The rest is left out here, in Node,
 * before the bytes reach the decoder's stdin, and each PES's time and size, the only things
 * light mode needs of the pictures it does not decode (the gap detector's packet times and
 * the packet-size sign of a freeze), are read here from the whole stream.
 *
 * Why: `-skip_frame nokey` makes the decoder skip the pictures, but it still demuxes and
 * parses every byte, and the copy of every packet that used to come back to Node for its
 * size was the whole video again through the NUT pipe. On 1080p H.264 the keyframes are 7 %
 * of the video's bytes (3.0 of 44.6 MB a minute on the bench clip), so the decoder reads a
 * tenth of what it did and Node writes a tenth and reads nothing back. And while FFmpeg
 * analyses the stream, H.264 B pictures get no head at all (HIDE_B_SECONDS), so its parser
 * leaves `has_b_frames` at the SPS's 0 (h264-reorder.ts): no picture of delay.
 *
 * The stream the decoder gets stays valid MPEG-TS:
 * - the video PID's continuity counters are renumbered, so the left-out packets are not a
 *   loss; a real loss inside what is kept still shows as one (a counter is skipped), so the
 *   decoder still flags the damaged keyframe;
 * - a left-out packet that carries a PCR becomes an adaptation-field-only packet with that
 *   PCR (such packets do not advance the counter, ISO 13818-1 2.4.3.3);
 * - other PIDs (audio, tables, data) pass as they are.
 *
 * A keyframe PES is one with the adaptation field's random_access_indicator, or whose first
 * packet holds an H.264 IDR slice, SPS or recovery-point SEI, an HEVC IRAP picture or
 * parameter set, or an MPEG-1/2 sequence header or I picture: what `-skip_frame nokey` would
 * decode. Other video codecs pass whole (their packets' times and sizes are still read).
 */

import { pesPts } from "./ts-analyzer.js";

const PACKET = 188;
const SYNC = 0x47;
const WRAP = 2 ** 33;
/** Bytes of a left-out picture's first slice (or picture header) kept: more than any slice header. */
const HEAD_BYTES = 320;
/**
 * Seconds of media from the first picture in which an H.264 B picture gets no head. While
 * FFmpeg analyses the stream (1 s, KEYFRAME_START_ANALYZE_US), its parser sets the stream's
 * `has_b_frames` to 1 on the first B slice it sees (libavformat's compute_pkt_fields), and the
 * decoder then holds one picture back for good: in light mode a whole keyframe interval. The
 * decoder takes its delay from the analysis only, so B pictures after it change nothing.
 */
const HIDE_B_SECONDS = 3;
/** A head longer than this (SEI, user data) is cut anyway. */
const MAX_HEAD_PACKETS = 16;

/** The video codecs a gate tells apart by their PMT stream_type. */
export type VideoCodec = "mpeg2" | "h264" | "hevc" | "other";

/** A video PES as the demuxer would give it: its PTS in seconds (33-bit wraps undone), its size, whether it is a keyframe. */
export interface PesInfo {
  readonly pts: number;
  readonly size: number;
  readonly keyframe: boolean;
}

export class LightVideoFilter {
  /** Whether the PES now being read goes to the decoder (true until the first PES start). */
  private keep = true;
  /** A left-out PES whose head is still being kept (scanHead), and its packets so far. */
  private head = false;
  private headEnds = false;
  private headPackets = 0;
  /** Bytes of the head from its first picture data on (-1: none seen yet). */
  private afterSlice = -1;
  /** Where the head's last packet ends its payload (MPEG-2: its first slice), -1: whole. */
  private cutAt = -1;
  /** The last continuity counter seen on the video PID (-1: none), and the last one written. */
  private inCc = -1;
  private outCc = -1;
  /** Whether the last video packet seen was written (a loss after it is inside what is kept). */
  private lastKept = false;
  private carry: Uint8Array | null = null;
  private scratch = Buffer.alloc(0);
  /** The PES being read: its PTS (90 kHz, unwrapped; NaN when it has none) and payload bytes. */
  private pesPts = NaN;
  private pesSize = -1;
  private lastPts = NaN;
  /** The first PES's PTS (90 kHz, unwrapped): when hiding B pictures ends. */
  private firstPts = NaN;
  private wrap = 0;

  constructor(
    private readonly videoPid: number,
    private readonly codec: VideoCodec,
    private readonly onPes: (pes: PesInfo) => void,
  ) {}

  /** What the decoder gets of `chunk` (never changed in place: the chunk is also a recording). */
  push(chunk: Uint8Array): Uint8Array {
    let bytes = chunk;
    if (this.carry) {
      bytes = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    // Kept packets go to a scratch buffer reused from chunk to chunk, and out as one copy of
    // what was kept: a tenth of the chunk, small enough for Node's shared allocation pool.
    if (this.scratch.length < bytes.length) this.scratch = Buffer.allocUnsafe(bytes.length);
    const out = this.scratch;
    let o = 0;
    let p = 0;
    while (p + PACKET <= bytes.length) {
      if (bytes[p] !== SYNC) {
        p++;
        continue;
      }
      const pid = ((bytes[p + 1]! & 0x1f) << 8) | bytes[p + 2]!;
      if (pid !== this.videoPid) {
        out.set(bytes.subarray(p, p + PACKET), o);
        o += PACKET;
      } else {
        o = this.video(bytes, p, out, o);
      }
      p += PACKET;
    }
    if (p < bytes.length) this.carry = new Uint8Array(bytes.subarray(p));
    return Buffer.from(out.subarray(0, o));
  }

  /** One video packet: written (renumbered), cut to its PCR, or left out. Returns the new write offset. */
  private video(buf: Uint8Array, p: number, out: Buffer, o: number): number {
    const b1 = buf[p + 1]!;
    const b3 = buf[p + 3]!;
    const afc = (b3 >> 4) & 3;
    const adaptation = afc & 2 ? buf[p + 4]! : -1;
    const flags = adaptation > 0 ? buf[p + 5]! : 0;
    const payload = afc & 1 ? (afc & 2 ? p + 5 + adaptation : p + 4) : -1;
    const hasPayload = payload >= 0 && payload < p + PACKET;
    const starts = (b1 & 0x40) !== 0 && hasPayload && !(b1 & 0x80);
    if (starts) {
      this.endPes();
      this.startPes(buf, payload, p + PACKET, (flags & 0x40) !== 0);
    } else if (hasPayload) {
      if (this.pesSize >= 0) this.pesSize += p + PACKET - payload;
      if (this.head) this.scanHead(buf, payload, p + PACKET);
    }
    const keep = this.keep || this.codec === "other" || this.head || this.headEnds;
    this.headEnds = false;
    const cc = b3 & 0x0f;
    // A jump in the counter (not a repeat, not flagged as a discontinuity) is a lost packet.
    const lost =
      hasPayload && this.inCc >= 0 && cc !== ((this.inCc + 1) & 15) && cc !== this.inCc && !(flags & 0x80);
    const repeat = hasPayload && cc === this.inCc;
    if (hasPayload) this.inCc = cc;
    const cutAt = this.cutAt;
    this.cutAt = -1;
    if (keep) {
      if (cutAt >= 0) cutPacket(buf, p, cutAt, out, o);
      else out.set(buf.subarray(p, p + PACKET), o);
      if (hasPayload) {
        if (this.outCc < 0) this.outCc = cc;
        else if (!repeat) this.outCc = (this.outCc + (lost && this.lastKept ? 2 : 1)) & 15;
      }
      if (this.outCc >= 0) out[o + 3] = (b3 & 0xf0) | this.outCc;
      // A head's PES is cut short: its length becomes "unbounded" (allowed for video, 2.4.3.7),
      // so the demuxer does not wait for the rest or call it damaged.
      if (starts && !this.keep && buf[payload + 3]! >> 4 === 0xe) {
        const at = o + (payload - p);
        out[at + 4] = 0;
        out[at + 5] = 0;
      }
      this.lastKept = true;
      return o + PACKET;
    }
    this.lastKept = false;
    if (!(flags & 0x10) || adaptation < 7) return o;
    // The PCR alone: header without payload_unit_start, adaptation field only, stuffed.
    out[o] = SYNC;
    out[o + 1] = b1 & 0x1f;
    out[o + 2] = buf[p + 2]!;
    out[o + 3] = (b3 & 0xc0) | 0x20 | Math.max(0, this.outCc);
    out[o + 4] = PACKET - 5;
    out[o + 5] = flags & 0x90;
    out.set(buf.subarray(p + 6, p + 12), o + 6);
    out.fill(0xff, o + 12, o + PACKET);
    return o + PACKET;
  }

  private startPes(buf: Uint8Array, payload: number, end: number, rai: boolean): void {
    const pes = buf.subarray(payload, end);
    this.keep = rai || (this.codec !== "other" && isKeyPes(pes, this.codec));
    this.pesPts = NaN;
    this.pesSize = -1;
    this.head = !this.keep;
    this.headPackets = 0;
    this.afterSlice = -1;
    if (pes.length < 9 || pes[0] !== 0 || pes[1] !== 0 || pes[2] !== 1) return;
    const header = 9 + pes[8]!;
    this.pesSize = Math.max(0, pes.length - header);
    if (pes[7]! & 0x80 && pes.length >= 14) {
      const pts = pesPts(pes, 0);
      // The counter wraps every 26.5 h; B-frames step back a little, a wrap by nearly 2^33.
      if (!Number.isNaN(this.lastPts) && pts + this.wrap < this.lastPts - WRAP / 2) this.wrap += WRAP;
      this.pesPts = pts + this.wrap;
      this.lastPts = this.pesPts;
      if (Number.isNaN(this.firstPts)) this.firstPts = this.pesPts;
    }
    if (
      this.head &&
      this.codec === "h264" &&
      this.pesPts - this.firstPts < HIDE_B_SECONDS * 90_000 &&
      isBSlice(pes, Math.min(pes.length, header))
    ) {
      // No head at all for a B picture while FFmpeg analyses the stream (see HIDE_B_SECONDS).
      this.head = false;
      return;
    }
    if (this.head) this.scanHead(buf, Math.min(end, payload + header), end);
  }

  /**
   * A left-out PES's head: its packets are kept until they hold `HEAD_BYTES` of its first
   * picture data (slice or picture header), at most `MAX_HEAD_PACKETS`. The demuxer and its
   * parser then see every access unit begin with its own timestamp, so each keyframe is
   * handed to the decoder as soon as the next picture begins, as with the whole stream; the
   * decoder reads the header, sees a picture that is not a keyframe and skips it.
   */
  private scanHead(buf: Uint8Array, from: number, end: number): void {
    if (this.codec === "mpeg2") {
      // MPEG-2 slices are a macroblock row each, and FFmpeg's parser begins a picture at its
      // first slice: the head keeps the first slice whole and ends at the start code after
      // it, the rest of that packet stuffed (cutPacket). A slice cut short can be too short
      // to parse ("slice too small").
      let at = from;
      if (this.afterSlice < 0) {
        const picture = firstPicture(buf, from, end, "mpeg2");
        const slice = picture < 0 ? -1 : firstSlice(buf, picture, end);
        if (slice >= 0) {
          this.afterSlice = 0;
          at = slice + 4;
        }
      }
      const next = this.afterSlice < 0 ? -1 : startCode(buf, at, end);
      if (next >= 0) this.endHead(next);
      else if (++this.headPackets >= MAX_HEAD_PACKETS) this.endHead();
      return;
    }
    if (this.afterSlice < 0) {
      const at = firstPicture(buf, from, end, this.codec);
      if (at >= 0) this.afterSlice = end - at;
    } else {
      this.afterSlice += end - from;
    }
    if (this.afterSlice >= HEAD_BYTES || ++this.headPackets >= MAX_HEAD_PACKETS) this.endHead();
  }

  /** This packet is the head's last (its payload ending at `cutAt`, when given). */
  private endHead(cutAt = -1): void {
    this.head = false;
    this.headEnds = true;
    this.cutAt = cutAt;
  }

  private endPes(): void {
    if (this.pesSize >= 0 && !Number.isNaN(this.pesPts)) {
      this.onPes({ pts: this.pesPts / 90_000, size: this.pesSize, keyframe: this.keep });
    }
    this.pesSize = -1;
  }
}

/** Where the next `00 00 01` in `bytes[from, end)` begins, or -1. */
export function startCode(bytes: Uint8Array, from: number, end: number): number {
  for (let i = from; i + 2 < end; i++) {
    if (bytes[i] === 0 && bytes[i + 1] === 0 && bytes[i + 2] === 1) return i;
  }
  return -1;
}

/**
 * Whether the first slice in `pes[from..]` (this packet's bytes) is an H.264 B slice: its
 * header's slice_type (after first_mb_in_slice, both Exp-Golomb codes, 7.3.3) is 1 or 6.
 * False when no slice starts in these bytes.
 */
export function isBSlice(pes: Uint8Array, from: number): boolean {
  const at = firstPicture(pes, from, pes.length, "h264");
  if (at < 0) return false;
  let bit = (at + 4) * 8;
  const end = pes.length * 8;
  const ue = (): number => {
    let zeros = 0;
    for (; bit < end && ((pes[bit >> 3]! >> (7 - (bit & 7))) & 1) === 0; bit++) zeros++;
    bit++;
    let value = 0;
    for (let i = 0; i < zeros && bit < end; i++, bit++)
      value = value * 2 + ((pes[bit >> 3]! >> (7 - (bit & 7))) & 1);
    return 2 ** zeros - 1 + value;
  };
  ue();
  const type = ue();
  return bit <= end && type % 5 === 1;
}

/** Where the first MPEG-1/2 slice start code (00 00 01 01..AF) in `bytes[from, end)` begins, or -1. */
function firstSlice(bytes: Uint8Array, from: number, end: number): number {
  for (let i = startCode(bytes, from, end); i >= 0 && i + 3 < end; i = startCode(bytes, i + 3, end)) {
    const b = bytes[i + 3]!;
    if (b >= 0x01 && b <= 0xaf) return i;
  }
  return -1;
}

/**
 * Writes the packet at `p` to `out[o]` with its payload ending at `cut` (an offset into `buf`):
 * the adaptation field (made, or kept with what it holds) grows by stuffing bytes to fill it.
 */
function cutPacket(buf: Uint8Array, p: number, cut: number, out: Buffer, o: number): void {
  const afc = (buf[p + 3]! >> 4) & 3;
  const oldField = afc & 2 ? buf[p + 4]! : -1;
  const payloadFrom = oldField >= 0 ? p + 5 + oldField : p + 4;
  const payload = Math.max(0, cut - payloadFrom);
  const field = PACKET - 5 - payload;
  out[o] = SYNC;
  out[o + 1] = buf[p + 1]!;
  out[o + 2] = buf[p + 2]!;
  out[o + 3] = (buf[p + 3]! & 0xcf) | 0x30;
  out[o + 4] = field;
  if (field > 0) {
    // The old field's flags and contents (PCR and the like) first, then stuffing.
    const kept = oldField > 0 ? oldField : 0;
    if (kept > 0) out.set(buf.subarray(p + 5, p + 5 + kept), o + 5);
    else out[o + 5] = 0;
    out.fill(0xff, o + 5 + Math.max(1, kept), o + 5 + field);
  }
  out.set(buf.subarray(payloadFrom, payloadFrom + payload), o + 5 + field);
}

/** Where the first picture data (H.264/HEVC VCL NAL unit, MPEG-2 picture header) in `bytes[from, end)` begins, or -1. */
function firstPicture(bytes: Uint8Array, from: number, end: number, codec: VideoCodec): number {
  for (let i = startCode(bytes, from, end); i >= 0 && i + 3 < end; i = startCode(bytes, i + 3, end)) {
    const b = bytes[i + 3]!;
    const picture =
      codec === "h264"
        ? (b & 0x1f) >= 1 && (b & 0x1f) <= 5
        : codec === "hevc"
          ? ((b >> 1) & 0x3f) < 32
          : b === 0;
    if (picture) return i;
  }
  return -1;
}

/**
 * The start codes (`00 00 01`, their offsets, each with a byte after it) in the elementary
 * stream bytes of a PES's first packet, `pes` being that packet's payload; none when it does
 * not begin a PES.
 */
export function* pesStartCodes(pes: Uint8Array): Generator<number> {
  if (pes.length < 9 || pes[0] !== 0 || pes[1] !== 0 || pes[2] !== 1) return;
  for (
    let i = startCode(pes, 9 + pes[8]!, pes.length);
    i >= 0 && i + 3 < pes.length;
    i = startCode(pes, i + 3, pes.length)
  ) {
    yield i;
  }
}

/**
 * True when a video PES whose first packet's payload is `pes` holds a picture that
 * `-skip_frame nokey` decodes (see the module comment), judged from that packet's start codes.
 */
export function isKeyPes(pes: Uint8Array, codec: Exclude<VideoCodec, "other">): boolean {
  for (const i of pesStartCodes(pes)) {
    const b = pes[i + 3]!;
    if (codec === "h264") {
      const type = b & 0x1f;
      if (type === 5 || type === 7) return true;
      // An SEI with a recovery point (payloadType 6): an open-GOP keyframe.
      if (type === 6 && hasRecoveryPoint(pes, i + 4)) return true;
      // A slice that is not IDR: the access unit's picture is decided.
      if (type === 1) return false;
    } else if (codec === "hevc") {
      const type = (b >> 1) & 0x3f;
      if ((type >= 16 && type <= 21) || type === 32 || type === 33) return true;
      if (type < 16) return false;
    } else {
      if (b === 0xb3) return true;
      // Picture header: temporal_reference (10 bits), then picture_coding_type (1: I).
      if (b === 0x00 && i + 5 < pes.length) return ((pes[i + 5]! >> 3) & 7) === 1;
    }
  }
  return false;
}

/** Whether the H.264 SEI payload starting at `from` (within this packet) holds a recovery point message. */
function hasRecoveryPoint(pes: Uint8Array, from: number): boolean {
  let j = from;
  // sei_message(): payloadType and payloadSize as runs of 0xFF plus a last byte (H.264 7.3.2.3.1).
  while (j < pes.length && pes[j] !== 0x80) {
    let type = 0;
    for (; j < pes.length && pes[j] === 0xff; j++) type += 255;
    if (j >= pes.length) return false;
    type += pes[j++]!;
    if (type === 6) return true;
    let size = 0;
    for (; j < pes.length && pes[j] === 0xff; j++) size += 255;
    if (j >= pes.length) return false;
    size += pes[j++]!;
    j += size;
  }
  return false;
}
