/**
 * Demo channels for `serve --demo`: live test streams made on loopback by the project itself,
 * so that a newcomer sees incidents within a minute of starting the service.
 *
 * One generated clip with defects at known times is published in a loop, in real time, by
 * one ffmpeg: as MPEG-TS over UDP, and as a live HLS playlist served over HTTP from a
 * directory. Each loop repeats the defects, so they recur every clip length.
 *
 * The loop is re-encoded, not copied: `-stream_loop` with `-c copy` shifts every stream by
 * the longest stream's span, so at each loop the video clock jumped (136 ms, measured) and
 * the UDP channel reported a `ts.pcr-gap` that no one injected. Encoding at a constant frame
 * rate (`-fps_mode cfr`) and resampling audio to its clock (`aresample=async`) makes the
 * timestamps continuous; one encode (x264 ultrafast, 640x360, one thread) feeds both outputs
 * (the tee muxer), so the loop costs one small encode instead of two copies. The service is told of the channels only once the HLS playlist lists two
 * segments, so no channel opens with a `stream.down` because its publisher was not ready.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join, normalize, resolve } from "node:path";
import { generateClip } from "../gen/clip-generator.js";
import type { Defect } from "../gen/defect-spec.js";
import { FfmpegProcess } from "../ingest/ffmpeg-process.js";
import { StreamqcError } from "../errors.js";
import { freeUdpPorts } from "./loopback.js";

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

/** Segments the playlist must list before the channels are handed to the monitor. */
const READY_SEGMENTS = 2;
/** How long the publisher may take to get there (encoder start-up plus two 4 s segments). */
const READY_TIMEOUT_MS = 30_000;

/**
 * ffmpeg arguments that publish `clip` in a real-time loop with continuous timestamps, to
 * UDP (MPEG-TS) and to `live.m3u8` in the working directory (HLS), from one encode. 2 s GOPs
 * without B-frames so every HLS segment starts on a keyframe. Segments of 4 s, not 2: a reader
 * reloads after a target duration, or half of one when nothing changed (RFC 8216 6.3.4), so a
 * healthy playlist can look unchanged for up to 1.5 target durations, which is where
 * `hls.stale-playlist` starts; the margin left for the publisher's own jitter is half a target
 * duration, and 2 s of it (not 1 s) keeps a busy machine from showing a stale playlist no one
 * injected (seen with 2 s segments while the test machine was loaded).
 */
export function demoLoopArgs(clip: string, udpPort: number): string[] {
  const hls = "f=hls:hls_time=4:hls_list_size=5:hls_flags=delete_segments+omit_endlist+temp_file";
  return [
    "-re",
    "-stream_loop",
    "-1",
    "-i",
    clip,
    "-map",
    "0:v:0",
    "-map",
    "0:a:0",
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-tune",
    "zerolatency",
    "-threads",
    "1",
    "-g",
    "50",
    "-keyint_min",
    "50",
    "-sc_threshold",
    "0",
    "-bf",
    "0",
    "-fps_mode",
    "cfr",
    "-r",
    "25",
    "-af",
    "aresample=async=1000",
    "-c:a",
    "aac",
    "-b:a",
    "128k",
    "-f",
    "tee",
    `[f=mpegts]udp://127.0.0.1:${udpPort}?pkt_size=1316|[${hls}]live.m3u8`,
  ];
}

/** Segments listed in a media playlist, 0 when it is missing or being written. */
async function listedSegments(playlist: string): Promise<number> {
  try {
    return (await readFile(playlist, "utf8")).split("\n").filter((l) => l.startsWith("#EXTINF")).length;
  } catch {
    return 0;
  }
}

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
    const hlsDir = join(this.dir, "hls");
    rmSync(hlsDir, { recursive: true, force: true });
    mkdirSync(hlsDir, { recursive: true });
    this.publish("demo publisher", demoLoopArgs(resolve(clip), port), hlsDir);
    try {
      await this.ready(join(hlsDir, "live.m3u8"));
    } catch (err) {
      await this.close();
      throw err;
    }
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

  /** Waits until the playlist lists READY_SEGMENTS segments (the UDP output of the same encoder is then up too). */
  private async ready(playlist: string): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while ((await listedSegments(playlist)) < READY_SEGMENTS) {
      if (this.closed) return;
      if (Date.now() > deadline) {
        throw new StreamqcError(
          "SQM_ERR_INPUT_UNREADABLE",
          `the demo publisher wrote no playable HLS playlist within ${READY_TIMEOUT_MS / 1000} s (${playlist})`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** A publisher that dies is started again: the demo keeps going. */
  private publish(name: string, args: string[], cwd: string): void {
    if (this.closed) return;
    const proc = new FfmpegProcess({
      ffmpegPath: this.ffmpegPath,
      args: ["-hide_banner", "-nostdin", "-loglevel", "error", ...args],
      cwd,
      onStdout: () => undefined,
    });
    this.publishers.push(proc);
    void proc.exited.then((exit) => {
      const i = this.publishers.indexOf(proc);
      if (i >= 0) this.publishers.splice(i, 1);
      if (!this.closed && !exit.requested) {
        this.log(`demo publisher ${name} stopped (${exit.lastLines.slice(-1).join("")}); restarting`);
        setTimeout(() => this.publish(name, args, cwd), 1000).unref();
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
