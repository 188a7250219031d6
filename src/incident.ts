/**
 * The incident schema: the public contract (DESIGN.md). `analyze --format jsonl` prints it,
 * the API returns it and webhooks deliver it.
 */
import { z } from "zod";

export const SEVERITIES = ["info", "minor", "major", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

export const IncidentSchema = z.object({
  id: z.string().optional(),
  stream: z.string(),
  type: z.string().regex(/^[a-z]+(\.[a-z0-9-]+)+$/),
  /** Media seconds from the stream's first timestamp. */
  start: z.number(),
  end: z.number().nullable(),
  duration: z.number().nullable(),
  severity: z.enum(SEVERITIES),
  details: z.record(z.string(), z.unknown()),
  startedAt: z.string().optional(),
  endedAt: z.string().nullable().optional(),
});

export type Incident = z.infer<typeof IncidentSchema>;

/** Media times are printed to the millisecond. */
export function roundTime(t: number): number {
  return Math.round(t * 1000) / 1000;
}
