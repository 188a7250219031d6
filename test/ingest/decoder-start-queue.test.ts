import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freeUdpPorts } from "../../src/demo/loopback.js";
import { pendingDecoderStarts, queueDecoderStart } from "../../src/ingest/decoder-start-queue.js";
import { MediaReader } from "../../src/ingest/media-reader.js";
import type { StreamEvent } from "../../src/ingest/media.js";
import { UdpSource } from "../../src/ingest/udp-source.js";
import { makeClip, tempDir, waitFor } from "../helpers/media.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("decoder start queue", () => {
  it("runs one start per event-loop turn, in order, and a cancelled start never", async () => {
    const ran: string[] = [];
    const pendingAt: number[] = [];
    const start = (name: string) => () => {
      ran.push(name);
      pendingAt.push(pendingDecoderStarts());
    };
    queueDecoderStart(start("a"));
    const cancelB = queueDecoderStart(start("b"));
    queueDecoderStart(start("c"));
    queueDecoderStart(start("d"));
    // Nothing runs inside the caller's own callback.
    expect(ran).toEqual([]);
    cancelB();
    cancelB();
    await turn();
    expect(ran).toEqual(["a"]);
    await turn();
    expect(ran).toEqual(["a", "c"]);
    await waitFor(() => ran.length === 3, 1000, "the last start");
    expect(ran).toEqual(["a", "c", "d"]);
    // Each start saw the ones after it still waiting: they were not run in the same turn.
    expect(pendingAt).toEqual([2, 1, 0]);
  });

  it("starts a UDP stream's decoder after the drain tick that brought its first datagrams, not inside it (the 32-channel promotions)", async () => {
    // Regression: 32 channels' first datagrams came in one drain pass and each `connected`
    // spawned its decoder there and then; the event loop stood still for seconds, the other
    // sockets overflowed, and the lost datagrams promoted healthy streams on real CC errors.
    const clip = makeClip(join(tmp.dir, "start.ts"), { duration: 3, size: "160x120" });
    const ts = readFileSync(clip);
    const [port] = await freeUdpPorts(1);
    const source = new UdpSource(`udp://127.0.0.1:${port}`);
    const events: StreamEvent[] = [];
    let runningAfterConnectedTask: boolean | null = null;
    let frames = 0;
    const reader: MediaReader = new MediaReader(
      source,
      { ffmpegPath: "ffmpeg", threads: 1, stallTimeoutMs: 30_000 },
      {
        video: () => frames++,
        event: (e) => {
          events.push(e);
          // Microtasks run when the task that emitted `connected` (the drain tick) returns.
          if (e.kind === "connected") queueMicrotask(() => (runningAfterConnectedTask = reader.running));
        },
      },
    );
    reader.start();
    await waitFor(() => source.receiveMode === "drain", 2000, "socket open");
    const sender = createSocket("udp4");
    // The clip again and again until the decoder has probed enough of it to decode.
    let sending = true;
    const sent = (async () => {
      while (sending) {
        for (let i = 0; i < ts.length && sending; i += 1316) {
          await new Promise<void>((r, j) =>
            sender.send(ts.subarray(i, Math.min(ts.length, i + 1316)), port, "127.0.0.1", (e) =>
              e ? j(e) : r(),
            ),
          );
          if (i % (1316 * 20) === 0) await new Promise((r) => setTimeout(r, 2));
        }
      }
    })();
    try {
      await waitFor(() => events.some((e) => e.kind === "connected"), 5000, "connected");
      await waitFor(() => runningAfterConnectedTask !== null, 1000, "the connected task's end");
      expect(runningAfterConnectedTask).toBe(false);
      // And it does start, and decodes.
      await waitFor(() => reader.running && frames > 0, 15_000, "decoded frames");
    } finally {
      sending = false;
      await sent;
      sender.close();
      await reader.close();
    }
  });
});
