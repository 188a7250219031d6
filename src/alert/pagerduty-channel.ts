/**
 * PagerDuty Events API v2: `trigger` when an incident opens (or escalates), `resolve` when
 * it closes, `acknowledge` when an operator acknowledges it on the wall, all with `dedup_key`
 * = incident id, so PagerDuty itself folds re-sends and pairs them with their trigger.
 */
import type { z } from "zod";
import type { PagerDutyChannelSchema } from "../config/alert-config.js";
import type { Severity } from "../incident.js";
import { summarize, type AlertPayload } from "./alert-payload.js";
import {
  outcomeOf,
  postJson,
  type AlertChannel,
  type OutgoingDelivery,
  type SendOutcome,
} from "./channel.js";

export type PagerDutyChannelConfig = z.infer<typeof PagerDutyChannelSchema>;

const PD_SEVERITY: Readonly<Record<Severity, "critical" | "error" | "warning" | "info">> = {
  critical: "critical",
  major: "error",
  minor: "warning",
  info: "info",
};

export function pagerDutyEvent(routingKey: string, source: string, p: AlertPayload): Record<string, unknown> {
  const i = p.data.incident;
  if (p.type === "incident.resolved") {
    return { routing_key: routingKey, event_action: "resolve", dedup_key: i.id };
  }
  if (p.type === "incident.acknowledged") {
    return { routing_key: routingKey, event_action: "acknowledge", dedup_key: i.id };
  }
  return {
    routing_key: routingKey,
    event_action: "trigger",
    dedup_key: i.id,
    payload: {
      summary: summarize(p).slice(0, 1024),
      severity: PD_SEVERITY[i.severity],
      source: `${source}/${p.data.stream.name}`,
      timestamp: i.startedAt,
      component: p.data.stream.name,
      class: i.type,
      custom_details: {
        stream: p.data.stream.name,
        labels: p.data.stream.labels,
        start: i.start,
        end: i.end,
        ...i.details,
      },
    },
  };
}

export class PagerDutyChannel implements AlertChannel {
  readonly kind = "pagerduty";
  readonly name: string;
  readonly #config: PagerDutyChannelConfig;

  constructor(config: PagerDutyChannelConfig) {
    this.name = config.name;
    this.#config = config;
  }

  async send(delivery: OutgoingDelivery): Promise<SendOutcome> {
    const url = `${this.#config.baseUrl.replace(/\/+$/, "")}/v2/enqueue`;
    const body = JSON.stringify(
      pagerDutyEvent(this.#config.routingKey, this.#config.source, delivery.payload),
    );
    const res = await postJson(url, body, {}, this.#config.timeoutMs);
    return res instanceof Response ? outcomeOf(res, Date.now()) : res;
  }
}
