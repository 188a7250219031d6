/**
 * The keyset cursor of incident pages, the same in every backend: the last row's
 * `(started_ms, id)`, newest first, so a page is stable under concurrent inserts. Opaque to
 * callers; a cursor the store did not hand out is refused here with SQM_ERR_INVALID_CURSOR
 * (the API answers 400), never rewritten by callers.
 */
import { StreamqcError } from "../errors.js";

export interface IncidentCursor {
  /** `started_ms` of the last row of the previous page. */
  readonly s: number;
  /** Its id: the tie-breaker among incidents started in the same millisecond. */
  readonly i: string;
}

export function encodeCursor(c: IncidentCursor): string {
  return Buffer.from(JSON.stringify({ s: c.s, i: c.i })).toString("base64url");
}

export function decodeCursor(cursor: string): IncidentCursor {
  try {
    const c = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (
      typeof c === "object" &&
      c !== null &&
      "s" in c &&
      "i" in c &&
      typeof c.s === "number" &&
      Number.isSafeInteger(c.s) &&
      typeof c.i === "string" &&
      c.i.length <= 64
    ) {
      return { s: c.s, i: c.i };
    }
  } catch {
    // fall through to the error
  }
  throw new StreamqcError("SQM_ERR_INVALID_CURSOR", "the cursor is not one this store handed out");
}
