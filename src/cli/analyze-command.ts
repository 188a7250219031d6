/** `streamqc analyze INPUT [--duration S] [--format text|json|jsonl] [--config FILE]` */
import { parseArgs } from "node:util";
import { ffmpegPathFrom } from "../config/config.js";
import { loadAnalysisConfig } from "../config/service-config.js";
import { StreamqcError } from "../errors.js";
import { locateFfmpeg } from "../ingest/ffmpeg-binary.js";
import { analyzeInput } from "../monitor/analyze.js";
import { FORMATS, progressBar, renderIncidents, type Format } from "./output.js";

export const ANALYZE_USAGE =
  "usage: streamqc analyze INPUT [--duration S] [--format text|json|jsonl] [--config FILE] [--threads N] [--stream NAME] [--mode full|light]";

export async function runAnalyze(
  argv: string[],
  out: NodeJS.WriteStream,
  err: NodeJS.WriteStream,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      duration: { type: "string" },
      format: { type: "string", default: "text" },
      config: { type: "string" },
      threads: { type: "string" },
      stream: { type: "string" },
      mode: { type: "string" },
      // For the benchmark: Node's own CPU time, as JSON on stderr.
      "cpu-report": { type: "boolean", default: false },
    },
  });
  const input = positionals[0];
  if (!input || positionals.length > 1) throw new StreamqcError("SQM_ERR_USAGE", ANALYZE_USAGE);
  const format = values.format as Format;
  if (!FORMATS.includes(format)) {
    throw new StreamqcError("SQM_ERR_USAGE", `--format must be one of ${FORMATS.join(", ")}`);
  }
  const duration = values.duration === undefined ? undefined : Number(values.duration);
  if (duration !== undefined && !(duration > 0)) {
    throw new StreamqcError("SQM_ERR_USAGE", `--duration must be a positive number of seconds`);
  }
  const threads = values.threads === undefined ? 0 : Number(values.threads);
  if (!Number.isInteger(threads) || threads < 0) {
    throw new StreamqcError("SQM_ERR_USAGE", `--threads must be a whole number (0: ffmpeg decides)`);
  }
  const config = loadAnalysisConfig(values.config);
  const mode = values.mode ?? config.profile?.mode ?? "full";
  if (mode !== "full" && mode !== "light") {
    throw new StreamqcError("SQM_ERR_USAGE", `--mode must be full or light`);
  }
  const ffmpegPath = ffmpegPathFrom(config);
  // The version is checked on the decoder's own banner (see MediaReader).
  locateFfmpeg(ffmpegPath);
  const showProgress = err.isTTY === true;
  let total = duration ?? 0;
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const result = await analyzeInput(input, {
      ffmpegPath,
      threads,
      mode,
      signal: controller.signal,
      ...(duration !== undefined ? { duration } : {}),
      ...(values.stream ? { stream: values.stream } : {}),
      ...(config.profile ? { profile: config.profile } : {}),
      onEvent: (e) => {
        if (e.kind === "format" && e.duration && !duration) total = e.duration;
      },
      ...(showProgress
        ? { onProgress: (t: number) => total > 0 && err.write(`\r${progressBar(t, total)}`) }
        : {}),
    });
    if (showProgress) err.write(`\r${" ".repeat(80)}\r`);
    out.write(renderIncidents(result.incidents, format, { input, mediaDuration: result.mediaDuration }));
    if (values["cpu-report"]) {
      const cpu = process.cpuUsage();
      err.write(
        JSON.stringify({
          nodeCpuSeconds: (cpu.user + cpu.system) / 1e6,
          detectorCpuMs: result.detectorCpuMs,
          mediaSeconds: result.mediaDuration,
          ...(result.promotions ? { promotions: result.promotions } : {}),
        }) + "\n",
      );
    }
    return 0;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
