/** `streamqc analyze INPUT [--duration S] [--format text|json|jsonl] [--config FILE]` */
import { ffmpegPathFrom } from "../config/config.js";
import { loadAnalysisConfig } from "../config/service-config.js";
import { StreamqcError } from "../errors.js";
import type { DecodeChoice } from "../ingest/decode-policy.js";
import { locateFfmpeg } from "../ingest/ffmpeg-binary.js";
import { analyzeInput } from "../monitor/analyze.js";
import type { AnalyzeOptions, Io } from "./command-options.js";
import { progressBar, renderIncidents, type Format } from "./output.js";

export async function runAnalyze(input: string, values: AnalyzeOptions, io: Io): Promise<number> {
  const { err, out } = io;
  // commander has checked it against FORMATS.
  const format = values.format as Format;
  const duration = values.duration === undefined ? undefined : Number(values.duration);
  if (duration !== undefined && !(duration > 0)) {
    throw new StreamqcError("SQM_ERR_USAGE", `--duration must be a positive number of seconds`);
  }
  const threads = values.threads === undefined ? 0 : Number(values.threads);
  if (!Number.isInteger(threads) || threads < 0) {
    throw new StreamqcError("SQM_ERR_USAGE", `--threads must be a whole number (0: ffmpeg decides)`);
  }
  const config = loadAnalysisConfig(values.config);
  // commander has checked --mode against full|light.
  const mode = (values.mode ?? config.profile?.mode ?? "full") as "full" | "light";
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
      // commander has checked --decode against DECODE_CHOICES.
      ...(values.decode ? { decodePolicy: values.decode as DecodeChoice } : {}),
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
    if (values.cpuReport) {
      const cpu = process.cpuUsage();
      err.write(
        JSON.stringify({
          nodeCpuSeconds: (cpu.user + cpu.system) / 1e6,
          detectorCpuMs: result.detectorCpuMs,
          mediaSeconds: result.mediaDuration,
          ...(result.promotions ? { promotions: result.promotions } : {}),
          ...(result.decoding ? { decoding: result.decoding } : {}),
        }) + "\n",
      );
    }
    return 0;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
