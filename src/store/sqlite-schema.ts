/**
 * The SQLite schema, step by step (`PRAGMA user_version` counts the steps applied; see
 * migrations.ts). Append, never edit a shipped step. Column names and meanings match the
 * PostgreSQL schema (postgres-schema.ts), so rows map to records in one place (store-rows.ts).
 */
import type { Migration } from "./migrations.js";

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    name: "streams, incidents, evidence, outbox, channel state, maintenance windows, settings",
    sql: `
  CREATE TABLE streams (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    profile TEXT NOT NULL,
    labels TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    stream_id TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
    stream_name TEXT NOT NULL,
    type TEXT NOT NULL,
    severity TEXT NOT NULL,
    severity_rank INTEGER NOT NULL,
    media_start REAL NOT NULL,
    media_end REAL,
    started_ms INTEGER NOT NULL,
    ended_ms INTEGER,
    details TEXT NOT NULL,
    alert_state TEXT NOT NULL,
    revision INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX incidents_by_time ON incidents(started_ms DESC, id DESC);
  CREATE INDEX incidents_by_stream ON incidents(stream_id, started_ms DESC, id DESC);
  CREATE INDEX incidents_by_stream_type ON incidents(stream_id, type, started_ms DESC);
  CREATE TABLE evidence (
    incident_id TEXT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    blob_key TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (incident_id, name)
  );
  CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    channel TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT
  );
  CREATE INDEX outbox_due ON outbox(status, next_attempt_ms);
  CREATE INDEX outbox_by_incident ON outbox(incident_id);
  CREATE TABLE channel_state (
    channel TEXT PRIMARY KEY,
    disabled INTEGER NOT NULL,
    reason TEXT,
    since TEXT
  );
  CREATE TABLE maintenance_windows (
    id TEXT PRIMARY KEY,
    stream_id TEXT REFERENCES streams(id) ON DELETE CASCADE,
    starts_ms INTEGER NOT NULL,
    ends_ms INTEGER NOT NULL,
    reason TEXT NOT NULL
  );
  CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  },
  {
    // Deleting a stream keeps its recorded incidents (they are never lost); the row is kept,
    // marked deleted and renamed so the name can be used again.
    name: "streams.deleted_ms: soft delete",
    sql: `
  ALTER TABLE streams ADD COLUMN deleted_ms INTEGER;
  `,
  },
  {
    // Operators acknowledge incidents (who, when, why; the first acknowledgement stands), and
    // a maintenance window may mute a set of streams by labels (a JSON object, all must
    // match) and records who made it.
    name: "incidents.ack_*: acknowledgements; maintenance_windows.labels, created_by",
    sql: `
  ALTER TABLE incidents ADD COLUMN ack_ms INTEGER;
  ALTER TABLE incidents ADD COLUMN ack_by TEXT;
  ALTER TABLE incidents ADD COLUMN ack_comment TEXT;
  ALTER TABLE maintenance_windows ADD COLUMN labels TEXT;
  ALTER TABLE maintenance_windows ADD COLUMN created_by TEXT;
  `,
  },
  {
    // The channel page's history (downsampled to one sample per 10 s, kept an hour) so its
    // plots survive a restart. A deleted stream's samples go with it.
    name: "stream_history: persisted measurement history",
    sql: `
  CREATE TABLE stream_history (
    stream_id TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
    t_ms INTEGER NOT NULL,
    sample TEXT NOT NULL,
    PRIMARY KEY (stream_id, t_ms)
  );
  CREATE INDEX stream_history_by_time ON stream_history(t_ms);
  `,
  },
];
