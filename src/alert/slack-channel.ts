/** Slack incoming webhooks: `text` (notifications, fallbacks) plus Block Kit blocks for the channel. */
import type { z } from "zod";
import type { SlackChannelSchema } from "../config/alert-config.js";
import { summarize, type AlertPayload } from "./alert-payload.js";
import {
  outcomeOf,
  postJson,
  type AlertChannel,
  type OutgoingDelivery,
  type SendOutcome,
} from "./channel.js";

export type SlackChannelConfig = z.infer<typeof SlackChannelSchema>;

const ICON: Readonly<Record<string, string>> = {
  "incident.opened": ":red_circle:",
  "incident.updated": ":large_orange_circle:",
  "incident.resolved": ":large_green_circle:",
  "incident.acknowledged": ":eyes:",
};

export interface SlackMessage {
  readonly text: string;
  readonly blocks: readonly Record<string, unknown>[];
}

export function slackMessage(p: AlertPayload): SlackMessage {
  const i = p.data.incident;
  const text = summarize(p);
  const fields = [
    `*Stream*\n${p.data.stream.name}`,
    `*Type*\n${i.type}`,
    `*Severity*\n${i.severity}`,
    `*Media time*\n${i.start.toFixed(2)} s${i.end === null ? "" : ` – ${i.end.toFixed(2)} s`}`,
    `*Started*\n${i.startedAt}`,
    ...(i.endedAt === null ? [] : [`*Ended*\n${i.endedAt}`]),
    ...(p.data.acknowledged
      ? [
          `*Acknowledged by*\n${p.data.acknowledged.by} at ${p.data.acknowledged.at}` +
            (p.data.acknowledged.comment ? `\n${p.data.acknowledged.comment}` : ""),
        ]
      : []),
  ];
  const details = Object.entries(i.details)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join("  ");
  return {
    text,
    blocks: [
      { type: "section", text: { type: "mrkdwn", text: `${ICON[p.type] ?? ""} *${text}*` } },
      { type: "section", fields: fields.map((f) => ({ type: "mrkdwn", text: f })) },
      ...(details === ""
        ? []
        : [{ type: "context", elements: [{ type: "mrkdwn", text: details.slice(0, 2000) }] }]),
      { type: "context", elements: [{ type: "mrkdwn", text: `incident \`${i.id}\`` }] },
    ],
  };
}

export class SlackChannel implements AlertChannel {
  readonly kind = "slack";
  readonly name: string;
  readonly #config: SlackChannelConfig;

  constructor(config: SlackChannelConfig) {
    this.name = config.name;
    this.#config = config;
  }

  async send(delivery: OutgoingDelivery): Promise<SendOutcome> {
    // Slack has no idempotency key: a crash between send and mark can post twice (documented in dispatcher.ts).
    const res = await postJson(
      this.#config.url,
      JSON.stringify(slackMessage(delivery.payload)),
      {},
      this.#config.timeoutMs,
    );
    return res instanceof Response ? outcomeOf(res, Date.now()) : res;
  }
}
