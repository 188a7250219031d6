import { spawn } from "node:child_process";

/** Runs ffmpeg with an argument array; resolves stdout bytes and stderr text. */
export function runFfmpeg(args: readonly string[]): Promise<{ stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("ffmpeg", ["-hide_banner", "-nostdin", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve({ stdout: Buffer.concat(out), stderr: err });
      else reject(new Error(`ffmpeg exited ${code}: ${err.slice(-2000)}`));
    });
  });
}

/** Decodes `input` (file or lavfi graph) to interleaved f32le PCM at its own rate and layout. */
export async function decodePcm(
  inputArgs: readonly string[],
  sampleRate: number,
  channels: number,
): Promise<Float32Array> {
  const { stdout } = await runFfmpeg([
    ...inputArgs,
    "-vn",
    "-ac",
    String(channels),
    "-ar",
    String(sampleRate),
    "-f",
    "f32le",
    "-c:a",
    "pcm_f32le",
    "pipe:1",
  ]);
  const copy = new Uint8Array(stdout.byteLength);
  copy.set(stdout);
  return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
}

export interface Ebur128Summary {
  readonly integrated: number;
  readonly lra: number;
  readonly truePeak: number;
}

/** What FFmpeg's `ebur128=peak=true` filter prints in its summary for the same input. */
export async function ffmpegEbur128(inputArgs: readonly string[]): Promise<Ebur128Summary> {
  const { stderr } = await runFfmpeg([...inputArgs, "-vn", "-af", "ebur128=peak=true", "-f", "null", "-"]);
  const summary = stderr.slice(stderr.lastIndexOf("Summary:"));
  const num = (re: RegExp): number => {
    const m = re.exec(summary);
    if (!m?.[1]) throw new Error(`ebur128 summary lacks ${re.source}: ${summary}`);
    return Number(m[1]);
  };
  return {
    integrated: num(/I:\s+(-?[\d.]+|-inf) LUFS/),
    lra: num(/LRA:\s+(-?[\d.]+) LU/),
    truePeak: num(/Peak:\s+(-?[\d.]+|-inf) dBFS/),
  };
}
