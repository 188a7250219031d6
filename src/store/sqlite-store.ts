/**
 * The embedded default Store on better-sqlite3.
 *
 * Durability: WAL journal. `synchronous=FULL` by default: every commit is fsynced, so a
 * recorded incident survives SIGKILL of the process AND a power loss. `normal` is offered for
 * disks where fsync is slow: in WAL mode it still survives a process crash (the WAL is in the
 * OS page cache and is replayed on the next open) but the last commits may be lost on power
 * loss. Incidents are written a few times a minute at most, so FULL costs nothing noticeable.
 */
import Database from "better-sqlite3";
import { StreamqcError } from "../errors.js";
import { roundTime, SEVERITIES, type Severity } from "../incident.js";
import { newId } from "./ids.js";
import {
  SEVERITY_RANK,
  type AlertEvent,
  type AlertState,
  type ChannelState,
  type DeliveryRecord,
  type DeliveryStatus,
  type EvidenceRecord,
  type IncidentPatch,
  type IncidentQuery,
  type IncidentCount,
  type DeliveryCount,
  type Acknowledgement,
  type Json,
  type Labels,
  type MaintenanceWindow,
  type NewDelivery,
  type NewEvidence,
  type NewIncident,
  type NewMaintenanceWindow,
  type NewStream,
  type Page,
  type Store,
  type StoredIncident,
  type StreamPatch,
  type StreamRecord,
  type StreamReport,
  windowCovers,
} from "./store.js";

export interface SqliteStoreOptions {
  /** `full` (default) survives power loss; `normal` survives a process crash only. */
  readonly synchronous?: "full" | "normal";
}

/** Schema migrations by version (`PRAGMA user_version`); append, never edit a shipped one. */
const MIGRATIONS: readonly string[] = [
  `
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
  // 2: deleting a stream keeps its recorded incidents (they are never lost); the row is kept,
  // marked deleted and renamed so the name can be used again.
  `
  ALTER TABLE streams ADD COLUMN deleted_ms INTEGER;
  `,
  // 3: operators acknowledge incidents (who, when, why; the first acknowledgement stands), and
  // a maintenance window may mute a set of streams by labels (JSON object, all must match).
  `
  ALTER TABLE incidents ADD COLUMN ack_ms INTEGER;
  ALTER TABLE incidents ADD COLUMN ack_by TEXT;
  ALTER TABLE incidents ADD COLUMN ack_comment TEXT;
  ALTER TABLE maintenance_windows ADD COLUMN labels TEXT;
  ALTER TABLE maintenance_windows ADD COLUMN created_by TEXT;
  `,
];

interface StreamRow {
  id: string;
  name: string;
  url: string;
  profile: string;
  labels: string;
  enabled: number;
  created_at: string;
  updated_at: string;
}

interface IncidentRow {
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

interface EvidenceRow {
  incident_id: string;
  name: string;
  content_type: string;
  blob_key: string;
  size: number;
  created_at: string;
}

interface OutboxRow {
  id: string;
  incident_id: string;
  event: string;
  channel: string;
  payload: string;
  status: string;
  attempts: number;
  next_attempt_ms: number;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

interface WindowRow {
  id: string;
  stream_id: string | null;
  starts_ms: number;
  ends_ms: number;
  reason: string;
  labels: string | null;
  created_by: string | null;
}

const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;
// Evidence names end up in URLs and file names: keep them boring.
const EVIDENCE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

function toMs(iso: string, what: string): number {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw new StreamqcError("SQM_ERR_USAGE", `${what} is not a valid date: ${iso}`);
  return ms;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** A stable delivery id; receivers dedupe on it (see alert/dispatcher.ts). */
export function deliveryId(incidentId: string, event: AlertEvent, channel: string, revision: number): string {
  return event === "update"
    ? `${incidentId}.update-${revision}.${channel}`
    : `${incidentId}.${event}.${channel}`;
}

export class SqliteStore implements Store {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  #closed = false;

  constructor(file: string, options: SqliteStoreOptions = {}) {
    try {
      this.#db = new Database(file);
      this.#db.pragma("journal_mode = WAL");
      this.#db.pragma(`synchronous = ${options.synchronous === "normal" ? "NORMAL" : "FULL"}`);
      this.#db.pragma("foreign_keys = ON");
      // Two processes (serve + a CLI) may share the file; wait for a writer instead of failing.
      this.#db.pragma("busy_timeout = 5000");
      this.#migrate();
    } catch (err) {
      throw new StreamqcError("SQM_ERR_STORE", `cannot open the database ${file}`, { cause: err });
    }
  }

  /** The schema version this code writes. */
  static readonly SCHEMA_VERSION = MIGRATIONS.length;

  #migrate(): void {
    const current = this.#db.pragma("user_version", { simple: true }) as number;
    if (current > MIGRATIONS.length) {
      throw new StreamqcError(
        "SQM_ERR_STORE",
        `the database schema is version ${current}, newer than this program (${MIGRATIONS.length})`,
      );
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      this.#db.transaction(() => {
        this.#db.exec(MIGRATIONS[v]!);
        this.#db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  #stmt(sql: string): Database.Statement {
    this.#assertOpen();
    let s = this.#statements.get(sql);
    if (s === undefined) {
      s = this.#db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }

  /** Runs synchronous SQLite work behind the async Store contract; throws become rejections. */
  #run<T>(work: () => T): Promise<T> {
    try {
      return Promise.resolve(work());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new StreamqcError("SQM_ERR_CLOSED", "the store is closed");
  }

  // ---- streams

  #streamFromRow(r: StreamRow): StreamRecord {
    return {
      id: r.id,
      name: r.name,
      url: r.url,
      profile: JSON.parse(r.profile) as Json,
      labels: JSON.parse(r.labels) as Labels,
      enabled: r.enabled === 1,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    };
  }

  createStream(stream: NewStream): Promise<StreamRecord> {
    return this.#run(() => {
      const now = new Date().toISOString();
      const id = newId();
      try {
        this.#stmt(
          `INSERT INTO streams (id, name, url, profile, labels, enabled, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          id,
          stream.name,
          stream.url,
          JSON.stringify(stream.profile ?? null),
          JSON.stringify(stream.labels ?? {}),
          stream.enabled === false ? 0 : 1,
          now,
          now,
        );
      } catch (err) {
        throw this.#conflict(err, `a stream named ${stream.name} exists`);
      }
      return this.#getStream(id)!;
    });
  }

  #conflict(err: unknown, message: string): unknown {
    if (err instanceof Error && "code" in err && String(err.code).startsWith("SQLITE_CONSTRAINT")) {
      return new StreamqcError("SQM_ERR_CONFLICT", message, { cause: err });
    }
    return err;
  }

  #getStream(id: string): StreamRecord | null {
    const r = this.#stmt("SELECT * FROM streams WHERE id = ? AND deleted_ms IS NULL").get(id) as
      StreamRow | undefined;
    return r === undefined ? null : this.#streamFromRow(r);
  }

  getStream(id: string): Promise<StreamRecord | null> {
    return this.#run(() => {
      return this.#getStream(id);
    });
  }

  getStreamByName(name: string): Promise<StreamRecord | null> {
    return this.#run(() => {
      const r = this.#stmt("SELECT * FROM streams WHERE name = ? AND deleted_ms IS NULL").get(name) as
        StreamRow | undefined;
      return r === undefined ? null : this.#streamFromRow(r);
    });
  }

  listStreams(): Promise<readonly StreamRecord[]> {
    return this.#run(() => {
      const rows = this.#stmt(
        "SELECT * FROM streams WHERE deleted_ms IS NULL ORDER BY name",
      ).all() as StreamRow[];
      return rows.map((r) => this.#streamFromRow(r));
    });
  }

  updateStream(id: string, patch: StreamPatch): Promise<StreamRecord> {
    return this.#run(() => {
      const old = this.#getStream(id);
      if (old === null) throw new StreamqcError("SQM_ERR_NOT_FOUND", `no stream ${id}`);
      const name = patch.name ?? old.name;
      try {
        this.#stmt(
          `UPDATE streams SET name = ?, url = ?, profile = ?, labels = ?, enabled = ?, updated_at = ? WHERE id = ?`,
        ).run(
          name,
          patch.url ?? old.url,
          JSON.stringify(patch.profile !== undefined ? patch.profile : old.profile),
          JSON.stringify(patch.labels ?? old.labels),
          (patch.enabled ?? old.enabled) ? 1 : 0,
          new Date().toISOString(),
          id,
        );
      } catch (err) {
        throw this.#conflict(err, `a stream named ${name} exists`);
      }
      return this.#getStream(id)!;
    });
  }

  deleteStream(id: string): Promise<void> {
    return this.#run(() => {
      this.#stmt(
        "UPDATE streams SET deleted_ms = ?, enabled = 0, name = name || '~deleted~' || id WHERE id = ? AND deleted_ms IS NULL",
      ).run(Date.now(), id);
    });
  }

  // ---- incidents

  #incidentFromRow(r: IncidentRow, evidence: readonly EvidenceRecord[]): StoredIncident {
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
        r.ack_ms === null ? null : { at: iso(r.ack_ms), by: r.ack_by ?? "", comment: r.ack_comment },
    };
  }

  #getIncident(id: string): StoredIncident | null {
    const r = this.#stmt("SELECT * FROM incidents WHERE id = ?").get(id) as IncidentRow | undefined;
    return r === undefined ? null : this.#incidentFromRow(r, this.#listEvidence(id));
  }

  #insertDeliveries(incidentId: string, revision: number, deliveries: readonly NewDelivery[]): void {
    const now = Date.now();
    // OR IGNORE: enqueueing the same (incident, event, channel) twice is a no-op, never a duplicate alert.
    const insert = this.#stmt(
      `INSERT OR IGNORE INTO outbox (id, incident_id, event, channel, payload, status, attempts, next_attempt_ms, created_at)
       VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)`,
    );
    for (const d of deliveries) {
      insert.run(
        deliveryId(incidentId, d.event, d.channel, revision),
        incidentId,
        d.event,
        d.channel,
        JSON.stringify(d.payload),
        now,
        iso(now),
      );
    }
  }

  recordIncident(incident: NewIncident, deliveries: readonly NewDelivery[]): Promise<StoredIncident> {
    return this.#run(() => {
      if (!SEVERITIES.includes(incident.severity)) {
        throw new StreamqcError("SQM_ERR_USAGE", `unknown severity ${String(incident.severity)}`);
      }
      const id = incident.id ?? newId();
      const startedMs = toMs(incident.startedAt, "startedAt");
      const endedMs =
        incident.endedAt === undefined || incident.endedAt === null
          ? null
          : toMs(incident.endedAt, "endedAt");
      this.#db.transaction(() => {
        const stream = this.#getStream(incident.streamId);
        if (stream === null) throw new StreamqcError("SQM_ERR_NOT_FOUND", `no stream ${incident.streamId}`);
        try {
          this.#stmt(
            `INSERT INTO incidents (id, stream_id, stream_name, type, severity, severity_rank, media_start, media_end,
               started_ms, ended_ms, details, alert_state, revision)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`,
          ).run(
            id,
            stream.id,
            stream.name,
            incident.type,
            incident.severity,
            SEVERITY_RANK[incident.severity],
            incident.start,
            incident.end ?? null,
            startedMs,
            endedMs,
            JSON.stringify(incident.details ?? {}),
            incident.alertState ?? "queued",
          );
        } catch (err) {
          throw this.#conflict(err, `an incident ${id} exists`);
        }
        this.#insertDeliveries(id, 0, deliveries);
      })();
      return this.#getIncident(id)!;
    });
  }

  updateIncident(
    id: string,
    patch: IncidentPatch,
    deliveries: readonly NewDelivery[],
  ): Promise<StoredIncident> {
    return this.#run(() => {
      this.#db.transaction(() => {
        const old = this.#stmt("SELECT * FROM incidents WHERE id = ?").get(id) as IncidentRow | undefined;
        if (old === undefined) throw new StreamqcError("SQM_ERR_NOT_FOUND", `no incident ${id}`);
        const severity = patch.severity ?? (old.severity as Severity);
        const revision = old.revision + 1;
        const endedMs =
          patch.endedAt === undefined
            ? old.ended_ms
            : patch.endedAt === null
              ? null
              : toMs(patch.endedAt, "endedAt");
        this.#stmt(
          `UPDATE incidents SET media_end = ?, ended_ms = ?, severity = ?, severity_rank = ?, details = ?, revision = ?
           WHERE id = ?`,
        ).run(
          patch.end === undefined ? old.media_end : patch.end,
          endedMs,
          severity,
          SEVERITY_RANK[severity],
          patch.details === undefined ? old.details : JSON.stringify(patch.details),
          revision,
          id,
        );
        this.#insertDeliveries(id, revision, deliveries);
      })();
      return this.#getIncident(id)!;
    });
  }

  getIncident(id: string): Promise<StoredIncident | null> {
    return this.#run(() => {
      return this.#getIncident(id);
    });
  }

  acknowledgeIncident(id: string, ack: Acknowledgement): Promise<StoredIncident | null> {
    return this.#run(() => {
      const at = toMs(ack.at, "at");
      // `ack_ms IS NULL`: the first acknowledgement stands; a repeat changes nothing.
      this.#stmt(
        "UPDATE incidents SET ack_ms = ?, ack_by = ?, ack_comment = ? WHERE id = ? AND ack_ms IS NULL",
      ).run(at, ack.by, ack.comment, id);
      return this.#getIncident(id);
    });
  }

  queryIncidents(query: IncidentQuery): Promise<Page<StoredIncident>> {
    return this.#run(() => {
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (query.streamId !== undefined) {
        where.push("stream_id = ?");
        args.push(query.streamId);
      }
      if (query.stream !== undefined) {
        where.push("stream_name = ?");
        args.push(query.stream);
      }
      if (query.type !== undefined) {
        // A name without a dot is a family: `hls` matches every `hls.*` type.
        if (query.type.includes(".")) {
          where.push("type = ?");
          args.push(query.type);
        } else {
          where.push("(type = ? OR substr(type, 1, ?) = ?)");
          args.push(query.type, query.type.length + 1, `${query.type}.`);
        }
      }
      if (query.severity !== undefined) {
        where.push("severity_rank >= ?");
        args.push(SEVERITY_RANK[query.severity]);
      }
      const byMedia = query.timeField === "start";
      const bound = (v: string | number, what: string): number => {
        if (byMedia) {
          if (typeof v !== "number")
            throw new StreamqcError("SQM_ERR_USAGE", `${what} must be media seconds`);
          return v;
        }
        return typeof v === "number" ? v : toMs(v, what);
      };
      const column = byMedia ? "media_start" : "started_ms";
      if (query.from !== undefined) {
        where.push(`${column} >= ?`);
        args.push(bound(query.from, "from"));
      }
      if (query.to !== undefined) {
        where.push(`${column} < ?`);
        args.push(bound(query.to, "to"));
      }
      if (query.open !== undefined) where.push(query.open ? "media_end IS NULL" : "media_end IS NOT NULL");
      if (query.acknowledged !== undefined)
        where.push(query.acknowledged ? "ack_ms IS NOT NULL" : "ack_ms IS NULL");
      if (query.cursor !== undefined) {
        const c = decodeCursor(query.cursor);
        where.push("(started_ms < ? OR (started_ms = ? AND id < ?))");
        args.push(c.s, c.s, c.i);
      }
      const limit = Math.min(Math.max(1, Math.floor(query.limit ?? DEFAULT_PAGE)), MAX_PAGE);
      const sql =
        `SELECT * FROM incidents ${where.length > 0 ? "WHERE " + where.join(" AND ") : ""}` +
        ` ORDER BY started_ms DESC, id DESC LIMIT ?`;
      const rows = this.#stmt(sql).all(...args, limit + 1) as IncidentRow[];
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      const evidence = this.#evidenceFor(page.map((r) => r.id));
      const items = page.map((r) => this.#incidentFromRow(r, evidence.get(r.id) ?? []));
      const last = page[page.length - 1];
      return {
        items,
        next: more && last !== undefined ? encodeCursor({ s: last.started_ms, i: last.id }) : null,
      };
    });
  }

  countIncidents(): Promise<readonly IncidentCount[]> {
    return this.#run(() => {
      return this.#stmt(
        "SELECT stream_name AS stream, type, severity, count(*) AS count FROM incidents GROUP BY stream_name, type, severity",
      ).all() as IncidentCount[];
    });
  }

  countDeliveries(): Promise<readonly DeliveryCount[]> {
    return this.#run(() => {
      return this.#stmt(
        "SELECT channel, status, count(*) AS count, coalesce(sum(attempts), 0) AS attempts FROM outbox GROUP BY channel, status",
      ).all() as DeliveryCount[];
    });
  }

  lastAlertedStart(streamId: string, type: string): Promise<string | null> {
    return this.#run(() => {
      const r = this.#stmt(
        `SELECT max(started_ms) AS ms FROM incidents WHERE stream_id = ? AND type = ? AND alert_state = 'queued'`,
      ).get(streamId, type) as { ms: number | null };
      return r.ms === null ? null : iso(r.ms);
    });
  }

  // ---- evidence

  #evidenceFromRow(r: EvidenceRow): EvidenceRecord {
    return {
      incidentId: r.incident_id,
      name: r.name,
      contentType: r.content_type,
      blobKey: r.blob_key,
      size: r.size,
      createdAt: r.created_at,
    };
  }

  #listEvidence(incidentId: string): EvidenceRecord[] {
    const rows = this.#stmt("SELECT * FROM evidence WHERE incident_id = ? ORDER BY created_at, name").all(
      incidentId,
    ) as EvidenceRow[];
    return rows.map((r) => this.#evidenceFromRow(r));
  }

  #evidenceFor(ids: readonly string[]): Map<string, EvidenceRecord[]> {
    const out = new Map<string, EvidenceRecord[]>();
    if (ids.length === 0) return out;
    // Not cached: the placeholder count varies with the page size.
    const rows = this.#db
      .prepare(
        `SELECT * FROM evidence WHERE incident_id IN (${ids.map(() => "?").join(",")}) ORDER BY created_at, name`,
      )
      .all(...ids) as EvidenceRow[];
    for (const r of rows) {
      let list = out.get(r.incident_id);
      if (list === undefined) out.set(r.incident_id, (list = []));
      list.push(this.#evidenceFromRow(r));
    }
    return out;
  }

  addEvidence(evidence: NewEvidence): Promise<EvidenceRecord> {
    return this.#run(() => {
      if (!EVIDENCE_NAME.test(evidence.name)) {
        throw new StreamqcError(
          "SQM_ERR_USAGE",
          `evidence name ${JSON.stringify(evidence.name)} is not valid`,
        );
      }
      const createdAt = new Date().toISOString();
      try {
        this.#stmt(
          `INSERT INTO evidence (incident_id, name, content_type, blob_key, size, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
        ).run(
          evidence.incidentId,
          evidence.name,
          evidence.contentType,
          evidence.blobKey,
          evidence.size,
          createdAt,
        );
      } catch (err) {
        if (err instanceof Error && "code" in err && err.code === "SQLITE_CONSTRAINT_FOREIGNKEY") {
          throw new StreamqcError("SQM_ERR_NOT_FOUND", `no incident ${evidence.incidentId}`, { cause: err });
        }
        throw this.#conflict(err, `evidence ${evidence.name} of ${evidence.incidentId} exists`);
      }
      return { ...evidence, createdAt };
    });
  }

  listEvidence(incidentId: string): Promise<readonly EvidenceRecord[]> {
    return this.#run(() => {
      return this.#listEvidence(incidentId);
    });
  }

  // ---- outbox

  #deliveryFromRow(r: OutboxRow): DeliveryRecord {
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
      createdAt: r.created_at,
      deliveredAt: r.delivered_at,
    };
  }

  claimDueDeliveries(now: Date, limit: number, leaseMs: number): Promise<readonly DeliveryRecord[]> {
    return this.#run(() => {
      const nowMs = now.getTime();
      const claimed = this.#db.transaction(() => {
        const rows = this.#stmt(
          // A row waits while an earlier row of the same incident and channel is pending, so
          // a resolve never overtakes its trigger.
          `SELECT * FROM outbox AS o WHERE status = 'pending' AND next_attempt_ms <= ?
           AND NOT EXISTS (SELECT 1 FROM outbox AS p WHERE p.status = 'pending' AND p.incident_id = o.incident_id
             AND p.channel = o.channel AND p.rowid < o.rowid)
           ORDER BY next_attempt_ms, rowid LIMIT ?`,
        ).all(nowMs, limit) as OutboxRow[];
        const lease = this.#stmt(
          "UPDATE outbox SET next_attempt_ms = ?, attempts = attempts + 1 WHERE id = ?",
        );
        for (const r of rows) lease.run(nowMs + leaseMs, r.id);
        return rows.map((r) =>
          this.#deliveryFromRow({ ...r, attempts: r.attempts + 1, next_attempt_ms: nowMs + leaseMs }),
        );
      })();
      return claimed;
    });
  }

  markDelivered(id: string, at: Date): Promise<void> {
    return this.#run(() => {
      this.#stmt(
        "UPDATE outbox SET status = 'delivered', delivered_at = ?, last_error = NULL WHERE id = ? AND status = 'pending'",
      ).run(at.toISOString(), id);
    });
  }

  markRetry(id: string, nextAttemptAt: Date, error: string): Promise<void> {
    return this.#run(() => {
      this.#stmt(
        "UPDATE outbox SET next_attempt_ms = ?, last_error = ? WHERE id = ? AND status = 'pending'",
      ).run(nextAttemptAt.getTime(), error, id);
    });
  }

  markFailed(id: string, error: string): Promise<void> {
    return this.#run(() => {
      this.#stmt(
        "UPDATE outbox SET status = 'failed', last_error = ? WHERE id = ? AND status = 'pending'",
      ).run(error, id);
    });
  }

  getDelivery(id: string): Promise<DeliveryRecord | null> {
    return this.#run(() => {
      const r = this.#stmt("SELECT * FROM outbox WHERE id = ?").get(id) as OutboxRow | undefined;
      return r === undefined ? null : this.#deliveryFromRow(r);
    });
  }

  /** In the order they were enqueued (rowid breaks ties of rows written in the same millisecond). */
  listDeliveries(filter: {
    incidentId?: string;
    status?: DeliveryStatus;
    channel?: string;
  }): Promise<readonly DeliveryRecord[]> {
    return this.#run(() => {
      const rows = this.#stmt(
        `SELECT * FROM outbox WHERE (@incident IS NULL OR incident_id = @incident) AND (@status IS NULL OR status = @status)
         AND (@channel IS NULL OR channel = @channel) ORDER BY created_at, rowid`,
      ).all({
        incident: filter.incidentId ?? null,
        status: filter.status ?? null,
        channel: filter.channel ?? null,
      }) as OutboxRow[];
      return rows.map((r) => this.#deliveryFromRow(r));
    });
  }

  nextDueAt(): Promise<Date | null> {
    return this.#run(() => {
      const r = this.#stmt(
        "SELECT min(next_attempt_ms) AS ms FROM outbox WHERE status = 'pending'",
      ).get() as {
        ms: number | null;
      };
      return r.ms === null ? null : new Date(r.ms);
    });
  }

  disableChannel(channel: string, reason: string, at: Date): Promise<void> {
    return this.#run(() => {
      this.#stmt(
        `INSERT INTO channel_state (channel, disabled, reason, since) VALUES (?, 1, ?, ?)
         ON CONFLICT (channel) DO UPDATE SET disabled = 1, reason = excluded.reason, since = excluded.since`,
      ).run(channel, reason, at.toISOString());
    });
  }

  getChannelState(channel: string): Promise<ChannelState> {
    return this.#run(() => {
      const r = this.#stmt("SELECT * FROM channel_state WHERE channel = ?").get(channel) as
        { channel: string; disabled: number; reason: string | null; since: string | null } | undefined;
      return r === undefined
        ? { channel, disabled: false, reason: null, since: null }
        : { channel, disabled: r.disabled === 1, reason: r.reason, since: r.since };
    });
  }

  // ---- maintenance windows

  #windowFromRow(r: WindowRow): MaintenanceWindow {
    return {
      id: r.id,
      streamId: r.stream_id,
      labels: r.labels === null ? null : (JSON.parse(r.labels) as Labels),
      createdBy: r.created_by,
      startsAt: iso(r.starts_ms),
      endsAt: iso(r.ends_ms),
      reason: r.reason,
    };
  }

  addMaintenanceWindow(window: NewMaintenanceWindow): Promise<MaintenanceWindow> {
    return this.#run(() => {
      const starts = toMs(window.startsAt, "startsAt");
      const ends = toMs(window.endsAt, "endsAt");
      if (ends <= starts)
        throw new StreamqcError("SQM_ERR_USAGE", "a maintenance window must end after it starts");
      const labels = window.labels ?? null;
      if (labels !== null && window.streamId !== null) {
        throw new StreamqcError(
          "SQM_ERR_USAGE",
          "a maintenance window is for one stream or for labels, not both",
        );
      }
      const id = newId();
      this.#stmt(
        `INSERT INTO maintenance_windows (id, stream_id, starts_ms, ends_ms, reason, labels, created_by)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        id,
        window.streamId,
        starts,
        ends,
        window.reason,
        labels === null ? null : JSON.stringify(labels),
        window.createdBy ?? null,
      );
      return this.#windowFromRow({
        id,
        stream_id: window.streamId,
        starts_ms: starts,
        ends_ms: ends,
        reason: window.reason,
        labels: labels === null ? null : JSON.stringify(labels),
        created_by: window.createdBy ?? null,
      });
    });
  }

  /** The windows covering a stream, by its id and labels (matched here, so the SQL stays plain). */
  #windowsFor(streamId: string | undefined, rows: WindowRow[]): MaintenanceWindow[] {
    const windows = rows.map((r) => this.#windowFromRow(r));
    if (streamId === undefined) return windows;
    const stream = this.#stmt("SELECT id, labels FROM streams WHERE id = ?").get(streamId) as
      { id: string; labels: string } | undefined;
    const target = {
      id: streamId,
      labels: stream === undefined ? {} : (JSON.parse(stream.labels) as Labels),
    };
    return windows.filter((w) => windowCovers(w, target));
  }

  listMaintenanceWindows(streamId?: string): Promise<readonly MaintenanceWindow[]> {
    return this.#run(() => {
      const rows = this.#stmt(
        "SELECT * FROM maintenance_windows ORDER BY starts_ms, id",
      ).all() as WindowRow[];
      return this.#windowsFor(streamId, rows);
    });
  }

  getMaintenanceWindow(id: string): Promise<MaintenanceWindow | null> {
    return this.#run(() => {
      const r = this.#stmt("SELECT * FROM maintenance_windows WHERE id = ?").get(id) as WindowRow | undefined;
      return r === undefined ? null : this.#windowFromRow(r);
    });
  }

  deleteMaintenanceWindow(id: string): Promise<boolean> {
    return this.#run(() => {
      return this.#stmt("DELETE FROM maintenance_windows WHERE id = ?").run(id).changes > 0;
    });
  }

  inMaintenance(streamId: string, at: Date): Promise<boolean> {
    return this.#run(() => {
      const rows = this.#stmt(
        "SELECT * FROM maintenance_windows WHERE starts_ms <= ? AND ends_ms > ? ORDER BY starts_ms, id",
      ).all(at.getTime(), at.getTime()) as WindowRow[];
      return this.#windowsFor(streamId, rows).length > 0;
    });
  }

  // ---- settings

  getSetting(key: string): Promise<Json | undefined> {
    return this.#run(() => {
      const r = this.#stmt("SELECT value FROM settings WHERE key = ?").get(key) as
        { value: string } | undefined;
      return r === undefined ? undefined : (JSON.parse(r.value) as Json);
    });
  }

  setSetting(key: string, value: Json): Promise<void> {
    return this.#run(() => {
      this.#stmt(
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ).run(key, JSON.stringify(value));
    });
  }

  // ---- reports

  report(streamId: string, from: Date, to: Date, now: Date): Promise<StreamReport> {
    return this.#run(() => {
      const fromMs = from.getTime();
      const toMsClipped = Math.max(fromMs, Math.min(to.getTime(), now.getTime()));
      const rows = this.#stmt(
        `SELECT type, started_ms, ended_ms FROM incidents
         WHERE stream_id = ? AND started_ms < ? AND (ended_ms IS NULL OR ended_ms > ?)
         ORDER BY type, started_ms`,
      ).all(streamId, toMsClipped, fromMs) as { type: string; started_ms: number; ended_ms: number | null }[];
      const defectMs = new Map<string, number>();
      // Merge overlapping intervals per type so two overlapping incidents do not count twice.
      let type: string | null = null;
      let curStart = 0;
      let curEnd = 0;
      const flush = (): void => {
        if (type !== null && curEnd > curStart)
          defectMs.set(type, (defectMs.get(type) ?? 0) + curEnd - curStart);
      };
      for (const r of rows) {
        const s = Math.max(r.started_ms, fromMs);
        // Open incidents count to now.
        const e = Math.min(r.ended_ms ?? now.getTime(), toMsClipped);
        if (e <= s) continue;
        if (r.type !== type) {
          flush();
          type = r.type;
          curStart = s;
          curEnd = e;
        } else if (s <= curEnd) {
          curEnd = Math.max(curEnd, e);
        } else {
          flush();
          curStart = s;
          curEnd = e;
        }
      }
      flush();
      const periodSeconds = (toMsClipped - fromMs) / 1000;
      const downSeconds = (defectMs.get("stream.down") ?? 0) / 1000;
      const defectSeconds: Record<string, number> = {};
      for (const [t, ms] of defectMs) defectSeconds[t] = ms / 1000;
      return {
        streamId,
        from: iso(fromMs),
        to: iso(toMsClipped),
        periodSeconds,
        downSeconds,
        availability: periodSeconds > 0 ? 1 - downSeconds / periodSeconds : 1,
        defectSeconds,
      };
    });
  }

  /** `PRAGMA integrity_check`: "ok" on a sound file. */
  integrityCheck(): string {
    return this.#db.pragma("integrity_check", { simple: true }) as string;
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#statements.clear();
      this.#db.close();
    }
    return Promise.resolve();
  }
}

function encodeCursor(c: { s: number; i: string }): string {
  return Buffer.from(JSON.stringify(c)).toString("base64url");
}

function decodeCursor(cursor: string): { s: number; i: string } {
  try {
    const c = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (
      typeof c === "object" &&
      c !== null &&
      "s" in c &&
      "i" in c &&
      typeof c.s === "number" &&
      typeof c.i === "string"
    ) {
      return { s: c.s, i: c.i };
    }
  } catch {
    // fall through to the usage error
  }
  throw new StreamqcError("SQM_ERR_USAGE", "the cursor is not valid");
}
