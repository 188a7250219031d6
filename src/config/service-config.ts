/**
 * The configuration of `streamqc serve`: where data lives, how the API listens, the detector
 * profiles, the streams, evidence storage and alerts. One schema, validated once, frozen.
 */
import { z } from "zod";
import { StreamqcError } from "../errors.js";
import { readEnvironment } from "./env.js";
import { ProfileSchema, resolveProfile, type ProfileInput, type ResolvedProfile } from "./profile.js";
import { parseWith, readJsonFile } from "./config.js";

export const STREAM_NAME = /^[A-Za-z0-9._-]{1,64}$/;

export const StreamConfigSchema = z
  .object({
    name: z.string().regex(STREAM_NAME, "1-64 characters: letters, digits, '.', '_' or '-'"),
    url: z.string().min(1),
    /** Name of a profile in `profiles`. Default: `default`. */
    profile: z.string().default("default"),
    labels: z.record(z.string(), z.string()).default({}),
    /** Default: true. */
    enabled: z.boolean().default(true),
  })
  .strict();

/**
 * Evidence on S3 through the AWS SDK. Without a key pair the SDK's standard credential chain
 * is used (environment, shared config, container and instance roles); without a region, the
 * chain's, else us-east-1. `endpoint` is for S3-compatible servers (path-style URLs).
 */
export const S3ConfigSchema = z
  .object({
    endpoint: z.string().url().optional(),
    bucket: z.string().min(1),
    region: z.string().min(1).optional(),
    accessKeyId: z.string().min(1).optional(),
    secretAccessKey: z.string().min(1).optional(),
    prefix: z.string().default(""),
  })
  .strict()
  .refine((c) => (c.accessKeyId === undefined) === (c.secretAccessKey === undefined), {
    message: "give accessKeyId and secretAccessKey together, or neither (the standard credential chain)",
  });

export const ServiceConfigSchema = z
  .object({
    /** Path of ffmpeg. Default: $STREAMQC_FFMPEG, else `ffmpeg` on PATH. */
    ffmpeg: z.string().min(1).optional(),
    /** Where the SQLite database and evidence live. Default: `./data`. */
    dataDir: z.string().default("data"),
    server: z
      .object({
        /** Default: 127.0.0.1 (no token needed). Any other address needs a token. */
        host: z.string().default("127.0.0.1"),
        /** Default: 8080. */
        port: z.number().int().min(0).max(65535).default(8080),
        /** Bearer token; default: $STREAMQC_API_TOKEN. */
        token: z.string().min(16).optional(),
        /**
         * Who acknowledges or mutes when an API request does not say (one token cannot tell
         * people apart; the dashboard sends the name its user typed). Default: `operator`.
         */
        operator: z.string().trim().min(1).max(64).optional(),
      })
      .strict()
      .default({ host: "127.0.0.1", port: 8080 }),
    /**
     * The watchdog restarts a decoder that writes nothing for this long (a hung or stopped
     * ffmpeg). Default: 10 000 ms. Shorter values catch stalls sooner but restart decoders of
     * sources that are merely slow to start.
     */
    stallTimeoutMs: z.number().int().min(500).optional(),
    /**
     * Light streams (profile `mode: light`) of this process decoding in full at once; more
     * promotions wait their turn, visibly (stream state, metrics, logs). Default: 4.
     */
    maxPromotions: z.number().int().min(1).max(1000).optional(),
    /** Allow streams that read local files (`file:` URLs, paths). Default: false. */
    allowFileInputs: z.boolean().default(false),
    /** Detector profiles by name. `default` always exists (every detector, defaults). */
    profiles: z.record(z.string(), ProfileSchema).default({}),
    /** The profile of `analyze`-style configs is accepted as the `default` profile. */
    profile: ProfileSchema.optional(),
    streams: z.array(StreamConfigSchema).default([]),
    evidence: z
      .object({
        /** Default: `directory` (under dataDir/evidence). */
        store: z.enum(["directory", "s3"]).default("directory"),
        s3: S3ConfigSchema.optional(),
      })
      .strict()
      .default({ store: "directory" }),
    /**
     * Maintenance windows: incidents are still recorded, alerts are muted. `stream` is a stream
     * name; without it the window mutes every stream. Default none.
     */
    maintenance: z
      .array(
        z
          .object({
            stream: z.string().optional(),
            startsAt: z.iso.datetime({ offset: true }),
            endsAt: z.iso.datetime({ offset: true }),
            reason: z.string().default(""),
          })
          .strict()
          .refine((w) => Date.parse(w.endsAt) > Date.parse(w.startsAt), {
            message: "endsAt must be after startsAt",
          }),
      )
      .default([]),
    /** Alert channels and routes (see src/config/alert-config.ts). */
    alerts: z.unknown().optional(),
    /** Start the built-in demo channels (loopback test streams with injected defects). */
    demo: z.boolean().default(false),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const names = new Set<string>();
    cfg.streams.forEach((s, i) => {
      if (names.has(s.name)) {
        ctx.addIssue({
          code: "custom",
          path: ["streams", i, "name"],
          message: `duplicate stream name "${s.name}"`,
        });
      }
      names.add(s.name);
      if (s.profile !== "default" && !(s.profile in cfg.profiles)) {
        ctx.addIssue({
          code: "custom",
          path: ["streams", i, "profile"],
          message: `unknown profile "${s.profile}"`,
        });
      }
    });
    cfg.maintenance.forEach((w, i) => {
      if (w.stream !== undefined && !names.has(w.stream) && !cfg.demo) {
        ctx.addIssue({
          code: "custom",
          path: ["maintenance", i, "stream"],
          message: `unknown stream "${w.stream}"`,
        });
      }
    });
    if (cfg.evidence.store === "s3" && !cfg.evidence.s3) {
      ctx.addIssue({
        code: "custom",
        path: ["evidence", "s3"],
        message: "required when evidence.store is s3",
      });
    }
  });

export type ServiceConfig = z.output<typeof ServiceConfigSchema>;

export interface LoadedServiceConfig {
  readonly config: ServiceConfig;
  readonly profiles: ReadonlyMap<string, ResolvedProfile>;
  readonly token: string | undefined;
}

export function loadServiceConfig(
  path: string | undefined,
  overrides: Partial<ServiceConfig> = {},
): LoadedServiceConfig {
  const raw = path ? readJsonFile(path) : {};
  const where = path ?? "config";
  const file = (raw ?? {}) as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...file, ...overrides };
  if (overrides.server && typeof file["server"] === "object" && file["server"] !== null) {
    // Command-line --host/--port override single fields of the file's server block.
    merged["server"] = { ...file["server"], ...overrides.server };
  }
  const config = parseWith(ServiceConfigSchema, merged, where);
  const profiles = new Map<string, ResolvedProfile>();
  profiles.set(
    "default",
    resolveProfile(config.profiles["default"] ?? config.profile ?? {}, `${where}: profiles.default`),
  );
  for (const [name, p] of Object.entries(config.profiles)) {
    if (name !== "default") profiles.set(name, resolveProfile(p, `${where}: profiles.${name}`));
  }
  const token = config.server.token ?? readEnvironment().apiToken;
  if (token !== undefined && token.length < 16) {
    // The schema already holds server.token to 16 characters: a short token here came from the environment.
    throw new StreamqcError(
      "SQM_ERR_CONFIG",
      `STREAMQC_API_TOKEN must be at least 16 characters (${where} sets no server.token, so the environment's is used)`,
    );
  }
  return Object.freeze({ config, profiles, token });
}

export interface AnalysisConfig {
  readonly ffmpeg?: string;
  /** The profile `analyze` and `watch` run: `profiles.default`, else `profile`. */
  readonly profile?: ProfileInput;
}

/**
 * `analyze` and `watch` read the same file as `serve` (one schema, so a typo is an error
 * everywhere) and use its `ffmpeg` and default profile.
 */
export function loadAnalysisConfig(path: string | undefined): AnalysisConfig {
  if (!path) return Object.freeze({});
  const config = parseWith(ServiceConfigSchema, readJsonFile(path), path);
  const profile = config.profiles["default"] ?? config.profile;
  return Object.freeze({
    ...(config.ffmpeg !== undefined ? { ffmpeg: config.ffmpeg } : {}),
    ...(profile !== undefined ? { profile } : {}),
  });
}
