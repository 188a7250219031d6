/**
 * The dashboard's only door to the service: JSON over fetch with the bearer token. The token
 * is kept for this tab (sessionStorage), sent as a header, and as `?token=` only to the event
 * stream (EventSource cannot send headers). Endpoints that an older server lacks answer
 * `Unavailable` instead of throwing, so each page can say what is missing and go on.
 */
import type {
  Acknowledgement,
  HistoryPoint,
  Incident,
  LiveState,
  MaintenanceWindow,
  Stream,
} from "./wire-types.js";

export const API = "/api/v1";
const TOKEN_KEY = "streamqc-token";
const OPERATOR_KEY = "streamqc-operator";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** An endpoint this server does not have (404 "no route" or 405). */
export class Unavailable extends ApiError {}

export function getToken(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? "";
}

export function setToken(token: string): void {
  if (token === "") sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

export function getOperator(): string {
  return localStorage.getItem(OPERATOR_KEY) ?? "";
}

export function setOperator(name: string): void {
  localStorage.setItem(OPERATOR_KEY, name);
}

/** Listeners told when the server answers 401, so the shell can ask for a token. */
const unauthorizedListeners = new Set<() => void>();
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  const token = getToken();
  if (token !== "") headers["authorization"] = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(API + path, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    // Not JSON: the message below carries the status.
  }
  if (!res.ok) {
    const message = (parsed as { message?: string } | undefined)?.message ?? `HTTP ${res.status}`;
    if (res.status === 401) for (const l of unauthorizedListeners) l();
    if ((res.status === 404 && /^no route /.test(message)) || res.status === 405) {
      throw new Unavailable(res.status, `${method} ${API}${path.split("?")[0] ?? ""} is not available`);
    }
    throw new ApiError(res.status, message);
  }
  return parsed as T;
}

export const api = {
  streams: async (): Promise<Stream[]> => (await call<{ items: Stream[] }>("GET", "/streams")).items,
  state: (id: string): Promise<LiveState> => call("GET", `/streams/${encodeURIComponent(id)}/state`),

  incidents: async (query: Record<string, string | undefined>): Promise<Incident[]> => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") params.set(k, v);
    const items: Incident[] = [];
    let cursor: string | null = null;
    // A few pages at most: the journal shows the latest; older ones are one filter away.
    for (let page = 0; page < 5; page++) {
      if (cursor !== null) params.set("cursor", cursor);
      const res: { items: Incident[]; next: string | null } = await call("GET", `/incidents?${params}`);
      items.push(...res.items);
      cursor = res.next;
      if (cursor === null) break;
    }
    return items;
  },

  ack: (id: string, comment: string, by: string): Promise<Incident> =>
    call("POST", `/incidents/${encodeURIComponent(id)}/ack`, ackBody(comment, by)),

  /** Acknowledges several at once: the bulk endpoint when there is one, else one by one. */
  ackMany: async (ids: readonly string[], comment: string, by: string): Promise<void> => {
    if (ids.length === 0) return;
    try {
      await call("POST", "/incidents/ack", { ids, ...ackBody(comment, by) });
      return;
    } catch (err) {
      if (!(err instanceof Unavailable) && !(err instanceof ApiError && err.status === 404)) throw err;
    }
    const failures: string[] = [];
    await Promise.all(
      ids.map((id) =>
        api.ack(id, comment, by).catch((err: unknown) => {
          if (err instanceof Unavailable) throw err;
          failures.push(`${id}: ${(err as Error).message}`);
        }),
      ),
    );
    if (failures.length > 0) throw new ApiError(500, failures.join("; "));
  },

  maintenance: async (): Promise<MaintenanceWindow[]> =>
    (await call<{ items: Record<string, unknown>[] }>("GET", "/maintenance")).items.map(normalizeWindow),
  addMaintenance: async (w: {
    stream?: string;
    labels?: Record<string, string>;
    until: string;
    reason: string;
    by?: string;
  }): Promise<MaintenanceWindow> => normalizeWindow(await call("POST", "/maintenance", w)),
  removeMaintenance: (id: string): Promise<void> => call("DELETE", `/maintenance/${encodeURIComponent(id)}`),

  history: async (id: string, seconds: number): Promise<HistoryPoint[]> =>
    normalizeHistory(
      await call<unknown>("GET", `/streams/${encodeURIComponent(id)}/history?seconds=${seconds}`),
    ),
};

/** A window from the server, whichever of the names it uses (`endsAt`/`until`, `streamId`/`stream`). */
export function normalizeWindow(raw: Record<string, unknown>): MaintenanceWindow {
  const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);
  const labels = raw["labels"];
  return {
    id: str(raw["id"]) ?? "",
    streamId: str(raw["streamId"]) ?? str(raw["stream"]),
    labels:
      labels !== null && typeof labels === "object" && Object.keys(labels).length > 0
        ? (labels as Record<string, string>)
        : null,
    startsAt: str(raw["startsAt"]) ?? str(raw["from"]),
    endsAt: str(raw["endsAt"]) ?? str(raw["until"]) ?? new Date(0).toISOString(),
    reason: str(raw["reason"]) ?? "",
    createdBy: str(raw["createdBy"]) ?? str(raw["by"]),
  };
}

function ackBody(comment: string, by: string): { comment?: string; by?: string } {
  return {
    ...(comment.trim() !== "" ? { comment: comment.trim() } : {}),
    ...(by.trim() !== "" ? { by: by.trim() } : {}),
  };
}

/**
 * History as rows of `{t, field: value}`. Accepts rows (`items` or `points`, time as `t`, `at`
 * or `time`, ISO or ms) or columns (`{t: [...], field: [...]}`), so the page keeps working
 * whichever shape the server settles on.
 */
export function normalizeHistory(body: unknown): HistoryPoint[] {
  const b = body as Record<string, unknown> | undefined;
  const rows = (b?.["items"] ?? b?.["points"] ?? b?.["samples"]) as Record<string, unknown>[] | undefined;
  const toMs = (v: unknown): number =>
    typeof v === "number" ? (v < 1e11 ? v * 1000 : v) : typeof v === "string" ? Date.parse(v) : NaN;
  const flat = (row: Record<string, unknown>, out: Record<string, number | null>, prefix = ""): void => {
    for (const [k, v] of Object.entries(row)) {
      if (typeof v === "number") out[prefix + k] = v;
      else if (v === null) out[prefix + k] = null;
      else if (Array.isArray(v))
        v.forEach((x, i) => (out[`${prefix}${k}${i}`] = typeof x === "number" ? x : null));
      else if (typeof v === "object") flat(v as Record<string, unknown>, out, "");
    }
  };
  if (Array.isArray(rows)) {
    return rows
      .map((r) => {
        const out: Record<string, number | null> = {};
        flat(r, out);
        return { ...out, t: toMs(r["t"] ?? r["at"] ?? r["time"]) };
      })
      .filter((p) => Number.isFinite(p.t));
  }
  const cols = (b?.["series"] ?? b) as Record<string, unknown> | undefined;
  const times = (cols?.["t"] ?? cols?.["at"] ?? cols?.["time"]) as unknown[] | undefined;
  if (!Array.isArray(times)) return [];
  return times.map((t, i) => {
    const out: Record<string, number | null> = {};
    for (const [k, v] of Object.entries(cols ?? {})) {
      if (!Array.isArray(v) || k === "t" || k === "at" || k === "time") continue;
      if (v.length > 0 && Array.isArray(v[0])) {
        // Per channel (`peakDbfs: [[...L], [...R]]`) becomes peakDbfs0, peakDbfs1.
        (v as unknown[][]).forEach((ch, c) => {
          const x = ch[i];
          out[`${k}${c}`] = typeof x === "number" ? x : null;
        });
      } else {
        const x: unknown = v[i];
        out[k] = typeof x === "number" ? x : null;
      }
    }
    return { ...out, t: toMs(t) };
  });
}

/** Bytes of a thumbnail through fetch (with the token), as an object URL the caller revokes. */
export async function fetchImage(url: string): Promise<string> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${getToken()}` } });
  if (!res.ok) throw new ApiError(res.status, `HTTP ${res.status}`);
  return URL.createObjectURL(await res.blob());
}

export type { Acknowledgement };
