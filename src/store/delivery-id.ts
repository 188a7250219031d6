import type { AlertEvent } from "./store.js";

/**
 * A stable delivery id, the same in every backend; receivers dedupe on it (see
 * alert/dispatcher.ts). An update carries the incident's revision, so each revision is
 * announced once and a repeated enqueue of the same revision is a no-op.
 */
export function deliveryId(incidentId: string, event: AlertEvent, channel: string, revision: number): string {
  return event === "update"
    ? `${incidentId}.update-${revision}.${channel}`
    : `${incidentId}.${event}.${channel}`;
}
