import type { ChannelConfig } from "../config/alert-config.js";
import type { AlertChannel } from "./channel.js";
import { PagerDutyChannel } from "./pagerduty-channel.js";
import { SlackChannel } from "./slack-channel.js";
import { WebhookChannel } from "./webhook-channel.js";

/** One channel per configured entry, in config order. */
export function createChannels(configs: readonly ChannelConfig[]): AlertChannel[] {
  return configs.map((c): AlertChannel => {
    switch (c.kind) {
      case "webhook":
        return new WebhookChannel(c);
      case "slack":
        return new SlackChannel(c);
      case "pagerduty":
        return new PagerDutyChannel(c);
    }
  });
}
