/**
 * MPEG-TS health per ETSI TR 101 290 (V1.4.1), section 5.2: priority 1 and the priority 2
 * checks that need no reference clock of our own. Bytes arrive in arbitrary chunks (UDP
 * datagrams, HTTP segments, file reads); faults come out as `fault` StreamEvents.
 *
 * Time: when the caller passes `at` with a chunk (a wall clock or receive time in seconds),
 * every packet of that chunk is judged at that time. Without it (files), time is the
 * stream's own PCR, counted from the first PCR and kept continuous across discontinuities.
 *
 * A fault that repeats on the same check and PID within `repeatInterval` is counted but not
 * re-emitted; the next emission carries how many were folded into it (`details.count`), so a
 * broken multiplex gives one event per second per check, not one per packet.
 */
import type { StreamEvent } from "./media.js";

export type FaultEvent = Extract<StreamEvent, { kind: "fault" }>;

export const TS_PACKET_SIZE = 188;
const SYNC = 0x47;
const NULL_PID = 0x1fff;
const PCR_HZ = 27_000_000;
const PTS_HZ = 90_000;
const PTS_WRAP = 2 ** 33;

/** TR 101 290 checks, with their section numbers for the fault details and the docs. */
export const TS_CHECKS = {
  "ts.sync-loss": { priority: 1, tr: "5.2.1 1.1 TS_sync_loss" },
  "ts.sync-byte": { priority: 1, tr: "5.2.1 1.2 Sync_byte_error" },
  "ts.pat": { priority: 1, tr: "5.2.1 1.3/1.3.a PAT_error" },
  "ts.continuity": { priority: 1, tr: "5.2.1 1.4 Continuity_count_error" },
  "ts.pmt": { priority: 1, tr: "5.2.1 1.5/1.5.a PMT_error" },
  "ts.pid": { priority: 1, tr: "5.2.1 1.6 PID_error" },
  "ts.tei": { priority: 2, tr: "5.2.2 2.1 Transport_error" },
  "ts.crc": { priority: 2, tr: "5.2.2 2.2 CRC_error" },
  "ts.pcr-gap": { priority: 2, tr: "5.2.2 2.3 PCR_error (2.3b discontinuity)" },
  "ts.pts-gap": { priority: 2, tr: "5.2.2 2.5 PTS_error" },
} as const;

export type TsCheck = keyof typeof TS_CHECKS;

export interface TsAnalyzerOptions {
  readonly onFault: (fault: FaultEvent) => void;
  /** PAT must repeat within this, seconds (TR 101 290 1.3). @defaultValue 0.5 */
  readonly patTimeout?: number;
  /** Each PMT must repeat within this, seconds (1.5). @defaultValue 0.5 */
  readonly pmtTimeout?: number;
  /** A PID referred to in a PMT must appear within this, seconds (1.6, user-specified). @defaultValue 5 */
  readonly pidTimeout?: number;
  /** Largest step between consecutive PCRs without discontinuity indicator, seconds (2.3b). @defaultValue 0.1 */
  readonly pcrGap?: number;
  /** Largest step between consecutive PTS of one PID, seconds (2.5). @defaultValue 0.7 */
  readonly ptsGap?: number;
  /** Repeats of one check on one PID within this many seconds are folded. @defaultValue 1 */
  readonly repeatInterval?: number;
}

interface PidState {
  cc: number;
  /** How many times the last CC was repeated (one duplicate is legal). */
  dup: number;
  lastSeen: number;
  lastPts: number;
  section: Uint8Array | null;
  sectionLen: number;
}

interface Program {
  readonly number: number;
  readonly pmtPid: number;
  lastPmt: number;
  pmtMissingReported: boolean;
  pcrPid: number;
  esPids: Map<number, { streamType: number; since: number; reported: boolean }>;
}

export class TsAnalyzer {
  /** Occurrences per check (folded repeats included), for metrics. */
  readonly counters: Record<TsCheck, number> = Object.fromEntries(
    Object.keys(TS_CHECKS).map((k) => [k, 0]),
  ) as Record<TsCheck, number>;
  packets = 0;

  private readonly onFault: (fault: FaultEvent) => void;
  private readonly patTimeout: number;
  private readonly pmtTimeout: number;
  private readonly pidTimeout: number;
  private readonly pcrGap: number;
  private readonly ptsGap: number;
  private readonly repeatInterval: number;

  private pending = new Uint8Array(0);
  private synced = false;
  private everSynced = false;
  private badSyncRun = 0;
  private unsyncedBytes = 0;
  private syncLossReported = false;

  private now = 0;
  private clockGiven = false;
  private pcrBase: number | null = null;
  private pcrBaseTime = 0;
  private lastPcr: number | null = null;
  private pcrPid = -1;

  private firstPacketAt: number | null = null;
  private lastPat: number | null = null;
  private patMissingReported = false;
  private readonly pids = new Map<number, PidState>();
  private readonly programs = new Map<number, Program>();
  private readonly folded = new Map<string, { lastEmit: number; pending: number }>();
  private lastTimeoutCheck = -Infinity;

  constructor(options: TsAnalyzerOptions) {
    this.onFault = options.onFault;
    this.patTimeout = options.patTimeout ?? 0.5;
    this.pmtTimeout = options.pmtTimeout ?? 0.5;
    this.pidTimeout = options.pidTimeout ?? 5;
    this.pcrGap = options.pcrGap ?? 0.1;
    this.ptsGap = options.ptsGap ?? 0.7;
    this.repeatInterval = options.repeatInterval ?? 1;
  }

  /** Feeds bytes; `at` (seconds) times them when given, else the stream's PCR does. */
  push(chunk: Uint8Array, at?: number): void {
    if (at !== undefined) {
      this.clockGiven = true;
      this.now = at;
    }
    let buf: Uint8Array;
    if (this.pending.length > 0) {
      buf = new Uint8Array(this.pending.length + chunk.length);
      buf.set(this.pending);
      buf.set(chunk, this.pending.length);
    } else {
      buf = chunk;
    }
    let pos = 0;
    while (buf.length - pos >= TS_PACKET_SIZE) {
      if (!this.synced) {
        const found = this.findSync(buf, pos);
        if (found < 0) {
          // Keep the tail that might still start a run of five packets.
          const keep = Math.max(pos, buf.length - 5 * TS_PACKET_SIZE + 1);
          this.noteUnsynced(keep - pos);
          pos = keep;
          break;
        }
        this.noteUnsynced(found - pos);
        pos = found;
        this.synced = true;
        this.everSynced = true;
        this.badSyncRun = 0;
        this.unsyncedBytes = 0;
        this.syncLossReported = false;
      }
      if (buf[pos] !== SYNC) {
        this.badSyncRun++;
        this.fault(
          "ts.sync-byte",
          `sync byte 0x${buf[pos]!.toString(16).padStart(2, "0")} instead of 0x47`,
          -1,
        );
        // TR 101 290 1.1: two or more consecutive corrupted sync bytes lose sync.
        if (this.badSyncRun >= 2) {
          this.synced = false;
          this.fault("ts.sync-loss", "lost sync: consecutive corrupted sync bytes", -1);
          this.syncLossReported = true;
          pos += 1;
          continue;
        }
        pos += TS_PACKET_SIZE;
        continue;
      }
      this.badSyncRun = 0;
      this.packet(buf, pos);
      pos += TS_PACKET_SIZE;
    }
    this.pending = buf.slice(pos);
  }

  /** Offset of the first of five packets in a row with sync bytes (TR 101 290 1.1), or -1. */
  private findSync(buf: Uint8Array, from: number): number {
    const last = buf.length - 4 * TS_PACKET_SIZE - 1;
    for (let i = from; i <= last; i++) {
      if (
        buf[i] === SYNC &&
        buf[i + 188] === SYNC &&
        buf[i + 376] === SYNC &&
        buf[i + 564] === SYNC &&
        buf[i + 752] === SYNC
      ) {
        return i;
      }
    }
    return -1;
  }

  private noteUnsynced(bytes: number): void {
    this.unsyncedBytes += bytes;
    // Garbage before the first sync, or a long search after a loss: ten packets' worth is a loss.
    if (!this.syncLossReported && this.unsyncedBytes >= 10 * TS_PACKET_SIZE) {
      this.fault("ts.sync-loss", this.everSynced ? "no sync regained" : "no transport stream sync found", -1);
      this.syncLossReported = true;
    }
  }

  private packet(buf: Uint8Array, p: number): void {
    this.packets++;
    const b1 = buf[p + 1]!;
    const pid = ((b1 & 0x1f) << 8) | buf[p + 2]!;
    const b3 = buf[p + 3]!;
    if (b1 & 0x80) {
      // A packet the demodulator marked as damaged: nothing in it can be trusted.
      this.fault("ts.tei", `transport_error_indicator set on PID ${pid}`, pid);
      return;
    }
    const pusi = (b1 & 0x40) !== 0;
    const scrambling = b3 >> 6;
    const afc = (b3 >> 4) & 3;
    const cc = b3 & 0x0f;
    let payload = p + 4;
    let discontinuity = false;
    if (afc & 2) {
      const afLen = buf[p + 4]!;
      if (afLen > 0) {
        const flags = buf[p + 5]!;
        discontinuity = (flags & 0x80) !== 0;
        if (flags & 0x10 && afLen >= 7) this.pcr(buf, p + 6, pid, discontinuity);
      }
      payload = p + 5 + afLen;
    }
    if (this.firstPacketAt === null) this.firstPacketAt = this.now;
    if (pid === NULL_PID) return;

    let st = this.pids.get(pid);
    if (!st) {
      st = { cc: -1, dup: 0, lastSeen: this.now, lastPts: -1, section: null, sectionLen: 0 };
      this.pids.set(pid, st);
    } else {
      this.continuity(st, pid, cc, (afc & 1) !== 0, discontinuity);
    }
    st.cc = cc;
    st.lastSeen = this.now;
    this.checkTimeouts();

    const hasPayload = (afc & 1) !== 0 && payload < p + TS_PACKET_SIZE;
    if (pid === 0) {
      if (scrambling !== 0) {
        this.fault("ts.pat", "PAT packet is scrambled", pid);
        return;
      }
      if (hasPayload) this.psi(st, buf, payload, p + TS_PACKET_SIZE, pusi, pid);
      return;
    }
    const program = this.programByPmtPid(pid);
    if (program) {
      if (scrambling !== 0) {
        this.fault("ts.pmt", `PMT packet on PID ${pid} is scrambled`, pid);
        return;
      }
      if (hasPayload) this.psi(st, buf, payload, p + TS_PACKET_SIZE, pusi, pid);
      return;
    }
    if (pusi && hasPayload && scrambling === 0)
      this.pes(st, buf, payload, p + TS_PACKET_SIZE, pid, discontinuity);
  }

  private continuity(
    st: PidState,
    pid: number,
    cc: number,
    hasPayload: boolean,
    discontinuity: boolean,
  ): void {
    if (discontinuity || st.cc < 0) {
      st.dup = 0;
      return;
    }
    if (!hasPayload) {
      // ISO 13818-1 2.4.3.3: no increment without payload.
      if (cc !== st.cc)
        this.fault(
          "ts.continuity",
          `PID ${pid}: CC ${cc} in a packet without payload, expected ${st.cc}`,
          pid,
        );
      return;
    }
    if (cc === st.cc) {
      if (++st.dup > 1)
        this.fault("ts.continuity", `PID ${pid}: packet repeated more than twice (CC ${cc})`, pid);
      return;
    }
    st.dup = 0;
    const expected = (st.cc + 1) & 0x0f;
    if (cc !== expected) {
      const lost = (cc - expected + 16) & 0x0f;
      this.fault("ts.continuity", `PID ${pid}: CC ${cc}, expected ${expected}`, pid, {
        expected,
        got: cc,
        lost,
      });
    }
  }

  private pcr(buf: Uint8Array, o: number, pid: number, discontinuity: boolean): void {
    // The first PID that carries PCR clocks the analyzer until a PMT names the PCR PID.
    if (this.pcrPid < 0) this.pcrPid = pid;
    if (pid !== this.pcrPid) return;
    const base =
      buf[o]! * 33554432 + buf[o + 1]! * 131072 + buf[o + 2]! * 512 + buf[o + 3]! * 2 + (buf[o + 4]! >> 7);
    const ext = ((buf[o + 4]! & 1) << 8) | buf[o + 5]!;
    const pcr = base * 300 + ext;
    const last = this.lastPcr;
    this.lastPcr = pcr;
    if (last !== null && !discontinuity) {
      let d = pcr - last;
      if (d < -PCR_HZ * 60 * 60) d += PTS_WRAP * 300;
      const step = d / PCR_HZ;
      if (step > this.pcrGap || step < 0) {
        this.fault(
          "ts.pcr-gap",
          `PID ${pid}: PCR stepped ${(step * 1000).toFixed(1)} ms without discontinuity indicator`,
          pid,
          {
            stepMs: Math.round(step * 1000),
          },
        );
        this.rebaseClock(pcr);
      }
    } else if (last !== null) {
      this.rebaseClock(pcr);
    }
    if (!this.clockGiven) {
      if (this.pcrBase === null) this.rebaseClock(pcr);
      let d = pcr - this.pcrBase!;
      if (d < 0) d += PTS_WRAP * 300;
      this.now = this.pcrBaseTime + d / PCR_HZ;
    }
  }

  private rebaseClock(pcr: number): void {
    this.pcrBase = pcr;
    this.pcrBaseTime = this.now;
  }

  private pes(
    st: PidState,
    buf: Uint8Array,
    o: number,
    end: number,
    pid: number,
    discontinuity: boolean,
  ): void {
    if (end - o < 14 || buf[o] !== 0 || buf[o + 1] !== 0 || buf[o + 2] !== 1) return;
    const streamId = buf[o + 3]!;
    // Stream ids without the optional PES header (ISO 13818-1 table 2-22).
    if (
      streamId === 0xbc ||
      streamId === 0xbe ||
      streamId === 0xbf ||
      streamId === 0xf0 ||
      streamId === 0xf1 ||
      streamId === 0xff ||
      streamId === 0xf2 ||
      streamId === 0xf8
    ) {
      return;
    }
    if ((buf[o + 7]! & 0x80) === 0) return;
    const pts = pesPts(buf, o);
    const last = st.lastPts;
    st.lastPts = pts;
    if (last < 0 || discontinuity) return;
    let d = pts - last;
    if (d < -PTS_WRAP / 2) d += PTS_WRAP;
    const step = d / PTS_HZ;
    if (step > this.ptsGap) {
      this.fault("ts.pts-gap", `PID ${pid}: ${(step * 1000).toFixed(0)} ms between PTS`, pid, {
        stepMs: Math.round(step * 1000),
      });
    }
  }

  /** Reassembles PSI sections across packets (ISO 13818-1 2.4.4: pointer_field on PUSI). */
  private psi(st: PidState, buf: Uint8Array, o: number, end: number, pusi: boolean, pid: number): void {
    if (pusi) {
      const pointer = buf[o]!;
      const startOfNew = o + 1 + pointer;
      if (st.section && pointer > 0)
        this.appendSection(st, buf.subarray(o + 1, Math.min(end, startOfNew)), pid);
      st.section = null;
      if (startOfNew >= end) return;
      this.startSections(st, buf.subarray(startOfNew, end), pid);
      return;
    }
    if (st.section) this.appendSection(st, buf.subarray(o, end), pid);
  }

  private startSections(st: PidState, bytes: Uint8Array, pid: number): void {
    let rest = bytes;
    while (rest.length > 0 && rest[0] !== 0xff) {
      if (rest.length < 3) {
        st.section = rest.slice();
        st.sectionLen = -1;
        return;
      }
      const total = 3 + (((rest[1]! & 0x0f) << 8) | rest[2]!);
      if (rest.length < total) {
        st.section = new Uint8Array(total);
        st.section.set(rest);
        st.sectionLen = rest.length;
        return;
      }
      this.section(rest.subarray(0, total), pid);
      rest = rest.subarray(total);
    }
  }

  private appendSection(st: PidState, bytes: Uint8Array, pid: number): void {
    const sec = st.section!;
    if (st.sectionLen < 0) {
      // The 3-byte header itself was split: start over with the joined bytes.
      const joined = new Uint8Array(sec.length + bytes.length);
      joined.set(sec);
      joined.set(bytes, sec.length);
      st.section = null;
      this.startSections(st, joined, pid);
      return;
    }
    const n = Math.min(bytes.length, sec.length - st.sectionLen);
    sec.set(bytes.subarray(0, n), st.sectionLen);
    st.sectionLen += n;
    if (st.sectionLen === sec.length) {
      st.section = null;
      this.section(sec, pid);
    }
  }

  private section(sec: Uint8Array, pid: number): void {
    const tableId = sec[0]!;
    if (pid === 0 && tableId !== 0x00) {
      this.fault("ts.pat", `table_id 0x${tableId.toString(16)} on PID 0`, pid, { tableId });
      return;
    }
    const program = pid === 0 ? undefined : this.programByPmtPid(pid);
    if (program && tableId !== 0x02) {
      // 1.5.a is about table_id 0x02 only; other tables may share a PMT PID (e.g. 0xC0 private).
      if (tableId < 0x40)
        this.fault("ts.pmt", `table_id 0x${tableId.toString(16)} on PMT PID ${pid}`, pid, { tableId });
      return;
    }
    if (crc32mpeg2(sec) !== 0) {
      this.fault("ts.crc", `CRC error in table 0x${tableId.toString(16)} on PID ${pid}`, pid, { tableId });
      return;
    }
    if (pid === 0) this.pat(sec);
    else if (program) this.pmt(sec, program);
  }

  private pat(sec: Uint8Array): void {
    this.lastPat = this.now;
    this.patMissingReported = false;
    const end = sec.length - 4;
    const seen = new Set<number>();
    for (let i = 8; i + 4 <= end; i += 4) {
      const number = (sec[i]! << 8) | sec[i + 1]!;
      const pmtPid = ((sec[i + 2]! & 0x1f) << 8) | sec[i + 3]!;
      if (number === 0) continue;
      seen.add(number);
      const existing = this.programs.get(number);
      if (!existing || existing.pmtPid !== pmtPid) {
        this.programs.set(number, {
          number,
          pmtPid,
          lastPmt: this.now,
          pmtMissingReported: false,
          pcrPid: -1,
          esPids: new Map(),
        });
      }
    }
    for (const n of [...this.programs.keys()]) if (!seen.has(n)) this.programs.delete(n);
  }

  private pmt(sec: Uint8Array, program: Program): void {
    program.lastPmt = this.now;
    program.pmtMissingReported = false;
    program.pcrPid = ((sec[8]! & 0x1f) << 8) | sec[9]!;
    if (program.pcrPid !== NULL_PID && this.pcrPid !== program.pcrPid) {
      this.pcrPid = program.pcrPid;
      this.lastPcr = null;
    }
    const infoLen = ((sec[10]! & 0x0f) << 8) | sec[11]!;
    const end = sec.length - 4;
    const listed = new Set<number>();
    for (let i = 12 + infoLen; i + 5 <= end;) {
      const streamType = sec[i]!;
      const pid = ((sec[i + 1]! & 0x1f) << 8) | sec[i + 2]!;
      const esInfo = ((sec[i + 3]! & 0x0f) << 8) | sec[i + 4]!;
      listed.add(pid);
      if (!program.esPids.has(pid)) program.esPids.set(pid, { streamType, since: this.now, reported: false });
      i += 5 + esInfo;
    }
    for (const pid of [...program.esPids.keys()]) if (!listed.has(pid)) program.esPids.delete(pid);
  }

  private programByPmtPid(pid: number): Program | undefined {
    for (const p of this.programs.values()) if (p.pmtPid === pid) return p;
    return undefined;
  }

  /** Repetition checks (1.3, 1.5, 1.6), run when time has moved. */
  private checkTimeouts(): void {
    const now = this.now;
    if (now - this.lastTimeoutCheck < 0.01) return;
    this.lastTimeoutCheck = now;
    const patRef = this.lastPat ?? this.firstPacketAt ?? now;
    if (!this.patMissingReported && now - patRef > this.patTimeout) {
      this.patMissingReported = true;
      this.fault("ts.pat", `no PAT for ${(now - patRef).toFixed(2)} s (limit ${this.patTimeout} s)`, 0, {
        missingSeconds: round3(now - patRef),
      });
    }
    for (const program of this.programs.values()) {
      if (!program.pmtMissingReported && now - program.lastPmt > this.pmtTimeout) {
        program.pmtMissingReported = true;
        this.fault(
          "ts.pmt",
          `no PMT for program ${program.number} on PID ${program.pmtPid} for ${(now - program.lastPmt).toFixed(2)} s`,
          program.pmtPid,
          { program: program.number, missingSeconds: round3(now - program.lastPmt) },
        );
      }
      for (const [pid, es] of program.esPids) {
        const seen = this.pids.get(pid)?.lastSeen;
        const ref = seen === undefined ? es.since : Math.max(seen, es.since);
        if (now - ref > this.pidTimeout) {
          if (!es.reported) {
            es.reported = true;
            this.fault(
              "ts.pid",
              `PID ${pid} (stream_type 0x${es.streamType.toString(16)}) absent for ${(now - ref).toFixed(2)} s`,
              pid,
              {
                streamType: es.streamType,
                missingSeconds: round3(now - ref),
              },
            );
          }
        } else {
          es.reported = false;
        }
      }
    }
  }

  private fault(type: TsCheck, message: string, pid: number, details?: Record<string, unknown>): void {
    this.counters[type]++;
    const key = `${type}/${pid}`;
    const f = this.folded.get(key);
    if (f && this.now - f.lastEmit < this.repeatInterval && this.now >= f.lastEmit) {
      f.pending++;
      return;
    }
    const count = 1 + (f?.pending ?? 0);
    this.folded.set(key, { lastEmit: this.now, pending: 0 });
    const check = TS_CHECKS[type];
    try {
      this.onFault({
        kind: "fault",
        at: this.now,
        type,
        message,
        details: {
          ...(pid >= 0 ? { pid } : {}),
          priority: check.priority,
          tr101290: check.tr,
          count,
          ...details,
        },
      });
    } catch {
      // Listener exceptions never reach ingest (STYLE.md): the analyzer keeps its state.
    }
  }
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32/MPEG-2 (ISO 13818-1 Annex A); over a whole section including its CRC it is 0. */
/**
 * The 33-bit PTS (90 kHz) of the PES whose header starts at `pes` (00 00 01 at `pes`, its
 * PTS_DTS_flags saying there is one, and 14 bytes there): five bytes with marker bits between
 * (ISO 13818-1 2.4.3.7).
 */
export function pesPts(buf: Uint8Array, pes: number): number {
  const q = pes + 9;
  return (
    ((buf[q]! >> 1) & 0x07) * 1073741824 +
    ((buf[q + 1]! << 7) | (buf[q + 2]! >> 1)) * 32768 +
    ((buf[q + 3]! << 7) | (buf[q + 4]! >> 1))
  );
}

export function crc32mpeg2(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++)
    crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ bytes[i]!) & 0xff]!) >>> 0;
  return crc >>> 0;
}
