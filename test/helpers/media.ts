/** Small clips made by real ffmpeg for ingest tests (detector tests use `gen`). */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function tempDir(prefix = "streamqc-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface ClipOptions {
  duration?: number;
  fps?: number;
  size?: string;
  /** Drop every video frame with `from <= t < to`, keeping real timestamps (a gap). */
  videoGap?: [number, number];
  audio?: boolean;
}

/** H.264 + AAC in MPEG-TS, moving test pattern and a tone. */
export function makeClip(out: string, opts: ClipOptions = {}): string {
  const d = String(opts.duration ?? 4);
  const fps = String(opts.fps ?? 25);
  const args = ["-hide_banner", "-loglevel", "error", "-y"];
  args.push("-f", "lavfi", "-i", `testsrc2=s=${opts.size ?? "320x240"}:r=${fps}:d=${d}`);
  // A tone at about -23 LUFS, so that clean clips are also loudness-compliant (EBU R128).
  if (opts.audio !== false)
    args.push("-f", "lavfi", "-i", `sine=f=440:sample_rate=48000:d=${d},volume=-1.2dB`);
  if (opts.videoGap) {
    const [a, b] = opts.videoGap;
    args.push("-vf", `select='not(between(t\\,${a}\\,${b - 0.001}))'`, "-fps_mode", "passthrough");
  }
  args.push("-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p");
  if (opts.audio !== false) args.push("-c:a", "aac", "-b:a", "96k");
  args.push("-f", "mpegts", out);
  execFileSync("ffmpeg", args);
  return out;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until `check` is true, polling; throws with `what` after `ms`. */
export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A TCP port on 127.0.0.1 with nothing listening (bound, then closed), for refused connections. */
export async function closedTcpPort(): Promise<number> {
  const { createServer } = await import("node:net");
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Runs ffmpeg on a lavfi source (`testsrc2=…`, `aevalsrc=…`) with the given output arguments. */
export function ffmpegLavfi(source: string, output: readonly string[]): void {
  execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", source, ...output]);
}
