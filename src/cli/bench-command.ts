/**
 * `streamqc bench` (npm run bench): measures, in one run on the same clip, analyze with every
 * detector against FFmpeg decoding alone (the limit) and against FFmpeg's own detector chain.
 * All single-threaded. Reports CPU time, times realtime per core and ratios; asserts nothing.
 * Then the service benchmark (service-bench.ts): N live streams in one service process.
 * `--service` runs the service benchmark alone.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { ffmpegPathFrom } from "../config/config.js";
import { StreamqcError } from "../errors.js";
import { checkFfmpeg } from "../ingest/ffmpeg-binary.js";
import { generateClip } from "../gen/clip-generator.js";
import { runServiceBench, runServiceBenchChild } from "./service-bench.js";
import type { BenchOptions, Io } from "./command-options.js";

interface Measured {
  readonly label: string;
  readonly wall: number;
  readonly cpu: number;
  readonly nodeCpu?: number;
}

/**
 * Runs a command and returns its wall time and the CPU time of it and every descendant it
 * waited for, read with bash's `times` builtin (RUSAGE_CHILDREN). The command is passed as
 * positional arguments ("$@"), never interpolated into the script.
 */
export function measure(label: string, argv: readonly string[]): Promise<Measured & { stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const errFile = resolve(".bench", `${label.replace(/\W+/g, "-")}.err`);
    const child = spawn(
      "bash",
      ["-c", '"${@:2}" >/dev/null 2>"$1"; s=$?; cat "$1" >&2; times; exit $s', "bench", errFile, ...argv],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      const wall = (performance.now() - t0) / 1000;
      if (code !== 0) {
        reject(new Error(`${label} failed (${String(code)}): ${err.slice(-500)}`));
        return;
      }
      // `times` prints the shell's own user/sys, then its children's.
      const lines = out.trim().split("\n");
      const kids = lines[lines.length - 1] ?? "";
      const secs = [...kids.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
      const cpu = (secs[0] ?? 0) + (secs[1] ?? 0);
      resolvePromise({ label, wall, cpu, stderr: err });
    });
  });
}

export async function runBench(values: BenchOptions, io: Io): Promise<number> {
  const { out } = io;
  if (values.fleet) return (await import("./fleet-bench-command.js")).runFleetBenchCommand(values, io);
  if (values.architecture || values.architectureChild !== undefined) {
    return (await import("./architecture-bench-command.js")).runArchitectureBenchCommand(values, io);
  }
  if (values.serviceChild !== undefined) {
    return runServiceBenchChild(values.serviceChild, values.serviceLog ?? "/dev/null");
  }
  const ffmpeg = ffmpegPathFrom({});
  checkFfmpeg(ffmpeg);
  mkdirSync(".bench", { recursive: true });
  const streams = Number(values.streams ?? "16");
  const serviceSeconds = Number(values.serviceSeconds);
  const baselineSeconds = Number(values.baselineSeconds);
  const rounds = Number(values.rounds);
  for (const [name, v] of [
    ["--rounds", rounds],
    ["--streams", streams],
    ["--service-seconds", serviceSeconds],
    ["--baseline-seconds", baselineSeconds],
  ] as const) {
    if (!(Number.isInteger(v) && v > 0)) {
      throw new StreamqcError("SQM_ERR_USAGE", `${name} must be a whole number greater than 0`);
    }
  }
  const service = (): Promise<unknown> =>
    runServiceBench(
      {
        ffmpegPath: ffmpeg,
        streams,
        seconds: serviceSeconds,
        baselineSeconds,
        // This process's own entry script (main.js, or main.ts under tsx) runs the child service.
        cli: process.argv[1] ?? resolve(import.meta.dirname, "main.js"),
        dir: resolve(".bench"),
      },
      out,
    );
  if (values.service) {
    await service();
    return 0;
  }
  const duration = Number(values.duration);
  const [w, h] = values.size.split("x").map(Number);
  const clip = resolve(".bench", `clip-${values.size}-${duration}s.ts`);
  if (!existsSync(clip)) {
    out.write(`bench: generating ${duration} s ${values.size} 25 fps H.264 clip ${clip}\n`);
    await generateClip(clip, {
      duration,
      width: w ?? 1920,
      height: h ?? 1080,
      fps: 25,
      defects: [],
      ffmpegPath: ffmpeg,
    });
  }
  const cli = resolve(import.meta.dirname, "main.js");
  out.write(`bench: measuring (single-threaded, same clip, ${rounds} interleaved rounds, medians)\n`);
  // Both FFmpeg runs single-threaded, like analyze --threads 1: the same input, one core.
  const ffmpegOneThread = [
    ffmpeg,
    "-hide_banner",
    "-nostdin",
    "-threads",
    "1",
    "-filter_threads",
    "1",
    "-i",
    clip,
  ];
  const runs: { decode: Measured[]; chain: Measured[]; analyze: Measured[] } = {
    decode: [],
    chain: [],
    analyze: [],
  };
  for (let round = 0; round < rounds; round++) {
    runs.decode.push(await measure("decode-alone", [...ffmpegOneThread, "-f", "null", "-"]));
    runs.chain.push(
      await measure("ffmpeg-detectors", [
        ...ffmpegOneThread,
        "-vf",
        "freezedetect,blackdetect",
        "-af",
        "silencedetect",
        "-f",
        "null",
        "-",
      ]),
    );
    const analyzed = await measure("analyze", [
      process.execPath,
      cli,
      "analyze",
      clip,
      "--threads",
      "1",
      "--format",
      "json",
      "--cpu-report",
    ]);
    const nodeCpu = Number(/"nodeCpuSeconds":([\d.]+)/.exec(analyzed.stderr)?.[1] ?? NaN);
    runs.analyze.push({ ...analyzed, nodeCpu });
    out.write(
      `  round ${round + 1}: CPU s decode ${runs.decode[round]!.cpu.toFixed(2)}, ` +
        `FFmpeg chain ${runs.chain[round]!.cpu.toFixed(2)}, analyze ${analyzed.cpu.toFixed(2)} ` +
        `(Node ${nodeCpu.toFixed(2)}); analyze throughput vs decode alone ` +
        `${(runs.decode[round]!.cpu / analyzed.cpu).toFixed(3)}\n`,
    );
  }
  // The machine's speed drifts between rounds: a ratio of runs minutes apart mixes that drift
  // in, so the ratios are also taken within each round (runs seconds apart) and their median given.
  const roundRatio = median(runs.analyze.map((a, i) => runs.decode[i]!.cpu / a.cpu));
  const roundChainRatio = median(runs.chain.map((c, i) => runs.decode[i]!.cpu / c.cpu));
  const roundNodeShare = median(runs.analyze.map((a) => (a.nodeCpu ?? NaN) / a.cpu));
  const decode = medianRun("decode-alone", runs.decode);
  const chain = medianRun("ffmpeg-detectors", runs.chain);
  const analyze = medianRun("analyze", runs.analyze);
  const nodeCpu = analyze.nodeCpu ?? NaN;
  const rows: Measured[] = [decode, chain, analyze];
  const rt = (m: Measured): number => duration / m.cpu;
  out.write(
    `\n| run | wall s | CPU s | × realtime per core | throughput vs decode alone |\n|---|---|---|---|---|\n`,
  );
  for (const m of rows) {
    out.write(
      `| ${m.label} | ${m.wall.toFixed(2)} | ${m.cpu.toFixed(2)} | ${rt(m).toFixed(2)} | ${(decode.cpu / m.cpu).toFixed(3)} |\n`,
    );
  }
  out.write(
    `\nanalyze vs FFmpeg's detector chain: ${(chain.cpu / analyze.cpu).toFixed(2)}× the throughput\n`,
  );
  out.write(
    `Node's own CPU in analyze: ${nodeCpu.toFixed(2)} s = ${((100 * nodeCpu) / analyze.cpu).toFixed(1)}% of its total\n`,
  );
  out.write(
    `Within each round, median: analyze ${roundRatio.toFixed(3)} and FFmpeg's chain ` +
      `${roundChainRatio.toFixed(3)} of decode-alone throughput; Node ${(100 * roundNodeShare).toFixed(1)}% of analyze\n`,
  );
  out.write("\n");
  if (!values.skipService) await service();
  return 0;
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The median of each figure over the rounds (Node's CPU with its own median). */
function medianRun(label: string, runs: readonly Measured[]): Measured {
  const node = runs.map((r) => r.nodeCpu).filter((x): x is number => x !== undefined);
  return {
    label,
    wall: median(runs.map((r) => r.wall)),
    cpu: median(runs.map((r) => r.cpu)),
    ...(node.length > 0 ? { nodeCpu: median(node) } : {}),
  };
}
