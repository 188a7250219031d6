/**
 * The one way the monitor writes incidents when alerting is on: plan the alerts, store the
 * incident change and its outbox rows in one transaction, then wake the dispatcher. The
 * incident is durable before any alert leaves (DESIGN.md, "store").
 */
import { StreamqcError } from "../errors.js";
import { roundTime, type Severity } from "../incident.js";
import { newId } from "../store/ids.js";
import type { Fence } from "../store/lease-port.js";
import type { Acknowledgement, IncidentStore, StoredIncident, StreamStore } from "../store/store.js";
import type { AlertRouter } from "../alert/alert-router.js";

export interface OpenIncident {
  readonly streamId: string;
  readonly type: string;
  readonly severity: Severity;
  /** Media seconds. */
  readonly start: number;
  /** Wall clock of the onset; default now. */
  readonly startedAt?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export class IncidentWriter {
  readonly #store: StreamStore & IncidentStore;
  readonly #router: AlertRouter;
  readonly #notify: () => void;
  readonly #now: () => Date;

  constructor(options: {
    store: StreamStore & IncidentStore;
    router: AlertRouter;
    /** Called after a change enqueued deliveries, e.g. `() => dispatcher.notify()`. */
    notify?: () => void;
    now?: () => Date;
  }) {
    this.#store = options.store;
    this.#router = options.router;
    this.#notify = options.notify ?? (() => undefined);
    this.#now = options.now ?? (() => new Date());
  }

  async #stream(id: string) {
    const stream = await this.#store.getStream(id);
    if (stream === null) throw new StreamqcError("SQM_ERR_NOT_FOUND", `no stream ${id}`);
    return stream;
  }

  /**
   * Records an operator's acknowledgement and, in the same transaction, its announcement to
   * the channels that were told of the incident (only the first acknowledgement counts).
   */
  async acknowledge(before: StoredIncident, ack: Acknowledgement): Promise<StoredIncident | null> {
    // A deleted stream's incidents can still be acknowledged; there is no one to tell then.
    const stream = await this.#store.getStream(before.streamId);
    const plan = stream === null ? [] : await this.#router.planAck(stream, before, ack, this.#now());
    const after = await this.#store.acknowledgeIncident(before.id, ack, plan);
    if (plan.length > 0) this.#notify();
    return after;
  }

  /** `fence`: a fleet worker's lease on the stream; every write below is refused without it. */
  async open(incident: OpenIncident, fence?: Fence): Promise<StoredIncident> {
    const stream = await this.#stream(incident.streamId);
    const now = this.#now();
    const id = newId(now.getTime());
    const startedAt = incident.startedAt ?? now.toISOString();
    const details = { ...incident.details };
    const plan = await this.#router.planOpen(
      stream,
      { ...incident, id, startedAt, endedAt: null, end: null, duration: null, details },
      now,
    );
    const stored = await this.#store.recordIncident(
      { ...incident, id, startedAt, details, alertState: plan.alertState },
      plan.deliveries,
      fence,
    );
    if (plan.deliveries.length > 0) this.#notify();
    return stored;
  }

  async update(
    id: string,
    patch: { severity?: Severity; details?: Readonly<Record<string, unknown>> },
    fence?: Fence,
  ): Promise<StoredIncident> {
    const before = await this.#get(id);
    const stream = await this.#stream(before.streamId);
    const after = {
      ...before,
      severity: patch.severity ?? before.severity,
      details: { ...(patch.details ?? before.details) },
    };
    const deliveries = await this.#router.planUpdate(stream, before, after, this.#now());
    const stored = await this.#store.updateIncident(id, patch, deliveries, fence);
    if (deliveries.length > 0) this.#notify();
    return stored;
  }

  async close(
    id: string,
    end: number,
    options: { endedAt?: string; details?: Readonly<Record<string, unknown>> } = {},
    fence?: Fence,
  ): Promise<StoredIncident> {
    const before = await this.#get(id);
    if (before.end !== null) return before;
    const stream = await this.#stream(before.streamId);
    const now = this.#now();
    const endedAt = options.endedAt ?? now.toISOString();
    const details = { ...(options.details ?? before.details) };
    const after = { ...before, end, endedAt, duration: roundTime(end - before.start), details };
    const deliveries = await this.#router.planClose(stream, before, after, now);
    const stored = await this.#store.updateIncident(id, { end, endedAt, details }, deliveries, fence);
    if (deliveries.length > 0) this.#notify();
    return stored;
  }

  async #get(id: string): Promise<StoredIncident> {
    const inc = await this.#store.getIncident(id);
    if (inc === null) throw new StreamqcError("SQM_ERR_NOT_FOUND", `no incident ${id}`);
    return inc;
  }
}
