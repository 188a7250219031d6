/**
 * A fresh database per test file in the throwaway PostgreSQL cluster that the test setup
 * starts (STREAMQC_TEST_PG_URL). Tests skip with a message when there is none.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { PostgresStore } from "../../src/store/postgres-store.js";

export const PG_URL = process.env["STREAMQC_TEST_PG_URL"];

export function pgSkipReason(): string | false {
  return PG_URL ? false : "no PostgreSQL test cluster (STREAMQC_TEST_PG_URL unset)";
}

/** Creates an empty database; returns its URL and a dropper. */
export async function freshDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(PG_URL!);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** What the fleet's process tests share: a migrated fresh database, a pool on it, a worker config. */
export interface FleetTestEnv {
  readonly db: { readonly url: string; drop(): Promise<void> };
  readonly pool: pg.Pool;
  /** A temporary directory holding `config` (whose dataDir is inside it). */
  readonly dir: string;
  readonly config: string;
  /** Ends the pool, drops the database and removes the directory. */
  close(): Promise<void>;
}

export async function fleetTestEnv(prefix: string): Promise<FleetTestEnv> {
  const db = await freshDatabase(prefix);
  await (await PostgresStore.open(db.url)).close(); // migrate
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  const dir = mkdtempSync(join(tmpdir(), `sqm-${prefix}-`));
  const config = join(dir, "config.json");
  writeFileSync(config, JSON.stringify({ dataDir: join(dir, "data") }));
  return {
    db,
    pool,
    dir,
    config,
    async close() {
      await pool.end();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
