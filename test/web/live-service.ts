/**
 * A real service with real live streams for the browser tests: MPEG-TS over UDP published in
 * real time on loopback by ffmpeg (the project's own generator and loopback helpers), and
 * `streamqc serve` as a child process on a free port with a temporary data directory.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeUdpPorts, udpLoopArgs, udpOnceArgs } from "../../src/demo/loopback.js";
import { generateClip } from "../../src/gen/clip-generator.js";
import type { Defect } from "../../src/gen/defect-spec.js";
import { FfmpegProcess } from "../../src/ingest/ffmpeg-process.js";
import { ServiceChild } from "../service/helpers.js";

/**
 * Every detector, with loudness kept from alarming on the generated tone (louder than R128)
 * while still measuring it: the plots need the measurements, the wall needs no noise.
 */
export const WALL_PROFILE = {
  detectors: { "audio.loudness": { target: -20, tolerance: 20, truePeakLimit: 6 } },
  severity: {},
};

export interface LiveChannel {
  readonly name: string;
  readonly port: number;
  readonly clip: string;
  readonly loop: boolean;
  publisher: FfmpegProcess | null;
}

export class LiveWall {
  readonly dir = mkdtempSync(join(tmpdir(), "streamqc-wall-"));
  readonly channels: LiveChannel[] = [];
  service: ServiceChild | null = null;
  url = "";
  private port = 0;

  /** Generates a clip (320×180, 25 fps) for a channel; publishing starts with `publish`. */
  async addChannel(name: string, defects: Defect[], duration: number, loop: boolean): Promise<LiveChannel> {
    const clip = join(this.dir, `${name}.ts`);
    await generateClip(clip, { duration, defects, width: 320, height: 180, fps: 25 });
    const [port] = await freeUdpPorts(1);
    const ch: LiveChannel = { name, port: port!, clip, loop, publisher: null };
    this.channels.push(ch);
    return ch;
  }

  /** Starts (or restarts) a channel's publisher: from the clip's start, in real time. */
  publish(ch: LiveChannel): void {
    void ch.publisher?.close();
    const args = ch.loop ? udpLoopArgs(ch.clip, ch.port) : udpOnceArgs(ch.clip, ch.port);
    ch.publisher = new FfmpegProcess({
      ffmpegPath: "ffmpeg",
      args: ["-hide_banner", "-nostdin", "-loglevel", "error", ...args],
      onStdout: () => undefined,
    });
  }

  configFile(labels: (name: string) => Record<string, string>): string {
    const file = join(this.dir, "config.json");
    writeFileSync(
      file,
      JSON.stringify({
        dataDir: join(this.dir, "data"),
        profiles: { wall: WALL_PROFILE },
        streams: this.channels.map((c) => ({
          name: c.name,
          url: `udp://127.0.0.1:${c.port}`,
          profile: "wall",
          labels: labels(c.name),
        })),
      }),
    );
    return file;
  }

  /** Starts the service (again on the same port and data after a kill). */
  async start(config: string): Promise<string> {
    this.service = new ServiceChild(["serve", "--config", config, "--port", String(this.port)]);
    this.url = await this.service.url;
    this.port = Number(new URL(this.url).port);
    return this.url;
  }

  async api<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.url}/api/v1${path}`, {
      ...init,
      headers: {
        "content-type": "application/json",
        ...(init.headers as Record<string, string> | undefined),
      },
    });
    const text = await res.text();
    return { status: res.status, body: (text === "" ? undefined : JSON.parse(text)) as T };
  }

  async close(): Promise<void> {
    await this.service?.kill("SIGTERM");
    await Promise.all(this.channels.map((c) => c.publisher?.close() ?? Promise.resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
