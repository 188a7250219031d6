/**
 * The channel contract: send one delivery, say what happened. Channels never retry, sleep or
 * touch the store; the dispatcher owns retries, backoff and bookkeeping.
 */
import type { AlertEvent } from "../store/store.js";
import type { AlertPayload } from "./alert-payload.js";

export interface OutgoingDelivery {
  /** Stable per (incident, event, channel): the idempotency key receivers dedupe on. */
  readonly id: string;
  readonly incidentId: string;
  readonly event: AlertEvent;
  readonly payload: AlertPayload;
  /** 1 for the first attempt. */
  readonly attempt: number;
}

export type SendOutcome =
  | { readonly kind: "delivered" }
  /** Transient: try again later; `retryAfterMs` when the receiver said how long to wait. */
  | { readonly kind: "retry"; readonly error: string; readonly retryAfterMs?: number }
  /** Permanent for this delivery (e.g. 400): do not try again. */
  | { readonly kind: "failed"; readonly error: string }
  /** The endpoint is gone (410): disable the channel, deliver nothing more to it. */
  | { readonly kind: "disabled"; readonly error: string };

export interface AlertChannel {
  readonly name: string;
  readonly kind: string;
  send(delivery: OutgoingDelivery): Promise<SendOutcome>;
}

/**
 * `Retry-After` as milliseconds from `now`: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
 * undefined when absent or unparseable.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const date = Date.parse(v);
  if (!Number.isFinite(date)) return undefined;
  return Math.max(0, date - now);
}

/** The common HTTP rules; channels add their own (a webhook's 410). */
export async function outcomeOf(res: Response, now: number): Promise<SendOutcome> {
  // Drain the body so the connection can be reused; keep a little for the error message.
  const text = (await res.text().catch(() => "")).slice(0, 200);
  if (res.ok) return { kind: "delivered" };
  const error = `HTTP ${res.status}${text === "" ? "" : `: ${text}`}`;
  if (res.status === 429 || res.status === 503) {
    const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"), now);
    return retryAfterMs === undefined ? { kind: "retry", error } : { kind: "retry", error, retryAfterMs };
  }
  if (res.status === 408 || res.status === 425 || res.status >= 500) return { kind: "retry", error };
  return { kind: "failed", error };
}

/** POSTs JSON; network errors and timeouts are transient. */
export async function postJson(
  url: string,
  body: string,
  headers: Readonly<Record<string, string>>,
  timeoutMs: number,
): Promise<SendOutcome | Response> {
  try {
    return await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
    return { kind: "retry", error: `${err instanceof Error ? err.message : String(err)}${cause}` };
  }
}
