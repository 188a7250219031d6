import { describe, expect, it } from "vitest";
import { adminQuery, freshSchema, PG_SKIP_REASON, PG_URL } from "../helpers/postgres.js";

if (PG_URL === undefined) console.warn(`pg-test-cluster: ${PG_SKIP_REASON}`);

describe.skipIf(PG_URL === undefined)("the throwaway PostgreSQL cluster of the test run", () => {
  it("is a real PostgreSQL 15+, loopback only, password-protected, without fsync, not run by root", async () => {
    const url = new URL(PG_URL!);
    expect(url.hostname).toBe("127.0.0.1");
    expect(url.password).toMatch(/^[0-9a-f]{32}$/);
    const r = await adminQuery(
      `SELECT current_setting('server_version_num')::int AS version, current_setting('listen_addresses') AS listen,
              current_setting('fsync') AS fsync, current_setting('port')::int AS port`,
    );
    const row = r.rows[0] as { version: number; listen: string; fsync: string; port: number };
    expect(row.version).toBeGreaterThanOrEqual(150000);
    expect(row.listen).toBe("127.0.0.1");
    expect(row.fsync).toBe("off");
    expect(row.port).toBe(Number(url.port));
    expect(row.port).not.toBe(5432);
  });

  it("gives each test a schema of its own and drops it", async () => {
    const s = await freshSchema();
    await adminQuery(`CREATE TABLE ${s.name}.x (id int)`);
    const before = await adminQuery("SELECT 1 FROM pg_namespace WHERE nspname = $1", [s.name]);
    expect(before.rowCount).toBe(1);
    await s.drop();
    const after = await adminQuery("SELECT 1 FROM pg_namespace WHERE nspname = $1", [s.name]);
    expect(after.rowCount).toBe(0);
  });
});
