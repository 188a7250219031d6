/**
 * The PostgreSQL schema, step by step (the `schema_migrations` table records the steps
 * applied; see migrations.ts). Append, never edit a shipped step. Columns have the SQLite
 * schema's names and meanings (sqlite-schema.ts) so rows map to records in one place
 * (store-rows.ts); types are PostgreSQL's own (jsonb, boolean, timestamptz, bigint). Times that
 * are compared or paged on (`*_ms`) are epoch milliseconds in both backends, so the keyset
 * cursor and the reports are the same code.
 */
import type { Migration } from "./migrations.js";

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    name: "streams, incidents, evidence, outbox, channel state, maintenance windows, settings",
    sql: `
  CREATE TABLE streams (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    profile JSONB NOT NULL,
    labels JSONB NOT NULL,
    enabled BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    -- Soft delete: the row (and its incidents) stay; the name is freed by a rename.
    deleted_ms BIGINT
  );
  CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    stream_id TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
    stream_name TEXT NOT NULL,
    type TEXT NOT NULL,
    severity TEXT NOT NULL,
    severity_rank SMALLINT NOT NULL,
    media_start DOUBLE PRECISION NOT NULL,
    media_end DOUBLE PRECISION,
    started_ms BIGINT NOT NULL,
    ended_ms BIGINT,
    details JSONB NOT NULL,
    alert_state TEXT NOT NULL,
    revision INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX incidents_by_time ON incidents(started_ms DESC, id DESC);
  CREATE INDEX incidents_by_stream ON incidents(stream_id, started_ms DESC, id DESC);
  CREATE INDEX incidents_by_stream_type ON incidents(stream_id, type, started_ms DESC);
  -- A new owner of a stream looks up its open incidents on every takeover.
  CREATE INDEX incidents_open ON incidents(stream_id, started_ms) WHERE media_end IS NULL;
  CREATE TABLE evidence (
    incident_id TEXT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    blob_key TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (incident_id, name)
  );
  CREATE TABLE outbox (
    -- Enqueue order (SQLite's rowid): per incident and channel, an earlier row goes first.
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    channel TEXT NOT NULL,
    payload JSONB NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    delivered_at TIMESTAMPTZ
  );
  CREATE INDEX outbox_due ON outbox(next_attempt_ms, seq) WHERE status = 'pending';
  CREATE INDEX outbox_pending_order ON outbox(incident_id, channel, seq) WHERE status = 'pending';
  CREATE INDEX outbox_by_incident ON outbox(incident_id);
  CREATE TABLE channel_state (
    channel TEXT PRIMARY KEY,
    disabled BOOLEAN NOT NULL,
    reason TEXT,
    since TIMESTAMPTZ
  );
  CREATE TABLE maintenance_windows (
    id TEXT PRIMARY KEY,
    stream_id TEXT REFERENCES streams(id) ON DELETE CASCADE,
    starts_ms BIGINT NOT NULL,
    ends_ms BIGINT NOT NULL,
    reason TEXT NOT NULL
  );
  CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value JSONB NOT NULL
  );
  `,
  },
  {
    // The fleet's coordination state (lease-port.ts). Expiry is judged by the database's own
    // now() only, never by a worker's wall clock. Every stream has a lease row from its
    // creation (postgres-store.ts), so claims lock existing rows with FOR UPDATE SKIP LOCKED.
    name: "fleet: workers and stream_leases",
    sql: `
  CREATE TABLE workers (
    name TEXT PRIMARY KEY,
    pool TEXT NOT NULL,
    capacity INT NOT NULL,
    load DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_renewal TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE TABLE stream_leases (
    stream_id TEXT PRIMARY KEY REFERENCES streams(id) ON DELETE CASCADE,
    pool TEXT NOT NULL DEFAULT 'default',
    worker TEXT,
    epoch BIGINT NOT NULL DEFAULT 0,
    expires_at TIMESTAMPTZ,
    load DOUBLE PRECISION NOT NULL DEFAULT 0
  );
  CREATE INDEX stream_leases_by_worker ON stream_leases(worker) WHERE worker IS NOT NULL;
  CREATE INDEX stream_leases_by_pool ON stream_leases(pool, expires_at);
  INSERT INTO stream_leases (stream_id, pool)
    SELECT id, coalesce(profile->>'pool', 'default') FROM streams ON CONFLICT DO NOTHING;
  `,
  },
  {
    // As SQLite step 3: acknowledgements (the first stands) and windows by labels.
    name: "incidents.ack_*: acknowledgements; maintenance_windows.labels, created_by",
    sql: `
  ALTER TABLE incidents ADD COLUMN ack_ms BIGINT;
  ALTER TABLE incidents ADD COLUMN ack_by TEXT;
  ALTER TABLE incidents ADD COLUMN ack_comment TEXT;
  ALTER TABLE maintenance_windows ADD COLUMN labels JSONB;
  ALTER TABLE maintenance_windows ADD COLUMN created_by TEXT;
  `,
  },
  {
    // Where the API fetches what stays in a worker's memory (its streams' latest thumbnails
    // and last hour of measurements): the worker's live endpoint (worker-live-server.ts).
    name: "workers.live_url: each worker's live endpoint",
    sql: `
  ALTER TABLE workers ADD COLUMN live_url TEXT;
  `,
  },
];
