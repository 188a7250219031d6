/**
 * `streamqc bench` (npm run bench): measures, in one run on the same clip, analyze with every
 * detector against FFmpeg decoding alone (the limit) and against FFmpeg's own detector chain,
 * and analyze with its default decode policy (`auto`: every frame, as the default profile has
 * A/V sync on) against `--decode refs` (reference frames only) and `--decode exact` (every
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
  const runs: {
    decode: Measured[];
    chain: Measured[];
    analyze: Measured[];
    refs: Measured[];
    exact: Measured[];
  } = { decode: [], chain: [], analyze: [], refs: [], exact: [] };
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
  const analyzeRun = async (label: string, extra: readonly string[]): Promise<Measured> => {
    const analyzed = await measure(label, [...analyzeArgs, ...extra]);
    const nodeCpu = Number(/"nodeCpuSeconds":([\d.]+)/.exec(analyzed.stderr)?.[1] ?? NaN);
    return { ...analyzed, nodeCpu };
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
    // The default decode policy (auto: every frame, deblocking skipped on unreferenced frames,
    // since A/V sync is on), reference frames only (`refs`: what auto takes without A/V sync),
    // and every frame decoded exactly as encoded (`exact`, the decoder before any policy).
    const analyzed = await analyzeRun("analyze", []);
    runs.analyze.push(analyzed);
    const refs = await analyzeRun("analyze-refs", ["--decode", "refs"]);
    runs.refs.push(refs);
    const exact = await analyzeRun("analyze-exact", ["--decode", "exact"]);
    runs.exact.push(exact);
    const d = runs.decode[round]!.cpu;
    const describe = (m: Measured): string =>
      `${m.cpu.toFixed(2)} (Node ${(m.nodeCpu ?? NaN).toFixed(2)}, ffmpeg ${(m.cpu - (m.nodeCpu ?? NaN)).toFixed(2)})`;
    out.write(
      `  round ${round + 1}: CPU s decode ${d.toFixed(2)}, FFmpeg chain ${runs.chain[round]!.cpu.toFixed(2)}, ` +
        `analyze ${describe(analyzed)}, --decode refs ${describe(refs)}, --decode exact ${describe(exact)}; ` +
        `throughput vs decode alone: analyze ${(d / analyzed.cpu).toFixed(3)}, refs ${(d / refs.cpu).toFixed(3)}, ` +
        `exact ${(d / exact.cpu).toFixed(3)}\n`,
    );
  }
  // The machine's speed drifts between rounds: a ratio of runs minutes apart mixes that drift
  // in, so the ratios are also taken within each round (runs seconds apart) and their median given.
  const roundRatio = median(runs.analyze.map((a, i) => runs.decode[i]!.cpu / a.cpu));
  const roundChainRatio = median(runs.chain.map((c, i) => runs.decode[i]!.cpu / c.cpu));
  const roundExactRatio = median(runs.exact.map((e, i) => runs.decode[i]!.cpu / e.cpu));
  const roundRefsRatio = median(runs.refs.map((r, i) => runs.decode[i]!.cpu / r.cpu));
  const roundRefsNodeShare = median(runs.refs.map((r) => (r.nodeCpu ?? NaN) / r.cpu));
  // FFmpeg's side of a run: its CPU less Node's own, against decoding alone in the same round.
  const ffmpegSide = (list: readonly Measured[]): number =>
    median(list.map((m, i) => (m.cpu - (m.nodeCpu ?? NaN)) / runs.decode[i]!.cpu));
  const roundNodeShare = median(runs.analyze.map((a) => (a.nodeCpu ?? NaN) / a.cpu));
  const decode = medianRun("decode-alone", runs.decode);
  const chain = medianRun("ffmpeg-detectors", runs.chain);
  const analyze = medianRun("analyze", runs.analyze);
  const refs = medianRun("analyze --decode refs", runs.refs);
  const exact = medianRun("analyze --decode exact", runs.exact);
  const nodeCpu = analyze.nodeCpu ?? NaN;
  const rows: Measured[] = [decode, chain, analyze, refs, exact];
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
  out.write(
    `Within each round, median: analyze --decode exact ${roundExactRatio.toFixed(3)} of decode-alone throughput ` +
      `(the decode policy's saving: analyze at ${(roundRatio / roundExactRatio).toFixed(3)}× exact's throughput)\n`,
  );
  out.write(
    `Within each round, median: analyze --decode refs ${roundRefsRatio.toFixed(3)} of decode-alone throughput ` +
      `(${(roundRefsRatio / roundRatio).toFixed(3)}× the default's); Node ${(100 * roundRefsNodeShare).toFixed(1)}% of it\n`,
  );
  out.write(
    `FFmpeg's side alone (CPU less Node's), per round against decode alone, median: ` +
      `default ${ffmpegSide(runs.analyze).toFixed(3)}×, refs ${ffmpegSide(runs.refs).toFixed(3)}×, ` +
      `exact ${ffmpegSide(runs.exact).toFixed(3)}× the decode's CPU\n`,
  );
  out.write("\n");
  if (!values.skipLight) await light();
  if (!values.skipService) await service();
  if (!values.skipCurve) await curve();
  return 0;
}
