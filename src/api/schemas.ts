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

export const AcknowledgementSchema = named(
  z.object({
    at: z.string().describe("ISO 8601"),
    by: z.string(),
    comment: z.string().nullable(),
  }),
  "Acknowledgement",
  "Who acknowledged the incident, when and why. The first acknowledgement stands.",
);
export type Acknowledgement = z.infer<typeof AcknowledgementSchema>;

export const StreamStatusSchema = z.enum(["starting", "up", "down", "stopped", "error"]);

const nullableNumber = z.number().nullable();

export const LoudnessSchema = named(
  z.object({
    momentary: nullableNumber.describe("LUFS over the last 400 ms; null before audio."),
    shortTerm: nullableNumber.describe("LUFS over the last 3 s."),
    integrated: nullableNumber.describe("Gated integrated LUFS since the stream (re)started."),
    truePeak: nullableNumber.describe("dBTP of the latest measurement step (see DETECTORS.md)."),
    target: nullableNumber.describe("Target LUFS of the stream's loudness profile."),
    truePeakLimit: nullableNumber.describe("True-peak limit, dBTP."),
  }),
  "Loudness",
  "BS.1770 loudness as measured by the audio.loudness detector; null when the profile has none.",
);

export const FaultCountersSchema = z
  .object({
    open: z.number().int().describe("Fault types open now."),
    counts: z.record(z.string(), z.number().int()).describe("Faults seen since start, by type."),
  })
  .describe("Counters from a fault detector's measure().");

export const MutedSchema = named(
  z.object({
    windowId: z.string(),
    until: z.string().describe("ISO 8601: when the muting ends."),
    reason: z.string(),
  }),
  "Muted",
  "An active maintenance window covering the stream: incidents are recorded but not alerted.",
);

const HlsPlaylistSchema = z.object({
  url: z.string().describe("The media playlist followed (the chosen variant's under a master playlist)."),
  variants: z
    .array(
      z.object({
        uri: z.string(),
        bandwidth: z.number(),
        resolution: z.string().nullable(),
        codecs: z.string().nullable(),
        frameRate: z.number().nullable(),
        name: z.string().nullable(),
        chosen: z.boolean().describe("The variant this monitor follows."),
      }),
    )
    .readonly()
    .describe("The master playlist's variants; empty for a media playlist URL."),
  version: z.number().int().nullable(),
  targetDuration: z.number().nullable().describe("EXT-X-TARGETDURATION, seconds."),
  mediaSequence: z.number().int().nullable().describe("EXT-X-MEDIA-SEQUENCE of the latest load."),
  discontinuitySequence: z.number().int().nullable().describe("EXT-X-DISCONTINUITY-SEQUENCE."),
  playlistType: z.enum(["EVENT", "VOD"]).nullable(),
  endList: z.boolean(),
  segments: z.number().int().describe("Segments listed in the latest load."),
  windowSeconds: z.number().describe("Seconds of media those segments cover."),
  loads: z.number().int().describe("Successful playlist loads so far."),
  lastLoadAt: z.string().nullable().describe("ISO 8601: the latest successful load."),
  lastChangeAt: z.string().nullable().describe("ISO 8601: the latest load that changed the playlist."),
  lastSegment: z
    .object({
      sequence: z.number().int(),
      duration: z.number(),
      downloadSeconds: z.number(),
      at: z.string().describe("ISO 8601: when it was handed to the decoder."),
    })
    .nullable(),
  segmentsDelivered: z.number().int(),
  discontinuities: z.number().int().describe("Delivered segments that started a discontinuity."),
  lastError: z
    .object({ at: z.string(), message: z.string() })
    .nullable()
    .describe("The latest playlist or segment error, if any."),
});

export const StreamStateSchema = named(
  z.object({
    id: z.string(),
    name: z.string(),
    status: StreamStatusSchema,
    since: z.string().describe("ISO 8601: when the status last changed."),
    lastError: z.string().nullable(),
    mediaTime: z.number().describe("Seconds of media since the first timestamp."),
    behindLiveSeconds: z
      .number()
      .nullable()
      .describe(
        "Live sources: seconds the monitoring is behind the live signal (0 while it keeps up; from 10 s the stream's log warns that the process cannot decode its streams in real time). Null for files, and while the stream is not up.",
      ),
    restarts: z.number().int(),
    frames: z.number().int(),
    decoderErrors: z.number().int(),
    levels: LevelsSchema,
    measurements: z.record(z.string(), z.record(z.string(), z.unknown())),
    openIncidents: z
      .array(PublicIncidentSchema.extend({ acknowledged: AcknowledgementSchema.nullable() }))
      .readonly()
      .describe("Open incidents, with their stored `id` (once written) and acknowledgement."),
    cost: z.object({
      decoderCpuSeconds: z.number(),
      detectorCpuSeconds: z.number(),
      perMediaSecond: z.number().nullable().describe("CPU seconds per second of media; null before media."),
    }),
    detectorCpuMs: z.record(z.string(), z.number()),
    mode: z.enum(["full", "light"]).optional().describe("How the stream is decoded (profile `mode`)."),
    promotion: z
      .object({
        mode: z.literal("light"),
        phase: z.enum(["light", "queued", "promoted"]),
        since: z.string(),
        trigger: z.object({ at: z.number(), kind: z.string(), detail: z.string() }).nullable(),
        from: z.number().nullable(),
        promotions: z.number().int(),
        fullSeconds: z.number(),
        unconfirmed: z.number().int(),
        off: z.record(z.string(), z.string()),
      })
      .nullable()
      .optional()
      .describe("Light mode: promotion to full decoding (queued while the process's slots are taken)."),
    decoding: z
      .object({
        policy: z
          .enum(["exact", "fast", "refs"])
          .describe("`refs`: reference frames only; `fast`: every frame; `exact`: every frame as encoded."),
        everyFrameFrom: z
          .number()
          .nullable()
          .describe(
            "Media seconds every frame has been decoded from, after a detector asked; null otherwise.",
          ),
      })
      .nullable()
      .optional()
      .describe(
        "Full mode: how the decoder decodes now (README, `--decode`); null while stopped and in light mode.",
      ),
    loudness: LoudnessSchema.nullable(),
    tr101290: FaultCountersSchema.nullable().describe(
      "ETSI TR 101 290 priority 1/2 counters (ts.* faults) for MPEG-TS inputs; null otherwise.",
    ),
    hls: FaultCountersSchema.nullable().describe(
      "HLS playlist and segment fault counters (hls.*) for HLS inputs; null otherwise.",
    ),
    hlsPlaylist: HlsPlaylistSchema.nullable()
      .optional()
      .describe("HLS inputs: the playlist as the monitor last loaded it (RFC 8216 terms); null otherwise."),
    thumbnailAt: z
      .string()
      .nullable()
      .describe("ISO 8601: when the latest thumbnail was taken; null before the first."),
    muted: MutedSchema.nullable().describe("The maintenance window muting its alerts now, if any."),
    worker: z
      .string()
      .nullable()
      .describe("Name of the fleet worker running the stream; null outside a fleet."),
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

export const LIFECYCLE_STATES = ["active", "acknowledged", "cleared", "resolved"] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

/** The alarm's place in its lifecycle, from whether it is open and whether it is acknowledged. */
export function lifecycleOf(i: {
  readonly end: number | null;
  readonly acknowledged: unknown;
}): LifecycleState {
  const acked = i.acknowledged !== null;
  if (i.end === null) return acked ? "acknowledged" : "active";
  return acked ? "resolved" : "cleared";
}

export const IncidentSchema = named(
  PublicIncidentSchema.extend({
    id: z.string(),
    streamId: z.string(),
    evidence: z.array(EvidenceRefSchema),
    acknowledged: AcknowledgementSchema.nullable(),
    lifecycle: z
      .enum(LIFECYCLE_STATES)
      .describe(
        "active (open, unacknowledged), acknowledged (open), cleared (closed, never acknowledged), resolved (closed and acknowledged).",
      ),
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
  acknowledged: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .optional()
    .describe("Only acknowledged (true) or unacknowledged (false) incidents."),
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

/** Whether a text holds control characters (tab, CR and LF allowed when `multiline`). */
function hasControl(text: string, multiline: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 || c === 0x7f) && !(multiline && (c === 0x09 || c === 0x0a || c === 0x0d))) return true;
  }
  return false;
}

/** A name for the audit trail: printable, no control characters. */
const OperatorSchema = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .refine((t) => !hasControl(t, false), { message: "must not contain control characters" })
  .describe(
    "Who acknowledges. Default: the API's configured operator name (`server.operator`), else `operator`.",
  );

const AckCommentSchema = z
  .string()
  .max(1000)
  .refine((t) => !hasControl(t, true), {
    message: "must not contain control characters other than tab and newline",
  })
  .describe("Why, what was done; at most 1000 characters.");

export const AckBodySchema = named(
  z.strictObject({ by: OperatorSchema.optional(), comment: AckCommentSchema.optional() }),
  "AckRequest",
);
export type AckBody = z.infer<typeof AckBodySchema>;

export const BulkAckBodySchema = named(
  z
    .strictObject({
      ids: z
        .array(z.string().min(1).max(128))
        .min(1)
        .max(500)
        .optional()
        .describe("Incidents to acknowledge."),
      stream: z
        .string()
        .min(1)
        .max(128)
        .optional()
        .describe("Stream id or name: acknowledge its unacknowledged incidents."),
      includeCleared: z
        .boolean()
        .optional()
        .describe(
          "With `stream`: closed unacknowledged (cleared) incidents too. Default false: open ones only.",
        ),
      by: OperatorSchema.optional(),
      comment: AckCommentSchema.optional(),
    })
    .refine((b) => (b.ids === undefined) !== (b.stream === undefined), {
      message: "give exactly one of `ids` or `stream`",
    })
    .refine((b) => b.includeCleared === undefined || b.stream !== undefined, {
      message: "`includeCleared` goes with `stream`",
      path: ["includeCleared"],
    }),
  "BulkAckRequest",
);
export type BulkAckBody = z.infer<typeof BulkAckBodySchema>;

export const BulkAckResultSchema = named(
  z.object({
    items: z.array(IncidentSchema).describe("Every incident named or selected, as stored after the request."),
    acknowledged: z.number().int().describe("How many were acknowledged by this request (not before)."),
    unknown: z.array(z.string()).describe("Ids in `ids` that name no incident."),
  }),
  "BulkAckResult",
);

export const MaintenanceSchema = named(
  z.object({
    id: z.string(),
    streamId: z.string().nullable().describe("The stream muted; null for a label set or every stream."),
    stream: z.string().nullable().describe("Its name, when it is for one stream."),
    labels: z
      .record(z.string(), z.string())
      .nullable()
      .describe("Streams whose labels include all of these are muted; null for one stream or all."),
    from: z.string().describe("ISO 8601: muted from then."),
    until: z.string().describe("ISO 8601: muted until then."),
    reason: z.string(),
    by: z.string().nullable().describe("Who muted (the request's `by`, else the API's operator name)."),
    active: z.boolean().describe("Whether it mutes now."),
  }),
  "Maintenance",
  "A maintenance window: the streams it covers keep being monitored and their incidents recorded, but no alert is sent for incidents that open inside it.",
);
export type Maintenance = z.infer<typeof MaintenanceSchema>;

export const MaintenanceListSchema = named(
  z.object({ items: z.array(MaintenanceSchema) }),
  "MaintenanceList",
);

export const MaintenanceCreateSchema = named(
  z
    .strictObject({
      stream: z.string().min(1).max(128).optional().describe("Stream id or name to mute."),
      labels: LabelsSchema.refine((l) => Object.keys(l).length > 0, { message: "give at least one label" })
        .optional()
        .describe("Mute every stream whose labels include all of these."),
      all: z.literal(true).optional().describe("Mute every stream (must be said explicitly)."),
      from: isoDateTime.optional().describe("Default: now."),
      until: isoDateTime.describe("When the muting ends (ISO 8601 with offset)."),
      reason: z.string().trim().min(1).max(500).describe("Why (shown on the wall and in the API)."),
      by: OperatorSchema.optional(),
    })
    .refine((b) => [b.stream, b.labels, b.all].filter((x) => x !== undefined).length === 1, {
      message: "give exactly one of `stream`, `labels` or `all: true`",
    })
    .refine((b) => Date.parse(b.until) > (b.from === undefined ? Date.now() : Date.parse(b.from)), {
      message: "must be later than `from` (default now)",
      path: ["until"],
    }),
  "MaintenanceCreate",
);
export type MaintenanceCreate = z.infer<typeof MaintenanceCreateSchema>;

export const MaintenanceQuerySchema = z.strictObject({
  stream: z.string().min(1).max(128).optional().describe("Only windows covering this stream (id or name)."),
  ended: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .optional()
    .describe("Include windows that have ended. Default false."),
});

export const MaintenanceDeleteQuerySchema = z.strictObject({
  stream: z
    .string()
    .min(1)
    .max(128)
    .describe("Unmute this stream (id or name): ends every window for this stream alone."),
});

export const HISTORY_MAX_SECONDS = 3600;

export const HistoryQuerySchema = z.strictObject({
  seconds: z.coerce
    .number()
    .int()
    .min(1)
    .max(HISTORY_MAX_SECONDS)
    .default(HISTORY_MAX_SECONDS)
    .describe("How far back, seconds (at most 3600)."),
});

const series = z.array(z.number().nullable());

export const StreamHistorySchema = named(
  z.object({
    streamId: z.string(),
    intervalSeconds: z.number().describe("Seconds between samples."),
    t: z.array(z.number()).describe("Sample times, Unix seconds (uPlot's x axis), oldest first."),
    momentary: series.describe("LUFS"),
    shortTerm: series.describe("LUFS"),
    integrated: series.describe("LUFS"),
    truePeak: series.describe("dBTP"),
    avOffsetMs: series.describe("A/V offset, ms, positive when audio lags video."),
    peakDbfs: z.array(series).describe("Per channel: peak dBFS over each interval."),
    rmsDbfs: z.array(series).describe("Per channel: RMS dBFS over each interval."),
    target: z.number().nullable().describe("Target LUFS, for the plot's reference line."),
    truePeakLimit: z.number().nullable().describe("dBTP, for the plot's reference line."),
  }),
  "StreamHistory",
  "The stream's measurements over the last hour, sampled in memory (lost on restart). Columnar for plotting; null where nothing was measured.",
);
export type StreamHistory = z.infer<typeof StreamHistorySchema>;

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
  type: z.enum(["incident.opened", "incident.updated", "incident.closed", "incident.acknowledged"]),
  incident: IncidentSchema,
});
export const MaintenanceEventSchema = z.object({
  type: z.literal("maintenance.changed"),
  items: z.array(MaintenanceSchema).describe("Every window not yet ended, after the change."),
});
export const StreamStateEventSchema = z.object({ type: z.literal("stream.state"), state: StreamStateSchema });
export const StreamLevelsEventSchema = z.object({
  type: z.literal("stream.levels"),
  streamId: z.string(),
  levels: LevelsSchema,
  loudness: LoudnessSchema.nullable(),
  thumbnail: z
    .object({ url: z.string(), pts: z.number() })
    .optional()
    .describe("Latest thumbnail, at most every few seconds per stream."),
});
export const LiveEventSchema = named(
  z.discriminatedUnion("type", [
    IncidentEventSchema,
    StreamStateEventSchema,
    StreamLevelsEventSchema,
    MaintenanceEventSchema,
  ]),
  "LiveEvent",
);
export type LiveEvent = z.infer<typeof LiveEventSchema>;
