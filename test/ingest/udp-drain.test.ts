import { createSocket, type Socket } from "node:dgram";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { freeUdpPorts } from "../../src/demo/loopback.js";
import type { StreamEvent } from "../../src/ingest/media.js";
import { drainOne, socketDescriptor } from "../../src/ingest/udp-drain.js";
import { UdpSource } from "../../src/ingest/udp-source.js";
import { makeClip, tempDir, waitFor } from "../helpers/media.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** ffmpeg's stdin as the source sees it: every write kept, in order. */
function collector(): { stdin: Writable; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  const stdin = new Writable({
    write(chunk: Buffer, _enc, done) {
      parts.push(chunk);
      done();
    },
  });
  return { stdin, bytes: () => Buffer.concat(parts) };
}

/** Sends each datagram, pausing now and then so a small kernel receive buffer never overflows. */
async function sendAll(port: number, datagrams: readonly Buffer[]): Promise<void> {
  const s = createSocket("udp4");
  try {
    for (let i = 0; i < datagrams.length; i++) {
      await new Promise<void>((r, j) => s.send(datagrams[i]!, port, "127.0.0.1", (e) => (e ? j(e) : r())));
      if (i % 20 === 19) await sleep(5);
    }
  } finally {
    s.close();
  }
}

/** A real MPEG-TS clip cut into 1,316-byte datagrams (seven TS packets), as a UDP sender does. */
function clipDatagrams(name: string): Buffer[] {
  const ts = readFileSync(makeClip(join(tmp.dir, name), { duration: 2, size: "160x120" }));
  const out: Buffer[] = [];
  for (let i = 0; i < ts.length; i += 1316) out.push(ts.subarray(i, Math.min(ts.length, i + 1316)));
  return out;
}

async function openSource(
  port: number,
): Promise<{ source: UdpSource; events: StreamEvent[]; fed: () => Buffer }> {
  const source = new UdpSource(`udp://127.0.0.1:${port}`);
  const events: StreamEvent[] = [];
  await source.open({ emit: (e) => events.push(e), now: () => 0 });
  const c = collector();
  source.feed({ stdin: c.stdin });
  return { source, events, fed: c.bytes };
}

const withEnv = async (value: string | undefined, fn: () => Promise<void>): Promise<void> => {
  const before = process.env["STREAMQC_UDP_EVENTS"];
  if (value === undefined) delete process.env["STREAMQC_UDP_EVENTS"];
  else process.env["STREAMQC_UDP_EVENTS"] = value;
  try {
    await fn();
  } finally {
    if (before === undefined) delete process.env["STREAMQC_UDP_EVENTS"];
    else process.env["STREAMQC_UDP_EVENTS"] = before;
  }
};

describe("UDP drain tick", () => {
  for (const [mode, env] of [
    ["drain", undefined],
    ["events", "1"],
  ] as const) {
    it(`hands the decoder and the TS analyzer every byte as sent, in order, per source (${mode})`, async () => {
      await withEnv(env, async () => {
        const [pa, pb] = await freeUdpPorts(2);
        const a = await openSource(pa!);
        const b = await openSource(pb!);
        expect(a.source.receiveMode).toBe(mode);
        // Distinct contents per source, sizes from 1 byte to the largest IPv4 datagram.
        const sizes = [1316, 1, 188, 60_000, 1316, 65_507, 7, ...Array<number>(200).fill(1316)];
        const make = (seed: number): Buffer[] => sizes.map((n, i) => Buffer.alloc(n, (seed + i) & 0xff));
        const da = make(1);
        const db = make(101);
        await Promise.all([sendAll(pa!, da), sendAll(pb!, db)]);
        const total = sizes.reduce((x, y) => x + y, 0);
        await waitFor(() => a.fed().length >= total && b.fed().length >= total, 5000, "all bytes fed");
        await sleep(100);
        expect(a.fed().equals(Buffer.concat(da))).toBe(true);
        expect(b.fed().equals(Buffer.concat(db))).toBe(true);
        expect(a.source.datagrams).toBe(sizes.length);
        expect(a.source.bytes).toBe(total);
        expect(a.events.filter((e) => e.kind === "connected")).toHaveLength(1);
        await a.source.close();
        await b.source.close();
        expect(a.source.receiveMode).toBe("closed");
      });
    });
  }

  it("cuts a large backlog into parts without losing or reordering a byte", async () => {
    const [port] = await freeUdpPorts(1);
    const socket: Socket = createSocket("udp4");
    await new Promise<void>((r) => socket.bind(port, "127.0.0.1", () => r()));
    const fd = socketDescriptor(socket);
    expect(fd).not.toBeNull();
    const sent = Array.from({ length: 60 }, (_, i) => Buffer.alloc(1316, i));
    await sendAll(port!, sent);
    await sleep(50);
    const parts: Buffer[] = [];
    let count = 0;
    const failures: Error[] = [];
    // A 100 KB slab holds at most 34 KB before a part is cut: three parts for 79 KB waiting.
    drainOne(
      {
        fd: fd!,
        received: (b, n) => {
          parts.push(b);
          count += n;
        },
        failed: (e) => failures.push(e),
      },
      Buffer.alloc(100 * 1024),
    );
    await new Promise<void>((r) => socket.close(() => r()));
    expect(failures).toEqual([]);
    expect(count).toBe(60);
    expect(parts.length).toBeGreaterThanOrEqual(3);
    expect(Buffer.concat(parts).equals(Buffer.concat(sent))).toBe(true);
  });

  it("still sees a continuity error when a datagram of a real stream is lost, and none when none is", async () => {
    const datagrams = clipDatagrams("cc.ts");
    for (const drop of [false, true]) {
      const [port] = await freeUdpPorts(1);
      const s = await openSource(port!);
      expect(s.source.receiveMode).toBe("drain");
      const sent = drop ? datagrams.filter((_, i) => i !== 40) : datagrams;
      await sendAll(port!, sent);
      await waitFor(() => s.source.datagrams >= sent.length, 5000, "all datagrams received");
      await sleep(100);
      const cc = s.events.filter((e) => e.kind === "fault" && e.type === "ts.continuity");
      if (drop) expect(cc.length).toBeGreaterThan(0);
      else expect(cc).toEqual([]);
      expect(s.fed().equals(Buffer.concat(sent))).toBe(true);
      await s.source.close();
    }
  });

  it("reports a source with no sender as lost after UDP_NEVER_MS, then connected when one starts", async () => {
    const [port] = await freeUdpPorts(1);
    const s = await openSource(port!);
    await waitFor(() => s.events.some((e) => e.kind === "lost"), 8000, "never-started reported");
    expect(s.events[0]).toMatchObject({ kind: "lost", at: 0, fatal: false });
    await sendAll(port!, clipDatagrams("late.ts").slice(0, 50));
    await waitFor(() => s.events.some((e) => e.kind === "connected"), 3000, "connected");
    // Then silence again: lost after UDP_SILENCE_MS.
    await waitFor(() => s.events.filter((e) => e.kind === "lost").length === 2, 5000, "silence reported");
    await s.source.close();
  });

  it("refuses a port already bound without SO_REUSEADDR with SQM_ERR_INPUT_UNREADABLE", async () => {
    const [port] = await freeUdpPorts(1);
    const holder = createSocket({ type: "udp4", reuseAddr: false });
    await new Promise<void>((r) => holder.bind(port, "127.0.0.1", () => r()));
    const source = new UdpSource(`udp://127.0.0.1:${port}`);
    await expect(source.open({ emit: () => undefined, now: () => 0 })).rejects.toMatchObject({
      code: "SQM_ERR_INPUT_UNREADABLE",
    });
    await source.close();
    await new Promise<void>((r) => holder.close(() => r()));
  });
});
