/**
 * Signed webhooks per the Standard Webhooks spec (standardwebhooks.com): headers
 * `webhook-id` (our stable delivery id: the same on every retry, so receivers dedupe),
 * `webhook-timestamp` (unix seconds of this attempt) and
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
 */
import { createHmac } from "node:crypto";
import type { z } from "zod";
import type { WebhookChannelSchema } from "../config/alert-config.js";
import {
  outcomeOf,
  postJson,
  type AlertChannel,
  type OutgoingDelivery,
  type SendOutcome,
} from "./channel.js";

export type WebhookChannelConfig = z.infer<typeof WebhookChannelSchema>;

/** `v1,<signature>` for one message; exported for receivers written in TypeScript. */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

export class WebhookChannel implements AlertChannel {
  readonly kind = "webhook";
  readonly name: string;
  readonly #config: WebhookChannelConfig;

  constructor(
    config: WebhookChannelConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.name = config.name;
    this.#config = config;
  }

  async send(delivery: OutgoingDelivery): Promise<SendOutcome> {
    const body = JSON.stringify(delivery.payload);
    const timestamp = Math.floor(this.now() / 1000);
    const res = await postJson(
      this.#config.url,
      body,
      {
        "webhook-id": delivery.id,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": signWebhook(this.#config.secret, delivery.id, timestamp, body),
      },
      this.#config.timeoutMs,
    );
    if (!(res instanceof Response)) return res;
    if (res.status === 410) {
      await res.arrayBuffer();
      // The spec's signal that the endpoint is gone for good.
      return { kind: "disabled", error: "HTTP 410 Gone" };
    }
    return outcomeOf(res, this.now());
  }
}
