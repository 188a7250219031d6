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
import type { Severity } from "../incident.js";
import { deliveryId } from "./delivery-id.js";
import { newId } from "./ids.js";
import { incidentPage, incidentQuerySql } from "./incident-query.js";
import type { Fence } from "./lease-port.js";
import { pendingMigrations } from "./migrations.js";
import { SQLITE_MIGRATIONS } from "./sqlite-schema.js";
import {
  checkEvidenceName,
  checkSeverity,
  iso,
  optionalMs,
  toMs,
  windowBounds,
  windowLabels,
} from "./store-input.js";
import {
  channelFromRow,
  deliveryFromRow,
  evidenceByIncident,
  evidenceFromRow,
  incidentFromRow,
  streamFromRow,
  windowFromRow,
  type ChannelRow,
  type EvidenceRow,
  type IncidentRow,
  type OutboxRow,
  type StreamRow,
  type WindowRow,
} from "./store-rows.js";
import {
  SEVERITY_RANK,
  windowCovers,
  type Acknowledgement,
  type ChannelState,
  type DeliveryCount,
  type DeliveryRecord,
  type DeliveryStatus,
  type EvidenceRecord,
  type HistoryBatch,
  type HistoryRecord,
  type IncidentCount,
  type IncidentPatch,
  type IncidentQuery,
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
} from "./store.js";
import { buildReport, INCIDENT_OVERLAP, reportPeriod, type ReportRow } from "./stream-report.js";

export interface SqliteStoreOptions {
  /** `full` (default) survives power loss; `normal` survives a process crash only. */
  readonly synchronous?: "full" | "normal";
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
  static readonly SCHEMA_VERSION = SQLITE_MIGRATIONS.length;

  #migrate(): void {
    const current = this.#db.pragma("user_version", { simple: true }) as number;
    for (const { version, migration } of pendingMigrations("SQLite", current, SQLITE_MIGRATIONS)) {
      this.#db.transaction(() => {
        this.#db.exec(migration.sql);
        this.#db.pragma(`user_version = ${version}`);
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
    return r === undefined ? null : streamFromRow(r);
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
      return r === undefined ? null : streamFromRow(r);
    });
  }

  listStreams(): Promise<readonly StreamRecord[]> {
    return this.#run(() => {
      const rows = this.#stmt(
        "SELECT * FROM streams WHERE deleted_ms IS NULL ORDER BY name",
      ).all() as StreamRow[];
      return rows.map((r) => streamFromRow(r));
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

  #getIncident(id: string): StoredIncident | null {
    const r = this.#stmt("SELECT * FROM incidents WHERE id = ?").get(id) as IncidentRow | undefined;
    return r === undefined ? null : incidentFromRow(r, this.#listEvidence(id));
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

  /** One process owns every stream: a fence is accepted as held (lease-port.ts). */
  recordIncident(
    incident: NewIncident,
    deliveries: readonly NewDelivery[],
    _fence?: Fence,
  ): Promise<StoredIncident> {
    return this.#run(() => {
      checkSeverity(incident.severity);
      const id = incident.id ?? newId();
      const startedMs = toMs(incident.startedAt, "startedAt");
      const endedMs = optionalMs(incident.endedAt, "endedAt");
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
    _fence?: Fence,
  ): Promise<StoredIncident> {
    return this.#run(() => {
      if (patch.severity !== undefined) checkSeverity(patch.severity);
      this.#db.transaction(() => {
        const old = this.#stmt("SELECT * FROM incidents WHERE id = ?").get(id) as IncidentRow | undefined;
        if (old === undefined) throw new StreamqcError("SQM_ERR_NOT_FOUND", `no incident ${id}`);
        const severity = patch.severity ?? (old.severity as Severity);
        const revision = old.revision + 1;
        const endedMs = patch.endedAt === undefined ? old.ended_ms : optionalMs(patch.endedAt, "endedAt");
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

  acknowledgeIncident(
    id: string,
    ack: Acknowledgement,
    deliveries: readonly NewDelivery[] = [],
  ): Promise<StoredIncident | null> {
    return this.#run(() => {
      this.#db.transaction(() => {
        // `ack_ms IS NULL`: the first acknowledgement stands; a repeat changes nothing.
        const { changes } = this.#stmt(
          "UPDATE incidents SET ack_ms = ?, ack_by = ?, ack_comment = ? WHERE id = ? AND ack_ms IS NULL",
        ).run(toMs(ack.at, "at"), ack.by, ack.comment, id);
        if (changes === 1) this.#insertDeliveries(id, 0, deliveries);
      })();
      return this.#getIncident(id);
    });
  }

  queryIncidents(query: IncidentQuery): Promise<Page<StoredIncident>> {
    return this.#run(() => {
      const q = incidentQuerySql(query);
      const rows = this.#stmt(`SELECT * FROM incidents ${q.clause}`).all(...q.args) as IncidentRow[];
      return incidentPage(rows, q.limit, (page) => {
        const evidence = this.#evidenceFor(page.map((r) => r.id));
        return page.map((r) => incidentFromRow(r, evidence.get(r.id) ?? []));
      });
    });
  }

  openIncidents(streamId: string): Promise<readonly StoredIncident[]> {
    return this.#run(() => {
      const rows = this.#stmt(
        "SELECT * FROM incidents WHERE stream_id = ? AND media_end IS NULL ORDER BY started_ms, id",
      ).all(streamId) as IncidentRow[];
      const evidence = this.#evidenceFor(rows.map((r) => r.id));
      return rows.map((r) => incidentFromRow(r, evidence.get(r.id) ?? []));
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

  #listEvidence(incidentId: string): EvidenceRecord[] {
    const rows = this.#stmt("SELECT * FROM evidence WHERE incident_id = ? ORDER BY created_at, name").all(
      incidentId,
    ) as EvidenceRow[];
    return rows.map((r) => evidenceFromRow(r));
  }

  #evidenceFor(ids: readonly string[]): Map<string, EvidenceRecord[]> {
    if (ids.length === 0) return new Map();
    // Not cached: the placeholder count varies with the page size.
    const rows = this.#db
      .prepare(
        `SELECT * FROM evidence WHERE incident_id IN (${ids.map(() => "?").join(",")}) ORDER BY created_at, name`,
      )
      .all(...ids) as EvidenceRow[];
    return evidenceByIncident(rows);
  }

  addEvidence(evidence: NewEvidence, _fence?: Fence): Promise<EvidenceRecord> {
    return this.#run(() => {
      checkEvidenceName(evidence.name);
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
          deliveryFromRow({ ...r, attempts: r.attempts + 1, next_attempt_ms: nowMs + leaseMs }),
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
      return r === undefined ? null : deliveryFromRow(r);
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
      return rows.map((r) => deliveryFromRow(r));
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
        ChannelRow | undefined;
      return channelFromRow(channel, r);
    });
  }

  // ---- maintenance windows

  addMaintenanceWindow(window: NewMaintenanceWindow): Promise<MaintenanceWindow> {
    return this.#run(() => {
      const { starts, ends } = windowBounds(window.startsAt, window.endsAt);
      const labels = windowLabels(window);
      const id = newId();
      const row: WindowRow = {
        id,
        stream_id: window.streamId,
        starts_ms: starts,
        ends_ms: ends,
        reason: window.reason,
        labels,
        created_by: window.createdBy ?? null,
      };
      this.#stmt(
        `INSERT INTO maintenance_windows (id, stream_id, starts_ms, ends_ms, reason, labels, created_by)
         VALUES (@id, @stream_id, @starts_ms, @ends_ms, @reason, @labels, @created_by)`,
      ).run(row);
      return windowFromRow(row);
    });
  }

  /** The windows covering a stream, by its id and labels (matched here, so the SQL stays plain). */
  #covering(streamId: string | undefined, rows: readonly WindowRow[]): MaintenanceWindow[] {
    const windows = rows.map((r) => windowFromRow(r));
    if (streamId === undefined) return windows;
    const stream = this.#stmt("SELECT labels FROM streams WHERE id = ?").get(streamId) as
      { labels: string } | undefined;
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
      return this.#covering(streamId, rows);
    });
  }

  getMaintenanceWindow(id: string): Promise<MaintenanceWindow | null> {
    return this.#run(() => {
      const r = this.#stmt("SELECT * FROM maintenance_windows WHERE id = ?").get(id) as WindowRow | undefined;
      return r === undefined ? null : windowFromRow(r);
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
      return this.#covering(streamId, rows).length > 0;
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

  // ---- history

  appendHistories(batches: readonly HistoryBatch[]): Promise<void> {
    return this.#run(() => {
      const insert = this.#stmt(
        "INSERT INTO stream_history (stream_id, t_ms, sample) SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM streams WHERE id = ?) ON CONFLICT (stream_id, t_ms) DO UPDATE SET sample = excluded.sample",
      );
      this.#db.transaction(() => {
        for (const b of batches) {
          for (const h of b.samples)
            insert.run(b.streamId, Math.round(h.t), JSON.stringify(h.sample), b.streamId);
        }
      })();
    });
  }

  readHistory(streamId: string, fromMs: number): Promise<readonly HistoryRecord[]> {
    return this.#run(() => {
      const rows = this.#stmt(
        "SELECT t_ms, sample FROM stream_history WHERE stream_id = ? AND t_ms >= ? ORDER BY t_ms",
      ).all(streamId, Math.round(fromMs)) as { t_ms: number; sample: string }[];
      return rows.map((r) => ({ t: r.t_ms, sample: JSON.parse(r.sample) as Json }));
    });
  }

  pruneHistory(beforeMs: number): Promise<number> {
    return this.#run(
      () => this.#stmt("DELETE FROM stream_history WHERE t_ms < ?").run(Math.round(beforeMs)).changes,
    );
  }

  // ---- reports

  report(streamId: string, from: Date, to: Date, now: Date): Promise<StreamReport> {
    return this.#run(() => {
      const period = reportPeriod(from, to, now);
      const rows = this.#stmt(
        `SELECT type, started_ms, ended_ms FROM incidents WHERE stream_id = ? AND ${INCIDENT_OVERLAP}
         ORDER BY type, started_ms`,
      ).all(streamId, period.toMs, period.fromMs) as ReportRow[];
      return buildReport(streamId, rows, period, now);
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
