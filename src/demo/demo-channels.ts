/**
 * Demo channels for `serve --demo`: live test streams made on loopback by the project itself,
 * so that a newcomer sees incidents within a minute of starting the service.
 *
 * One generated clip with defects at known times is published in a loop, in real time, by
 * ffmpeg: as MPEG-TS over UDP, and as a live HLS playlist served over HTTP from a directory.
 * Each loop repeats the defects, so they recur every clip length.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join, normalize, resolve } from "node:path";
import { generateClip } from "../gen/clip-generator.js";
import type { Defect } from "../gen/defect-spec.js";
import { FfmpegProcess } from "../ingest/ffmpeg-process.js";
import { freeUdpPorts, udpLoopArgs } from "./loopback.js";

export interface DemoChannel {
  readonly name: string;
  readonly url: string;
  readonly labels: Record<string, string>;
}

export const DEMO_CLIP_SECONDS = 60;
/** Defects every loop, early enough that the first shows within a minute. */
export const DEMO_DEFECTS: readonly Defect[] = [
  { type: "freeze", start: 8, duration: 4 },
  { type: "black", start: 20, duration: 3 },
  { type: "silence", start: 32, duration: 4 },
  { type: "clipping", start: 44, duration: 2 },
];

const CONTENT_TYPES: Record<string, string> = {
  ".m3u8": "application/vnd.apple.mpegurl",
  ".ts": "video/mp2t",
};

/** Serves one directory read-only on loopback; paths are confined to it. */
function serveDirectory(dir: string): Promise<{ server: Server; port: number }> {
  const root = resolve(dir);
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const file = normalize(join(root, path));
    const ext = /\.[a-z0-9]+$/.exec(file)?.[0] ?? "";
    if (
      !file.startsWith(root + "/") ||
      !CONTENT_TYPES[ext] ||
      !existsSync(file) ||
      !statSync(file).isFile()
    ) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": CONTENT_TYPES[ext], "cache-control": "no-cache" });
    res.end(readFileSync(file));
  });
  return new Promise((r) =>
    server.listen(0, "127.0.0.1", () => r({ server, port: (server.address() as { port: number }).port })),
  );
}

export class DemoChannels {
  private readonly publishers: FfmpegProcess[] = [];
  private server: Server | null = null;
  private closed = false;
  channels: DemoChannel[] = [];

  constructor(
    private readonly dir: string,
    private readonly ffmpegPath: string,
    private readonly log: (message: string) => void = () => undefined,
  ) {}

  async start(): Promise<DemoChannel[]> {
    mkdirSync(this.dir, { recursive: true });
    const clip = join(this.dir, "demo-clip.ts");
    if (!existsSync(clip)) {
      this.log(`generating the demo clip (${DEMO_CLIP_SECONDS} s, defects every loop)`);
      await generateClip(clip, {
        duration: DEMO_CLIP_SECONDS,
        defects: [...DEMO_DEFECTS],
        width: 640,
        height: 360,
        fps: 25,
        ffmpegPath: this.ffmpegPath,
      });
    }
    const port = (await freeUdpPorts(1))[0]!;
    this.publish("demo-udp", udpLoopArgs(clip, port));
    const hlsDir = join(this.dir, "hls");
    rmSync(hlsDir, { recursive: true, force: true });
    mkdirSync(hlsDir, { recursive: true });
    this.publish("demo-hls", [
      "-re",
      "-stream_loop",
      "-1",
      "-i",
      clip,
      "-c",
      "copy",
      "-f",
      "hls",
      "-hls_time",
      "2",
      "-hls_list_size",
      "6",
      "-hls_flags",
      "delete_segments+omit_endlist+temp_file",
      join(hlsDir, "live.m3u8"),
    ]);
    const { server, port: httpPort } = await serveDirectory(hlsDir);
    this.server = server;
    this.channels = [
      { name: "demo-udp", url: `udp://127.0.0.1:${port}`, labels: { demo: "true", transport: "udp" } },
      {
        name: "demo-hls",
        url: `http://127.0.0.1:${httpPort}/live.m3u8`,
        labels: { demo: "true", transport: "hls" },
      },
    ];
    return this.channels;
  }

  /** A publisher that dies is started again: the demo keeps going. */
  private publish(name: string, args: string[]): void {
    if (this.closed) return;
    const proc = new FfmpegProcess({
      ffmpegPath: this.ffmpegPath,
      args: ["-hide_banner", "-nostdin", "-loglevel", "error", ...args],
      onStdout: () => undefined,
    });
    this.publishers.push(proc);
    void proc.exited.then((exit) => {
      const i = this.publishers.indexOf(proc);
      if (i >= 0) this.publishers.splice(i, 1);
      if (!this.closed && !exit.requested) {
        this.log(`demo publisher ${name} stopped (${exit.lastLines.slice(-1).join("")}); restarting`);
        setTimeout(() => this.publish(name, args), 1000).unref();
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.publishers.map((p) => p.close()));
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
