/**
 * The Store on PostgreSQL (node-postgres), for a fleet of processes sharing one database.
 * Only the SQL lives here: validation, paging, reports, delivery ids and row mapping are the
 * backend-neutral modules the SQLite store uses too.
 *
 * Concurrency: each write is one transaction. Outbox claims lock their rows with
 * `FOR UPDATE SKIP LOCKED`, so dispatchers claiming at once never get the same row. A fenced
 * write first takes a share lock on its stream's lease row, which must still be held at the
 * fence's epoch by the database's clock; a claim (`FOR UPDATE SKIP LOCKED`) therefore cannot
 * move the lease while the write is in flight, and a refused write rolls back whole
 * (`SQM_ERR_FENCED`): no incident, no evidence, no outbox row.
 *
 * Connection loss: an idle connection that dies is reported to `onConnectionError` (never an
 * uncaught 'error' event that would kill the process); a statement on a dead or unreachable
 * server fails with `SQM_ERR_STORE` naming the server; the pool reconnects on the next call.
 */
import pg from "pg";
import { StreamqcError } from "../errors.js";
import type { Severity } from "../incident.js";
import { deliveryId } from "./delivery-id.js";
import { newId } from "./ids.js";
import { incidentPage, incidentQuerySql } from "./incident-query.js";
import type { Fence } from "./lease-port.js";
import { pendingMigrations } from "./migrations.js";
import { POSTGRES_MIGRATIONS } from "./postgres-schema.js";
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

export interface PostgresStoreOptions {
  /**
   * Schema holding the tables (created when missing); default: the connection's search_path
   * (normally `public`). Lets several installations or tests share one database.
   */
  readonly schema?: string;
  /** Connections in the pool; default 10. */
  readonly poolSize?: number;
  /** Give up connecting after this long; default 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /** Server-side limit per statement; default 30 000 ms. */
  readonly statementTimeoutMs?: number;
  /**
   * Client-side limit per statement (no answer at all: a silent network cut, where the
   * server-side limit never reaches us); the connection is then dropped. Default: none.
   */
  readonly queryTimeoutMs?: number;
  /** `application_name` the server shows in pg_stat_activity; default `streamqc`. */
  readonly applicationName?: string;
  /** An idle pooled connection died (server restart, network cut); default: one stderr line. */
  readonly onConnectionError?: (err: Error) => void;
}

/** node-postgres's message when `query_timeout` passes without an answer. */
const QUERY_READ_TIMEOUT = "Query read timeout";

// Lowercase identifiers only: the schema name is put into SQL and a connection option.
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

// JSON columns are read as text so a JSON string value is never mistaken for text.
const STREAM_COLUMNS =
  "id, name, url, profile::text AS profile, labels::text AS labels, enabled, created_at, updated_at";
const INCIDENT_COLUMNS =
  "id, stream_id, stream_name, type, severity, media_start, media_end, started_ms, ended_ms, details::text AS details, alert_state, revision, ack_ms, ack_by, ack_comment";
const WINDOW_COLUMNS = "id, stream_id, starts_ms, ends_ms, reason, labels::text AS labels, created_by";
const OUTBOX_COLUMNS =
  "id, incident_id, event, channel, payload::text AS payload, status, attempts, next_attempt_ms, last_error, created_at, delivered_at";

// Connection-level failures (SQLSTATE class 08, server shutdown 57P0x) and socket errors.
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
]);

type Queryable = pg.Pool | pg.PoolClient;

/** `?` placeholders (shared SQL fragments) to PostgreSQL's `$1, $2, ...`. */
const numbered = new Map<string, string>();
function toDollar(sql: string): string {
  let out = numbered.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    numbered.set(sql, out);
  }
  return out;
}

export class PostgresStore implements Store {
  readonly #pool: pg.Pool;
  readonly #where: string;
  #closed = false;

  /** The schema version this code writes. */
  static readonly SCHEMA_VERSION = POSTGRES_MIGRATIONS.length;

  private constructor(pool: pg.Pool, where: string) {
    this.#pool = pool;
    this.#where = where;
  }

  /** Connects, migrates the schema to this program's version, and returns the store. */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new StreamqcError(
        "SQM_ERR_USAGE",
        "the database URL is not a URL (postgres://user:pass@host:port/db)",
      );
    }
    if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
      throw new StreamqcError(
        "SQM_ERR_USAGE",
        `the database URL must start with postgres://, not ${parsed.protocol}//`,
      );
    }
    const schema = options.schema;
    if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
      throw new StreamqcError(
        "SQM_ERR_USAGE",
        `schema ${JSON.stringify(schema)} is not a lowercase SQL identifier`,
      );
    }
    // Never print the password: name the server by host, port and database only.
    const where = `PostgreSQL at ${parsed.hostname}:${parsed.port || "5432"}${parsed.pathname}`;
    // bigint columns hold epoch milliseconds and counts, all far below 2^53: read them as numbers.
    const types = new pg.TypeOverrides();
    types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      idleTimeoutMillis: 30_000,
      statement_timeout: options.statementTimeoutMs ?? 30_000,
      // A client cut off in the middle of a transaction (a silent partition) leaves its
      // session idle in that transaction, holding its locks until the server's TCP keepalive
      // notices, two hours by default: the fence check's FOR SHARE on a lease row would keep
      // every claim (SKIP LOCKED) off that stream all that time. The server ends such a
      // session after the statement limit instead; our statements follow one another at once.
      idle_in_transaction_session_timeout: options.statementTimeoutMs ?? 30_000,
      ...(options.queryTimeoutMs !== undefined ? { query_timeout: options.queryTimeoutMs } : {}),
      application_name: options.applicationName ?? "streamqc",
      keepAlive: true,
      types,
      ...(schema !== undefined ? { options: `-c search_path=${schema}` } : {}),
    });
    const onError =
      options.onConnectionError ??
      ((err: Error) => process.stderr.write(`streamqc: ${where}: idle connection lost: ${err.message}\n`));
    // Without a listener, an idle client's error would be an uncaught 'error' event.
    pool.on("error", (err) => onError(err));
    const store = new PostgresStore(pool, where);
    try {
      await store.#migrate(schema);
    } catch (err) {
      await pool.end().catch(() => undefined);
      if (err instanceof StreamqcError) throw err;
      throw store.#storeError(err, `cannot open ${where}`);
    }
    return store;
  }

  /**
   * The pool, for the fleet's lease port (same connections, same schema). Statements written
   * against it see the tables this store migrated.
   */
  get pool(): pg.Pool {
    this.#assertOpen();
    return this.#pool;
  }

  async #migrate(schema: string | undefined): Promise<void> {
    await this.#tx(async (c) => {
      if (schema !== undefined) await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      // Processes starting together (serve + workers) migrate one at a time.
      await c.query("SELECT pg_advisory_xact_lock(hashtext('streamqc.migrate.' || current_schema()))");
      await c.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
           version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
      );
      const r = await c.query<{ v: number | null }>("SELECT max(version) AS v FROM schema_migrations");
      const current = r.rows[0]?.v ?? 0;
      for (const { version, migration } of pendingMigrations("PostgreSQL", current, POSTGRES_MIGRATIONS)) {
        await c.query(migration.sql);
        await c.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [
          version,
          migration.name,
        ]);
      }
    });
  }

  /** The schema version recorded in the database. */
  async schemaVersion(): Promise<number> {
    const r = await this.#q<{ v: number | null }>("SELECT max(version) AS v FROM schema_migrations");
    return r[0]?.v ?? 0;
  }

  // ---- plumbing

  #assertOpen(): void {
    if (this.#closed) throw new StreamqcError("SQM_ERR_CLOSED", "the store is closed");
  }

  async #q<R extends pg.QueryResultRow>(
    sql: string,
    args: readonly unknown[] = [],
    on?: Queryable,
  ): Promise<R[]> {
    this.#assertOpen();
    try {
      const r = await (on ?? this.#pool).query<R>(toDollar(sql), args as unknown[]);
      return r.rows;
    } catch (err) {
      throw this.#storeError(err);
    }
  }

  /** Runs `work` in one transaction on one connection; any throw rolls it back. */
  async #tx<T>(work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    this.#assertOpen();
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw this.#storeError(err);
    }
    let broken: Error | undefined;
    // A checked-out client has no listener for its 'error' event (the pool only listens
    // while it is idle), and a lost connection emits one besides failing the query: without
    // this the process would die of it. The query's own rejection reports the loss.
    const onError = (err: Error): void => {
      broken ??= err;
    };
    client.on("error", onError);
    try {
      await client.query("BEGIN");
      const out = await work(client);
      await client.query("COMMIT");
      return out;
    } catch (err) {
      try {
        // A statement that got no answer leaves the connection busy: a ROLLBACK would wait
        // as long again. Drop the connection; the server rolls back when it goes.
        if (err instanceof Error && err.message === QUERY_READ_TIMEOUT) throw err;
        await client.query("ROLLBACK");
      } catch (rollbackErr) {
        // The connection is unusable: drop it from the pool instead of reusing it.
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      }
      throw this.#storeError(err);
    } finally {
      client.removeListener("error", onError);
      client.release(broken);
    }
  }

  /** Our own errors pass; the server's constraint errors and lost connections get codes. */
  #storeError(err: unknown, context?: string): unknown {
    if (err instanceof StreamqcError) return err;
    if (!(err instanceof Error)) return err;
    const code = "code" in err && typeof err.code === "string" ? err.code : "";
    if (
      CONNECTION_CODES.has(code) ||
      code.startsWith("08") ||
      code.startsWith("57P") ||
      /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout/.test(
        err.message,
      )
    ) {
      return new StreamqcError(
        "SQM_ERR_STORE",
        `${context ?? this.#where}: connection failed: ${err.message}`,
        {
          cause: err,
        },
      );
    }
    if (context !== undefined)
      return new StreamqcError("SQM_ERR_STORE", `${context}: ${err.message}`, { cause: err });
    return err;
  }

  static #constraint(err: unknown): string | undefined {
    return err instanceof pg.DatabaseError ? err.code : undefined;
  }

  /**
   * The fence's lease must be held at its epoch, unexpired by the database's clock, and cover
   * `streamId`. FOR SHARE keeps a claim from moving the lease until this transaction ends.
   */
  async #checkFence(c: pg.PoolClient, fence: Fence, streamId: string): Promise<void> {
    const held =
      fence.streamId === streamId &&
      (
        await this.#q(
          `SELECT 1 FROM stream_leases WHERE stream_id = ? AND epoch = ? AND worker IS NOT NULL AND expires_at > now()
           FOR SHARE`,
          [fence.streamId, fence.epoch],
          c,
        )
      ).length > 0;
    if (!held) {
      throw new StreamqcError(
        "SQM_ERR_FENCED",
        `the lease on stream ${fence.streamId} at epoch ${fence.epoch} is no longer held; the write for stream ${streamId} was refused`,
      );
    }
  }

  // ---- streams

  async #getStream(id: string, on?: Queryable): Promise<StreamRecord | null> {
    const [r] = await this.#q<StreamRow>(
      `SELECT ${STREAM_COLUMNS} FROM streams WHERE id = ? AND deleted_ms IS NULL`,
      [id],
      on,
    );
    return r === undefined ? null : streamFromRow(r);
  }

  async createStream(stream: NewStream): Promise<StreamRecord> {
    const now = new Date().toISOString();
    const id = newId();
    return this.#tx(async (c) => {
      try {
        await this.#q(
          `INSERT INTO streams (id, name, url, profile, labels, enabled, created_at, updated_at)
           VALUES (?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, ?)`,
          [
            id,
            stream.name,
            stream.url,
            JSON.stringify(stream.profile ?? null),
            JSON.stringify(stream.labels ?? {}),
            stream.enabled !== false,
            now,
            now,
          ],
          c,
        );
      } catch (err) {
        if (PostgresStore.#constraint(err) === "23505") {
          throw new StreamqcError("SQM_ERR_CONFLICT", `a stream named ${stream.name} exists`, { cause: err });
        }
        throw err;
      }
      // Every stream has a lease row, in the pool its profile names, for the fleet to claim.
      await this.#q(
        `INSERT INTO stream_leases (stream_id, pool)
         SELECT id, coalesce(profile->>'pool', 'default') FROM streams WHERE id = ?`,
        [id],
        c,
      );
      return (await this.#getStream(id, c))!;
    });
  }

  getStream(id: string): Promise<StreamRecord | null> {
    return this.#getStream(id);
  }

  async getStreamByName(name: string): Promise<StreamRecord | null> {
    const [r] = await this.#q<StreamRow>(
      `SELECT ${STREAM_COLUMNS} FROM streams WHERE name = ? AND deleted_ms IS NULL`,
      [name],
    );
    return r === undefined ? null : streamFromRow(r);
  }

  async listStreams(): Promise<readonly StreamRecord[]> {
    const rows = await this.#q<StreamRow>(
      `SELECT ${STREAM_COLUMNS} FROM streams WHERE deleted_ms IS NULL ORDER BY name COLLATE "C"`,
    );
    return rows.map(streamFromRow);
  }

  async updateStream(id: string, patch: StreamPatch): Promise<StreamRecord> {
    return this.#tx(async (c) => {
      const [old] = await this.#q<StreamRow>(
        `SELECT ${STREAM_COLUMNS} FROM streams WHERE id = ? AND deleted_ms IS NULL FOR UPDATE`,
        [id],
        c,
      );
      if (old === undefined) throw new StreamqcError("SQM_ERR_NOT_FOUND", `no stream ${id}`);
      const name = patch.name ?? old.name;
      try {
        await this.#q(
          `UPDATE streams SET name = ?, url = ?, profile = ?::jsonb, labels = ?::jsonb, enabled = ?, updated_at = ?
           WHERE id = ?`,
          [
            name,
            patch.url ?? old.url,
            patch.profile !== undefined ? JSON.stringify(patch.profile) : old.profile,
            patch.labels !== undefined ? JSON.stringify(patch.labels) : old.labels,
            patch.enabled ?? (old.enabled === true || old.enabled === 1),
            new Date().toISOString(),
            id,
          ],
          c,
        );
      } catch (err) {
        if (PostgresStore.#constraint(err) === "23505") {
          throw new StreamqcError("SQM_ERR_CONFLICT", `a stream named ${name} exists`, { cause: err });
        }
        throw err;
      }
      if (patch.profile !== undefined) {
        // A new profile may name another pool; the current owner keeps it until it renews no more.
        await this.#q(
          `UPDATE stream_leases SET pool = coalesce((SELECT profile->>'pool' FROM streams WHERE id = ?), 'default')
           WHERE stream_id = ?`,
          [id, id],
          c,
        );
      }
      return (await this.#getStream(id, c))!;
    });
  }

  async deleteStream(id: string): Promise<void> {
    await this.#q(
      `UPDATE streams SET deleted_ms = ?, enabled = false, name = name || '~deleted~' || id
       WHERE id = ? AND deleted_ms IS NULL`,
      [Date.now(), id],
    );
  }

  // ---- incidents

  async #getIncident(id: string, on?: Queryable): Promise<StoredIncident | null> {
    const [r] = await this.#q<IncidentRow>(
      `SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE id = ?`,
      [id],
      on,
    );
    return r === undefined ? null : incidentFromRow(r, await this.#listEvidence(id, on));
  }

  async #insertDeliveries(
    c: pg.PoolClient,
    incidentId: string,
    revision: number,
    deliveries: readonly NewDelivery[],
  ): Promise<void> {
    const now = Date.now();
    for (const d of deliveries) {
      // DO NOTHING: enqueueing the same (incident, event, channel) twice is a no-op, never a duplicate alert.
      await this.#q(
        `INSERT INTO outbox (id, incident_id, event, channel, payload, status, attempts, next_attempt_ms, created_at)
         VALUES (?, ?, ?, ?, ?::jsonb, 'pending', 0, ?, ?) ON CONFLICT (id) DO NOTHING`,
        [
          deliveryId(incidentId, d.event, d.channel, revision),
          incidentId,
          d.event,
          d.channel,
          JSON.stringify(d.payload),
          now,
          iso(now),
        ],
        c,
      );
    }
  }

  async recordIncident(
    incident: NewIncident,
    deliveries: readonly NewDelivery[],
    fence?: Fence,
  ): Promise<StoredIncident> {
    checkSeverity(incident.severity);
    const id = incident.id ?? newId();
    const startedMs = toMs(incident.startedAt, "startedAt");
    const endedMs = optionalMs(incident.endedAt, "endedAt");
    return this.#tx(async (c) => {
      if (fence !== undefined) await this.#checkFence(c, fence, incident.streamId);
      const stream = await this.#getStream(incident.streamId, c);
      if (stream === null) throw new StreamqcError("SQM_ERR_NOT_FOUND", `no stream ${incident.streamId}`);
      try {
        await this.#q(
          `INSERT INTO incidents (id, stream_id, stream_name, type, severity, severity_rank, media_start, media_end,
             started_ms, ended_ms, details, alert_state, revision)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, 0)`,
          [
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
          ],
          c,
        );
      } catch (err) {
        if (PostgresStore.#constraint(err) === "23505") {
          throw new StreamqcError("SQM_ERR_CONFLICT", `an incident ${id} exists`, { cause: err });
        }
        throw err;
      }
      await this.#insertDeliveries(c, id, 0, deliveries);
      return (await this.#getIncident(id, c))!;
    });
  }

  async updateIncident(
    id: string,
    patch: IncidentPatch,
    deliveries: readonly NewDelivery[],
    fence?: Fence,
  ): Promise<StoredIncident> {
    if (patch.severity !== undefined) checkSeverity(patch.severity);
    const endedMs = patch.endedAt === undefined ? undefined : optionalMs(patch.endedAt, "endedAt");
    return this.#tx(async (c) => {
      const [old] = await this.#q<IncidentRow>(
        `SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE id = ? FOR UPDATE`,
        [id],
        c,
      );
      if (old === undefined) throw new StreamqcError("SQM_ERR_NOT_FOUND", `no incident ${id}`);
      if (fence !== undefined) await this.#checkFence(c, fence, old.stream_id);
      const severity = patch.severity ?? (old.severity as Severity);
      const revision = old.revision + 1;
      await this.#q(
        `UPDATE incidents SET media_end = ?, ended_ms = ?, severity = ?, severity_rank = ?, details = ?::jsonb,
           revision = ? WHERE id = ?`,
        [
          patch.end === undefined ? old.media_end : patch.end,
          endedMs === undefined ? old.ended_ms : endedMs,
          severity,
          SEVERITY_RANK[severity],
          patch.details === undefined ? old.details : JSON.stringify(patch.details),
          revision,
          id,
        ],
        c,
      );
      await this.#insertDeliveries(c, id, revision, deliveries);
      return (await this.#getIncident(id, c))!;
    });
  }

  getIncident(id: string): Promise<StoredIncident | null> {
    return this.#getIncident(id);
  }

  async acknowledgeIncident(
    id: string,
    ack: Acknowledgement,
    deliveries: readonly NewDelivery[] = [],
  ): Promise<StoredIncident | null> {
    await this.#tx(async (c) => {
      // `ack_ms IS NULL`: the first acknowledgement stands; a repeat changes nothing.
      const set = await this.#q<{ id: string }>(
        "UPDATE incidents SET ack_ms = ?, ack_by = ?, ack_comment = ? WHERE id = ? AND ack_ms IS NULL RETURNING id",
        [toMs(ack.at, "at"), ack.by, ack.comment, id],
        c,
      );
      if (set.length === 1) await this.#insertDeliveries(c, id, 0, deliveries);
    });
    return this.#getIncident(id);
  }

  async queryIncidents(query: IncidentQuery): Promise<Page<StoredIncident>> {
    const q = incidentQuerySql(query);
    const rows = await this.#q<IncidentRow>(`SELECT ${INCIDENT_COLUMNS} FROM incidents ${q.clause}`, q.args);
    const evidence = await this.#evidenceFor(rows.slice(0, q.limit).map((r) => r.id));
    return incidentPage(rows, q.limit, (page) =>
      page.map((r) => incidentFromRow(r, evidence.get(r.id) ?? [])),
    );
  }

  async openIncidents(streamId: string): Promise<readonly StoredIncident[]> {
    const rows = await this.#q<IncidentRow>(
      `SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE stream_id = ? AND media_end IS NULL ORDER BY started_ms, id`,
      [streamId],
    );
    const evidence = await this.#evidenceFor(rows.map((r) => r.id));
    return rows.map((r) => incidentFromRow(r, evidence.get(r.id) ?? []));
  }

  async countIncidents(): Promise<readonly IncidentCount[]> {
    return this.#q<IncidentCount & pg.QueryResultRow>(
      "SELECT stream_name AS stream, type, severity, count(*) AS count FROM incidents GROUP BY stream_name, type, severity",
    );
  }

  async lastAlertedStart(streamId: string, type: string): Promise<string | null> {
    const [r] = await this.#q<{ ms: number | null }>(
      `SELECT max(started_ms) AS ms FROM incidents WHERE stream_id = ? AND type = ? AND alert_state = 'queued'`,
      [streamId, type],
    );
    return r?.ms == null ? null : iso(r.ms);
  }

  // ---- evidence

  async #listEvidence(incidentId: string, on?: Queryable): Promise<EvidenceRecord[]> {
    const rows = await this.#q<EvidenceRow>(
      `SELECT * FROM evidence WHERE incident_id = ? ORDER BY created_at, name COLLATE "C"`,
      [incidentId],
      on,
    );
    return rows.map(evidenceFromRow);
  }

  async #evidenceFor(ids: readonly string[]): Promise<Map<string, EvidenceRecord[]>> {
    if (ids.length === 0) return new Map();
    const rows = await this.#q<EvidenceRow>(
      `SELECT * FROM evidence WHERE incident_id = ANY(?::text[]) ORDER BY created_at, name COLLATE "C"`,
      [ids],
    );
    return evidenceByIncident(rows);
  }

  async addEvidence(evidence: NewEvidence, fence?: Fence): Promise<EvidenceRecord> {
    checkEvidenceName(evidence.name);
    const createdAt = new Date().toISOString();
    return this.#tx(async (c) => {
      if (fence !== undefined) {
        const [inc] = await this.#q<{ stream_id: string }>(
          "SELECT stream_id FROM incidents WHERE id = ?",
          [evidence.incidentId],
          c,
        );
        if (inc === undefined)
          throw new StreamqcError("SQM_ERR_NOT_FOUND", `no incident ${evidence.incidentId}`);
        await this.#checkFence(c, fence, inc.stream_id);
      }
      try {
        await this.#q(
          `INSERT INTO evidence (incident_id, name, content_type, blob_key, size, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
          [
            evidence.incidentId,
            evidence.name,
            evidence.contentType,
            evidence.blobKey,
            evidence.size,
            createdAt,
          ],
          c,
        );
      } catch (err) {
        const code = PostgresStore.#constraint(err);
        if (code === "23503") {
          throw new StreamqcError("SQM_ERR_NOT_FOUND", `no incident ${evidence.incidentId}`, { cause: err });
        }
        if (code === "23505") {
          throw new StreamqcError(
            "SQM_ERR_CONFLICT",
            `evidence ${evidence.name} of ${evidence.incidentId} exists`,
            {
              cause: err,
            },
          );
        }
        throw err;
      }
      return { ...evidence, createdAt };
    });
  }

  listEvidence(incidentId: string): Promise<readonly EvidenceRecord[]> {
    return this.#listEvidence(incidentId);
  }

  // ---- outbox

  async claimDueDeliveries(now: Date, limit: number, leaseMs: number): Promise<readonly DeliveryRecord[]> {
    const nowMs = now.getTime();
    const rows = await this.#q<OutboxRow & { due_ms: number; seq: number }>(
      // A row waits while an earlier row of the same incident and channel is pending, so a
      // resolve never overtakes its trigger; SKIP LOCKED: a row another dispatcher is
      // claiming right now is left to it, never sent twice.
      `WITH due AS (
         SELECT o.id, o.next_attempt_ms AS due_ms, o.seq FROM outbox AS o
         WHERE o.status = 'pending' AND o.next_attempt_ms <= ?
           AND NOT EXISTS (SELECT 1 FROM outbox AS p WHERE p.status = 'pending' AND p.incident_id = o.incident_id
             AND p.channel = o.channel AND p.seq < o.seq)
         ORDER BY o.next_attempt_ms, o.seq LIMIT ?
         FOR UPDATE OF o SKIP LOCKED)
       UPDATE outbox AS u SET next_attempt_ms = ?, attempts = u.attempts + 1 FROM due WHERE u.id = due.id
       RETURNING u.id, u.incident_id, u.event, u.channel, u.payload::text AS payload, u.status, u.attempts,
         u.next_attempt_ms, u.last_error, u.created_at, u.delivered_at, due.due_ms, due.seq`,
      [nowMs, limit, nowMs + leaseMs],
    );
    rows.sort((a, b) => a.due_ms - b.due_ms || a.seq - b.seq);
    return rows.map(deliveryFromRow);
  }

  async markDelivered(id: string, at: Date): Promise<void> {
    await this.#q(
      "UPDATE outbox SET status = 'delivered', delivered_at = ?, last_error = NULL WHERE id = ? AND status = 'pending'",
      [at.toISOString(), id],
    );
  }

  async markRetry(id: string, nextAttemptAt: Date, error: string): Promise<void> {
    await this.#q(
      "UPDATE outbox SET next_attempt_ms = ?, last_error = ? WHERE id = ? AND status = 'pending'",
      [nextAttemptAt.getTime(), error, id],
    );
  }

  async markFailed(id: string, error: string): Promise<void> {
    await this.#q("UPDATE outbox SET status = 'failed', last_error = ? WHERE id = ? AND status = 'pending'", [
      error,
      id,
    ]);
  }

  async getDelivery(id: string): Promise<DeliveryRecord | null> {
    const [r] = await this.#q<OutboxRow>(`SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE id = ?`, [id]);
    return r === undefined ? null : deliveryFromRow(r);
  }

  /** In the order they were enqueued. */
  async listDeliveries(filter: {
    incidentId?: string;
    status?: DeliveryStatus;
    channel?: string;
  }): Promise<readonly DeliveryRecord[]> {
    const where: string[] = [];
    const args: string[] = [];
    for (const [column, value] of [
      ["incident_id", filter.incidentId],
      ["status", filter.status],
      ["channel", filter.channel],
    ] as const) {
      if (value !== undefined) {
        where.push(`${column} = ?`);
        args.push(value);
      }
    }
    const rows = await this.#q<OutboxRow>(
      `SELECT ${OUTBOX_COLUMNS} FROM outbox ${where.length > 0 ? "WHERE " + where.join(" AND ") : ""} ORDER BY seq`,
      args,
    );
    return rows.map(deliveryFromRow);
  }

  async nextDueAt(): Promise<Date | null> {
    const [r] = await this.#q<{ ms: number | null }>(
      "SELECT min(next_attempt_ms) AS ms FROM outbox WHERE status = 'pending'",
    );
    return r?.ms == null ? null : new Date(r.ms);
  }

  async countDeliveries(): Promise<readonly DeliveryCount[]> {
    return this.#q<DeliveryCount & pg.QueryResultRow>(
      "SELECT channel, status, count(*) AS count, coalesce(sum(attempts), 0) AS attempts FROM outbox GROUP BY channel, status",
    );
  }

  async disableChannel(channel: string, reason: string, at: Date): Promise<void> {
    await this.#q(
      `INSERT INTO channel_state (channel, disabled, reason, since) VALUES (?, true, ?, ?)
       ON CONFLICT (channel) DO UPDATE SET disabled = true, reason = excluded.reason, since = excluded.since`,
      [channel, reason, at.toISOString()],
    );
  }

  async getChannelState(channel: string): Promise<ChannelState> {
    const [r] = await this.#q<ChannelRow>("SELECT * FROM channel_state WHERE channel = ?", [channel]);
    return channelFromRow(channel, r);
  }

  // ---- maintenance windows

  async addMaintenanceWindow(window: NewMaintenanceWindow): Promise<MaintenanceWindow> {
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
    await this.#q(
      "INSERT INTO maintenance_windows (id, stream_id, starts_ms, ends_ms, reason, labels, created_by) VALUES (?, ?, ?, ?, ?, ?::jsonb, ?)",
      [id, row.stream_id, starts, ends, row.reason, labels, row.created_by],
    );
    return windowFromRow(row);
  }

  /** The windows covering a stream, by its id and labels (matched here, as in SQLite: the SQL stays plain). */
  async #covering(streamId: string | undefined, rows: readonly WindowRow[]): Promise<MaintenanceWindow[]> {
    const windows = rows.map(windowFromRow);
    if (streamId === undefined) return windows;
    const [stream] = await this.#q<{ labels: string }>(
      "SELECT labels::text AS labels FROM streams WHERE id = ?",
      [streamId],
    );
    const target = {
      id: streamId,
      labels: stream === undefined ? {} : (JSON.parse(stream.labels) as Labels),
    };
    return windows.filter((w) => windowCovers(w, target));
  }

  async listMaintenanceWindows(streamId?: string): Promise<readonly MaintenanceWindow[]> {
    const rows = await this.#q<WindowRow>(
      `SELECT ${WINDOW_COLUMNS} FROM maintenance_windows ORDER BY starts_ms, id`,
    );
    return this.#covering(streamId, rows);
  }

  async getMaintenanceWindow(id: string): Promise<MaintenanceWindow | null> {
    const [r] = await this.#q<WindowRow>(`SELECT ${WINDOW_COLUMNS} FROM maintenance_windows WHERE id = ?`, [
      id,
    ]);
    return r === undefined ? null : windowFromRow(r);
  }

  async deleteMaintenanceWindow(id: string): Promise<boolean> {
    const rows = await this.#q<{ id: string }>("DELETE FROM maintenance_windows WHERE id = ? RETURNING id", [
      id,
    ]);
    return rows.length > 0;
  }

  async inMaintenance(streamId: string, at: Date): Promise<boolean> {
    const rows = await this.#q<WindowRow>(
      `SELECT ${WINDOW_COLUMNS} FROM maintenance_windows WHERE starts_ms <= ? AND ends_ms > ? ORDER BY starts_ms, id`,
      [at.getTime(), at.getTime()],
    );
    return (await this.#covering(streamId, rows)).length > 0;
  }

  // ---- settings

  async getSetting(key: string): Promise<Json | undefined> {
    const [r] = await this.#q<{ value: string }>("SELECT value::text AS value FROM settings WHERE key = ?", [
      key,
    ]);
    return r === undefined ? undefined : (JSON.parse(r.value) as Json);
  }

  async setSetting(key: string, value: Json): Promise<void> {
    await this.#q(
      "INSERT INTO settings (key, value) VALUES (?, ?::jsonb) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      [key, JSON.stringify(value)],
    );
  }

  // ---- history

  async appendHistories(batches: readonly HistoryBatch[]): Promise<void> {
    const rows = batches.flatMap((b) => b.samples.map((h) => ({ id: b.streamId, h })));
    if (rows.length === 0) return;
    // One statement, so one transaction; an unknown stream id drops out in the join.
    await this.#q(
      `INSERT INTO stream_history (stream_id, t_ms, sample)
       SELECT x.id, x.t, x.s::jsonb FROM unnest(?::text[], ?::bigint[], ?::text[]) AS x(id, t, s)
       JOIN streams ON streams.id = x.id
       ON CONFLICT (stream_id, t_ms) DO UPDATE SET sample = excluded.sample`,
      [
        rows.map((r) => r.id),
        rows.map((r) => Math.round(r.h.t)),
        rows.map((r) => JSON.stringify(r.h.sample)),
      ],
    );
  }

  async readHistory(streamId: string, fromMs: number): Promise<readonly HistoryRecord[]> {
    const rows = await this.#q<{ t_ms: string; sample: string }>(
      "SELECT t_ms, sample::text AS sample FROM stream_history WHERE stream_id = ? AND t_ms >= ? ORDER BY t_ms",
      [streamId, Math.round(fromMs)],
    );
    return rows.map((r) => ({ t: Number(r.t_ms), sample: JSON.parse(r.sample) as Json }));
  }

  async pruneHistory(beforeMs: number): Promise<number> {
    const rows = await this.#q<{ n: string }>(
      "WITH gone AS (DELETE FROM stream_history WHERE t_ms < ? RETURNING 1) SELECT count(*) AS n FROM gone",
      [Math.round(beforeMs)],
    );
    return Number(rows[0]?.n ?? 0);
  }

  // ---- reports

  async report(streamId: string, from: Date, to: Date, now: Date): Promise<StreamReport> {
    const period = reportPeriod(from, to, now);
    const rows = await this.#q<ReportRow & pg.QueryResultRow>(
      `SELECT type, started_ms, ended_ms FROM incidents WHERE stream_id = ? AND ${INCIDENT_OVERLAP}
       ORDER BY type COLLATE "C", started_ms`,
      [streamId, period.toMs, period.fromMs],
    );
    return buildReport(streamId, rows, period, now);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}
