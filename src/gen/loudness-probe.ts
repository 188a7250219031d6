/**
 * Loudness and peak measurements of test audio with FFmpeg's own meters (`ebur128`, ITU-R
 * BS.1770 gated integrated loudness and true peak; `astats` sample peak), independent of
 * streamqc's detectors, so that the ground truth of a clip never comes from what is judged.
 */
import { spawn } from "node:child_process";
import { StreamqcError } from "../errors.js";

export interface AudioProbe {
  /** Gated integrated loudness, LUFS (-70 when everything is gated out). */
  readonly integrated: number;
  /** Loudness range, LU. */
  readonly range: number;
  /** True peak, dBTP. */
  readonly truePeak: number;
}

function runForStderr(ffmpegPath: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath, ["-hide_banner", "-nostdin", "-nostats", ...args], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    child.stderr.setEncoding("utf8");
    // Keep only the tail: the summary is printed last.
    child.stderr.on("data", (c: string) => (err = (err + c).slice(-20_000)));
    child.on("error", (e) =>
      reject(new StreamqcError("SQM_ERR_GEN_FAILED", `ffmpeg could not start: ${e.message}`, { cause: e })),
    );
    child.on("close", (code) => {
      if (code === 0) resolve(err);
      else
        reject(new StreamqcError("SQM_ERR_GEN_FAILED", `ffmpeg probe failed (${code}): ${err.slice(-400)}`));
    });
  });
}

function summaryValue(text: string, label: string, unit: string): number {
  const summary = text.slice(text.lastIndexOf("Summary:"));
  const m = new RegExp(`${label}:\\s+(-?[\\d.]+|-inf)\\s+${unit}`).exec(summary);
  if (!m) throw new StreamqcError("SQM_ERR_GEN_FAILED", `ebur128 printed no ${label} value`);
  return m[1] === "-inf" ? -Infinity : Number(m[1]);
}

/**
 * Measures the audio of `input` after `filter` (an audio filter chain applied to its first
 * audio stream, e.g. a trim and a gain), with ebur128's summary.
 */
export async function probeLoudness(
  ffmpegPath: string,
  input: string,
  filter = "anull",
): Promise<AudioProbe> {
  const text = await runForStderr(ffmpegPath, [
    "-loglevel",
    "info",
    "-vn",
    "-i",
    input,
    "-filter_complex",
    `[0:a:0]${filter},aresample=48000,ebur128=peak=true[out]`,
    "-map",
    "[out]",
    "-f",
    "null",
    "-",
  ]);
  return {
    integrated: summaryValue(text, "I", "LUFS"),
    range: summaryValue(text, "LRA", "LU"),
    truePeak: summaryValue(text, "Peak", "dBFS"),
  };
}

/** Sample peak of the audio after `filter`, dBFS (astats' overall Peak level). */
export async function probePeak(ffmpegPath: string, input: string, filter: string): Promise<number> {
  const text = await runForStderr(ffmpegPath, [
    "-loglevel",
    "info",
    "-vn",
    "-i",
    input,
    "-filter_complex",
    `[0:a:0]${filter},astats=measure_perchannel=none:measure_overall=Peak_level[out]`,
    "-map",
    "[out]",
    "-f",
    "null",
    "-",
  ]);
  const m = /Peak level dB:\s+(-?[\d.]+|-inf)/.exec(text.slice(text.lastIndexOf("Overall")));
  if (!m) throw new StreamqcError("SQM_ERR_GEN_FAILED", "astats printed no peak level");
  return m[1] === "-inf" ? -Infinity : Number(m[1]);
}

/**
 * The first video stream's frame rate as ffmpeg reports it ("24 fps", "29.97 fps"), or null
 * without a video stream.
 */
export async function probeFrameRate(ffmpegPath: string, input: string): Promise<number | null> {
  const text = await runForStderr(ffmpegPath, [
    "-loglevel",
    "info",
    "-i",
    input,
    "-t",
    "0",
    "-f",
    "null",
    "-",
  ]);
  const m = /Stream #\d+:\d+.*?: Video: .*?(\d+(?:\.\d+)?) fps/.exec(text);
  return m ? Number(m[1]) : null;
}
