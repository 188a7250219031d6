import { spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readSync,
  readlinkSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  FIFO_BATCH,
  fifosReady,
  sweepStaleFifoDirs,
  takeFifos,
  type Fifos,
} from "../../src/ingest/fifo-pool.js";
import { waitFor } from "../helpers/media.js";

function closeAll(f: Fifos): void {
  for (const fd of [f.stdout.read, f.stdout.write, f.stderr.read, f.stderr.write]) closeSync(fd);
}

describe.skipIf(process.platform !== "linux")("FIFO pool", () => {
  it("makes pairs ahead of need and hands each out open, unlinked and working", async () => {
    const first = takeFifos();
    expect(first).not.toBeNull();
    // The first take found none ready: a batch is made in the background.
    await waitFor(() => fifosReady() > 0, 5000, "a batch of FIFOs");
    const before = fifosReady();
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThanOrEqual(FIFO_BATCH);
    const f = takeFifos()!;
    // Taken from the batch: no mkfifo for this one.
    expect(fifosReady()).toBe(before - 1);
    for (const ends of [f.stdout, f.stderr]) {
      // Only the descriptors reach it: the name is gone.
      expect(readlinkSync(`/proc/self/fd/${ends.read}`)).toMatch(/\(deleted\)$/);
      const sent = Buffer.from("frame 1\n");
      expect(writeSync(ends.write, sent)).toBe(sent.length);
      const got = Buffer.alloc(64);
      const n = readSync(ends.read, got, 0, got.length, null);
      expect(got.subarray(0, n).toString()).toBe("frame 1\n");
    }
    // The read ends do not block when empty.
    expect(() => readSync(f.stdout.read, Buffer.alloc(8), 0, 8, null)).toThrow(/EAGAIN/);
    // Two pairs are two pipes: bytes of one never show in the other.
    writeSync(first!.stdout.write, "a");
    expect(() => readSync(f.stdout.read, Buffer.alloc(8), 0, 8, null)).toThrow(/EAGAIN/);
    closeAll(first!);
    closeAll(f);
  });

  it("removes the folders of processes killed outright, and no other", () => {
    const parent = mkdtempSync(join(tmpdir(), "streamqc-sweep-"));
    try {
      // A pid that has come and gone.
      const gone = spawnSync(process.execPath, ["-e", "process.pid"]).pid;
      const make = (name: string): string => {
        const d = join(parent, name);
        mkdirSync(d);
        writeFileSync(join(d, "3-out"), "");
        return d;
      };
      const stale = make(`streamqc-fifo-${gone}-Ab12Cd`);
      const mine = make(`streamqc-fifo-${process.pid}-Xy34Zw`);
      const running = make("streamqc-fifo-1-Qr56St"); // init: always there
      const other = make("streamqc-sweep-other");
      expect(sweepStaleFifoDirs(parent)).toBe(1);
      expect(existsSync(stale)).toBe(false);
      for (const d of [mine, running, other]) expect(existsSync(d)).toBe(true);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
