/**
 * Finds ffmpeg and checks that it is recent enough (5.1: Debian 12's, with SRT, RTMP, HLS
 * and every filter we rely on). Every command calls this first so that a missing or old
 * ffmpeg gives one clear line with the fix, not a stack trace.
 */
import { spawnSync } from "node:child_process";
import { StreamqcError } from "../errors.js";

export const MIN_FFMPEG_VERSION: readonly [number, number] = [5, 1];

export interface FfmpegInfo {
  readonly path: string;
  readonly version: string;
  readonly major: number;
  readonly minor: number;
}

const FIX =
  "install it with `sudo apt-get install -y ffmpeg` (Debian 12 ships 5.1), or point STREAMQC_FFMPEG at an ffmpeg 5.1 or newer";

const cache = new Map<string, FfmpegInfo>();

export function parseFfmpegVersion(banner: string): { version: string; major: number; minor: number } | null {
  const m = /ffmpeg version (?:n)?(\d+)\.(\d+)(\S*)/.exec(banner);
  if (!m) return null;
  return { version: `${m[1]}.${m[2]}${m[3] ?? ""}`, major: Number(m[1]), minor: Number(m[2]) };
}

/** Checks ffmpeg once per path; throws SQM_ERR_FFMPEG_MISSING or SQM_ERR_FFMPEG_TOO_OLD. */
export function checkFfmpeg(path: string): FfmpegInfo {
  const known = cache.get(path);
  if (known) return known;
  const res = spawnSync(path, ["-hide_banner", "-version"], { encoding: "utf8", timeout: 10_000 });
  if (res.error || res.status !== 0) {
    throw new StreamqcError("SQM_ERR_FFMPEG_MISSING", `ffmpeg was not found at "${path}": ${FIX}.`, {
      cause: res.error,
    });
  }
  const parsed = parseFfmpegVersion(res.stdout);
  // Builds from git print "ffmpeg version N-12345-g..." and are taken to be new.
  const info: FfmpegInfo = parsed
    ? { path, ...parsed }
    : { path, version: res.stdout.split("\n")[0] ?? "unknown", major: 99, minor: 0 };
  const [minMajor, minMinor] = MIN_FFMPEG_VERSION;
  if (info.major < minMajor || (info.major === minMajor && info.minor < minMinor)) {
    throw new StreamqcError(
      "SQM_ERR_FFMPEG_TOO_OLD",
      `ffmpeg at "${path}" is version ${info.version}; streamqc needs ${minMajor}.${minMinor} or newer: ${FIX}.`,
    );
  }
  cache.set(path, info);
  return info;
}
