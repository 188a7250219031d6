/**
 * The light-mode benchmark (`bench --light`, and part of `npm run bench`): what one 1080p
 * channel costs in light mode, in CPU seconds per minute of media including Node, against
 * decoding alone measured in the same run: the keyframes plus the audio (all that light mode
 * decodes, `-skip_frame nokey`) and every frame. Interleaved rounds, medians.
 *
 * A single `analyze` pays a process's fixed costs once (Node's start-up, JIT warm-up of the
 * detectors, ffmpeg's start-up and probing); a service pays them once for all its channels.
 * So the same analyze also runs on the clip's first seconds, and the difference gives the
 * cost of each further minute: the figure a long-running channel costs.
 */
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { measure, median, type Measured } from "./bench-measure.js";

export interface LightBenchOptions {
  readonly ffmpegPath: string;
  /** The bench clip (1080p25 H.264 + AAC). */
  readonly clip: string;
  /** Its length, seconds. */
  readonly duration: number;
  readonly rounds: number;
  /** The CLI entry (dist/cli/main.js). */
  readonly cli: string;
  readonly dir: string;
}

export interface LightBenchResult {
  /** Medians, CPU seconds per minute of media. */
  readonly decodeFull: number;
  readonly decodeKeyframes: number;
  readonly light: number;
  readonly lightNode: number;
  /** One process's fixed cost (the short clip's whole run), CPU seconds. */
  readonly startup: number;
  /** Each further minute: (60 s run - short run) per minute of the difference. */
  readonly marginal: number;
  readonly marginalNode: number;
  readonly detectorMs: Readonly<Record<string, number>>;
}

/** Seconds of the start-up clip: enough for the first keyframes and audio blocks. */
const SHORT_SECONDS = 2;

interface AnalyzeRun extends Measured {
  readonly detectorMs: Readonly<Record<string, number>>;
}

export async function runLightBench(
  o: LightBenchOptions,
  out: NodeJS.WritableStream,
): Promise<LightBenchResult> {
  const short = resolve(o.dir, `clip-light-start-${SHORT_SECONDS}s.ts`);
  if (!existsSync(short)) {
    // Cut without re-encoding: the same stream, from its first keyframe.
    const r = spawnSync(
      o.ffmpegPath,
      ["-hide_banner", "-v", "error", "-y", "-i", o.clip, "-t", String(SHORT_SECONDS), "-c", "copy", short],
      { stdio: "inherit" },
    );
    if (r.status !== 0) throw new Error(`cannot cut ${o.clip} to ${short}`);
  }
  const ffmpeg1 = [o.ffmpegPath, "-hide_banner", "-nostdin", "-threads", "1"];
  const analyze = async (label: string, clip: string): Promise<AnalyzeRun> => {
    const m = await measure(label, [
      process.execPath,
      o.cli,
      "analyze",
      clip,
      "--mode",
      "light",
      "--threads",
      "1",
      "--format",
      "json",
      "--cpu-report",
    ]);
    const report = /^\{"nodeCpuSeconds".*$/m.exec(m.stderr)?.[0];
    const parsed = report
      ? (JSON.parse(report) as { nodeCpuSeconds: number; detectorCpuMs: Record<string, number> })
      : { nodeCpuSeconds: NaN, detectorCpuMs: {} };
    return { ...m, nodeCpu: parsed.nodeCpuSeconds, detectorMs: parsed.detectorCpuMs };
  };
  out.write(
    `light bench: ${o.duration} s clip, ${o.rounds} interleaved rounds, medians; CPU s per minute of media\n`,
  );
  const runs = {
    full: [] as Measured[],
    key: [] as Measured[],
    light: [] as AnalyzeRun[],
    start: [] as AnalyzeRun[],
  };
  const perMin = (cpu: number, seconds = o.duration): number => (cpu * 60) / seconds;
  for (let round = 0; round < o.rounds; round++) {
    runs.full.push(await measure("decode-full", [...ffmpeg1, "-i", o.clip, "-f", "null", "-"]));
    runs.key.push(
      await measure("decode-keyframes", [
        ...ffmpeg1,
        "-skip_frame",
        "nokey",
        "-i",
        o.clip,
        "-f",
        "null",
        "-",
      ]),
    );
    runs.light.push(await analyze("analyze-light", o.clip));
    runs.start.push(await analyze("analyze-light-start", short));
    const [f, k, l, s] = [runs.full, runs.key, runs.light, runs.start].map((r) => r[round]!);
    out.write(
      `  round ${round + 1}: decode every frame ${perMin(f!.cpu).toFixed(2)}, keyframes + audio ${perMin(k!.cpu).toFixed(2)}, ` +
        `analyze --mode light ${perMin(l!.cpu).toFixed(2)} (Node ${perMin(l!.nodeCpu ?? NaN).toFixed(2)}); ` +
        `start-up run (${SHORT_SECONDS} s clip) ${s!.cpu.toFixed(2)} CPU s\n`,
    );
  }
  const med = (rs: readonly Measured[], pick: (m: Measured) => number = (m) => m.cpu): number =>
    median(rs.map(pick));
  const light = perMin(med(runs.light));
  const lightNode = perMin(med(runs.light, (m) => m.nodeCpu ?? NaN));
  const startup = med(runs.start);
  const marginalSeconds = o.duration - SHORT_SECONDS;
  // Within each round (runs seconds apart), then the median: the machine's speed drifts.
  const marginal = median(runs.light.map((l, i) => perMin(l.cpu - runs.start[i]!.cpu, marginalSeconds)));
  const marginalNode = median(
    runs.light.map((l, i) => perMin((l.nodeCpu ?? NaN) - (runs.start[i]!.nodeCpu ?? NaN), marginalSeconds)),
  );
  const detectorMs: Record<string, number> = {};
  for (const type of Object.keys(runs.light[0]?.detectorMs ?? {})) {
    detectorMs[type] = median(runs.light.map((r) => r.detectorMs[type] ?? 0));
  }
  const result: LightBenchResult = {
    decodeFull: perMin(med(runs.full)),
    decodeKeyframes: perMin(med(runs.key)),
    light,
    lightNode,
    startup,
    marginal,
    marginalNode,
    detectorMs,
  };
  const key = result.decodeKeyframes;
  const row = (label: string, v: number): string =>
    `| ${label} | ${v.toFixed(2)} | ${(v / key).toFixed(2)} | ${(v / result.decodeFull).toFixed(3)} | ${(60 / v).toFixed(0)} |\n`;
  out.write(
    `\n| run (CPU s per minute of 1080p25 media, medians) | CPU s / min | vs keyframes + audio | vs every frame | channels per core |\n|---|---|---|---|---|\n`,
  );
  out.write(row("`ffmpeg -threads 1 -i CLIP -f null -` (every frame)", result.decodeFull));
  out.write(row("`ffmpeg -threads 1 -skip_frame nokey -i CLIP -f null -` (keyframes + audio)", key));
  out.write(row("`streamqc analyze --mode light --threads 1` (ffmpeg + Node)", light));
  out.write(row("  of which Node", lightNode));
  out.write(row("light, each further minute (60 s run minus start-up run)", marginal));
  out.write(row("  of which Node", marginalNode));
  const detectors = Object.entries(detectorMs)
    .filter(([, ms]) => ms >= 1)
    .sort((a, b) => b[1] - a[1])
    .map(([t, ms]) => `${t} ${ms.toFixed(0)}`)
    .join(", ");
  out.write(
    `\nlight mode, target <= 1.5 CPU s per minute including Node: one analyze ${light.toFixed(2)}; ` +
      `a process's start-up (analyze of ${SHORT_SECONDS} s) ${startup.toFixed(2)} CPU s; each further minute ${marginal.toFixed(2)}\n` +
      `detectors' own time in the light run, ms: ${detectors}\n\n`,
  );
  return result;
}
