/**
 * Schema migrations, backend-neutral: each backend keeps an ordered list of SQL steps
 * (sqlite-schema.ts, postgres-schema.ts) and records how many it applied (SQLite:
 * `PRAGMA user_version`; PostgreSQL: the `schema_migrations` table). Steps are appended,
 * never edited once shipped. A database written by a newer program is refused rather than
 * guessed at.
 */
import { StreamqcError } from "../errors.js";

export interface Migration {
  /** What the step does and why, for the migration log and reviewers. */
  readonly name: string;
  readonly sql: string;
}

/** The steps still to apply to a database at `current`, numbered from 1. */
export function pendingMigrations(
  backend: string,
  current: number,
  all: readonly Migration[],
): readonly { readonly version: number; readonly migration: Migration }[] {
  if (!Number.isInteger(current) || current < 0) {
    throw new StreamqcError("SQM_ERR_STORE", `the ${backend} schema version ${current} is not valid`);
  }
  if (current > all.length) {
    throw new StreamqcError(
      "SQM_ERR_STORE",
      `the ${backend} database schema is version ${current}, newer than this program (${all.length})`,
    );
  }
  return all.slice(current).map((migration, i) => ({ version: current + i + 1, migration }));
}
