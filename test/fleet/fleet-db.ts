/**
 * A fresh database per test file in the throwaway PostgreSQL cluster that the test setup
 * starts (STREAMQC_TEST_PG_URL). Tests skip with a message when there is none.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

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
