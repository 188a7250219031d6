/**
 * The only place that reads process.env (STYLE.md, "Configuration").
 */
import { delimiter } from "node:path";

export interface Environment {
  /** Path of the ffmpeg binary; default: `ffmpeg` on PATH. */
  readonly ffmpegPath: string;
  readonly ffprobePath: string;
  /** API bearer token. */
  readonly apiToken: string | undefined;
  readonly logLevel: string;
  /**
   * Shared secret between a fleet's API and its workers' live endpoints (thumbnails and the
   * last hour of measurements); required when a worker's live endpoint listens beyond localhost.
   */
  readonly fleetToken: string | undefined;
  /** PostgreSQL URL of a fleet (`--db`); unset means the embedded SQLite store. */
  readonly databaseUrl: string | undefined;
  /**
   * `STREAMQC_UDP_EVENTS=1`: UDP sources take Node's per-datagram events instead of the shared
   * drain tick (src/ingest/udp-drain.ts); an escape hatch, and the baseline of `bench --curve`.
   */
  readonly udpEvents: boolean;
  /** The directories of PATH, where a bare `ffmpeg` is looked up. */
  readonly searchPath: readonly string[];
}

export function readEnvironment(env: NodeJS.ProcessEnv = process.env): Environment {
  return Object.freeze({
    ffmpegPath: env["STREAMQC_FFMPEG"] ?? "ffmpeg",
    ffprobePath: env["STREAMQC_FFPROBE"] ?? "ffprobe",
    apiToken: env["STREAMQC_API_TOKEN"] || undefined,
    logLevel: env["STREAMQC_LOG_LEVEL"] ?? "info",
    databaseUrl: env["STREAMQC_DATABASE_URL"] || undefined,
    fleetToken: env["STREAMQC_FLEET_TOKEN"] || undefined,
    udpEvents: env["STREAMQC_UDP_EVENTS"] === "1",
    searchPath: Object.freeze((env["PATH"] ?? "").split(delimiter).filter((d) => d !== "")),
  });
}
