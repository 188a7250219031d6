/**
 * An incident query as SQL, the same in every backend: the conditions use `?` placeholders in
 * order (the PostgreSQL store numbers them) and keyset paging on `(started_ms, id)`, newest
 * first (incident-cursor.ts).
 */
import { StreamqcError } from "../errors.js";
import { decodeCursor, encodeCursor } from "./incident-cursor.js";
import { pageLimit, toMs } from "./store-input.js";
import { SEVERITY_RANK, type IncidentQuery, type Page } from "./store.js";

export interface IncidentQuerySql {
  /** `WHERE ...` or empty, then `ORDER BY ... LIMIT ?`. */
  readonly clause: string;
  /** The placeholders' values in order, the last one the row limit (page size + 1). */
  readonly args: readonly (string | number)[];
  readonly limit: number;
}

export function incidentQuerySql(query: IncidentQuery): IncidentQuerySql {
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
      if (typeof v !== "number") throw new StreamqcError("SQM_ERR_USAGE", `${what} must be media seconds`);
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
  const limit = pageLimit(query.limit);
  args.push(limit + 1);
  return {
    clause: `${where.length > 0 ? "WHERE " + where.join(" AND ") : ""} ORDER BY started_ms DESC, id DESC LIMIT ?`,
    args,
    limit,
  };
}

/** The page from `limit + 1` rows: the extra row only says there is a next page. */
export function incidentPage<R extends { readonly started_ms: number; readonly id: string }, T>(
  rows: readonly R[],
  limit: number,
  toItems: (page: readonly R[]) => readonly T[],
): Page<T> {
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  const last = page[page.length - 1];
  return {
    items: toItems(page),
    next: more && last !== undefined ? encodeCursor({ s: last.started_ms, i: last.id }) : null,
  };
}
