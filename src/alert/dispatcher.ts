/**
 * Delivers the alert outbox.
 *
 * Contract: AT-LEAST-ONCE delivery WITH AN IDEMPOTENCY KEY. Every outbox row has a stable id
 * per (incident, event, channel) (plus revision for updates), written in the same transaction
 * as the incident change. A row is claimed under a lease, sent, then marked. If the process
 * dies between the send and the mark, the lease runs out and the row is sent again with the
 * SAME id: webhook receivers dedupe on `webhook-id`, PagerDuty on `dedup_key` (the incident
 * id). Slack has no such key, so a crash in that window can post a message twice; nothing is
 * ever lost. Within one (incident, channel) rows go out in order.
 *
 * Retries: transient failures (network, timeouts, 408, 425, 429, 5xx) wait
 * random(0, min(maxDelayMs, baseDelayMs * 2^(attempt-1))) ("full jitter"), or exactly the
 * receiver's `Retry-After` on 429/503 (capped at maxRetryAfterMs). Other 4xx fail the row
 * permanently; so does running out of attempts. A 410 from a webhook disables the channel
 * (recorded in the store) and fails its pending rows without sending them.
 */
import { pino, type Logger } from "pino";
import { DispatcherConfigSchema, type DispatcherConfig } from "../config/alert-config.js";
import { errorMessage, StreamqcError } from "../errors.js";
import type { DeliveryRecord, OutboxStore } from "../store/store.js";
import type { AlertPayload } from "./alert-payload.js";
import type { AlertChannel, SendOutcome } from "./channel.js";

export interface DispatcherOptions {
  readonly store: OutboxStore;
  readonly channels: readonly AlertChannel[];
  /** Defaults as documented in config/alert-config.ts. */
  readonly config?: Partial<DispatcherConfig>;
  readonly logger?: Logger;
  /** For the jitter; default Math.random. */
  readonly random?: () => number;
}

export class AlertDispatcher {
  readonly #store: OutboxStore;
  readonly #channels: ReadonlyMap<string, AlertChannel>;
  readonly #config: DispatcherConfig;
  readonly #log: Logger;
  readonly #random: () => number;
  #started = false;
  #closed = false;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #wakeAgain = false;

  constructor(options: DispatcherOptions) {
    this.#store = options.store;
    this.#channels = new Map(options.channels.map((c) => [c.name, c]));
    this.#config = DispatcherConfigSchema.parse(options.config ?? {});
    this.#log = options.logger ?? pino({ level: "silent" });
    this.#random = options.random ?? Math.random;
  }

  /** Starts the timer; idempotent. */
  start(): void {
    this.#assertOpen();
    if (this.#started) return;
    this.#started = true;
    this.#schedule(0);
  }

  /** New rows were enqueued: scan now rather than at the next poll. */
  notify(): void {
    if (this.#closed || !this.#started) return;
    if (this.#running !== null) this.#wakeAgain = true;
    else this.#schedule(0);
  }

  /** Stops the timer and waits for the deliveries in flight; idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  #assertOpen(): void {
    if (this.#closed) throw new StreamqcError("SQM_ERR_CLOSED", "the alert dispatcher is closed");
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#tick();
    }, delayMs);
  }

  #tick(): void {
    if (this.#closed || this.#running !== null) return;
    this.#running = (async () => {
      try {
        let n: number;
        do {
          this.#wakeAgain = false;
          n = await this.runOnce();
        } while (!this.#closed && (n >= this.#config.batchSize || this.#wakeAgain));
        if (this.#closed) return;
        const due = await this.#store.nextDueAt();
        const wait = due === null ? this.#config.pollIntervalMs : due.getTime() - Date.now();
        this.#schedule(Math.min(Math.max(wait, 0), this.#config.pollIntervalMs));
      } catch (err) {
        // A store hiccup must not stop alerting: log and try again at the next poll.
        this.#log.error({ err }, "alert dispatch failed");
        this.#schedule(this.#config.pollIntervalMs);
      } finally {
        this.#running = null;
      }
    })();
  }

  /**
   * One scan: claims due rows and delivers them, channels in parallel, each channel's rows
   * in order (so a 410 stops the rest). Returns the number of rows claimed.
   */
  async runOnce(): Promise<number> {
    const now = new Date();
    const rows = await this.#store.claimDueDeliveries(now, this.#config.batchSize, this.#config.leaseMs);
    const byChannel = new Map<string, DeliveryRecord[]>();
    for (const r of rows) {
      let list = byChannel.get(r.channel);
      if (list === undefined) byChannel.set(r.channel, (list = []));
      list.push(r);
    }
    await Promise.all(
      [...byChannel.values()].map(async (list) => {
        for (const row of list) await this.#deliver(row);
      }),
    );
    return rows.length;
  }

  async #deliver(row: DeliveryRecord): Promise<void> {
    const channel = this.#channels.get(row.channel);
    if (channel === undefined) {
      await this.#store.markFailed(row.id, `no channel named ${row.channel} is configured`);
      this.#log.warn({ delivery: row.id }, "delivery for an unknown channel failed");
      return;
    }
    const state = await this.#store.getChannelState(row.channel);
    if (state.disabled) {
      await this.#store.markFailed(row.id, `channel disabled: ${state.reason ?? ""}`.trim());
      return;
    }
    let outcome: SendOutcome;
    try {
      outcome = await channel.send({
        id: row.id,
        incidentId: row.incidentId,
        event: row.event,
        payload: row.payload as unknown as AlertPayload,
        attempt: row.attempts,
      });
    } catch (err) {
      // A channel bug is treated like a transient fault: the row stays, the error is kept.
      outcome = { kind: "retry", error: errorMessage(err) };
    }
    const log = this.#log.child({ delivery: row.id, channel: row.channel, attempt: row.attempts });
    switch (outcome.kind) {
      case "delivered":
        await this.#store.markDelivered(row.id, new Date());
        log.info("alert delivered");
        return;
      case "failed":
        await this.#store.markFailed(row.id, outcome.error);
        log.warn({ error: outcome.error }, "alert delivery failed permanently");
        return;
      case "disabled":
        await this.#store.disableChannel(row.channel, outcome.error, new Date());
        await this.#store.markFailed(row.id, outcome.error);
        log.warn({ error: outcome.error }, "alert channel disabled by the receiver");
        return;
      case "retry": {
        if (row.attempts >= this.#config.maxAttempts) {
          await this.#store.markFailed(row.id, `gave up after ${row.attempts} attempts: ${outcome.error}`);
          log.warn({ error: outcome.error }, "alert delivery gave up");
          return;
        }
        const delay =
          outcome.retryAfterMs !== undefined
            ? Math.min(outcome.retryAfterMs, this.#config.maxRetryAfterMs)
            : this.backoffMs(row.attempts);
        await this.#store.markRetry(row.id, new Date(Date.now() + delay), outcome.error);
        log.info({ error: outcome.error, delayMs: Math.round(delay) }, "alert delivery will be retried");
        return;
      }
    }
  }

  /** Full jitter: random(0, min(cap, base * 2^(attempt-1))). */
  backoffMs(attempt: number): number {
    const ceiling = Math.min(
      this.#config.maxDelayMs,
      this.#config.baseDelayMs * 2 ** Math.max(0, attempt - 1),
    );
    return this.#random() * ceiling;
  }
}
