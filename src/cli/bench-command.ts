/**
 * `streamqc bench` (npm run bench): measures, in one run on the same clip, analyze with every
 * detector against FFmpeg decoding alone (the limit) and against FFmpeg's own detector chain.
 * All single-threaded. Reports CPU time, times realtime per core and ratios; asserts nothing.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { ffmpegPathFrom } from "../config/config.js";
import { checkFfmpeg } from "../ingest/ffmpeg-binary.js";
import { generateClip } from "../gen/clip-generator.js";

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

export async function runBench(argv: string[], out: NodeJS.WriteStream): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { duration: { type: "string", default: "60" }, size: { type: "string", default: "1920x1080" } },
  });
  const duration = Number(values.duration);
  const [w, h] = values.size.split("x").map(Number);
  const ffmpeg = ffmpegPathFrom({});
  checkFfmpeg(ffmpeg);
  mkdirSync(".bench", { recursive: true });
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
  out.write(`bench: measuring (single-threaded, same clip, one run each)\n`);
  const decode = await measure("decode-alone", [
    ffmpeg,
    "-hide_banner",
    "-nostdin",
    "-threads",
    "1",
    "-filter_threads",
    "1",
    "-i",
    clip,
    "-f",
    "null",
    "-",
  ]);
  const chain = await measure("ffmpeg-detectors", [
    ffmpeg,
    "-hide_banner",
    "-nostdin",
    "-threads",
    "1",
    "-filter_threads",
    "1",
    "-i",
    clip,
    "-vf",
    "freezedetect,blackdetect",
    "-af",
    "silencedetect",
    "-f",
    "null",
    "-",
  ]);
  const analyze = await measure("analyze", [
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
  const nodeCpu = Number(/"nodeCpuSeconds":([\d.]+)/.exec(analyze.stderr)?.[1] ?? NaN);
  const rows: Measured[] = [decode, chain, { ...analyze, nodeCpu }];
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
  return 0;
}
