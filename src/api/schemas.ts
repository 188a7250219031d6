/**
 * Every request and response of the HTTP API as zod schemas: Fastify validates and serializes
 * with them, and the OpenAPI document is generated from them, so the three cannot drift.
 */
import { z } from "zod";
import { IncidentSchema as PublicIncidentSchema, SEVERITIES } from "../incident.js";

/**
 * Schemas with an `id` here become named OpenAPI components. A registry of our own rather
 * than zod's global one, so that schemas registered elsewhere never leak into the document.
 */
export const apiSchemaRegistry = z.registry<{ id: string; description?: string }>();

function named<S extends z.ZodType>(schema: S, id: string, description?: string): S {
  apiSchemaRegistry.add(schema, description === undefined ? { id } : { id, description });
  return schema;
}

/** Schemes the ingest stage can open; `file` only when the service config allows it. */
export const URL_SCHEMES = ["http", "https", "udp", "srt", "rtmp", "rtmps", "file"] as const;

/** The scheme of a stream URL, `file` for an absolute path, or undefined when not supported. */
export function urlScheme(url: string): (typeof URL_SCHEMES)[number] | undefined {
  if (url.startsWith("/")) return "file";
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  return (URL_SCHEMES as readonly string[]).includes(scheme ?? "")
    ? (scheme as (typeof URL_SCHEMES)[number])
    : undefined;
}

export const STREAM_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export const StreamNameSchema = z
  .string()
  .regex(STREAM_NAME_PATTERN, "must be 1-64 characters of A-Z a-z 0-9 . _ -")
  .describe("Unique name; used in incidents and metric labels.");

export const StreamUrlSchema = z
  .string()
  .min(1)
  .max(2048)
  .refine((u) => urlScheme(u) !== undefined, {
    message: `must be a URL with scheme ${URL_SCHEMES.join(", ")} (file only when local files are allowed) or an absolute path`,
  })
  .describe("Input URL: http(s) (HLS or TS), udp, srt, rtmp(s); file: or a path when allowed.");

export const LABEL_LIMITS = { maxLabels: 32, maxKey: 64, maxValue: 256 } as const;

export const LabelsSchema = z
  .record(
    z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "label keys must be 1-64 characters of A-Z a-z 0-9 . _ -"),
    z.string().max(LABEL_LIMITS.maxValue),
  )
  .refine((r) => Object.keys(r).length <= LABEL_LIMITS.maxLabels, {
    message: `at most ${LABEL_LIMITS.maxLabels} labels`,
  })
  .describe("Free labels (team, region...); at most 32, values up to 256 characters.");

export const ProfileNameSchema = z.string().min(1).max(64).describe("Name of a configured detector profile.");

export const StreamSchema = named(
  z.object({
    id: z.string(),
    name: StreamNameSchema,
    url: z.string(),
    profile: z.string(),
    labels: z.record(z.string(), z.string()),
    enabled: z.boolean().describe("Whether the service monitors it (start/stop set this)."),
    createdAt: z.string().describe("ISO 8601"),
    updatedAt: z.string().describe("ISO 8601"),
  }),
  "Stream",
);
export type Stream = z.infer<typeof StreamSchema>;

export const StreamCreateSchema = named(
  z.strictObject({
    name: StreamNameSchema,
    url: StreamUrlSchema,
    profile: ProfileNameSchema.optional().describe("Default: `default`."),
    labels: LabelsSchema.optional(),
  }),
  "StreamCreate",
);
export type StreamCreate = z.infer<typeof StreamCreateSchema>;

export const StreamPatchSchema = named(
  z
    .strictObject({
      name: StreamNameSchema.optional(),
      url: StreamUrlSchema.optional(),
      profile: ProfileNameSchema.optional(),
      labels: LabelsSchema.optional().describe("Replaces all labels."),
      enabled: z.boolean().optional(),
    })
    .refine((p) => Object.keys(p).length > 0, { message: "at least one field must be given" }),
  "StreamPatch",
);
export type StreamPatch = z.infer<typeof StreamPatchSchema>;

export const StreamListSchema = named(z.object({ items: z.array(StreamSchema) }), "StreamList");

export const LevelsSchema = z.object({
  peakDbfs: z.array(z.number()).describe("Per channel, dBFS, -120 for digital silence."),
  rmsDbfs: z.array(z.number()),
});

export const StreamStatusSchema = z.enum(["starting", "up", "down", "stopped", "error"]);

export const StreamStateSchema = named(
  z.object({
    id: z.string(),
    name: z.string(),
    status: StreamStatusSchema,
    since: z.string().describe("ISO 8601: when the status last changed."),
    lastError: z.string().nullable(),
    mediaTime: z.number().describe("Seconds of media since the first timestamp."),
    restarts: z.number().int(),
    frames: z.number().int(),
    decoderErrors: z.number().int(),
    levels: LevelsSchema,
    measurements: z.record(z.string(), z.record(z.string(), z.unknown())),
    openIncidents: z.array(PublicIncidentSchema).readonly(),
    cost: z.object({
      decoderCpuSeconds: z.number(),
      detectorCpuSeconds: z.number(),
      perMediaSecond: z.number().nullable().describe("CPU seconds per second of media; null before media."),
    }),
    detectorCpuMs: z.record(z.string(), z.number()),
    worker: z
      .string()
      .nullable()
      .optional()
      .describe(
        "Fleet: the worker holding the stream's lease, or null when none does. Absent on a single process.",
      ),
    epoch: z
      .number()
      .int()
      .optional()
      .describe("Fleet: the lease's fencing epoch (moves on with every claim)."),
  }),
  "StreamState",
);
export type StreamState = z.infer<typeof StreamStateSchema>;

export const WorkerSchema = named(
  z.object({
    name: z.string(),
    pool: z.string(),
    capacity: z.number().int(),
    streams: z.number().int().describe("Streams it holds an unexpired lease on."),
    load: z.number().describe("Measured load: its streams' CPU seconds per media second, summed."),
    lastRenewal: z.string().describe("ISO 8601, database clock: its last lease renewal."),
  }),
  "Worker",
);
export const WorkerListSchema = z.object({ items: z.array(WorkerSchema) });

export const EvidenceRefSchema = z.object({
  name: z.string(),
  contentType: z.string(),
  size: z.number().int(),
  url: z.string().describe("Path of the bytes under this API."),
});

export const IncidentSchema = named(
  PublicIncidentSchema.extend({
    id: z.string(),
    streamId: z.string(),
    evidence: z.array(EvidenceRefSchema),
  }),
  "Incident",
);
export type ApiIncident = z.infer<typeof IncidentSchema>;

const isoDateTime = z.iso.datetime({ offset: true });

export const IncidentQuerySchema = z.strictObject({
  stream: z.string().optional().describe("Stream id or name."),
  type: z.string().optional().describe("Incident type (`video.freeze`) or family (`hls`)."),
  severity: z.enum(SEVERITIES).optional(),
  from: isoDateTime.optional().describe("Incidents that started at or after this wall-clock time."),
  to: isoDateTime.optional().describe("Incidents that started before this wall-clock time."),
  open: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .optional()
    .describe("Only open (true) or closed (false) incidents."),
  cursor: z.string().max(512).optional().describe("`next` of the previous page."),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export type IncidentQuery = z.output<typeof IncidentQuerySchema>;

export const IncidentPageSchema = named(
  z.object({
    items: z.array(IncidentSchema),
    next: z.string().nullable().describe("Cursor of the next page; null on the last page."),
  }),
  "IncidentPage",
);

export const ReportQuerySchema = z.strictObject({
  from: isoDateTime.optional().describe("Default: 24 hours before `to`."),
  to: isoDateTime.optional().describe("Default: now."),
});

export const ReportSchema = named(
  z.object({
    stream: z.string().describe("Stream name."),
    streamId: z.string(),
    from: z.string(),
    to: z.string(),
    availability: z.number().min(0).max(1).describe("Share of the period the stream was up, 0-1."),
    defectSeconds: z.record(z.string(), z.number()).describe("Seconds of incidents per type."),
  }),
  "Report",
);
export type Report = z.infer<typeof ReportSchema>;

export const ReportListSchema = named(z.object({ items: z.array(ReportSchema) }), "ReportList");

export const ErrorSchema = named(
  z.object({
    error: z.string().describe("HTTP reason phrase."),
    message: z.string(),
    code: z.string().optional().describe("SQM_ERR_* code when there is one."),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
  "Error",
);
export type ApiError = z.infer<typeof ErrorSchema>;

export const IdParamsSchema = z.object({ id: z.string().min(1).max(128) });
export const EvidenceParamsSchema = z.object({
  id: z.string().min(1).max(128),
  name: z.string().min(1).max(128),
});

export const ReadinessSchema = named(
  z.object({
    ready: z.boolean(),
    checks: z.record(z.string(), z.object({ ok: z.boolean(), message: z.string().optional() })),
  }),
  "Readiness",
);
export type Readiness = z.infer<typeof ReadinessSchema>;

/** What `/events` carries in `data:` (the SSE `event:` field repeats `type`). */
export const IncidentEventSchema = z.object({
  type: z.enum(["incident.opened", "incident.updated", "incident.closed"]),
  incident: IncidentSchema,
});
export const StreamStateEventSchema = z.object({ type: z.literal("stream.state"), state: StreamStateSchema });
export const StreamLevelsEventSchema = z.object({
  type: z.literal("stream.levels"),
  streamId: z.string(),
  levels: LevelsSchema,
  thumbnail: z
    .object({ url: z.string(), pts: z.number() })
    .optional()
    .describe("Latest thumbnail, at most every few seconds per stream."),
});
export const LiveEventSchema = named(
  z.discriminatedUnion("type", [IncidentEventSchema, StreamStateEventSchema, StreamLevelsEventSchema]),
  "LiveEvent",
);
export type LiveEvent = z.infer<typeof LiveEventSchema>;
