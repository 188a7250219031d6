/**
 * Finds ffmpeg and checks that it is recent enough (5.1: Debian 12's, with SRT, RTMP, HLS
 * and every filter we rely on). Every command calls this first so that a missing or old
 * ffmpeg gives one clear line with the fix, not a stack trace.
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { join } from "node:path";
import { readEnvironment } from "../config/env.js";
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

function missing(path: string, cause?: unknown): StreamqcError {
  return new StreamqcError("SQM_ERR_FFMPEG_MISSING", `ffmpeg was not found at "${path}": ${FIX}.`, {
    cause,
  });
}

function tooOld(path: string, version: string): StreamqcError {
  const [minMajor, minMinor] = MIN_FFMPEG_VERSION;
  return new StreamqcError(
    "SQM_ERR_FFMPEG_TOO_OLD",
    `ffmpeg at "${path}" is version ${version}; streamqc needs ${minMajor}.${minMinor} or newer: ${FIX}.`,
  );
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The version of `path` when it was checked already (by `checkFfmpeg` or a decoder's banner). */
export function knownFfmpeg(path: string): FfmpegInfo | undefined {
  return cache.get(path);
}

/**
 * Finds ffmpeg without running it (a path, or a name looked up on PATH); throws
 * SQM_ERR_FFMPEG_MISSING. Running `ffmpeg -version` costs a whole ffmpeg start-up (about
 * 0.1 CPU-seconds: it links every FFmpeg library); a decoder started without `-hide_banner`
 * prints the same version line, checked there with `checkFfmpegBanner`.
 */
export function locateFfmpeg(path: string): void {
  if (cache.has(path)) return;
  const found = path.includes("/")
    ? isExecutableFile(path)
    : readEnvironment().searchPath.some((dir) => isExecutableFile(join(dir, path)));
  if (!found) throw missing(path);
}

/**
 * Checks the version line a decoder printed ("ffmpeg version 5.1.9-0+deb12u1 ..."); returns
 * null while the line is not that one, the error when ffmpeg is too old, and caches success.
 */
export function checkFfmpegBanner(path: string, line: string): StreamqcError | "ok" | null {
  if (!line.includes("ffmpeg version ")) return null;
  const verdict = judgeVersion(path, line, "unknown");
  return verdict instanceof StreamqcError ? verdict : "ok";
}

/**
 * The version in `text` against MIN_FFMPEG_VERSION: cached and returned when recent enough,
 * the error when too old. Builds from git print "ffmpeg version N-12345-g..." and are taken
 * to be new (`unparsed` names them).
 */
function judgeVersion(path: string, text: string, unparsed: string): FfmpegInfo | StreamqcError {
  const parsed = parseFfmpegVersion(text);
  const info: FfmpegInfo = parsed ? { path, ...parsed } : { path, version: unparsed, major: 99, minor: 0 };
  const [minMajor, minMinor] = MIN_FFMPEG_VERSION;
  if (info.major < minMajor || (info.major === minMajor && info.minor < minMinor))
    return tooOld(path, info.version);
  cache.set(path, info);
  return info;
}

/** Checks ffmpeg once per path; throws SQM_ERR_FFMPEG_MISSING or SQM_ERR_FFMPEG_TOO_OLD. */
export function checkFfmpeg(path: string): FfmpegInfo {
  const known = cache.get(path);
  if (known) return known;
  const res = spawnSync(path, ["-hide_banner", "-version"], { encoding: "utf8", timeout: 10_000 });
  if (res.error || res.status !== 0) throw missing(path, res.error);
  const verdict = judgeVersion(path, res.stdout, res.stdout.split("\n")[0] ?? "unknown");
  if (verdict instanceof StreamqcError) throw verdict;
  return verdict;
}
