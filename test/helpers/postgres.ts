/**
 * The PostgreSQL of the test run (test/setup/postgres-global-setup.ts). Each caller gets its
 * own schema, so tests running side by side never see each other's rows.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

/** The cluster's URL, or undefined when this machine has no PostgreSQL (never in CI). */
export const PG_URL: string | undefined = process.env.STREAMQC_TEST_PG_URL || undefined;

export const PG_SKIP_REASON = "no PostgreSQL on this machine (STREAMQC_TEST_PG_URL unset): skipped";

/** Creates an empty schema with a unique name; `drop()` removes it with everything in it. */
export async function freshSchema(prefix = "t"): Promise<{ name: string; drop(): Promise<void> }> {
  if (PG_URL === undefined) throw new Error(PG_SKIP_REASON);
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  await adminQuery(`CREATE SCHEMA ${name}`);
  return {
    name,
    drop: async () => {
      await adminQuery(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
    },
  };
}

/** Runs one statement on a short-lived connection of its own. */
export async function adminQuery<R extends pg.QueryResultRow = Record<string, unknown>>(
  sql: string,
  params: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  if (PG_URL === undefined) throw new Error(PG_SKIP_REASON);
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await client.query<R>(sql, params);
  } finally {
    await client.end();
  }
}
