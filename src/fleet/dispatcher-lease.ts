/**
 * One alert dispatcher in the fleet at a time (docs/fleet.md, "alerts"): whoever holds a
 * PostgreSQL advisory lock on its own session runs the dispatcher. The lock belongs to the
 * session, so it is released by the database itself when the holder dies or is cut off and
 * its connection closes; the holder checks its session every `checkEveryMs` and stops
 * dispatching as soon as the check fails. Should two ever overlap (a holder cut off but not
 * yet noticing), the outbox still protects the alert: rows are claimed under their own lease
 * and carry a stable idempotency key, so a receiver sees the same delivery id at most twice.
 */
import pg from "pg";
import { errorMessage } from "../errors.js";
import type { AlertDispatcher } from "../alert/dispatcher.js";

/** Arbitrary but fixed: the lock's identity among the database's advisory locks. */
const DISPATCHER_LOCK = 0x5351_4d44; // "SQMD"

export class DispatcherLease {
  #client: pg.Client | null = null;
  #dispatcher: AlertDispatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  #busy = false;
  #closed = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly makeDispatcher: () => AlertDispatcher,
    private readonly log: (level: "info" | "warn", message: string) => void,
    private readonly checkEveryMs = 2000,
  ) {}

  get holding(): boolean {
    return this.#dispatcher !== null;
  }

  /** New outbox rows: wake the dispatcher when this process runs it. */
  notify(): void {
    this.#dispatcher?.notify();
  }

  start(): void {
    this.#timer = setInterval(() => void this.#step(), this.checkEveryMs);
    void this.#step();
  }

  async #step(): Promise<void> {
    if (this.#busy || this.#closed) return;
    this.#busy = true;
    try {
      if (!this.#client) {
        const c = new pg.Client({ ...this.config, query_timeout: this.checkEveryMs });
        c.on("error", () => undefined); // surfaced by the next query
        await c.connect();
        this.#client = c;
      }
      if (!this.#dispatcher) {
        const r = await this.#client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [
          DISPATCHER_LOCK,
        ]);
        if (r.rows[0]?.ok && !this.#closed) {
          this.#dispatcher = this.makeDispatcher();
          this.#dispatcher.start();
          this.log("info", "this process now dispatches alerts");
        }
      } else {
        await this.#client.query("SELECT 1");
      }
    } catch (err) {
      await this.#drop(`dispatcher lock session failed: ${errorMessage(err)}`);
    } finally {
      this.#busy = false;
    }
  }

  async #drop(reason: string): Promise<void> {
    const d = this.#dispatcher;
    const c = this.#client;
    this.#dispatcher = null;
    this.#client = null;
    if (d) {
      this.log("warn", `${reason}: alert dispatch stopped here`);
      await d.close();
    }
    await c?.end().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#drop("closing");
  }
}
