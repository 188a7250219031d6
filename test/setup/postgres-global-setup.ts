/**
 * Vitest global setup: one throwaway PostgreSQL cluster for the whole run
 * (scripts/pg-test-cluster.sh), its URL exported to the test workers as
 * `STREAMQC_TEST_PG_URL`. Each test makes its own schema in it (test/helpers/postgres.ts), so
 * tests never see each other's rows.
 *
 * A URL already in the environment is used as is (your own server; nothing is started).
 * In CI (`CI` set) PostgreSQL must start: a failure fails the run instead of skipping the
 * PostgreSQL tests. Outside CI, a machine without the binaries skips them with a message.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL("../../scripts/pg-test-cluster.sh", import.meta.url));

function binariesPresent(): boolean {
  const own = process.env.STREAMQC_PG_BIN;
  if (own !== undefined && own !== "") return existsSync(`${own}/initdb`);
  try {
    return readdirSync("/usr/lib/postgresql").some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`));
  } catch {
    return false;
  }
}

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.STREAMQC_TEST_PG_URL) return undefined;
  const ci = process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false";
  if (!ci && !binariesPresent()) {
    console.warn(
      "postgres-global-setup: no PostgreSQL binaries (scripts/setup.sh installs Debian's postgresql); " +
        "the PostgreSQL tests are SKIPPED on this machine. In CI they run or fail.",
    );
    return undefined;
  }
  const { stdout } = await run(SCRIPT, ["start"], { timeout: 60_000 });
  const vars = new Map(
    stdout
      .trim()
      .split("\n")
      .map((line) => {
        const eq = line.indexOf("=");
        return [line.slice(0, eq), line.slice(eq + 1)] as const;
      }),
  );
  const url = vars.get("STREAMQC_PG_URL");
  const dir = vars.get("STREAMQC_PG_DIR");
  if (!url || !dir) throw new Error(`pg-test-cluster.sh printed no URL:\n${stdout}`);
  // Inherited by the test workers, which are started after global setup.
  process.env.STREAMQC_TEST_PG_URL = url;
  return async () => {
    delete process.env.STREAMQC_TEST_PG_URL;
    await run(SCRIPT, ["stop", dir], { timeout: 60_000 });
  };
}
