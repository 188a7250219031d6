/**
 * The store contract: streams, incidents, evidence metadata, the alert outbox, maintenance
 * windows and settings. Every method is async so a PostgreSQL backend can implement the same
 * interface; `test/store/store-conformance.ts` is the executable definition of it.
 *
 * Durability rule (DESIGN.md, "Incidents are written before an alert is sent"): an incident
 * and the outbox rows that announce it are written in ONE transaction, so after a crash either
 * both exist or neither does, and the dispatcher never sends an alert for a lost incident.
 */
import type { Incident, Severity } from "../incident.js";
import type { Fence } from "./lease-port.js";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Labels = Readonly<Record<string, string>>;

export interface StreamRecord {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly profile: Json;
  readonly labels: Labels;
  readonly enabled: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface NewStream {
  readonly name: string;
  readonly url: string;
  readonly profile?: Json;
  readonly labels?: Labels;
  readonly enabled?: boolean;
}

export type StreamPatch = Partial<NewStream>;

export interface EvidenceRecord {
  readonly incidentId: string;
  /** File-like name, e.g. `before.jpg`, `during.jpg`, `levels.json`. */
  readonly name: string;
  readonly contentType: string;
  /** Key in the BlobStore that holds the bytes. */
  readonly blobKey: string;
  readonly size: number;
  readonly createdAt: string;
}

export type NewEvidence = Omit<EvidenceRecord, "createdAt">;

/**
 * What happened to the alert of an incident, decided when it was opened (alert-router.ts):
 * suppressed incidents are stored like any other; only their alert is not sent.
 */
export type AlertState = "queued" | "no-route" | "cooldown" | "maintenance";

/**
 * An operator's acknowledgement of an incident: who took it, when, and why. The first one
 * stands (an audit trail is not rewritten); the alarm lifecycle follows from it and the end:
 * open and unacknowledged (active) -> acknowledged -> cleared (closed, never acknowledged) ->
 * resolved (closed and acknowledged).
 */
export interface Acknowledgement {
  /** ISO 8601. */
  readonly at: string;
  readonly by: string;
  readonly comment: string | null;
}

/** The public incident schema plus the store's own fields. */
export interface StoredIncident extends Incident {
  readonly id: string;
  readonly streamId: string;
  readonly stream: string;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly alertState: AlertState;
  /** Bumped on every update; makes the delivery id of an `update` alert unique per revision. */
  readonly revision: number;
  readonly evidence: readonly EvidenceRecord[];
  readonly acknowledged: Acknowledgement | null;
}

export interface NewIncident {
  /** Given by the caller, or made by the store (time-sortable, ULID-like). */
  readonly id?: string;
  readonly streamId: string;
  readonly type: string;
  readonly severity: Severity;
  readonly start: number;
  readonly end?: number | null;
  readonly startedAt: string;
  readonly endedAt?: string | null;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly alertState?: AlertState;
}

export interface IncidentPatch {
  readonly end?: number | null;
  readonly endedAt?: string | null;
  readonly severity?: Severity;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** `ack`: an operator acknowledged the incident (channels that were told of it hear who). */
export type AlertEvent = "open" | "update" | "close" | "ack";

/** An outbox row to create together with an incident change. */
export interface NewDelivery {
  readonly event: AlertEvent;
  readonly channel: string;
  /** Channel-independent snapshot of what is announced (see alert/alert-payload.ts). */
  readonly payload: Json;
}

export type DeliveryStatus = "pending" | "delivered" | "failed";

export interface DeliveryRecord {
  /**
   * Stable per (incident, event, channel) — plus the revision for updates. Channels send it
   * as the idempotency key (`webhook-id`, PagerDuty `dedup_key` is the incident id).
   */
  readonly id: string;
  readonly incidentId: string;
  readonly event: AlertEvent;
  readonly channel: string;
  readonly payload: Json;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly nextAttemptAt: string;
  readonly lastError: string | null;
  readonly createdAt: string;
  readonly deliveredAt: string | null;
}

export interface IncidentQuery {
  readonly streamId?: string;
  readonly stream?: string;
  readonly type?: string;
  /** Minimum severity (inclusive). */
  readonly severity?: Severity;
  /** Range bounds: ISO 8601 when `timeField` is `startedAt` (default), media seconds when `start`. */
  readonly from?: string | number;
  readonly to?: string | number;
  readonly timeField?: "startedAt" | "start";
  readonly open?: boolean;
  /** Only acknowledged (true) or unacknowledged (false) incidents. */
  readonly acknowledged?: boolean;
  /** Opaque, from a previous page's `next`. */
  readonly cursor?: string;
  /** Default 50, at most 500. */
  readonly limit?: number;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Cursor of the next page; null on the last one. */
  readonly next: string | null;
}

export interface MaintenanceWindow {
  readonly id: string;
  /** The one stream it mutes; null with `labels` null mutes every stream. */
  readonly streamId: string | null;
  /**
   * With `streamId` null: mutes every stream whose labels include all of these (a set of
   * channels by region, team...). Null when the window is for one stream or for all.
   */
  readonly labels: Labels | null;
  /** Who made it (an operator through the API); null from the configuration. */
  readonly createdBy: string | null;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly reason: string;
}

export type NewMaintenanceWindow = Omit<MaintenanceWindow, "id" | "labels" | "createdBy"> & {
  readonly labels?: Labels | null;
  readonly createdBy?: string | null;
};

/** Whether a window's stream or label selector covers this stream (its time aside). */
export function windowCovers(
  w: Pick<MaintenanceWindow, "streamId" | "labels">,
  stream: { readonly id: string; readonly labels: Labels },
): boolean {
  if (w.streamId !== null) return w.streamId === stream.id;
  if (w.labels === null) return true;
  return Object.entries(w.labels).every(([k, v]) => stream.labels[k] === v);
}

export interface StreamReport {
  readonly streamId: string;
  readonly from: string;
  /** The end of the period, clipped to `now`. */
  readonly to: string;
  readonly periodSeconds: number;
  readonly downSeconds: number;
  /** 1 - downSeconds / periodSeconds; 1 for an empty period. */
  readonly availability: number;
  /** Wall-clock seconds covered by incidents of each type, overlaps merged. */
  readonly defectSeconds: Readonly<Record<string, number>>;
}

export interface ChannelState {
  readonly channel: string;
  readonly disabled: boolean;
  readonly reason: string | null;
  readonly since: string | null;
}

export interface IncidentCount {
  readonly stream: string;
  readonly type: string;
  readonly severity: Severity;
  readonly count: number;
}

export interface DeliveryCount {
  readonly channel: string;
  readonly status: DeliveryStatus;
  readonly count: number;
  readonly attempts: number;
}

/**
 * The store is split into the ports its users need (a dispatcher gets the outbox, an
 * evidence writer gets evidence), so each stage depends on the least it can; `Store` is all
 * of them, which each backend implements.
 */
export interface StreamStore {
  createStream(stream: NewStream): Promise<StreamRecord>;
  getStream(id: string): Promise<StreamRecord | null>;
  getStreamByName(name: string): Promise<StreamRecord | null>;
  listStreams(): Promise<readonly StreamRecord[]>;
  updateStream(id: string, patch: StreamPatch): Promise<StreamRecord>;
  /**
   * Deletes the stream: it is no longer listed or found, and its name is free again; its
   * recorded incidents, evidence and pending deliveries stay (incidents are never lost).
   */
  deleteStream(id: string): Promise<void>;
}

/**
 * Incidents and the outbox rows that announce them. A fleet worker passes its `fence` with
 * every write for a stream it owns: the write happens only while that (stream, epoch) lease
 * is held, in the same transaction, and is otherwise refused with `SQM_ERR_FENCED` having
 * written nothing (lease-port.ts). Without a fence the write is unconditional (one process).
 */
export interface IncidentStore {
  /** Stores the incident and its deliveries in one transaction. */
  recordIncident(
    incident: NewIncident,
    deliveries: readonly NewDelivery[],
    fence?: Fence,
  ): Promise<StoredIncident>;
  /** Updates (or closes, with `end`) the incident and enqueues its deliveries in one transaction. */
  updateIncident(
    id: string,
    patch: IncidentPatch,
    deliveries: readonly NewDelivery[],
    fence?: Fence,
  ): Promise<StoredIncident>;
  getIncident(id: string): Promise<StoredIncident | null>;
  /**
   * Records the acknowledgement unless the incident has one already (the first stands, so a
   * second operator's click changes nothing). Answers the incident as stored after it; null
   * for an unknown id. Does not bump `revision`. `deliveries` (the `ack` announcements) are
   * enqueued in the same transaction, and only by the acknowledgement that took effect.
   */
  acknowledgeIncident(
    id: string,
    ack: Acknowledgement,
    deliveries?: readonly NewDelivery[],
  ): Promise<StoredIncident | null>;
  queryIncidents(query: IncidentQuery): Promise<Page<StoredIncident>>;
  /**
   * The stream's incidents still open (no end), oldest first: a worker that takes a stream
   * over continues these instead of opening duplicates of them.
   */
  openIncidents(streamId: string): Promise<readonly StoredIncident[]>;
  /** Incidents stored, by stream name, type and severity (for metrics that survive restarts). */
  countIncidents(): Promise<readonly IncidentCount[]>;
  /** Latest `startedAt` of an incident of this stream and type whose alert was queued. */
  lastAlertedStart(streamId: string, type: string): Promise<string | null>;
}

export interface EvidenceStore {
  /** With a fence, refused (`SQM_ERR_FENCED`) unless the incident's stream is still held. */
  addEvidence(evidence: NewEvidence, fence?: Fence): Promise<EvidenceRecord>;
  listEvidence(incidentId: string): Promise<readonly EvidenceRecord[]>;
}

/** What the alert dispatcher needs: the outbox and the state of its channels. */
export interface OutboxStore {
  /**
   * Claims up to `limit` pending deliveries due at `now` by pushing their next attempt to
   * `now + leaseMs`: a dispatcher that dies mid-send leaves them to be re-sent after the lease.
   * A row is not claimed while an earlier row of the same incident and channel is pending
   * (per-incident, per-channel order: a close never overtakes its open). Two dispatchers
   * claiming at once never get the same row.
   */
  claimDueDeliveries(now: Date, limit: number, leaseMs: number): Promise<readonly DeliveryRecord[]>;
  markDelivered(id: string, at: Date): Promise<void>;
  markRetry(id: string, nextAttemptAt: Date, error: string): Promise<void>;
  markFailed(id: string, error: string): Promise<void>;
  getDelivery(id: string): Promise<DeliveryRecord | null>;
  listDeliveries(filter: {
    incidentId?: string;
    status?: DeliveryStatus;
    channel?: string;
  }): Promise<readonly DeliveryRecord[]>;
  /** Earliest `nextAttemptAt` of a pending delivery, so the dispatcher can sleep until then. */
  nextDueAt(): Promise<Date | null>;
  /** Outbox rows by channel and status, with their send attempts (for metrics). */
  countDeliveries(): Promise<readonly DeliveryCount[]>;

  disableChannel(channel: string, reason: string, at: Date): Promise<void>;
  getChannelState(channel: string): Promise<ChannelState>;
}

export interface MaintenanceStore {
  addMaintenanceWindow(window: NewMaintenanceWindow): Promise<MaintenanceWindow>;
  /**
   * Every window by start time; with `streamId`, only those covering that stream (its own,
   * label windows whose labels it has, and global ones).
   */
  listMaintenanceWindows(streamId?: string): Promise<readonly MaintenanceWindow[]>;
  getMaintenanceWindow(id: string): Promise<MaintenanceWindow | null>;
  /** True when it existed. */
  deleteMaintenanceWindow(id: string): Promise<boolean>;
  /** Whether a window covering this stream (its own, by labels, or all streams) contains `at`. */
  inMaintenance(streamId: string, at: Date): Promise<boolean>;
}

export interface SettingsStore {
  getSetting(key: string): Promise<Json | undefined>;
  setSetting(key: string, value: Json): Promise<void>;
}

/** One persisted history sample of a stream: its measurements at a wall-clock time. */
export interface HistoryRecord {
  /** Unix milliseconds. */
  readonly t: number;
  readonly sample: Json;
}

/** One stream's samples in a write of several streams (HistoryStore.appendHistories). */
export interface HistoryBatch {
  readonly streamId: string;
  readonly samples: readonly HistoryRecord[];
}

/**
 * The channel page's plots outlive a restart: the service keeps a downsampled copy of each
 * stream's measurement history (stream-history.ts) here, pruned to the hour the page shows.
 */
export interface HistoryStore {
  /**
   * Appends samples; one at an existing (stream, t) replaces it. Several streams' samples go
   * in one transaction (one commit: with SQLite's `synchronous=FULL`, one fsync instead of
   * one per stream, each on the service's thread).
   * Samples of a stream id the store does not know are skipped: they cannot fail the others.
   */
  appendHistories(batches: readonly HistoryBatch[]): Promise<void>;
  /** The stream's samples at or after `fromMs`, oldest first. */
  readHistory(streamId: string, fromMs: number): Promise<readonly HistoryRecord[]>;
  /** Deletes every stream's samples older than `beforeMs`; returns how many went. */
  pruneHistory(beforeMs: number): Promise<number>;
}

export interface ReportStore {
  report(streamId: string, from: Date, to: Date, now: Date): Promise<StreamReport>;
}

export interface Store
  extends
    StreamStore,
    IncidentStore,
    EvidenceStore,
    OutboxStore,
    MaintenanceStore,
    SettingsStore,
    HistoryStore,
    ReportStore {
  /** Idempotent; any use afterwards throws `SQM_ERR_CLOSED`. */
  close(): Promise<void>;
}

export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { info: 0, minor: 1, major: 2, critical: 3 };
