import { closeSync, readSync, readlinkSync, writeSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FIFO_BATCH, fifosReady, takeFifos, type Fifos } from "../../src/ingest/fifo-pool.js";
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
});
