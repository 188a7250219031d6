/**
 * `streamqc bench` (npm run bench): measures, in one run on the same clip, analyze with every
 * detector against FFmpeg decoding alone (the limit) and against FFmpeg's own detector chain,
 * and analyze with its default decode policy (`auto`: reference frames, and every frame once A/V
 * sync sees a sync pattern) against `--decode fast` (every frame) and `--decode exact` (every
 * frame as encoded).
 * All single-threaded. Reports CPU time, times realtime per core and ratios; asserts nothing.
 * Then light mode against decoding alone (light-bench.ts), the service benchmark
 * (service-bench.ts): N live streams in one service process, and the cost curve
 * (cost-curve-bench.ts): CPU and memory per channel at 1 to 64 channels. `--service`,
 * `--light` and `--curve` run one part alone.
 */
import { existsSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { ffmpegPathFrom } from "../config/config.js";
import { StreamqcError } from "../errors.js";
import { checkFfmpeg } from "../ingest/ffmpeg-binary.js";
import { generateClip } from "../gen/clip-generator.js";
import { measure, median, medianRun, type Measured } from "./bench-measure.js";
import { runCostCurve } from "./cost-curve-bench.js";
import { runLightBench } from "./light-bench.js";
import { runServiceBench, runServiceBenchChild } from "./service-bench.js";
import type { BenchOptions, Io } from "./command-options.js";

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
  const curveSeconds = Number(values.curveSeconds);
  if (!(Number.isInteger(curveSeconds) && curveSeconds > 0)) {
    throw new StreamqcError("SQM_ERR_USAGE", "--curve-seconds must be a whole number greater than 0");
  }
  const counts = (name: string, list: string): number[] => {
    const ns = list.trim() === "" ? [] : list.split(",").map((x) => Number(x.trim()));
    if (!ns.every((n) => Number.isInteger(n) && n > 0 && n <= 500)) {
      throw new StreamqcError(
        "SQM_ERR_USAGE",
        `${name} must be a comma-separated list of channel counts 1..500`,
      );
    }
    return ns;
  };
  const curveLight = counts("--curve-light", values.curveLight);
  const curveFull = counts("--curve-full", values.curveFull);
  const light = (): Promise<unknown> =>
    runLightBench({ ffmpegPath: ffmpeg, clip, duration, rounds, cli, dir: resolve(".bench") }, out);
  const curve = (): Promise<unknown> =>
    runCostCurve(
      {
        ffmpegPath: ffmpeg,
        clip,
        light: curveLight,
        full: curveFull,
        seconds: curveSeconds,
        cli: process.argv[1] ?? cli,
        dir: resolve(".bench"),
        docs: resolve("docs"),
        command:
          `streamqc bench --curve --curve-light ${curveLight.join(",")} ` +
          `--curve-full '${curveFull.join(",")}' --curve-seconds ${curveSeconds}`,
      },
      out,
    );
  if (values.light) {
    await light();
    return 0;
  }
  if (values.curve) {
    await curve();
    return 0;
  }
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
  /**
   * Analyze with every detector under each decode policy: the default (`auto`: reference
   * frames, every frame only once A/V sync sees a sync pattern, which this clip has not),
   * every frame (`fast`: what auto decodes for a live input with A/V sync, and for a file once
   * A/V sync asks), and every frame decoded exactly as encoded (`exact`, the decoder before any
   * policy).
   */
  const variants = [
    { key: "auto", label: "analyze (default: auto)", args: [] as string[] },
    { key: "fast", label: "analyze --decode fast", args: ["--decode", "fast"] },
    { key: "exact", label: "analyze --decode exact", args: ["--decode", "exact"] },
  ] as const;
  const runs = {
    decode: [] as Measured[],
    chain: [] as Measured[],
    analyze: Object.fromEntries(variants.map((v) => [v.key, [] as Measured[]])) as Record<
      (typeof variants)[number]["key"],
      Measured[]
    >,
  };
  const analyzeArgs = [
    process.execPath,
    cli,
    "analyze",
    clip,
    "--threads",
    "1",
    "--format",
    "json",
    "--cpu-report",
  ];
  let autoDecoding = "";
  const analyzeRun = async (label: string, extra: readonly string[]): Promise<Measured> => {
    const analyzed = await measure(label, [...analyzeArgs, ...extra]);
    const nodeCpu = Number(/"nodeCpuSeconds":([\d.]+)/.exec(analyzed.stderr)?.[1] ?? NaN);
    if (extra.length === 0) autoDecoding = /"decoding":(\{[^}]*\})/.exec(analyzed.stderr)?.[1] ?? "";
    return { ...analyzed, nodeCpu };
  };
  const describe = (m: Measured, d: number): string =>
    `${m.cpu.toFixed(2)} (Node ${(m.nodeCpu ?? NaN).toFixed(2)}, ffmpeg ${(m.cpu - (m.nodeCpu ?? NaN)).toFixed(2)}; ` +
    `${(d / m.cpu).toFixed(3)} of decode alone)`;
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
    const d = runs.decode[round]!.cpu;
    const parts = [`decode ${d.toFixed(2)}`, `FFmpeg chain ${runs.chain[round]!.cpu.toFixed(2)}`];
    for (const v of variants) {
      const m = await analyzeRun(`analyze-${v.key}`, v.args);
      runs.analyze[v.key].push(m);
      parts.push(`${v.label} ${describe(m, d)}`);
    }
    out.write(`  round ${round + 1}: CPU s ${parts.join(", ")}\n`);
  }
  // The machine's speed drifts between rounds: a ratio of runs minutes apart mixes that drift
  // in, so the ratios are also taken within each round (runs seconds apart) and their median given.
  const inRound = (list: readonly Measured[]): number =>
    median(list.map((m, i) => runs.decode[i]!.cpu / m.cpu));
  // FFmpeg's side of a run: its CPU less Node's own, against decoding alone in the same round.
  const ffmpegSide = (list: readonly Measured[]): number =>
    median(list.map((m, i) => (m.cpu - (m.nodeCpu ?? NaN)) / runs.decode[i]!.cpu));
  const nodeShare = (list: readonly Measured[]): number =>
    median(list.map((m) => (m.nodeCpu ?? NaN) / m.cpu));
  const decode = medianRun("decode-alone", runs.decode);
  const chain = medianRun("ffmpeg-detectors", runs.chain);
  const analyzed = variants.map((v) => medianRun(v.label, runs.analyze[v.key]));
  const rows: Measured[] = [decode, chain, ...analyzed];
  const rt = (m: Measured): number => duration / m.cpu;
  out.write(
    `\n| run | wall s | CPU s | × realtime per core | throughput vs decode alone |\n|---|---|---|---|---|\n`,
  );
  for (const m of rows) {
    out.write(
      `| ${m.label} | ${m.wall.toFixed(2)} | ${m.cpu.toFixed(2)} | ${rt(m).toFixed(2)} | ${(decode.cpu / m.cpu).toFixed(3)} |\n`,
    );
  }
  out.write(`\nThe default decoded this clip as ${autoDecoding || "(not reported)"}\n`);
  out.write(
    `analyze (default) vs FFmpeg's detector chain: ${(chain.cpu / analyzed[0]!.cpu).toFixed(2)}× the throughput\n`,
  );
  out.write(
    `Within each round, median: FFmpeg's chain ${inRound(runs.chain).toFixed(3)} of decode-alone throughput\n`,
  );
  for (const v of variants) {
    const list = runs.analyze[v.key];
    out.write(
      `Within each round, median: ${v.label} ${inRound(list).toFixed(3)} of decode-alone throughput; ` +
        `Node ${(100 * nodeShare(list)).toFixed(1)}% of it; FFmpeg's side ${ffmpegSide(list).toFixed(3)}× the decode's CPU\n`,
    );
  }
  out.write("\n");
  if (!values.skipLight) await light();
  if (!values.skipService) await service();
  if (!values.skipCurve) await curve();
  return 0;
}
