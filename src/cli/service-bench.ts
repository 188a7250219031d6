/**
 * The service benchmark: N live streams in one `streamqc serve` process for a fixed time.
 *
 * Each stream is a looping ffmpeg publisher sending a generated clip (a freeze at a known time)
 * as MPEG-TS over UDP in real time. The service runs as a child process so that its own CPU
 * (process.cpuUsage(), inside it) and its decoders' CPU (/proc/<pid>/stat) are measured
 * apart; a webhook receiver here timestamps each freeze alert against the moment its onset
 * was played. The baseline, in the same run, is the same decoder command lines alone (no
 * Node), reading the same UDP publishers.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { resolve } from "node:path";
import { resolveProfile } from "../config/profile.js";
import { DEFECT_KINDS, type Defect } from "../gen/defect-spec.js";
import { generateClip } from "../gen/clip-generator.js";
import { freeUdpPorts, udpLoopArgs } from "../demo/loopback.js";
import { FfmpegProcess } from "../ingest/ffmpeg-process.js";
import { decoderArgs } from "../ingest/media-reader.js";
import { processCpuSeconds } from "../ingest/process-cpu.js";
import type { Source } from "../ingest/source.js";
import { startService } from "./serve-command.js";
import { withServiceFlags } from "./node-flags.js";

export interface ServiceBenchOptions {
  readonly ffmpegPath: string;
  /** Concurrent streams; default 16. */
  readonly streams: number;
  /** Seconds measured (after the warm-up); default 60. */
  readonly seconds: number;
  /** Seconds the decoders-alone baseline is measured; default 20. */
  readonly baselineSeconds: number;
  /** The CLI entry to run the child service with (this process's own script). */
  readonly cli: string;
  readonly dir: string;
}

export interface ServiceBenchResult {
  readonly streams: number;
  readonly wallSeconds: number;
  readonly serviceCpuPerStreamSecond: number;
  readonly decoderCpuPerStreamSecond: number;
  readonly baselineDecoderCpuPerStreamSecond: number;
  readonly serviceCorePercentPerStream: number;
  readonly serviceRssMiB: number;
  readonly loopDelayMs: ChildSample["loopDelayMs"];
  readonly decoderRssMiBPerStream: number;
  readonly baselineDecoderRssMiBPerStream: number;
  readonly latencies: readonly number[];
  /** Of each latency: from the incident's opening in the service to the webhook's arrival. */
  readonly deliveryLatencies: readonly number[];
  readonly defectsPlayed: number;
}

const WIDTH = 320;
const HEIGHT = 180;
const FPS = 25;
const CLIP_SECONDS = 20;
const DEFECT: Defect = { type: "freeze", start: 8, duration: 3 };
const WARMUP_MS = 6000;
/** Publishers start this far apart, so that the streams' defects do not all fall on one instant. */
const STAGGER_MS = 250;
const SECRET = "whsec_c3RyZWFtcWMtYmVuY2gtc2VjcmV0LWtleQ==";

export interface ChildSample {
  /** Event-loop delay since the previous sample, ms: how late the service's callbacks ran. */
  readonly loopDelayMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly cpuSeconds: number;
  readonly rss: number;
  /** V8's heap in use, and memory outside it (Buffers, typed arrays), bytes. */
  readonly heapUsed: number;
  readonly external: number;
  /** Buffers and typed arrays' memory (part of `external`), bytes. */
  readonly arrayBuffers: number;
  /** Bytes the light streams keep for promotions to replay (part of `arrayBuffers`). */
  readonly replayBytes: number;
  readonly decoders: readonly number[];
  /** Sums over the streams: media seconds seen, promotions started, decoder errors. */
  readonly mediaSeconds: number;
  readonly promotions: number;
  readonly decoderErrors: number;
}

type ChildMessage = { kind: "ready"; url: string } | ({ kind: "sample" } & ChildSample);

/** The child side: runs the service from a config and answers samples over IPC. */
export async function runServiceBenchChild(config: string, log: string): Promise<number> {
  const running = await startService({ config, logStream: createWriteStream(log) });
  const send = (m: ChildMessage): void => {
    process.send?.(m);
  };
  const streams = await running.service.listStreams();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  process.on("message", (m: { kind: string }) => {
    if (m.kind === "sample") {
      const u = process.cpuUsage();
      const loopDelayMs = {
        p50: loop.percentile(50) / 1e6,
        p99: loop.percentile(99) / 1e6,
        max: loop.max / 1e6,
      };
      loop.reset();
      const mem = process.memoryUsage();
      const states = streams.map((s) => running.service.runner(s.id)?.state());
      send({
        kind: "sample",
        loopDelayMs,
        cpuSeconds: (u.user + u.system) / 1e6,
        rss: mem.rss,
        heapUsed: mem.heapUsed,
        external: mem.external,
        arrayBuffers: mem.arrayBuffers,
        replayBytes: streams.reduce((a, s) => a + (running.service.runner(s.id)?.replayBytesNow ?? 0), 0),
        mediaSeconds: states.reduce((a, st) => a + (st?.mediaTime ?? 0), 0),
        promotions: states.reduce((a, st) => a + (st?.promotion?.promotions ?? 0), 0),
        decoderErrors: states.reduce((a, st) => a + (st?.decoderErrors ?? 0), 0),
        decoders: streams
          .map((s) => running.service.runner(s.id)?.decoderPidNow)
          .filter((p): p is number => p !== undefined),
      });
    } else if (m.kind === "stop") {
      void running.close().then(() => process.exit(0));
    }
  });
  send({ kind: "ready", url: running.url });
  await new Promise(() => undefined);
  return 0;
}

export function vmRssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function cpuOf(pids: readonly number[]): Map<number, number> {
  return new Map(pids.map((p) => [p, processCpuSeconds(p) ?? 0]));
}

/** CPU used between two readings by the processes alive at both. */
function cpuDelta(a: Map<number, number>, b: Map<number, number>): { seconds: number; lost: number } {
  let seconds = 0;
  let lost = 0;
  for (const [pid, end] of b) {
    const start = a.get(pid);
    if (start === undefined) lost++;
    else seconds += end - start;
  }
  return { seconds, lost };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class AlertClock {
  readonly received: { stream: string; type: string; at: number; openedAt: number }[] = [];
  private server: Server | null = null;
  port = 0;

  async listen(): Promise<void> {
    const server = createServer((req, res) => {
      const at = Date.now();
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (d: string) => (body += d));
      req.on("end", () => {
        try {
          const p = JSON.parse(body) as {
            type: string;
            data: { incident: { stream: string; type: string; startedAt: string } };
          };
          if (p.type === "incident.opened") {
            const i = p.data.incident;
            this.received.push({ stream: i.stream, type: i.type, at, openedAt: Date.parse(i.startedAt) });
          }
        } catch {
          // Not ours; ignore.
        }
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    this.server = server;
    this.port = (server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  }
}

export function startChild(
  cli: string,
  config: string,
  log: string,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [...withServiceFlags(process.execArgv), cli, "bench", "--service-child", config, "--service-log", log],
    { stdio: ["ignore", "ignore", "inherit", "ipc"] },
  );
  return new Promise((resolveChild, reject) => {
    child.once("exit", (code) => reject(new Error(`the service exited early (${String(code)}); see ${log}`)));
    child.on("message", (m: ChildMessage) => {
      if (m.kind === "ready") resolveChild({ child, url: m.url });
    });
  });
}

export function sample(child: ChildProcess): Promise<ChildSample> {
  return new Promise((resolveSample) => {
    const on = (m: ChildMessage): void => {
      if (m.kind !== "sample") return;
      child.off("message", on);
      resolveSample(m);
    };
    child.on("message", on);
    child.send({ kind: "sample" });
  });
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

export async function runServiceBench(
  o: ServiceBenchOptions,
  out: NodeJS.WritableStream,
): Promise<ServiceBenchResult> {
  mkdirSync(o.dir, { recursive: true });
  const clip = resolve(o.dir, `svc-clip-${WIDTH}x${HEIGHT}-${CLIP_SECONDS}s-freeze.ts`);
  if (!existsSync(clip)) {
    out.write(`service bench: generating ${clip}\n`);
    await generateClip(clip, {
      duration: CLIP_SECONDS,
      width: WIDTH,
      height: HEIGHT,
      fps: FPS,
      defects: [DEFECT],
      ffmpegPath: o.ffmpegPath,
    });
  }
  const n = o.streams;
  const ports = await freeUdpPorts(n);
  const alerts = new AlertClock();
  await alerts.listen();
  const dataDir = resolve(o.dir, "service-data");
  rmSync(dataDir, { recursive: true, force: true });
  const config = resolve(o.dir, "service-bench.json");
  const log = resolve(o.dir, "service-bench.log");
  writeFileSync(
    config,
    JSON.stringify({
      ffmpeg: o.ffmpegPath,
      dataDir,
      server: { host: "127.0.0.1", port: 0 },
      streams: ports.map((p, i) => ({ name: `bench-${i}`, url: `udp://127.0.0.1:${p}` })),
      alerts: {
        channels: [
          { kind: "webhook", name: "bench", url: `http://127.0.0.1:${alerts.port}/`, secret: SECRET },
        ],
        routes: [{ channels: ["bench"] }],
        // Every loop's freeze is alerted: each is one latency sample.
        cooldownSeconds: 0,
      },
    }),
  );
  out.write(
    `service bench: ${n} streams ${WIDTH}x${HEIGHT} ${FPS} fps over UDP, ${o.seconds} s measured after ${WARMUP_MS / 1000} s warm-up; baseline ${o.baselineSeconds} s\n`,
  );
  const { child } = await startChild(o.cli, config, log);
  const publishers: FfmpegProcess[] = [];
  const publishedAt: number[] = [];
  try {
    for (const [i, port] of ports.entries()) {
      publishedAt[i] = Date.now();
      publishers.push(
        new FfmpegProcess({
          ffmpegPath: o.ffmpegPath,
          args: ["-hide_banner", "-nostdin", "-loglevel", "error", ...udpLoopArgs(clip, port)],
          onStdout: () => undefined,
        }),
      );
      await sleep(STAGGER_MS);
    }
    await sleep(WARMUP_MS);
    const s0 = await sample(child);
    const d0 = cpuOf(s0.decoders);
    const t0 = performance.now();
    await sleep(o.seconds * 1000);
    const s1 = await sample(child);
    const d1 = cpuOf(s1.decoders);
    const wall = (performance.now() - t0) / 1000;
    const decoderRss = s1.decoders.reduce((a, p) => a + vmRssBytes(p), 0);
    const runEnd = Date.now();
    child.send({ kind: "stop" });
    await new Promise((r) => child.once("exit", r));

    const svcCpu = s1.cpuSeconds - s0.cpuSeconds;
    const dec = cpuDelta(d0, d1);

    // Baseline: the same decoder command lines with nothing reading them but /dev/null.
    const profile = resolveProfile({});
    const opts = {
      ffmpegPath: o.ffmpegPath,
      threads: 1,
      thumbnails: true,
      detail: profile.detectors.some((d) => d.definition.needs.detail),
    };
    const baseline = ports.map((port) => {
      const source: Source = {
        url: `udp://127.0.0.1:${port}`,
        kind: "udp",
        live: true,
        inputArgs: () => [
          "-f",
          "mpegts",
          "-probesize",
          "500000",
          "-analyzeduration",
          "1000000",
          "-i",
          `udp://127.0.0.1:${port}?fifo_size=100000&overrun_nonfatal=1`,
        ],
      };
      return spawn(o.ffmpegPath, decoderArgs(source, opts), { stdio: ["ignore", "ignore", "ignore"] });
    });
    await sleep(3000);
    const pids = baseline.map((c) => c.pid).filter((p): p is number => p !== undefined);
    const b0 = cpuOf(pids);
    const tb = performance.now();
    await sleep(o.baselineSeconds * 1000);
    const b1 = cpuOf(pids);
    const bWall = (performance.now() - tb) / 1000;
    const baseRss = pids.reduce((a, p) => a + vmRssBytes(p), 0);
    for (const c of baseline) c.kill("SIGKILL");
    const base = cpuDelta(b0, b1);

    // Onset-to-alert: each freeze alert against the latest onset its publisher played before it.
    const latencies: number[] = [];
    const deliveryLatencies: number[] = [];
    let played = 0;
    const minDuration = DEFECT_KINDS[DEFECT.type].minDuration;
    for (let i = 0; i < n; i++) {
      const origin = publishedAt[i]! + DEFECT.start * 1000;
      for (let k = 0; origin + k * CLIP_SECONDS * 1000 + (minDuration + 1) * 1000 < runEnd; k++) played++;
      for (const a of alerts.received.filter((x) => x.stream === `bench-${i}` && x.type === "video.freeze")) {
        const k = Math.floor((a.at - origin) / (CLIP_SECONDS * 1000));
        latencies.push((a.at - (origin + k * CLIP_SECONDS * 1000)) / 1000);
        deliveryLatencies.push((a.at - a.openedAt) / 1000);
      }
    }
    latencies.sort((a, b) => a - b);
    deliveryLatencies.sort((a, b) => a - b);
    const result: ServiceBenchResult = {
      streams: n,
      wallSeconds: wall,
      serviceCpuPerStreamSecond: svcCpu / (n * wall),
      decoderCpuPerStreamSecond: dec.seconds / ((n - dec.lost) * wall),
      baselineDecoderCpuPerStreamSecond: base.seconds / ((pids.length - base.lost) * bWall),
      serviceCorePercentPerStream: (100 * svcCpu) / (n * wall),
      serviceRssMiB: s1.rss / 2 ** 20,
      loopDelayMs: s1.loopDelayMs,
      decoderRssMiBPerStream: decoderRss / s1.decoders.length / 2 ** 20,
      baselineDecoderRssMiBPerStream: baseRss / pids.length / 2 ** 20,
      latencies,
      deliveryLatencies,
      defectsPlayed: played,
    };
    report(result, out, { restartedDecoders: dec.lost, minDuration });
    return result;
  } finally {
    child.kill("SIGKILL");
    await Promise.all(publishers.map((p) => p.close()));
    await alerts.close();
  }
}

function report(
  r: ServiceBenchResult,
  out: NodeJS.WritableStream,
  extra: { restartedDecoders: number; minDuration: number },
): void {
  const f = (x: number, d = 4): string => (Number.isFinite(x) ? x.toFixed(d) : "n/a");
  const total = r.serviceCpuPerStreamSecond + r.decoderCpuPerStreamSecond;
  const lat = r.latencies;
  out.write(
    [
      ``,
      `| per stream (N = ${r.streams}, ${f(r.wallSeconds, 1)} s) | value | vs decoders alone |`,
      `|---|---|---|`,
      `| decoders alone: CPU s per stream-second | ${f(r.baselineDecoderCpuPerStreamSecond)} | 1.000 |`,
      `| service's decoders: CPU s per stream-second | ${f(r.decoderCpuPerStreamSecond)} | ${f(r.decoderCpuPerStreamSecond / r.baselineDecoderCpuPerStreamSecond, 3)} |`,
      `| service process (Node): CPU s per stream-second | ${f(r.serviceCpuPerStreamSecond)} | ${f(r.serviceCpuPerStreamSecond / r.baselineDecoderCpuPerStreamSecond, 3)} |`,
      `| service + decoders: CPU s per stream-second | ${f(total)} | ${f(total / r.baselineDecoderCpuPerStreamSecond, 3)} |`,
      `| service overhead, % of a core per stream (target < 5) | ${f(r.serviceCorePercentPerStream, 2)} | |`,
      `| memory: decoders alone, MiB RSS per stream | ${f(r.baselineDecoderRssMiBPerStream, 1)} | 1.000 |`,
      `| memory: service's decoders, MiB RSS per stream | ${f(r.decoderRssMiBPerStream, 1)} | ${f(r.decoderRssMiBPerStream / r.baselineDecoderRssMiBPerStream, 3)} |`,
      `| memory: service process, MiB RSS per stream (${f(r.serviceRssMiB, 1)} MiB total) | ${f(r.serviceRssMiB / r.streams, 1)} | |`,
      ``,
      `onset-to-alert (freeze, detector minimum ${extra.minDuration} s, target < ${extra.minDuration + 1} s): ` +
        `${lat.length} alerts for ${r.defectsPlayed} defects played; ` +
        `min ${f(lat[0] ?? NaN, 2)} s, median ${f(percentile(lat, 0.5), 2)} s, p95 ${f(percentile(lat, 0.95), 2)} s, max ${f(lat[lat.length - 1] ?? NaN, 2)} s`,
      `  of which incident opened -> webhook received: median ${f(percentile(r.deliveryLatencies, 0.5), 3)} s, max ${f(r.deliveryLatencies[r.deliveryLatencies.length - 1] ?? NaN, 3)} s`,
      `service event-loop delay during the run: p50 ${f(r.loopDelayMs.p50, 1)} ms, p99 ${f(r.loopDelayMs.p99, 1)} ms, max ${f(r.loopDelayMs.max, 1)} ms`,
      `(onset = publisher spawn + defect time, so ffmpeg's start-up, ~0.1-0.3 s, is counted in the latency)`,
      ...(extra.restartedDecoders > 0
        ? [
            `note: ${extra.restartedDecoders} decoders restarted during the run and are left out of the CPU figure`,
          ]
        : []),
      ``,
    ].join("\n"),
  );
}
