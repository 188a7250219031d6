/**
 * Checks every backend makes on what it is asked to store, so both refuse the same input
 * with the same error (`SQM_ERR_USAGE`) before any SQL runs.
 */
import { StreamqcError } from "../errors.js";
import { SEVERITIES, type Severity } from "../incident.js";

const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;
// Evidence names end up in URLs and file names: keep them boring.
const EVIDENCE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function toMs(iso: string, what: string): number {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw new StreamqcError("SQM_ERR_USAGE", `${what} is not a valid date: ${iso}`);
  return ms;
}

export const iso = (ms: number): string => new Date(ms).toISOString();

/** An optional ISO time as epoch milliseconds (null stays null). */
export function optionalMs(value: string | null | undefined, what: string): number | null {
  return value === undefined || value === null ? null : toMs(value, what);
}

export function checkSeverity(severity: Severity): void {
  if (!SEVERITIES.includes(severity)) {
    throw new StreamqcError("SQM_ERR_USAGE", `unknown severity ${String(severity)}`);
  }
}

export function checkEvidenceName(name: string): void {
  if (!EVIDENCE_NAME.test(name)) {
    throw new StreamqcError("SQM_ERR_USAGE", `evidence name ${JSON.stringify(name)} is not valid`);
  }
}

/** A maintenance window's bounds in epoch milliseconds; it must end after it starts. */
export function windowBounds(startsAt: string, endsAt: string): { starts: number; ends: number } {
  const starts = toMs(startsAt, "startsAt");
  const ends = toMs(endsAt, "endsAt");
  if (ends <= starts)
    throw new StreamqcError("SQM_ERR_USAGE", "a maintenance window must end after it starts");
  return { starts, ends };
}

/**
 * A window is for one stream, for streams with some labels, or for all (neither): never for
 * both. Answers the labels as stored (JSON text) or null.
 */
export function windowLabels(window: {
  readonly streamId: string | null;
  readonly labels?: Readonly<Record<string, string>> | null;
}): string | null {
  const labels = window.labels ?? null;
  if (labels !== null && window.streamId !== null) {
    throw new StreamqcError(
      "SQM_ERR_USAGE",
      "a maintenance window is for one stream or for labels, not both",
    );
  }
  return labels === null ? null : JSON.stringify(labels);
}

/** Page size: default 50, clamped to 1..500. */
export function pageLimit(limit: number | undefined): number {
  return Math.min(Math.max(1, Math.floor(limit ?? DEFAULT_PAGE)), MAX_PAGE);
}
