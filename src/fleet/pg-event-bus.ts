/**
 * Live events across the fleet through PostgreSQL's LISTEN/NOTIFY (docs/fleet.md, "live
 * events"): no second system to run. Workers publish small notes; the API process listens
 * and turns them into the same ServiceEvents the single process emits.
 *
 * What it carries: incident opened/updated/closed (by id: the listener reads the incident
 * from the store, so the note stays small and the event shows what was committed), stream
 * state changes (status, error, cost; the state without its per-detector measurements), and
 * "outbox" (a worker enqueued alerts: the dispatcher scans now instead of at its next poll).
 * Levels: once a second each worker sends one note with the levels, loudness and thumbnail
 * PTS of all its streams (split to fit NOTIFY's payload limit), not one per stream.
 * Not carried: thumbnails and the history, which stay in the worker process and are fetched
 * from its live endpoint when a page asks (worker-live-server.ts).
 * NOTIFY is delivered after commit and only to sessions listening at that moment: a listener
 * that reconnects misses what happened meanwhile (the SSE `reset` covers it for clients).
 */
import pg from "pg";
import { errorMessage } from "../errors.js";
import type { StreamState } from "../service/stream-runner.js";

export const EVENT_CHANNEL = "streamqc_events";

export type FleetNote =
  | {
      readonly type: "incident.opened" | "incident.updated" | "incident.closed";
      readonly id: string;
      readonly streamId: string;
    }
  | { readonly type: "stream.state"; readonly state: StreamState; readonly worker: string }
  | { readonly type: "outbox" }
  | { readonly type: "stream.levels"; readonly worker: string; readonly items: readonly LevelsItem[] };

/** One stream's second, as the single process's `stream.levels` event carries it. */
export interface LevelsItem {
  readonly streamId: string;
  readonly levels: StreamState["levels"];
  readonly loudness: StreamState["loudness"];
  readonly thumbnailPts?: number;
}

/** NOTIFY payloads must stay under 8000 bytes. */
const MAX_PAYLOAD = 7900;

function encode(note: FleetNote): string {
  const text = JSON.stringify(note);
  if (text.length <= MAX_PAYLOAD || note.type !== "stream.state") return text;
  const slim: StreamState = { ...note.state, measurements: {}, detectorCpuMs: {}, openIncidents: [] };
  return JSON.stringify({ ...note, state: slim });
}

/** The levels of a worker's streams as few notes as fit under the payload limit. */
export function levelNotes(worker: string, items: readonly LevelsItem[]): FleetNote[] {
  const notes: FleetNote[] = [];
  let batch: LevelsItem[] = [];
  let size = 0;
  const overhead = JSON.stringify({ type: "stream.levels", worker, items: [] }).length;
  for (const item of items) {
    const n = JSON.stringify(item).length + 1;
    if (overhead + n > MAX_PAYLOAD) continue; // cannot happen with ≤ 8 channels; never send what NOTIFY refuses
    if (overhead + size + n > MAX_PAYLOAD) {
      notes.push({ type: "stream.levels", worker, items: batch });
      batch = [];
      size = 0;
    }
    batch.push(item);
    size += n;
  }
  if (batch.length > 0) notes.push({ type: "stream.levels", worker, items: batch });
  return notes;
}

export class PgEventPublisher {
  constructor(
    private readonly pool: pg.Pool,
    private readonly onError: (message: string) => void,
  ) {}

  /** Fire and forget: a lost note costs a live update, never data. */
  publish(note: FleetNote): void {
    this.pool.query("SELECT pg_notify($1, $2)", [EVENT_CHANNEL, encode(note)]).catch((err: unknown) => {
      this.onError(`could not publish a live event: ${errorMessage(err)}`);
    });
  }
}

/** One dedicated session that LISTENs, reconnecting after a failure. */
export class PgEventListener {
  #client: pg.Client | null = null;
  #closed = false;
  #retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly onNote: (note: FleetNote) => void,
    private readonly log: (message: string) => void,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on("error", (err) => this.#lost(client, err));
    client.on("end", () => this.#lost(client, new Error("connection ended")));
    client.on("notification", (n) => {
      if (n.channel !== EVENT_CHANNEL || !n.payload) return;
      try {
        this.onNote(JSON.parse(n.payload) as FleetNote);
      } catch (err) {
        this.log(`bad live event: ${errorMessage(err)}`);
      }
    });
    this.#client = client;
    await client.connect();
    await client.query(`LISTEN ${EVENT_CHANNEL}`);
  }

  #lost(client: pg.Client, err: Error): void {
    if (this.#client !== client || this.#closed) return;
    this.#client = null;
    this.log(`live events connection lost (${err.message}); reconnecting`);
    client.end().catch(() => undefined);
    const again = (): void => {
      this.#retry = null;
      if (this.#closed) return;
      this.start().catch((e: unknown) => {
        this.log(`live events reconnect failed: ${errorMessage(e)}`);
        this.#client = null;
        this.#retry = setTimeout(again, 1000);
      });
    };
    this.#retry = setTimeout(again, 500);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    const c = this.#client;
    this.#client = null;
    await c?.end().catch(() => undefined);
  }
}
