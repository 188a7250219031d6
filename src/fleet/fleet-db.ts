/**
 * The fleet's connections to PostgreSQL. Timeouts are what keep the lease protocol honest
 * on a bad network: a statement that gets no answer is abandoned after `queryTimeoutMs`
 * (the lease keeper's local deadline does not wait for it anyway), a connection attempt
 * after `connectTimeoutMs`, and TCP keepalives notice a dead peer.
 */
import pg from "pg";
import { StreamqcError } from "../errors.js";
import type { Store } from "../store/store.js";

export interface FleetDbOptions {
  /** Connections per process. Default 4 (renewals may overlap a hung statement). */
  readonly max?: number;
  /** Default 5 000 ms. */
  readonly queryTimeoutMs?: number;
  /** Default 3 000 ms. */
  readonly connectTimeoutMs?: number;
  /** Shown in pg_stat_activity. */
  readonly applicationName?: string;
}

export function checkDatabaseUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new StreamqcError("SQM_ERR_USAGE", "--db must be a postgres:// URL");
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw new StreamqcError("SQM_ERR_USAGE", "--db must be a postgres:// URL");
  }
  return url;
}

export function clientConfig(url: string, o: FleetDbOptions = {}): pg.ClientConfig {
  return {
    connectionString: checkDatabaseUrl(url),
    connectionTimeoutMillis: o.connectTimeoutMs ?? 3000,
    query_timeout: o.queryTimeoutMs ?? 5000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 1000,
    application_name: o.applicationName ?? "streamqc",
  };
}

export function fleetPool(url: string, o: FleetDbOptions = {}): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(url, o), max: o.max ?? 4, idleTimeoutMillis: 30_000 });
  // An idle connection that dies (server restart, partition) is dropped by the pool; the
  // next query opens a new one. Without a listener the error would end the process.
  pool.on("error", () => undefined);
  return pool;
}

/**
 * The PostgreSQL Store (migrated to this program's schema). Its statements are limited to
 * the lease length: a write that cannot finish by then is refused by the fence anyway.
 */
export async function openFleetStore(
  url: string,
  o: { applicationName: string; statementTimeoutMs: number; log: (message: string) => void },
): Promise<Store> {
  const { PostgresStore } = await import("../store/postgres-store.js");
  return PostgresStore.open(checkDatabaseUrl(url), {
    poolSize: 4,
    connectTimeoutMs: 3000,
    statementTimeoutMs: o.statementTimeoutMs,
    // A silent cut never brings the server's statement_timeout back to us: abandon the
    // statement on our side too (its write would be refused by the fence by then anyway).
    queryTimeoutMs: o.statementTimeoutMs,
    applicationName: o.applicationName,
    onConnectionError: (err) => o.log(`database connection lost: ${err.message}`),
  });
}
