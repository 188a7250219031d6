/**
 * What an alert announces, independent of the channel. It is built when the incident change
 * is stored and kept verbatim in the outbox, so the outbox holds exactly what will be sent
 * and a retry hours later sends the same facts. Channels only re-shape it.
 */
import type { Incident } from "../incident.js";
import type {
  Acknowledgement,
  AlertEvent,
  Json,
  Labels,
  StoredIncident,
  StreamRecord,
} from "../store/store.js";

export type AlertType =
  "incident.opened" | "incident.updated" | "incident.resolved" | "incident.acknowledged";

export const ALERT_TYPES: Readonly<Record<AlertEvent, AlertType>> = {
  open: "incident.opened",
  update: "incident.updated",
  close: "incident.resolved",
  ack: "incident.acknowledged",
};

/** The webhook body, in the Standard Webhooks shape `{type, timestamp, data}`. */
export interface AlertPayload {
  readonly type: AlertType;
  /** Wall clock of the change (ISO 8601). */
  readonly timestamp: string;
  readonly data: {
    /** The public incident schema (DESIGN.md) with its id and wall-clock times. */
    readonly incident: Incident & {
      readonly id: string;
      readonly startedAt: string;
      readonly endedAt: string | null;
    };
    readonly stream: { readonly id: string; readonly name: string; readonly labels: Labels };
    /** `incident.acknowledged`: who acknowledged it, when, and why. */
    readonly acknowledged?: Acknowledgement;
  };
}

type IncidentFacts = Pick<
  StoredIncident,
  "id" | "type" | "severity" | "start" | "end" | "duration" | "details" | "startedAt" | "endedAt"
>;

export function buildPayload(
  event: AlertEvent,
  stream: StreamRecord,
  incident: IncidentFacts,
  timestamp: string,
  acknowledged?: Acknowledgement,
): AlertPayload {
  return {
    type: ALERT_TYPES[event],
    timestamp,
    data: {
      incident: {
        id: incident.id,
        stream: stream.name,
        type: incident.type,
        start: incident.start,
        end: incident.end,
        duration: incident.duration,
        severity: incident.severity,
        details: { ...incident.details },
        startedAt: incident.startedAt,
        endedAt: incident.endedAt,
      },
      stream: { id: stream.id, name: stream.name, labels: { ...stream.labels } },
      ...(acknowledged ? { acknowledged: { ...acknowledged } } : {}),
    },
  };
}

/** The outbox stores JSON; the payload is plain JSON by construction. */
export function payloadToJson(payload: AlertPayload): Json {
  return JSON.parse(JSON.stringify(payload)) as Json;
}

/** One line for humans (Slack text, PagerDuty summary, logs). */
export function summarize(p: AlertPayload): string {
  const i = p.data.incident;
  const what = `${i.type} on ${p.data.stream.name}`;
  if (p.type === "incident.acknowledged") {
    const a = p.data.acknowledged;
    return `Acknowledged by ${a?.by ?? "?"}: ${what}${a?.comment ? ` (${a.comment})` : ""}`;
  }
  if (p.type === "incident.resolved") {
    return `Resolved: ${what} after ${i.duration === null ? "?" : i.duration.toFixed(1)} s`;
  }
  const verb = p.type === "incident.updated" ? "Escalated" : "Incident";
  return `${verb} [${i.severity}]: ${what} at ${i.start.toFixed(2)} s media time`;
}
