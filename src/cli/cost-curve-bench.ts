/**
 * The cost curve (`bench --curve`, and part of `npm run bench`): the real service (`serve`'s
 * code path, run as a child `streamqc bench --service-child`) monitoring N live 1080p25
 * channels at N = 1, 4, 16, 64 (light mode; full mode where the machine allows), reporting
 * CPU and memory per channel and the CPU seconds per channel-hour.
 *
 * Each channel is the bench clip published in a loop over UDP by `ffmpeg -re -stream_loop -1
 * -c copy -f tee`, one publisher process for up to PUBLISHER_CHANNELS channels (no encoding,
 * and the clip read and paced once per process: 100 channels cost the 2-core machine about
 * half a core of publishers instead of one), measured apart. The service's own
 * CPU and its decoders' are read from /proc (process-tree-usage.ts), so decoders that start
 * or end during the run (promotions) are counted. Memory: Node's resident set and heap, and
 * each decoder's resident and proportional set (its shared library pages divided among the
 * decoders that map them). Writes docs/cost-curve.md (the table) and docs/cost-curve.svg.
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { freeUdpPorts } from "../demo/loopback.js";
import { FfmpegProcess } from "../ingest/ffmpeg-process.js";
import { processCpuSeconds } from "../ingest/process-cpu.js";
import { costSvg, costTable, cpuPerChannelHour, pssPerChannel, type CostPoint } from "./cost-curve-plot.js";
import { childrenCpuBetween, treeUsage } from "./process-tree-usage.js";
import { sample, startChild } from "./service-bench.js";

export interface CostCurveOptions {
  readonly ffmpegPath: string;
  /** The 1080p bench clip, published as it is. */
  readonly clip: string;
  readonly light: readonly number[];
  readonly full: readonly number[];
  /** Seconds measured per point, after the warm-up. */
  readonly seconds: number;
  readonly cli: string;
  readonly dir: string;
  /** Where the table and the plot go (docs/). */
  readonly docs: string;
  /** The command line that made them, written beside the table. */
  readonly command: string;
}

/**
 * Channels per publisher process. One process per channel cost 0.9-1.6 % of a core each (its
 * start-up, demuxing and pacing); a tee of 16 about 0.5 %. Several processes started apart
 * keep the channels' keyframes from all coinciding.
 */
export const PUBLISHER_CHANNELS = 10;

/**
 * One publisher: the clip in a loop at its own rate, copied (not encoded) as MPEG-TS to each
 * port in 1,316-byte datagrams. A port nobody listens on does not stop the others.
 */
export function teeLoopArgs(clip: string, ports: readonly number[]): string[] {
  const outputs = ports.map((p) => `[f=mpegts:onfail=ignore]udp://127.0.0.1:${p}?pkt_size=1316`).join("|");
  return ["-re", "-stream_loop", "-1", "-i", clip, "-map", "0", "-c", "copy", "-f", "tee", outputs];
}

/** Seconds after the last publisher starts before measuring: decoders probe, JIT warms up. */
const WARMUP_SECONDS = 8;
const MIB = 2 ** 20;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function measurePoint(
  o: CostCurveOptions,
  mode: CostPoint["mode"],
  channels: number,
  out: NodeJS.WritableStream,
): Promise<CostPoint> {
  const ports = await freeUdpPorts(channels);
  const dataDir = resolve(o.dir, `curve-data-${mode}-${channels}`);
  rmSync(dataDir, { recursive: true, force: true });
  const config = resolve(o.dir, `curve-${mode}-${channels}.json`);
  const log = resolve(o.dir, `curve-${mode}-${channels}.log`);
  writeFileSync(
    config,
    JSON.stringify({
      ffmpeg: o.ffmpegPath,
      dataDir,
      server: { host: "127.0.0.1", port: 0 },
      // Probing a 1080p stream joined mid-GOP reads up to 5 s of it, slower on a loaded
      // machine: the default 10 s watchdog restarted decoders still probing.
      stallTimeoutMs: 30_000,
      ...(mode === "light" ? { profile: { mode: "light" } } : {}),
      streams: ports.map((p, i) => ({ name: `curve-${i}`, url: `udp://127.0.0.1:${p}` })),
    }),
  );
  const publishers: FfmpegProcess[] = [];
  let child: ChildProcess | null = null;
  try {
    // Spread the starts over up to 4 s so that keyframes (and start-ups) do not all coincide.
    const groups = Math.ceil(channels / PUBLISHER_CHANNELS);
    const stagger = Math.min(250, 4000 / groups);
    for (let g = 0; g < groups; g++) {
      const group = ports.slice(g * PUBLISHER_CHANNELS, (g + 1) * PUBLISHER_CHANNELS);
      publishers.push(
        new FfmpegProcess({
          ffmpegPath: o.ffmpegPath,
          args: ["-hide_banner", "-nostdin", "-loglevel", "error", ...teeLoopArgs(o.clip, group)],
          onStdout: () => undefined,
        }),
      );
      await sleep(stagger);
    }
    // The publishers first: a channel that sends nothing for 5 s after the service starts is down.
    child = (await startChild(o.cli, config, log)).child;
    await sleep(WARMUP_SECONDS * 1000);
    const pubCpu = (): number =>
      publishers.reduce((a, p) => a + (p.pid !== undefined ? (processCpuSeconds(p.pid) ?? 0) : 0), 0);
    const pid = child.pid ?? 0;
    const s0 = await sample(child);
    const t0 = treeUsage(pid);
    const p0 = pubCpu();
    const w0 = performance.now();
    await sleep(o.seconds * 1000);
    const s1 = await sample(child);
    const t1 = treeUsage(pid);
    const p1 = pubCpu();
    const wall = (performance.now() - w0) / 1000;
    if (!t0 || !t1) throw new Error(`the service (pid ${pid}) ended during the run; see ${log}`);
    const decoders = t1.children.length;
    const per = channels * wall;
    const point: CostPoint = {
      mode,
      channels,
      seconds: wall,
      nodeCpu: (t1.cpu - t0.cpu) / per,
      decoderCpu: childrenCpuBetween(t0, t1) / per,
      publisherCpu: (p1 - p0) / per,
      realtime: (s1.mediaSeconds - s0.mediaSeconds) / per,
      promotions: s1.promotions,
      decoderErrors: s1.decoderErrors - s0.decoderErrors,
      nodeRssMiB: t1.rss / MIB,
      nodeHeapMiB: s1.heapUsed / MIB,
      nodeExternalMiB: s1.external / MIB,
      nodeBuffersMiB: s1.arrayBuffers / MIB,
      replayMiB: s1.replayBytes / MIB,
      loopDelayMaxMs: s1.loopDelayMs.max,
      decoders,
      decoderRssMiB: decoders > 0 ? t1.children.reduce((a, c) => a + c.rss, 0) / decoders / MIB : NaN,
      decoderPssMiB: decoders > 0 ? t1.children.reduce((a, c) => a + c.pss, 0) / decoders / MIB : NaN,
    };
    out.write(
      `  ${mode} x ${channels}: ${cpuPerChannelHour(point).toFixed(0)} CPU s per channel-hour ` +
        `(Node ${(point.nodeCpu * 3600).toFixed(0)}, decoders ${(point.decoderCpu * 3600).toFixed(0)}), ` +
        `${pssPerChannel(point).toFixed(1)} MiB per channel (Node RSS ${point.nodeRssMiB.toFixed(0)} MiB, ` +
        `heap ${point.nodeHeapMiB.toFixed(0)} MiB, buffers ${(point.nodeBuffersMiB / channels).toFixed(1)} MiB per channel ` +
        `of which replay windows ${(point.replayMiB / channels).toFixed(1)}; ${decoders} decoders, ${point.decoderRssMiB.toFixed(1)} MiB RSS / ` +
        `${point.decoderPssMiB.toFixed(1)} MiB PSS each); real time ${point.realtime.toFixed(3)}, ` +
        `promotions ${point.promotions}, decoder errors ${point.decoderErrors}; ` +
        `service event-loop delay p99 ${s1.loopDelayMs.p99.toFixed(0)} ms, max ${s1.loopDelayMs.max.toFixed(0)} ms\n`,
    );
    return point;
  } finally {
    if (child) await stopChild(child);
    await Promise.all(publishers.map((p) => p.close()));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.send({ kind: "stop" });
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

export async function runCostCurve(o: CostCurveOptions, out: NodeJS.WritableStream): Promise<CostPoint[]> {
  mkdirSync(o.dir, { recursive: true });
  out.write(
    `cost curve: the service with N live channels of ${o.clip} (UDP, -c copy publishers), ` +
      `light at ${o.light.join(", ")}, full at ${o.full.join(", ") || "none"}; ${o.seconds} s measured per point after ${WARMUP_SECONDS} s\n`,
  );
  const points: CostPoint[] = [];
  for (const [mode, counts] of [
    ["light", o.light],
    ["full", o.full],
  ] as const) {
    for (const n of counts) points.push(await measurePoint(o, mode, n, out));
  }
  // The points themselves, for re-plotting or comparing runs.
  writeFileSync(resolve(o.dir, "cost-curve.json"), JSON.stringify(points, null, 2));
  const table = costTable(points);
  out.write(`\n${table}\n`);
  mkdirSync(o.docs, { recursive: true });
  const when = new Date().toISOString().slice(0, 16).replace("T", " ");
  writeFileSync(
    resolve(o.docs, "cost-curve.svg"),
    costSvg(points, `${o.command}, ${when} UTC, ${o.seconds} s per point`),
  );
  writeFileSync(
    resolve(o.docs, "cost-curve.md"),
    [
      `# Cost per channel as channels grow`,
      ``,
      `Made by \`${o.command}\` on ${when} UTC (${o.seconds} s measured per point). See BENCHMARKS.md for how to read it.`,
      ``,
      `![cost curve](cost-curve.svg)`,
      ``,
      table,
    ].join("\n"),
  );
  out.write(`cost curve: wrote ${resolve(o.docs, "cost-curve.md")} and cost-curve.svg\n\n`);
  return points;
}
