/**
 * Alert channels, routes and delivery tuning, validated once at start and then frozen
 * (STYLE.md, "Configuration"). Every option documents its default.
 */
import { z } from "zod";
import { StreamqcError } from "../errors.js";
import { SEVERITIES } from "../incident.js";

/** Channel names end up in delivery ids (`<incident>.<event>.<channel>`): keep them plain. */
const ChannelName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "lower-case letters, digits, - and _");

const HttpUrl = z.url({ protocol: /^https?$/ });

const timeoutMs = z
  .number()
  .int()
  .positive()
  .default(10_000)
  .describe("Per HTTP request; default 10 000 ms.");

export const WebhookChannelSchema = z.object({
  kind: z.literal("webhook"),
  name: ChannelName,
  url: HttpUrl,
  /** Standard Webhooks secret: `whsec_` then the base64 key. */
  secret: z.string().regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, "must be whsec_ followed by base64"),
  timeoutMs,
});

export const SlackChannelSchema = z.object({
  kind: z.literal("slack"),
  name: ChannelName,
  /** The incoming-webhook URL Slack gave. */
  url: HttpUrl,
  timeoutMs,
});

export const PagerDutyChannelSchema = z.object({
  kind: z.literal("pagerduty"),
  name: ChannelName,
  routingKey: z.string().min(1),
  /** Default `https://events.pagerduty.com` (events go to `{baseUrl}/v2/enqueue`). */
  baseUrl: HttpUrl.default("https://events.pagerduty.com"),
  /** `payload.source` when the stream has no URL worth showing; default `streamqc`. */
  source: z.string().min(1).default("streamqc"),
  timeoutMs,
});

export const ChannelConfigSchema = z.discriminatedUnion("kind", [
  WebhookChannelSchema,
  SlackChannelSchema,
  PagerDutyChannelSchema,
]);

export const RouteSchema = z.object({
  /** Channels that receive the incidents this route matches. */
  channels: z.array(ChannelName).min(1),
  /** Equality selectors on stream labels, all of which must hold; default `{}` matches every stream. */
  labels: z.record(z.string(), z.string()).default({}),
  /** Least severity routed (inclusive); default `info`, i.e. everything. */
  minSeverity: z.enum(SEVERITIES).default("info"),
});

export const DispatcherConfigSchema = z.object({
  /** Longest sleep between outbox scans; new rows wake the dispatcher earlier. Default 5000 ms. */
  pollIntervalMs: z.number().int().positive().default(5000),
  /** Rows claimed per scan; default 20. */
  batchSize: z.number().int().positive().default(20),
  /** How long a claimed row is hidden from other dispatchers before it is re-sent; default 60 000 ms. */
  leaseMs: z.number().int().positive().default(60_000),
  /** First retry delay cap; the n-th retry waits random(0, min(maxDelayMs, baseDelayMs * 2^(n-1))). Default 1000 ms. */
  baseDelayMs: z.number().int().positive().default(1000),
  /** Cap of the backoff; default 300 000 ms (5 min). */
  maxDelayMs: z.number().int().positive().default(300_000),
  /** Attempts before a delivery is marked failed; default 12 (about half an hour of retries). */
  maxAttempts: z.number().int().positive().default(12),
  /** Longest Retry-After honoured; longer requests are cut to this. Default 3 600 000 ms (1 h). */
  maxRetryAfterMs: z.number().int().positive().default(3_600_000),
});

export const AlertConfigSchema = z
  .object({
    /** Default none: incidents are stored, nothing is sent. */
    channels: z.array(ChannelConfigSchema).default([]),
    /** Default none. */
    routes: z.array(RouteSchema).default([]),
    /**
     * A new incident of the same (stream, type) within this many seconds of the last alerted
     * one is stored but not alerted. Default 300; 0 turns flood control off.
     */
    cooldownSeconds: z.number().min(0).default(300),
    /** Also alert when an alerted, still open incident's severity rises. Default true. */
    alertOnEscalation: z.boolean().default(true),
    dispatcher: DispatcherConfigSchema.prefault({}),
  })
  .superRefine((cfg, ctx) => {
    const names = new Set<string>();
    cfg.channels.forEach((c, i) => {
      if (names.has(c.name)) {
        ctx.addIssue({
          code: "custom",
          path: ["channels", i, "name"],
          message: `channel ${c.name} is defined twice`,
        });
      }
      names.add(c.name);
    });
    cfg.routes.forEach((r, i) => {
      r.channels.forEach((name, j) => {
        if (!names.has(name)) {
          ctx.addIssue({
            code: "custom",
            path: ["routes", i, "channels", j],
            message: `route ${i} names channel ${name}, which is not defined in channels`,
          });
        }
      });
    });
  });

export type AlertConfig = z.infer<typeof AlertConfigSchema>;
export type ChannelConfig = z.infer<typeof ChannelConfigSchema>;
export type RouteConfig = z.infer<typeof RouteSchema>;
export type DispatcherConfig = z.infer<typeof DispatcherConfigSchema>;

/**
 * Validates, applies defaults and deep-freezes; throws SQM_ERR_CONFIG with every issue. With
 * `where` (the service config file), the issues are named from that file's `alerts` field, on
 * one line, so the CLI's one-line error says which file and which field.
 */
export function parseAlertConfig(input: unknown, where?: string): AlertConfig {
  const result = AlertConfigSchema.safeParse(input ?? {});
  if (!result.success) {
    if (where !== undefined) {
      const issues = result.error.issues.map((i) => `${["alerts", ...i.path].join(".")}: ${i.message}`);
      throw new StreamqcError("SQM_ERR_CONFIG", `${where}: ${issues.join("; ")}`);
    }
    const issues = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new StreamqcError("SQM_ERR_CONFIG", `alert configuration is not valid:\n  ${issues.join("\n  ")}`);
  }
  return deepFreeze(result.data);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
