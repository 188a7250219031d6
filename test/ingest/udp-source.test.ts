import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MediaReader } from "../../src/ingest/media-reader.js";
import type { StreamEvent, VideoFrame } from "../../src/ingest/media.js";
import { openSource } from "../../src/ingest/open-source.js";
import { freeUdpPorts } from "../../src/demo/loopback.js";
import { makeClip, tempDir, waitFor } from "../helpers/media.js";

const tmp = tempDir();
const senders: ChildProcess[] = [];
afterAll(() => {
  for (const s of senders) s.kill("SIGKILL");
  tmp.cleanup();
});

async function freePort(): Promise<number> {
  return (await freeUdpPorts(1))[0]!;
}

function send(clip: string, url: string): ChildProcess {
  const p = spawn(
    "ffmpeg",
    [
      "-hide_banner",
      "-loglevel",
      "error",
      "-re",
      "-stream_loop",
      "-1",
      "-i",
      clip,
      "-c",
      "copy",
      "-f",
      "mpegts",
      url,
    ],
    {
      stdio: "ignore",
    },
  );
  senders.push(p);
  return p;
}

describe("UDP source", () => {
  it("reports a sender that dies, and resumes with a gap when it comes back", async () => {
    const clip = makeClip(join(tmp.dir, "u.ts"), { duration: 2 });
    const port = await freePort();
    const frames: VideoFrame[] = [];
    const events: StreamEvent[] = [];
    const reader = new MediaReader(
      openSource(`udp://127.0.0.1:${port}`),
      { ffmpegPath: "ffmpeg" },
      {
        video: (f) => frames.push(f),
        event: (e) => events.push(e),
      },
    );
    reader.start();
    let sender = send(clip, `udp://127.0.0.1:${port}?pkt_size=1316`);
    await waitFor(() => frames.length > 30, 10_000, "frames over UDP");
    expect(events[0]?.kind).toBe("connected");
    sender.kill("SIGKILL");
    await waitFor(() => events.some((e) => e.kind === "lost"), 6000, "loss reported");
    const before = frames.length;
    const lastPts = frames[frames.length - 1]!.pts;
    sender = send(clip, `udp://127.0.0.1:${port}?pkt_size=1316`);
    await waitFor(() => frames.length > before + 25, 10_000, "frames after the sender came back");
    expect(events.filter((e) => e.kind === "connected").length).toBe(2);
    const resumed = frames[before]!.pts;
    // The outage (>= 2 s of silence before the loss was reported) shows as a gap in media time.
    expect(resumed - lastPts).toBeGreaterThan(2);
    sender.kill("SIGKILL");
    await reader.close();
  });

  it("joins a multicast group", async () => {
    const clip = makeClip(join(tmp.dir, "m.ts"), { duration: 2 });
    const port = await freePort();
    const frames: VideoFrame[] = [];
    const reader = new MediaReader(
      openSource(`udp://@239.255.42.42:${port}?localaddr=127.0.0.1`),
      { ffmpegPath: "ffmpeg" },
      {
        video: (f) => frames.push(f),
      },
    );
    reader.start();
    const sender = send(clip, `udp://239.255.42.42:${port}?pkt_size=1316&localaddr=127.0.0.1&ttl=1`);
    await waitFor(() => frames.length > 20, 10_000, "multicast frames");
    sender.kill("SIGKILL");
    await reader.close();
  });

  it("reports a source that never sends as lost, and connected once a late sender starts", async () => {
    const clip = makeClip(join(tmp.dir, "late.ts"), { duration: 2 });
    const port = await freePort();
    const events: StreamEvent[] = [];
    const frames: VideoFrame[] = [];
    const reader = new MediaReader(
      openSource(`udp://127.0.0.1:${port}`),
      { ffmpegPath: "ffmpeg" },
      { video: (f) => frames.push(f), event: (e) => events.push(e) },
    );
    reader.start();
    await waitFor(() => events.some((e) => e.kind === "lost"), 9000, "never-received reported");
    const lost = events.find((e) => e.kind === "lost");
    expect(lost).toMatchObject({ kind: "lost", at: 0, fatal: false });
    expect(lost?.kind === "lost" ? lost.reason : "").toMatch(
      /^no UDP datagrams received in 5 s of listening/,
    );
    const sender = send(clip, `udp://127.0.0.1:${port}?pkt_size=1316`);
    await waitFor(() => frames.length > 10, 10_000, "frames from the late sender");
    expect(events.filter((e) => e.kind === "connected")).toHaveLength(1);
    sender.kill("SIGKILL");
    await reader.close();
  });
});
