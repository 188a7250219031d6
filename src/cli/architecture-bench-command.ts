/**
 * `streamqc bench --architecture [--streams N] [--seconds S] [--chunk S] [--invoke warm|cold]
 * [--format text|json] [--keep]`: the in-process design against the staged (serverless-style)
 * design on the same live inputs, priced per stream-hour (src/bench/architecture/).
 * `--architecture-child ROLE` is internal: the entry of the benchmark's child processes.
 */
import { resolve } from "node:path";
import { ffmpegPathFrom } from "../config/config.js";
import { StreamqcError } from "../errors.js";
import { checkFfmpeg } from "../ingest/ffmpeg-binary.js";
import { runArchitectureBench } from "../bench/architecture/architecture-bench.js";
import { formatArchitectureReport } from "../bench/architecture/architecture-report.js";
import type { ChildRole } from "../bench/architecture/child-launcher.js";
import type { BenchOptions, Io } from "./command-options.js";

function positive(name: string, text: string, integer: boolean): number {
  const n = Number(text);
  if (!(Number.isFinite(n) && n > 0 && (!integer || Number.isInteger(n)))) {
    throw new StreamqcError(
      "SQM_ERR_USAGE",
      `--${name} must be a ${integer ? "whole " : ""}number greater than 0`,
    );
  }
  return n;
}

async function runChild(role: string): Promise<number> {
  switch (role as ChildRole) {
    case "function":
      return (await import("../bench/architecture/function-worker.js")).runFunctionWorker();
    case "converter":
      return (await import("../bench/architecture/converter-stage.js")).runConverterChild();
    case "in-process":
      return (await import("../bench/architecture/in-process-stage.js")).runInProcessChild();
    case "object-store":
      return (await import("../bench/architecture/object-store-stage.js")).runObjectStoreChild();
    default:
      throw new StreamqcError("SQM_ERR_USAGE", `unknown benchmark child role "${role}"`);
  }
}

export async function runArchitectureBenchCommand(values: BenchOptions, io: Io): Promise<number> {
  if (values.architectureChild !== undefined) return runChild(values.architectureChild);
  if (values.format !== "text" && values.format !== "json") {
    throw new StreamqcError("SQM_ERR_USAGE", "--format must be text or json");
  }
  if (values.invoke !== "warm" && values.invoke !== "cold") {
    throw new StreamqcError("SQM_ERR_USAGE", "--invoke must be warm or cold");
  }
  const seconds = positive("seconds", values.seconds, false);
  if (seconds < 10) throw new StreamqcError("SQM_ERR_USAGE", "--seconds must be at least 10");
  const chunkSeconds = positive("chunk", values.chunk, false);
  if (chunkSeconds > seconds) throw new StreamqcError("SQM_ERR_USAGE", "--chunk must not exceed --seconds");
  const ffmpegPath = ffmpegPathFrom({});
  checkFfmpeg(ffmpegPath);
  const result = await runArchitectureBench({
    streams: positive("streams", values.streams ?? "2", true),
    seconds,
    chunkSeconds,
    invoke: values.invoke,
    ffmpegPath,
    keep: values.keep,
    // This program's own entry runs the children (main.js, or main.ts under tsx).
    child: {
      args: [
        ...process.execArgv,
        process.argv[1] ?? resolve(import.meta.dirname, "main.js"),
        "bench",
        "--architecture-child",
      ],
    },
    log: (line) => io.err.write(`${line}\n`),
  });
  io.out.write(
    values.format === "json" ? JSON.stringify(result, null, 2) + "\n" : formatArchitectureReport(result),
  );
  return 0;
}
