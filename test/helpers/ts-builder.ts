/**
 * Builds MPEG-TS packets for analyzer tests: PAT/PMT sections with real CRC-32/MPEG-2, PES
 * headers with PTS, PCR in adaptation fields, stuffing. A test makes a clean timeline of
 * packet descriptors, edits it (drop, corrupt, shift clocks), then serializes it; the CC of
 * each PID is assigned at serialization, so dropping a table does not also break continuity.
 */
import { crc32mpeg2 } from "../../src/ingest/ts-analyzer.js";

export const PMT_PID = 0x1000;
export const VIDEO_PID = 0x100;
export const AUDIO_PID = 0x101;
export const NULL_PID = 0x1fff;

export interface Pkt {
  /** Media seconds this packet belongs to (for the test's edits). */
  t: number;
  pid: number;
  pusi: boolean;
  payload: Uint8Array | null;
  /** PCR in seconds, when the packet carries one. */
  pcr?: number;
  discontinuity?: boolean;
  tei?: boolean;
  scrambling?: number;
  /** Overrides the CC assigned at serialization. */
  cc?: number;
}

function section(tableId: number, idExt: number, body: Uint8Array): Uint8Array {
  const len = 5 + body.length + 4;
  const s = new Uint8Array(3 + len);
  s[0] = tableId;
  s[1] = 0xb0 | ((len >> 8) & 0x0f);
  s[2] = len & 0xff;
  s[3] = idExt >> 8;
  s[4] = idExt & 0xff;
  s[5] = 0xc1; // version 0, current_next 1
  s[6] = 0;
  s[7] = 0;
  s.set(body, 8);
  const crc = crc32mpeg2(s.subarray(0, s.length - 4));
  new DataView(s.buffer).setUint32(s.length - 4, crc);
  return s;
}

export function patSection(
  programs: readonly { number: number; pmtPid: number }[],
  tableId = 0x00,
): Uint8Array {
  const body = new Uint8Array(programs.length * 4);
  programs.forEach((p, i) => {
    body[i * 4] = p.number >> 8;
    body[i * 4 + 1] = p.number & 0xff;
    body[i * 4 + 2] = 0xe0 | (p.pmtPid >> 8);
    body[i * 4 + 3] = p.pmtPid & 0xff;
  });
  return section(tableId, 1, body);
}

export function pmtSection(
  program: number,
  pcrPid: number,
  streams: readonly { type: number; pid: number }[],
  tableId = 0x02,
): Uint8Array {
  const body = new Uint8Array(4 + streams.length * 5);
  body[0] = 0xe0 | (pcrPid >> 8);
  body[1] = pcrPid & 0xff;
  body[2] = 0xf0;
  body[3] = 0;
  streams.forEach((s, i) => {
    const o = 4 + i * 5;
    body[o] = s.type;
    body[o + 1] = 0xe0 | (s.pid >> 8);
    body[o + 2] = s.pid & 0xff;
    body[o + 3] = 0xf0;
    body[o + 4] = 0;
  });
  return section(tableId, program, body);
}

/** A PSI section as the payload of the packet that starts it (pointer_field 0). */
export function psiPayload(sec: Uint8Array): Uint8Array {
  const p = new Uint8Array(1 + sec.length);
  p.set(sec, 1);
  return p;
}

export function pesHeader(streamId: number, ptsSeconds: number, bodyBytes: number): Uint8Array {
  const pts = Math.round(ptsSeconds * 90000) % 2 ** 33;
  const h = new Uint8Array(14 + bodyBytes);
  h[2] = 1;
  h[3] = streamId;
  h[6] = 0x80;
  h[7] = 0x80;
  h[8] = 5;
  const hi = Math.floor(pts / 2 ** 30) & 7;
  const mid = Math.floor(pts / 2 ** 15) & 0x7fff;
  const lo = pts & 0x7fff;
  h[9] = 0x21 | (hi << 1);
  h[10] = mid >> 7;
  h[11] = ((mid & 0x7f) << 1) | 1;
  h[12] = lo >> 7;
  h[13] = ((lo & 0x7f) << 1) | 1;
  return h;
}

export interface CleanOptions {
  seconds: number;
  /** Video PTS offset applied from a time on (a PTS jump). */
  videoPts?: (t: number) => number;
  /** PCR value for a time (a PCR jump). */
  pcr?: (t: number) => number;
}

/**
 * A clean single-programme mux: PAT and PMT every 100 ms, video PES every 40 ms (two
 * packets, PCR on the first), audio every 20 ms, one null packet per 10 ms.
 */
export function cleanTimeline(o: CleanOptions): Pkt[] {
  const pkts: Pkt[] = [];
  const ticks = Math.round(o.seconds * 100);
  const pat = psiPayload(patSection([{ number: 1, pmtPid: PMT_PID }]));
  const pmt = psiPayload(
    pmtSection(1, VIDEO_PID, [
      { type: 0x1b, pid: VIDEO_PID },
      { type: 0x0f, pid: AUDIO_PID },
    ]),
  );
  for (let k = 0; k < ticks; k++) {
    const t = k / 100;
    if (k % 10 === 0) {
      pkts.push({ t, pid: 0, pusi: true, payload: pat });
      pkts.push({ t, pid: PMT_PID, pusi: true, payload: pmt });
    }
    if (k % 4 === 0) {
      pkts.push({
        t,
        pid: VIDEO_PID,
        pusi: true,
        payload: pesHeader(0xe0, 1 + (o.videoPts ? o.videoPts(t) : t), 120),
        pcr: o.pcr ? o.pcr(t) : t,
      });
      pkts.push({ t, pid: VIDEO_PID, pusi: false, payload: new Uint8Array(184).fill(0x11) });
    }
    if (k % 2 === 0) pkts.push({ t, pid: AUDIO_PID, pusi: true, payload: pesHeader(0xc0, 1 + t, 100) });
    pkts.push({ t, pid: NULL_PID, pusi: false, payload: new Uint8Array(184).fill(0xff) });
  }
  return pkts;
}

export function serialize(pkts: readonly Pkt[]): Uint8Array {
  const out = new Uint8Array(pkts.length * 188);
  const cc = new Map<number, number>();
  pkts.forEach((p, i) => {
    const b = out.subarray(i * 188, i * 188 + 188);
    let af: Uint8Array | null = null;
    if (p.pcr !== undefined || p.discontinuity) {
      af = new Uint8Array(p.pcr !== undefined ? 7 : 1);
      af[0] = (p.discontinuity ? 0x80 : 0) | (p.pcr !== undefined ? 0x10 : 0);
      if (p.pcr !== undefined) {
        const v = Math.round(p.pcr * 27e6) + 27e6;
        const base = Math.floor(v / 300);
        const ext = v % 300;
        af[1] = Math.floor(base / 2 ** 25) & 0xff;
        af[2] = Math.floor(base / 2 ** 17) & 0xff;
        af[3] = Math.floor(base / 2 ** 9) & 0xff;
        af[4] = Math.floor(base / 2) & 0xff;
        af[5] = ((base & 1) << 7) | 0x7e | (ext >> 8);
        af[6] = ext & 0xff;
      }
    }
    const payload = p.payload ?? new Uint8Array(0);
    const room = 184 - (af ? af.length + 1 : 0);
    const body = payload.subarray(0, room);
    // Pad short payloads with adaptation-field stuffing, as ISO 13818-1 requires.
    const afTotal = 184 - body.length;
    const afc = (afTotal > 0 ? 2 : 0) | (body.length > 0 ? 1 : 0);
    const last = cc.get(p.pid);
    const next = last === undefined ? 0 : body.length > 0 ? (last + 1) & 15 : last;
    cc.set(p.pid, next);
    const counter = p.cc ?? next;
    b[0] = 0x47;
    b[1] = (p.tei ? 0x80 : 0) | (p.pusi ? 0x40 : 0) | ((p.pid >> 8) & 0x1f);
    b[2] = p.pid & 0xff;
    b[3] = ((p.scrambling ?? 0) << 6) | (afc << 4) | counter;
    let o = 4;
    if (afTotal > 0) {
      b[o] = afTotal - 1;
      if (afTotal > 1) {
        b.fill(0xff, o + 1, o + afTotal);
        if (af) b.set(af, o + 1);
        else b[o + 1] = 0;
      }
      o += afTotal;
    }
    b.set(body, o);
  });
  return out;
}

/** Splits bytes into pseudo-random chunk sizes (1..max), deterministically. */
export function chunks(bytes: Uint8Array, max = 1500, seed = 1): Uint8Array[] {
  const out: Uint8Array[] = [];
  let s = seed;
  for (let i = 0; i < bytes.length;) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const n = 1 + (s % max);
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  return out;
}
