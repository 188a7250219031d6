/**
 * Rows as both backends return them, and their records. Columns have the same names and
 * meanings in SQLite and PostgreSQL; JSON columns arrive as text (PostgreSQL selects
 * `jsonb::text`, so a JSON string value is never confused with text), times the driver may
 * return as a `Date` (PostgreSQL `timestamptz`) or ISO text (SQLite), flags as 0/1 or boolean.
 */
import { roundTime, type Severity } from "../incident.js";
import { iso } from "./store-input.js";
import type {
  AlertEvent,
  ChannelState,
  AlertState,
  DeliveryRecord,
  DeliveryStatus,
  EvidenceRecord,
  Json,
  Labels,
  MaintenanceWindow,
  StoredIncident,
  StreamRecord,
} from "./store.js";

type Time = string | Date;
type Flag = number | boolean;

const time = (t: Time): string => (typeof t === "string" ? t : t.toISOString());
const optionalTime = (t: Time | null): string | null => (t === null ? null : time(t));
const flag = (f: Flag): boolean => f === true || f === 1;

export interface StreamRow {
  id: string;
  name: string;
  url: string;
  profile: string;
  labels: string;
  enabled: Flag;
  created_at: Time;
  updated_at: Time;
}

export interface IncidentRow {
  id: string;
  stream_id: string;
  stream_name: string;
  type: string;
  severity: string;
  media_start: number;
  media_end: number | null;
  started_ms: number;
  ended_ms: number | null;
  details: string;
  alert_state: string;
  revision: number;
  ack_ms: number | null;
  ack_by: string | null;
  ack_comment: string | null;
}

export interface EvidenceRow {
  incident_id: string;
  name: string;
  content_type: string;
  blob_key: string;
  size: number;
  created_at: Time;
}

export interface OutboxRow {
  id: string;
  incident_id: string;
  event: string;
  channel: string;
  payload: string;
  status: string;
  attempts: number;
  next_attempt_ms: number;
  last_error: string | null;
  created_at: Time;
  delivered_at: Time | null;
}

export interface WindowRow {
  id: string;
  stream_id: string | null;
  starts_ms: number;
  ends_ms: number;
  reason: string;
  /** JSON object text, or null. */
  labels: string | null;
  created_by: string | null;
}

export interface ChannelRow {
  channel: string;
  disabled: Flag;
  reason: string | null;
  since: Time | null;
}

export function streamFromRow(r: StreamRow): StreamRecord {
  return {
    id: r.id,
    name: r.name,
    url: r.url,
    profile: JSON.parse(r.profile) as Json,
    labels: JSON.parse(r.labels) as Labels,
    enabled: flag(r.enabled),
    createdAt: time(r.created_at),
    updatedAt: time(r.updated_at),
  };
}

export function incidentFromRow(r: IncidentRow, evidence: readonly EvidenceRecord[]): StoredIncident {
  return {
    id: r.id,
    streamId: r.stream_id,
    stream: r.stream_name,
    type: r.type,
    start: r.media_start,
    end: r.media_end,
    duration: r.media_end === null ? null : roundTime(r.media_end - r.media_start),
    severity: r.severity as Severity,
    details: JSON.parse(r.details) as Record<string, unknown>,
    startedAt: iso(r.started_ms),
    endedAt: r.ended_ms === null ? null : iso(r.ended_ms),
    alertState: r.alert_state as AlertState,
    revision: r.revision,
    evidence,
    acknowledged:
      r.ack_ms === null || r.ack_ms === undefined
        ? null
        : { at: iso(r.ack_ms), by: r.ack_by ?? "", comment: r.ack_comment },
  };
}

export function evidenceFromRow(r: EvidenceRow): EvidenceRecord {
  return {
    incidentId: r.incident_id,
    name: r.name,
    contentType: r.content_type,
    blobKey: r.blob_key,
    size: r.size,
    createdAt: time(r.created_at),
  };
}

/** Evidence rows grouped by incident, in the order given. */
export function evidenceByIncident(rows: readonly EvidenceRow[]): Map<string, EvidenceRecord[]> {
  const out = new Map<string, EvidenceRecord[]>();
  for (const r of rows) {
    let list = out.get(r.incident_id);
    if (list === undefined) out.set(r.incident_id, (list = []));
    list.push(evidenceFromRow(r));
  }
  return out;
}

export function deliveryFromRow(r: OutboxRow): DeliveryRecord {
  return {
    id: r.id,
    incidentId: r.incident_id,
    event: r.event as AlertEvent,
    channel: r.channel,
    payload: JSON.parse(r.payload) as Json,
    status: r.status as DeliveryStatus,
    attempts: r.attempts,
    nextAttemptAt: iso(r.next_attempt_ms),
    lastError: r.last_error,
    createdAt: time(r.created_at),
    deliveredAt: optionalTime(r.delivered_at),
  };
}

export function windowFromRow(r: WindowRow): MaintenanceWindow {
  return {
    id: r.id,
    streamId: r.stream_id,
    labels: r.labels === null || r.labels === undefined ? null : (JSON.parse(r.labels) as Labels),
    createdBy: r.created_by ?? null,
    startsAt: iso(r.starts_ms),
    endsAt: iso(r.ends_ms),
    reason: r.reason,
  };
}

export function channelFromRow(channel: string, r: ChannelRow | undefined): ChannelState {
  return r === undefined
    ? { channel, disabled: false, reason: null, since: null }
    : { channel, disabled: flag(r.disabled), reason: r.reason, since: optionalTime(r.since) };
}
