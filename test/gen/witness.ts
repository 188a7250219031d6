/**
 * FFmpeg's own detectors as independent witnesses of what a generated clip contains.
 */
import { spawn } from "node:child_process";

export function runTool(
  cmd: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

export interface Interval {
  start: number;
  end: number;
}

function pairs(text: string, startKey: RegExp, endKey: RegExp): Interval[] {
  const out: Interval[] = [];
  let open: number | undefined;
  for (const line of text.split(/\r?\n|\r/)) {
    const s = startKey.exec(line);
    if (s?.[1] !== undefined) open = Number(s[1]);
    const e = endKey.exec(line);
    if (e?.[1] !== undefined && open !== undefined) {
      out.push({ start: open, end: Number(e[1]) });
      open = undefined;
    }
  }
  return out;
}

/** freezedetect, blackdetect and silencedetect over the whole clip, and per-100 ms audio peaks. */
export async function witness(file: string): Promise<{
  freezes: Interval[];
  blacks: Interval[];
  silences: Interval[];
  peaks: { t: number; dbfs: number }[];
}> {
  const r = await runTool("ffmpeg", [
    "-hide_banner",
    "-nostdin",
    "-i",
    file,
    // -25 dB still sees a frozen picture under fresh noise, and nothing on the moving picture.
    "-vf",
    "freezedetect=n=-25dB:d=1,blackdetect=d=1",
    "-af",
    "silencedetect=n=-60dB:d=1,asetnsamples=n=4800,astats=metadata=1:reset=1,ametadata=mode=print:key=lavfi.astats.Overall.Peak_level",
    "-f",
    "null",
    "-",
  ]);
  if (r.code !== 0) throw new Error(`ffmpeg witness failed: ${r.stderr.slice(-500)}`);
  const text = r.stderr;
  const peaks: { t: number; dbfs: number }[] = [];
  let t: number | undefined;
  for (const line of text.split(/\r?\n|\r/)) {
    const m = /pts_time:([\d.]+)/.exec(line);
    if (m?.[1] !== undefined) t = Number(m[1]);
    const p = /Peak_level=(-?[\d.]+|-inf)/.exec(line);
    if (p?.[1] !== undefined && t !== undefined)
      peaks.push({ t, dbfs: p[1] === "-inf" ? -Infinity : Number(p[1]) });
  }
  return {
    freezes: pairs(text, /freeze_start: ([\d.]+)/, /freeze_end: ([\d.]+)/),
    blacks: pairs(text, /black_start:([\d.]+)/, /black_end:([\d.]+)/),
    silences: pairs(text, /silence_start: ([\d.]+)/, /silence_end: ([\d.]+)/),
    peaks,
  };
}
