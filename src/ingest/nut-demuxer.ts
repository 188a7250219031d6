/**
 * A push-mode demuxer for the NUT container, as FFmpeg's muxer writes it to a pipe.
 *
 * Why NUT: it is framed, carries each packet's PTS exactly, and FFmpeg writes raw video
 * (gray luma), PCM and MJPEG into it without transcoding. One pipe then carries every
 * stream of one decoder with its real timestamps (see DESIGN.md, "Measured facts").
 *
 * Only what a pipe needs is implemented: main, stream and info headers, syncpoints and
 * frames (with elision headers and side data skipped). Index packets are skipped.
 * The format is specified in FFmpeg's doc/nut.txt.
 */

const MAIN_STARTCODE = 0x4e4d7a561f5f04adn;
const STREAM_STARTCODE = 0x4e5311405bf2f9dbn;
const SYNCPOINT_STARTCODE = 0x4e4be4adeeca4569n;
const INDEX_STARTCODE = 0x4e58dd672f23e64en;
const INFO_STARTCODE = 0x4e49ab68b596ba78n;

const MAIN_HEADER_BYTES = Buffer.from("4e4d7a561f5f04ad", "hex");
const SYNCPOINT_BYTES = Buffer.from("4e4be4adeeca4569", "hex");

const FLAG_KEY = 1;
const FLAG_CODED_PTS = 8;
const FLAG_STREAM_ID = 16;
const FLAG_SIZE_MSB = 32;
const FLAG_CHECKSUM = 64;
const FLAG_RESERVED = 128;
const FLAG_SM_DATA = 256;
const FLAG_HEADER_IDX = 1024;
const FLAG_MATCH_TIME = 2048;
const FLAG_CODED = 4096;
const FLAG_INVALID = 8192;

const NUT_BROADCAST = 1;

export type NutStreamClass = "video" | "audio" | "subtitle" | "data";

export interface NutStream {
  readonly index: number;
  readonly kind: NutStreamClass;
  /** The codec fourcc as text, e.g. "Y800" for gray raw video, "PSD\x10" for s16le PCM. */
  readonly fourcc: string;
  readonly timeBase: { readonly num: number; readonly den: number };
  readonly width?: number;
  readonly height?: number;
  readonly sampleRate?: number;
  readonly channels?: number;
}

export interface NutPacket {
  readonly stream: number;
  /** Presentation time in the stream's time base. */
  readonly pts: number;
  readonly key: boolean;
  /** A view of the demuxer's buffer, valid only until the next `push`: copy it to keep it. */
  readonly data: Uint8Array;
}

export interface NutHandlers {
  onStreams(streams: readonly NutStream[]): void;
  onPacket(packet: NutPacket): void;
}

interface FrameCode {
  flags: number;
  ptsDelta: number;
  streamId: number;
  sizeMul: number;
  sizeLsb: number;
  reservedCount: number;
  headerIdx: number;
}

interface StreamState {
  info: NutStream;
  msbPtsShift: number;
  lastPts: number;
}

/** Thrown inside the parser when the buffer ends mid-unit; the unit is retried on more data. */
class NeedMoreData extends Error {
  /** Bytes of the buffer needed, when known, so that parsing waits until they are there. */
  need = 0;
}
/** One instance, reused: it is thrown at every chunk boundary and a new stack each time costs. */
const NEED_MORE = new NeedMoreData("need more data");
function needMore(need = 0): NeedMoreData {
  NEED_MORE.need = need;
  return NEED_MORE;
}

export class NutFormatError extends Error {
  override readonly name = "NutFormatError";
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  u8(): number {
    if (this.pos >= this.buf.length) throw needMore();
    return this.buf[this.pos++]!;
  }

  /** NUT's unsigned variable-length integer, 7 bits a byte, big end first. */
  v(): number {
    let value = 0;
    for (;;) {
      const b = this.u8();
      value = value * 128 + (b & 127);
      if ((b & 128) === 0) return value;
    }
  }

  /** NUT's signed variable-length integer. */
  s(): number {
    const v = this.v() + 1;
    return v % 2 === 1 ? -Math.floor(v / 2) : v / 2;
  }

  u64(): bigint {
    if (this.pos + 8 > this.buf.length) throw needMore();
    const value = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return value;
  }

  bytes(n: number): Buffer {
    if (this.pos + n > this.buf.length) throw needMore(this.pos + n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  skip(n: number): void {
    if (this.pos + n > this.buf.length) throw needMore(this.pos + n);
    this.pos += n;
  }
}

export class NutDemuxer {
  /**
   * Bytes received and not yet parsed, from the start of `pending`. It starts at two pipe
   * reads and doubles when a unit needs more (a light channel's copied keyframes, a full
   * channel's 960x540 detail frames): every decoder paid 1 MiB from the start before, most
   * of it never needed by a light channel (BENCHMARKS.md).
   */
  private pending = Buffer.allocUnsafe(128 * 1024);
  private pendingBytes = 0;
  /** Do not parse again until this many bytes are pending (a frame's payload is still arriving). */
  private need = 0;
  private readonly frameCodes: FrameCode[] = [];
  private timeBases: { num: number; den: number }[] = [];
  private streamCount = 0;
  private flags = 0;
  private readonly streams: StreamState[] = [];
  private readonly elision: Buffer[] = [Buffer.alloc(0)];
  private announced = false;
  /** The stream opens with an ID string; parsing starts at the main header. */
  private resyncTo: Buffer | null = MAIN_HEADER_BYTES;

  constructor(private readonly handlers: NutHandlers) {}

  /**
   * Feed bytes as they arrive from the pipe; complete units are parsed at once. The bytes are
   * copied, so the caller may reuse `chunk`; a packet's `data` is a view of this demuxer's own
   * buffer, valid until the next push (copy it to keep it).
   */
  push(chunk: Uint8Array): void {
    const total = this.pendingBytes + chunk.length;
    if (total > this.pending.length) {
      const grown = Buffer.allocUnsafe(Math.max(total, this.pending.length * 2));
      this.pending.copy(grown, 0, 0, this.pendingBytes);
      this.pending = grown;
    }
    this.pending.set(chunk, this.pendingBytes);
    this.pendingBytes = total;
    if (total < this.need) return;
    const r = new Reader(this.pending.subarray(0, total));
    let unitStart = 0;
    this.need = 0;
    try {
      while (r.pos < r.buf.length) {
        unitStart = r.pos;
        this.parseUnit(r);
      }
      unitStart = r.pos;
    } catch (err) {
      if (!(err instanceof NeedMoreData)) throw err;
      this.need = err.need - unitStart;
    }
    // The unparsed rest (a unit still arriving) moves to the front; the packets handed out are done with.
    if (unitStart > 0) this.pending.copyWithin(0, unitStart, total);
    this.pendingBytes = total - unitStart;
  }

  private parseUnit(r: Reader): void {
    if (this.resyncTo) {
      this.findStartcode(r, this.resyncTo);
      return;
    }
    const first = r.buf[r.pos]!;
    if (first === 0x4e) {
      const code = r.u64();
      switch (code) {
        case MAIN_STARTCODE:
          this.withPacket(r, (p) => this.mainHeader(p));
          return;
        case STREAM_STARTCODE:
          this.withPacket(r, (p) => this.streamHeader(p));
          return;
        case SYNCPOINT_STARTCODE:
          this.withPacket(r, (p) => this.syncpoint(p));
          return;
        case INFO_STARTCODE:
        case INDEX_STARTCODE:
          this.withPacket(r, () => undefined);
          return;
        default:
          throw new NutFormatError(`unknown NUT startcode 0x${code.toString(16)}`);
      }
    }
    this.frame(r);
  }

  /** At the start, or after damage: skip to the next main header or syncpoint. */
  private findStartcode(r: Reader, code: Buffer): void {
    const idx = r.buf.indexOf(code, r.pos);
    if (idx < 0) {
      r.pos = Math.max(r.pos, r.buf.length - 7);
      throw needMore();
    }
    r.pos = idx;
    this.resyncTo = null;
  }

  private withPacket(r: Reader, parse: (p: Reader) => void): void {
    const forwardPtr = r.v();
    if (forwardPtr > 4096) r.skip(4); // header checksum
    const body = r.bytes(forwardPtr);
    // The last 4 bytes are the packet's CRC; fields end before it, reserved fields may follow.
    parse(new Reader(body.subarray(0, Math.max(0, forwardPtr - 4))));
  }

  private mainHeader(p: Reader): void {
    const version = p.v();
    if (version < 2 || version > 4) throw new NutFormatError(`NUT version ${version} is not supported`);
    if (version > 3) p.v(); // minor version
    this.streamCount = p.v();
    p.v(); // max_distance
    const tbCount = p.v();
    this.timeBases = [];
    for (let i = 0; i < tbCount; i++) this.timeBases.push({ num: p.v(), den: p.v() });
    let ptsDelta = 0;
    let sizeMul = 1;
    let streamId = 0;
    let headerIdx = 0;
    this.frameCodes.length = 0;
    for (let i = 0; i < 256;) {
      const flags = p.v();
      const fields = p.v();
      if (fields > 0) ptsDelta = p.s();
      if (fields > 1) sizeMul = p.v();
      if (fields > 2) streamId = p.v();
      const sizeLsb = fields > 3 ? p.v() : 0;
      const reservedCount = fields > 4 ? p.v() : 0;
      const count = fields > 5 ? p.v() : sizeMul - sizeLsb;
      if (fields > 6) p.s(); // match time delta
      if (fields > 7) headerIdx = p.v();
      for (let f = 8; f < fields; f++) p.v();
      if (count <= 0 || count > 256 - i) throw new NutFormatError(`illegal frame code count ${count}`);
      for (let j = 0; j < count; j++, i++) {
        if (i === 0x4e) {
          this.frameCodes[i] = { ...blankCode(), flags: FLAG_INVALID };
          j--;
          continue;
        }
        this.frameCodes[i] = {
          flags,
          ptsDelta,
          streamId,
          sizeMul,
          sizeLsb: sizeLsb + j,
          reservedCount,
          headerIdx,
        };
      }
    }
    if (p.pos < p.buf.length) {
      const headerCount = p.v() + 1;
      for (let i = 1; i < headerCount; i++) this.elision[i] = Buffer.from(p.bytes(p.v()));
    }
    if (version > 3 && p.pos < p.buf.length) this.flags = p.v();
  }

  private streamHeader(p: Reader): void {
    const index = p.v();
    const cls = p.v();
    const fourccLen = p.v();
    const fourcc = p.bytes(fourccLen).toString("latin1");
    const tb = this.timeBases[p.v()];
    if (!tb) throw new NutFormatError("stream header names an unknown time base");
    const msbPtsShift = p.v();
    p.v(); // max_pts_distance
    p.v(); // decode_delay
    p.v(); // stream flags
    p.skip(p.v()); // codec extradata
    const kind: NutStreamClass = (["video", "audio", "subtitle", "data"] as const)[cls] ?? "data";
    let info: NutStream = { index, kind, fourcc, timeBase: { ...tb } };
    if (kind === "video") {
      const width = p.v();
      const height = p.v();
      info = { ...info, width, height };
    } else if (kind === "audio") {
      const sampleRate = p.v();
      p.v(); // samplerate denominator
      const channels = p.v();
      info = { ...info, sampleRate, channels };
    }
    this.streams[index] = { info, msbPtsShift, lastPts: 0 };
  }

  private syncpoint(p: Reader): void {
    const coded = p.v();
    p.v(); // back_ptr_div16
    if (this.flags & NUT_BROADCAST) p.v();
    const tbCount = this.timeBases.length;
    const tb = this.timeBases[coded % tbCount]!;
    const ts = Math.floor(coded / tbCount);
    for (const st of this.streams) {
      const stb = st.info.timeBase;
      // Rescale the syncpoint time into each stream's time base, rounding down (ff_nut_reset_ts).
      st.lastPts = Math.floor((ts * tb.num * stb.den) / (tb.den * stb.num));
    }
    if (!this.announced && this.streams.length === this.streamCount && this.streamCount > 0) {
      this.announced = true;
      this.handlers.onStreams(this.streams.map((s) => s.info));
    }
  }

  private frame(r: Reader): void {
    const code = this.frameCodes[r.u8()];
    if (!code || code.flags & FLAG_INVALID) {
      this.resyncTo = SYNCPOINT_BYTES;
      return;
    }
    let flags = code.flags;
    if (flags & FLAG_CODED) flags ^= r.v();
    const streamId = flags & FLAG_STREAM_ID ? r.v() : code.streamId;
    const st = this.streams[streamId];
    if (!st) throw new NutFormatError(`frame for unknown stream ${streamId}`);
    let pts: number;
    if (flags & FLAG_CODED_PTS) {
      const coded = r.v();
      const limit = 2 ** st.msbPtsShift;
      if (coded < limit) {
        const mask = limit - 1;
        const delta = st.lastPts - Math.floor(mask / 2);
        pts = ((((coded - delta) % limit) + limit) % limit) + delta;
      } else {
        pts = coded - limit;
      }
    } else {
      pts = st.lastPts + code.ptsDelta;
    }
    let size = code.sizeLsb;
    if (flags & FLAG_SIZE_MSB) size += code.sizeMul * r.v();
    if (flags & FLAG_MATCH_TIME) r.s();
    let headerIdx = code.headerIdx;
    if (flags & FLAG_HEADER_IDX) headerIdx = r.v();
    const reserved = flags & FLAG_RESERVED ? r.v() : code.reservedCount;
    for (let i = 0; i < reserved; i++) r.v();
    if (size > 4096) headerIdx = 0;
    const elided = this.elision[headerIdx] ?? Buffer.alloc(0);
    size -= elided.length;
    if (flags & FLAG_CHECKSUM) r.skip(4);
    let payload = r.bytes(size);
    if (flags & FLAG_SM_DATA) payload = skipSideData(payload);
    st.lastPts = pts;
    const data = elided.length > 0 ? Buffer.concat([elided, payload]) : payload;
    this.handlers.onPacket({ stream: streamId, pts, key: (flags & FLAG_KEY) !== 0, data });
  }
}

function blankCode(): FrameCode {
  return { flags: 0, ptsDelta: 0, streamId: 0, sizeMul: 1, sizeLsb: 0, reservedCount: 0, headerIdx: 0 };
}

/** Side data and metadata (two lists of name/value pairs) precede the payload; skip both. */
function skipSideData(payload: Buffer): Buffer {
  const p = new Reader(payload);
  for (let list = 0; list < 2; list++) {
    const count = p.v();
    for (let i = 0; i < count; i++) {
      p.skip(p.v()); // name
      const value = p.s();
      if (value === -1) p.skip(p.v());
      else if (value === -2) {
        p.skip(p.v());
        p.skip(p.v());
      } else if (value === -3) p.s();
      else if (value === -4) p.v();
      else if (value < -4) p.s();
    }
  }
  return payload.subarray(p.pos);
}
