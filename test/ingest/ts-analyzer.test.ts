import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TsAnalyzer, type FaultEvent } from "../../src/ingest/ts-analyzer.js";
import { runFfmpeg } from "../helpers/ffmpeg-audio.js";
import {
  AUDIO_PID,
  NULL_PID,
  PMT_PID,
  VIDEO_PID,
  chunks,
  cleanTimeline,
  patSection,
  pmtSection,
  psiPayload,
  serialize,
  type Pkt,
} from "../helpers/ts-builder.js";

function analyze(bytes: Uint8Array, opts: { clock?: boolean } = {}): { faults: FaultEvent[]; a: TsAnalyzer } {
  const faults: FaultEvent[] = [];
  const a = new TsAnalyzer({ onFault: (f) => faults.push(f) });
  let at = 0;
  for (const c of chunks(bytes)) {
    // With a clock: chunks arrive at the crafted mux's rate of 220 packets per second.
    if (opts.clock) at += c.length / 188 / 220;
    a.push(c, opts.clock ? at : undefined);
  }
  return { faults, a };
}

const types = (faults: readonly FaultEvent[]): string[] => [...new Set(faults.map((f) => f.type))].sort();

describe("TsAnalyzer on crafted packets", () => {
  it("finds no fault in a clean crafted mux", () => {
    const pkts = cleanTimeline({ seconds: 10 });
    const { faults, a } = analyze(serialize(pkts));
    expect(faults).toEqual([]);
    expect(a.packets).toBe(pkts.length);
  });

  it("ts.sync-byte: one corrupted sync byte, no loss of sync", () => {
    const bytes = serialize(cleanTimeline({ seconds: 3 }));
    const pkts = cleanTimeline({ seconds: 3 });
    const i = pkts.findIndex((p, k) => p.pid === NULL_PID && k > 500);
    bytes[i * 188] = 0x46;
    const { faults } = analyze(bytes);
    expect(types(faults)).toEqual(["ts.sync-byte"]);
  });

  it("ts.sync-loss: three consecutive corrupted sync bytes lose sync, then it is regained", () => {
    const pkts = cleanTimeline({ seconds: 4 });
    // Three null packets in a row, so that skipping them breaks no continuity counter.
    const at = pkts.findIndex((p, k) => k > 800 && p.pid === NULL_PID);
    pkts.splice(at, 0, { ...pkts[at]! }, { ...pkts[at]! });
    const bytes = serialize(pkts);
    for (let k = 0; k < 3; k++) bytes[(at + k) * 188] = 0x00;
    const { faults, a } = analyze(bytes);
    expect(types(faults)).toEqual(["ts.sync-byte", "ts.sync-loss"]);
    expect(a.counters["ts.sync-loss"]).toBe(1);
    expect(a.counters["ts.sync-byte"]).toBe(2);
  });

  it("ts.pat: PAT missing for 1 s, by the stream's PCR", () => {
    const pkts = cleanTimeline({ seconds: 5 }).filter((p) => !(p.pid === 0 && p.t > 2 && p.t < 3));
    const { faults } = analyze(serialize(pkts));
    expect(types(faults)).toEqual(["ts.pat"]);
    expect(faults[0]!.message).toMatch(/no PAT/);
    // Last PAT at 2.0 s, limit 0.5 s: reported at about 2.5 s of PCR time.
    expect(Math.abs(faults[0]!.at - 2.5)).toBeLessThanOrEqual(0.05);
  });

  it("ts.pat: PAT missing judged by the caller's clock", () => {
    const pkts = cleanTimeline({ seconds: 5 }).filter((p) => !(p.pid === 0 && p.t > 2 && p.t < 3));
    const { faults } = analyze(serialize(pkts), { clock: true });
    expect(types(faults)).toEqual(["ts.pat"]);
  });

  it("ts.pat: wrong table_id on PID 0, and a scrambled PAT", () => {
    const bad = psiPayload(patSection([{ number: 1, pmtPid: PMT_PID }], 0x02));
    const pkts = cleanTimeline({ seconds: 3 }).map((p) =>
      p.pid === 0 && p.t === 1 ? { ...p, payload: bad } : p,
    );
    let r = analyze(serialize(pkts));
    expect(types(r.faults)).toEqual(["ts.pat"]);
    expect(r.faults[0]!.message).toMatch(/table_id 0x2 on PID 0/);
    const scr = cleanTimeline({ seconds: 3 }).map((p) =>
      p.pid === 0 && p.t === 1 ? { ...p, scrambling: 2 } : p,
    );
    r = analyze(serialize(scr));
    expect(types(r.faults)).toEqual(["ts.pat"]);
    expect(r.faults[0]!.message).toMatch(/scrambled/);
  });

  it("ts.continuity: one lost video packet", () => {
    const pkts = cleanTimeline({ seconds: 3 });
    const bytes = serialize(pkts);
    const i = pkts.findIndex((p) => p.pid === VIDEO_PID && !p.pusi && p.t > 1);
    const cut = new Uint8Array(bytes.length - 188);
    cut.set(bytes.subarray(0, i * 188));
    cut.set(bytes.subarray((i + 1) * 188), i * 188);
    const { faults } = analyze(cut);
    expect(types(faults)).toEqual(["ts.continuity"]);
    expect(faults[0]!.details).toMatchObject({ pid: VIDEO_PID, lost: 1 });
  });

  it("ts.continuity: a packet sent three times (one duplicate is legal)", () => {
    const pkts = cleanTimeline({ seconds: 3 });
    const i = pkts.findIndex((p) => p.pid === AUDIO_PID && p.t > 1);
    const once = serialize(pkts);
    const dup = (n: number): Uint8Array => {
      const out = new Uint8Array(once.length + n * 188);
      out.set(once.subarray(0, (i + 1) * 188));
      for (let k = 1; k <= n; k++) out.set(once.subarray(i * 188, (i + 1) * 188), (i + k) * 188);
      out.set(once.subarray((i + 1) * 188), (i + 1 + n) * 188);
      return out;
    };
    expect(analyze(dup(1)).faults).toEqual([]);
    expect(types(analyze(dup(2)).faults)).toEqual(["ts.continuity"]);
  });

  it("ts.pmt: PMT missing for 1 s", () => {
    const pkts = cleanTimeline({ seconds: 5 }).filter((p) => !(p.pid === PMT_PID && p.t > 2 && p.t < 3));
    const { faults } = analyze(serialize(pkts));
    expect(types(faults)).toEqual(["ts.pmt"]);
    expect(faults[0]!.details).toMatchObject({ program: 1, pid: PMT_PID });
  });

  it("ts.pmt: wrong table_id on the PMT PID", () => {
    const bad = psiPayload(pmtSection(1, VIDEO_PID, [{ type: 0x1b, pid: VIDEO_PID }], 0x03));
    const pkts = cleanTimeline({ seconds: 3 }).map((p) =>
      p.pid === PMT_PID && p.t === 1 ? { ...p, payload: bad } : p,
    );
    const { faults } = analyze(serialize(pkts));
    expect(types(faults)).toEqual(["ts.pmt"]);
  });

  it("ts.pid: the audio PID listed in the PMT stops for good", () => {
    const pkts = cleanTimeline({ seconds: 10 }).filter((p) => !(p.pid === AUDIO_PID && p.t >= 2));
    const { faults } = analyze(serialize(pkts));
    expect(types(faults)).toEqual(["ts.pid"]);
    expect(faults[0]!.details).toMatchObject({ pid: AUDIO_PID, streamType: 0x0f });
    // Last audio at 1.98 s, limit 5 s.
    expect(Math.abs(faults[0]!.at - 6.98)).toBeLessThanOrEqual(0.05);
  });

  it("ts.tei: transport_error_indicator on a null packet", () => {
    const pkts = cleanTimeline({ seconds: 2 });
    const i = pkts.findIndex((p) => p.pid === NULL_PID && p.t > 1);
    pkts[i] = { ...pkts[i]!, tei: true };
    const { faults } = analyze(serialize(pkts));
    expect(types(faults)).toEqual(["ts.tei"]);
  });

  it("ts.crc: a PMT whose CRC is wrong", () => {
    const pkts = cleanTimeline({ seconds: 2 });
    const i = pkts.findIndex((p) => p.pid === PMT_PID && p.t > 1);
    const payload = pkts[i]!.payload!.slice();
    payload[payload.length - 1]! ^= 0xff;
    pkts[i] = { ...pkts[i]!, payload };
    const { faults } = analyze(serialize(pkts));
    expect(types(faults)).toEqual(["ts.crc"]);
  });

  it("ts.pcr-gap: PCR jumps 200 ms without discontinuity indicator; none when it is flagged", () => {
    const jump = (t: number): number => (t >= 5 ? t + 0.2 : t);
    let { faults } = analyze(serialize(cleanTimeline({ seconds: 8, pcr: jump })));
    expect(types(faults)).toEqual(["ts.pcr-gap"]);
    expect(faults[0]!.details).toMatchObject({ pid: VIDEO_PID, stepMs: 240 });
    const flagged: Pkt[] = cleanTimeline({ seconds: 8, pcr: jump });
    const first = flagged.findIndex((p) => p.pcr !== undefined && p.t >= 5);
    flagged[first] = { ...flagged[first]!, discontinuity: true };
    ({ faults } = analyze(serialize(flagged)));
    expect(faults).toEqual([]);
  });

  it("ts.pts-gap: video PTS jumps 1 s", () => {
    const { faults } = analyze(
      serialize(cleanTimeline({ seconds: 8, videoPts: (t) => (t >= 4 ? t + 1 : t) })),
    );
    expect(types(faults)).toEqual(["ts.pts-gap"]);
    expect(faults[0]!.details).toMatchObject({ pid: VIDEO_PID, stepMs: 1040 });
  });

  it("folds repeats of one check within a second and counts them", () => {
    const pkts = cleanTimeline({ seconds: 3 }).map((p) =>
      p.pid === AUDIO_PID && p.t >= 1 && p.t < 1.5 ? { ...p, cc: 5 } : p,
    );
    const { faults, a } = analyze(serialize(pkts));
    expect(types(faults)).toEqual(["ts.continuity"]);
    expect(faults.length).toBeLessThanOrEqual(2);
    expect(a.counters["ts.continuity"]).toBeGreaterThan(10);
  });

  it("reports garbage without sync as ts.sync-loss once", () => {
    const { faults } = analyze(new Uint8Array(188 * 50).fill(0x12));
    expect(faults.map((f) => f.type)).toEqual(["ts.sync-loss"]);
  });
});

describe("TsAnalyzer on an ffmpeg-made transport stream", () => {
  const dir = mkdtempSync(join(tmpdir(), "sqm-ts-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a clean testsrc2 + sine .ts gives no fault; one packet cut from it gives one ts.continuity", async () => {
    const file = join(dir, "clean.ts");
    await runFfmpeg([
      "-f",
      "lavfi",
      "-i",
      "testsrc2=size=320x180:rate=25:duration=12",
      "-f",
      "lavfi",
      "-i",
      "sine=frequency=440:duration=12",
      "-c:v",
      "libx264",
      "-preset",
      "ultrafast",
      "-g",
      "50",
      "-c:a",
      "aac",
      "-f",
      "mpegts",
      "-y",
      file,
    ]);
    const bytes = new Uint8Array(readFileSync(file));
    const { faults, a } = analyze(bytes);
    expect(faults.filter((f) => f.details?.["priority"] === 1)).toEqual([]);
    expect(faults).toEqual([]);
    expect(a.packets).toBe(bytes.length / 188);

    // The same real stream with one video packet cut out of its middle: exactly one CC fault.
    const videoPid = 0x100; // ffmpeg's mpegts muxer numbers streams from 0x100
    let cutAt = -1;
    for (let i = Math.floor(bytes.length / 188 / 2); i < bytes.length / 188; i++) {
      const pid = ((bytes[i * 188 + 1]! & 0x1f) << 8) | bytes[i * 188 + 2]!;
      const pusi = (bytes[i * 188 + 1]! & 0x40) !== 0;
      if (pid === videoPid && !pusi) {
        cutAt = i;
        break;
      }
    }
    expect(cutAt).toBeGreaterThan(0);
    const cut = new Uint8Array(bytes.length - 188);
    cut.set(bytes.subarray(0, cutAt * 188));
    cut.set(bytes.subarray((cutAt + 1) * 188), cutAt * 188);
    const damaged = analyze(cut).faults;
    expect(damaged.map((f) => f.type)).toEqual(["ts.continuity"]);
    expect(damaged[0]!.details).toMatchObject({ pid: videoPid, lost: 1 });
    // Timed by the stream's PCR: the cut is in the middle of the 12 s file.
    expect(damaged[0]!.at).toBeGreaterThan(3);
    expect(damaged[0]!.at).toBeLessThan(9);
  });
});
