/**
 * Decides, when an incident change is stored, which channels will hear of it, so the outbox
 * holds exactly what will be sent (nothing is filtered at send time but disabled channels).
 *
 * - Routes: a route matches when every label selector equals the stream's label and the
 *   severity is at least `minSeverity`; the channels of all matching routes are unioned.
 * - Maintenance: a stream inside a maintenance window gets no open alert.
 * - Cooldown: an open of the same (stream, type) within `cooldownSeconds` (by `startedAt`) of
 *   the last ALERTED one gets no alert.
 * Suppressed incidents are stored all the same, with `alertState` saying why
 * (`maintenance`, `cooldown`, `no-route`); only the alert is dropped, and so are their later
 * updates and close. An alerted incident's close goes to every channel that got its open,
 * even inside a maintenance window, so no pager is left triggered.
 *
 * The cooldown reads the store outside the incident's transaction: two opens of the same
 * (stream, type) must therefore come from one writer, which the monitor (one per stream) is.
 */
import type { AlertConfig, RouteConfig } from "../config/alert-config.js";
import {
  SEVERITY_RANK,
  type Acknowledgement,
  type AlertEvent,
  type AlertState,
  type NewDelivery,
  type IncidentStore,
  type MaintenanceStore,
  type OutboxStore,
  type StoredIncident,
  type StreamRecord,
} from "../store/store.js";
import type { Severity } from "../incident.js";
import { buildPayload, payloadToJson } from "./alert-payload.js";

type IncidentFacts = Parameters<typeof buildPayload>[2];

export interface OpenPlan {
  readonly alertState: AlertState;
  readonly deliveries: readonly NewDelivery[];
}

export function routeMatches(
  route: RouteConfig,
  labels: Readonly<Record<string, string>>,
  severity: Severity,
): boolean {
  if (SEVERITY_RANK[severity] < SEVERITY_RANK[route.minSeverity]) return false;
  return Object.entries(route.labels).every(([k, v]) => labels[k] === v);
}

/** What routing reads: channel state and past deliveries, maintenance windows, the last alert. */
export type RouterStore = Pick<OutboxStore, "getChannelState" | "listDeliveries"> &
  Pick<MaintenanceStore, "inMaintenance"> &
  Pick<IncidentStore, "lastAlertedStart">;

export class AlertRouter {
  readonly #config: AlertConfig;
  readonly #store: RouterStore;

  constructor(config: AlertConfig, store: RouterStore) {
    this.#config = config;
    this.#store = store;
  }

  /** Channels whose routes match, minus channels disabled by a 410. */
  async channelsFor(stream: StreamRecord, severity: Severity): Promise<string[]> {
    const names = new Set<string>();
    for (const r of this.#config.routes) {
      if (routeMatches(r, stream.labels, severity)) for (const c of r.channels) names.add(c);
    }
    const out: string[] = [];
    for (const name of names) {
      if (!(await this.#store.getChannelState(name)).disabled) out.push(name);
    }
    return out;
  }

  async planOpen(stream: StreamRecord, incident: IncidentFacts, now: Date): Promise<OpenPlan> {
    const channels = await this.channelsFor(stream, incident.severity);
    if (channels.length === 0) return { alertState: "no-route", deliveries: [] };
    if (await this.#store.inMaintenance(stream.id, new Date(incident.startedAt))) {
      return { alertState: "maintenance", deliveries: [] };
    }
    if (this.#config.cooldownSeconds > 0) {
      const last = await this.#store.lastAlertedStart(stream.id, incident.type);
      if (
        last !== null &&
        Date.parse(incident.startedAt) - Date.parse(last) < this.#config.cooldownSeconds * 1000
      ) {
        return { alertState: "cooldown", deliveries: [] };
      }
    }
    return { alertState: "queued", deliveries: this.#deliveries("open", channels, stream, incident, now) };
  }

  /** Severity rose on an alerted open incident: tell the channels that got its open. */
  async planUpdate(
    stream: StreamRecord,
    before: StoredIncident,
    after: IncidentFacts,
    now: Date,
  ): Promise<readonly NewDelivery[]> {
    if (!this.#config.alertOnEscalation || before.alertState !== "queued" || after.end !== null) return [];
    if (SEVERITY_RANK[after.severity] <= SEVERITY_RANK[before.severity]) return [];
    return this.#deliveries("update", await this.#openedChannels(before.id), stream, after, now);
  }

  async planClose(
    stream: StreamRecord,
    before: StoredIncident,
    after: IncidentFacts,
    now: Date,
  ): Promise<readonly NewDelivery[]> {
    if (before.alertState !== "queued") return [];
    return this.#deliveries("close", await this.#openedChannels(before.id), stream, after, now);
  }

  /** The channels told of the incident hear that an operator acknowledged it, and who. */
  async planAck(
    stream: StreamRecord,
    before: StoredIncident,
    ack: Acknowledgement,
    now: Date,
  ): Promise<readonly NewDelivery[]> {
    if (before.alertState !== "queued") return [];
    return this.#deliveries("ack", await this.#openedChannels(before.id), stream, before, now, ack);
  }

  async #openedChannels(incidentId: string): Promise<string[]> {
    const rows = await this.#store.listDeliveries({ incidentId });
    return rows.filter((r) => r.event === "open").map((r) => r.channel);
  }

  #deliveries(
    event: AlertEvent,
    channels: readonly string[],
    stream: StreamRecord,
    incident: IncidentFacts,
    now: Date,
    ack?: Acknowledgement,
  ): NewDelivery[] {
    const payload = payloadToJson(buildPayload(event, stream, incident, now.toISOString(), ack));
    return channels.map((channel) => ({ event, channel, payload }));
  }
}
