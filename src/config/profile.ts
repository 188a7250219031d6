/**
 * A detector profile: which detectors run, with which options, and the severity of each
 * incident type. Validated once against every registered detector's own schema, then frozen.
 */
import { z } from "zod";
import { DETECTORS, INCIDENT_TYPES } from "../detect/registry.js";
import type { DetectorDefinition } from "../detect/detector.js";
import { StreamqcError } from "../errors.js";
import { SEVERITIES, type Severity } from "../incident.js";

export const ProfileSchema = z
  .object({
    /** Per detector type: `false` disables it; an object overrides its options. Default: all enabled, defaults. */
    detectors: z
      .record(z.string(), z.union([z.literal(false), z.record(z.string(), z.unknown())]))
      .default({}),
    /** Severity per incident type or type prefix (`hls`), overriding DEFAULT_SEVERITY. */
    severity: z.record(z.string(), z.enum(SEVERITIES)).default({}),
    /**
     * `light`: decode keyframes only (audio, transport and decoder checks in full) and promote
     * to full decoding on a sign of trouble; `full`: decode every frame. @defaultValue "full"
     */
    mode: z.enum(["full", "light"]).optional(),
    /**
     * The fleet pool whose workers run streams of this profile (`streamqc worker --pool`),
     * e.g. `light`, `full`, `radio`. Default: `default`. Ignored without a fleet.
     */
    pool: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, "1-64 letters, digits, '.', '_' or '-'")
      .optional(),
  })
  .strict();

export type ProfileInput = z.input<typeof ProfileSchema>;

/**
 * Default severity per incident type, from the types each registered detector declares
 * (`emits` in detect/registry.ts), plus a fallback per family for types no detector declares
 * (a fault type added to a source before its detector lists it).
 */
export const DEFAULT_SEVERITY: Readonly<Record<string, Severity>> = Object.freeze({
  hls: "minor",
  ts: "minor",
  stream: "minor",
  ...Object.fromEntries(INCIDENT_TYPES),
});

export interface ResolvedDetector {
  readonly definition: DetectorDefinition;
  readonly options: unknown;
}

export interface ResolvedProfile {
  readonly detectors: readonly ResolvedDetector[];
  /** How the stream is decoded (ProfileSchema.mode); absent means full. */
  readonly mode?: "full" | "light";
  /** The fleet pool that runs streams of this profile. */
  readonly pool: string;
  severityOf(type: string): Severity;
}

function formatZodError(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
}

export function resolveProfile(input: unknown, where = "profile"): ResolvedProfile {
  const parsed = ProfileSchema.safeParse(input ?? {});
  if (!parsed.success) {
    throw new StreamqcError("SQM_ERR_CONFIG", `${where}: ${formatZodError(parsed.error)}`);
  }
  const known = new Set(DETECTORS.map((d) => d.type));
  for (const type of Object.keys(parsed.data.detectors)) {
    if (!known.has(type)) {
      throw new StreamqcError(
        "SQM_ERR_CONFIG",
        `${where}.detectors: unknown detector "${type}"; known: ${[...known].join(", ")}`,
      );
    }
  }
  const detectors: ResolvedDetector[] = [];
  for (const definition of DETECTORS) {
    const given = parsed.data.detectors[definition.type];
    if (given === false) continue;
    const opts = definition.options.safeParse(given ?? {});
    if (!opts.success) {
      throw new StreamqcError(
        "SQM_ERR_CONFIG",
        `${where}.detectors.${definition.type}: ${formatZodError(opts.error)}`,
      );
    }
    detectors.push(Object.freeze({ definition, options: Object.freeze(opts.data) }));
  }
  const severity = { ...DEFAULT_SEVERITY, ...parsed.data.severity };
  return Object.freeze({
    detectors: Object.freeze(detectors),
    mode: parsed.data.mode ?? "full",
    pool: parsed.data.pool ?? "default",
    severityOf(type: string): Severity {
      return severity[type] ?? severity[type.split(".")[0] ?? ""] ?? "minor";
    },
  });
}

export { formatZodError };
