/**
 * IncidentRecorder: turns a monitor's incident events (open, update, close) into durable
 * store writes with evidence, one queue per stream so a stream's writes stay in order and
 * one stream's failure never blocks another's. Updates of one incident are written at most
 * every UPDATE_EVERY_MS.
 *
 * In a fleet (docs/fleet.md) every write carries the stream's lease fence; a write the store
 * refuses (SQM_ERR_FENCED) is reported once per stream through `onFenced`, which stops the
 * stream locally. A new owner `adopt`s the incidents its predecessor left open: the first
 * open of the same type continues the stored incident instead of recording a second one,
 * and whatever is not seen again within the grace period is closed, so none stays open.
 */
import type { Logger } from "pino";
import { errorMessage, isStreamqcError } from "../errors.js";
import { roundTime } from "../incident.js";
import type { IncidentEvent } from "../monitor/stream-monitor.js";
import type { BlobStore } from "../store/blob-store.js";
import { saveEvidence } from "../store/evidence-writer.js";
import type { Fence } from "../store/lease-port.js";
import type { Store, StoredIncident as StoreIncident } from "../store/store.js";
import type { IncidentWriter } from "./incident-writer.js";
import type { ServiceEvent, StoredIncident as FacadeIncident } from "./service-facade.js";

/** Updates of one incident's measurements are written at most this often. */
const UPDATE_EVERY_MS = 5000;

export function toFacadeIncident(i: StoreIncident): FacadeIncident {
  return {
    id: i.id,
    streamId: i.streamId,
    stream: i.stream,
    type: i.type,
    start: i.start,
    end: i.end,
    duration: i.duration,
    severity: i.severity,
    details: { ...i.details },
    startedAt: i.startedAt,
    endedAt: i.endedAt,
    evidence: i.evidence.map((e) => ({ name: e.name, contentType: e.contentType, size: e.size })),
    acknowledged: i.acknowledged === null ? null : { ...i.acknowledged },
  };
}

interface Tracked {
  storedId: Promise<string | null>;
  lastUpdateMs: number;
  pendingDetails: Readonly<Record<string, unknown>> | null;
  timer: NodeJS.Timeout | null;
  /** When continuing a predecessor's incident: its media start and wall-clock onset. */
  adopted: { readonly start: number; readonly startedAt: string; readonly localStart: number } | null;
}

interface Leftovers {
  readonly incidents: Map<string, StoreIncident>;
  readonly timer: NodeJS.Timeout;
}

export interface IncidentRecorderOptions {
  readonly store: Store;
  readonly blobs: BlobStore;
  readonly writer: IncidentWriter;
  readonly logger: Logger;
  emit(event: ServiceEvent): void;
  /** Fleet: the fence every write of this stream carries; undefined means unfenced. */
  fenceOf?(streamId: string): Fence | undefined;
  /** Fleet: the store refused a write of this stream (its lease is gone). */
  onFenced?(streamId: string, fence: Fence | undefined): void;
  /** The monitor's incident (its own id) was stored as `storedId`; called again with null once closed. */
  onStored?(monitorId: string, storedId: string | null): void;
  /** Wall clock for stamps made here; a fleet worker passes the database's (shared-clock.ts). */
  now?(): Date;
}

export class IncidentRecorder {
  readonly #o: IncidentRecorderOptions;
  readonly #queues = new Map<string, Promise<unknown>>();
  readonly #tracked = new Map<string, Tracked>();
  readonly #leftovers = new Map<string, Leftovers>();
  /** Streams whose events are ignored from now on (the lease was lost). */
  readonly #muted = new Set<string>();
  /** Writes the store refused for lack of a lease. */
  fencedWrites = 0;

  constructor(options: IncidentRecorderOptions) {
    this.#o = options;
  }

  #now(): Date {
    return this.#o.now ? this.#o.now() : new Date();
  }

  /** Runs store work for one stream in order; a failure is logged, never thrown at the runner. */
  #enqueue(streamId: string, work: (fence: Fence | undefined) => Promise<void>): Promise<void> {
    const fence = this.#o.fenceOf?.(streamId);
    const prev = this.#queues.get(streamId) ?? Promise.resolve();
    const next = prev
      .then(() => work(fence))
      .catch((err: unknown) => {
        if (isStreamqcError(err, "SQM_ERR_FENCED")) {
          this.fencedWrites++;
          this.#o.logger.warn({ streamId, epoch: fence?.epoch }, "write refused: lease no longer held");
          this.#o.onFenced?.(streamId, fence);
          return;
        }
        this.#o.logger.error({ streamId, err: errorMessage(err) }, "could not record incident");
      });
    this.#queues.set(streamId, next);
    return next;
  }

  #key(streamId: string, e: IncidentEvent): string {
    return `${streamId}/${e.incident.id ?? `${e.incident.type}@${e.incident.start}`}`;
  }

  /** A monitor's event: recorded in the stream's queue. */
  handle(streamId: string, e: IncidentEvent): void {
    if (this.#muted.has(streamId)) return;
    const key = this.#key(streamId, e);
    if (e.phase === "open") this.#open(streamId, key, e);
    else if (e.phase === "update") this.#update(streamId, key, e);
    else this.#close(streamId, key, e);
  }

  #open(streamId: string, key: string, e: IncidentEvent): void {
    let resolveId!: (id: string | null) => void;
    const tracked: Tracked = {
      storedId: new Promise((r) => (resolveId = r)),
      lastUpdateMs: Date.now(),
      pendingDetails: null,
      timer: null,
      adopted: null,
    };
    this.#tracked.set(key, tracked);
    const left = this.#takeLeftover(streamId, e.incident.type);
    if (left) {
      tracked.adopted = { start: left.start, startedAt: left.startedAt, localStart: e.incident.start };
      void this.#enqueue(streamId, async (fence) => {
        try {
          // The predecessor's incident goes on: no second open, no second alert.
          const stored = await this.#o.writer.update(
            left.id,
            { details: { ...e.incident.details, continuedBy: "failover" } },
            fence,
          );
          resolveId(stored.id);
          this.#o.emit({ type: "incident.updated", incident: toFacadeIncident(stored) });
        } catch (err) {
          resolveId(null);
          throw err;
        }
      });
      return;
    }
    void this.#enqueue(streamId, async (fence) => {
      try {
        // The incident and its outbox rows in one transaction, before any alert can leave.
        const stored = await this.#o.writer.open(
          {
            streamId,
            type: e.incident.type,
            severity: e.incident.severity,
            start: e.incident.start,
            ...(e.incident.startedAt ? { startedAt: e.incident.startedAt } : {}),
            details: e.incident.details,
          },
          fence,
        );
        resolveId(stored.id);
        if (e.incident.id !== undefined) this.#o.onStored?.(e.incident.id, stored.id);
        const evidence: [string, Uint8Array | undefined, string][] = [
          ["before.jpg", e.evidence.before?.jpeg, "image/jpeg"],
          ["during.jpg", e.evidence.during?.jpeg, "image/jpeg"],
          [
            "measurements.json",
            new TextEncoder().encode(
              JSON.stringify({ incident: e.incident, details: e.incident.details }, null, 2),
            ),
            "application/json",
          ],
        ];
        for (const [name, bytes, contentType] of evidence) {
          if (bytes)
            await saveEvidence(this.#o.store, this.#o.blobs, stored.id, name, bytes, contentType, fence);
        }
        const full = await this.#o.store.getIncident(stored.id);
        this.#o.emit({ type: "incident.opened", incident: toFacadeIncident(full ?? stored) });
      } catch (err) {
        resolveId(null);
        throw err;
      }
    });
  }

  #update(streamId: string, key: string, e: IncidentEvent): void {
    const tracked = this.#tracked.get(key);
    if (!tracked) return;
    tracked.pendingDetails = e.incident.details;
    const due = tracked.lastUpdateMs + UPDATE_EVERY_MS - Date.now();
    if (tracked.timer) return;
    tracked.timer = setTimeout(() => this.#flushUpdate(streamId, tracked), Math.max(0, due));
    tracked.timer.unref();
  }

  #flushUpdate(streamId: string, tracked: Tracked): void {
    tracked.timer = null;
    const details = tracked.pendingDetails;
    tracked.pendingDetails = null;
    tracked.lastUpdateMs = Date.now();
    if (!details || this.#muted.has(streamId)) return;
    void this.#enqueue(streamId, async (fence) => {
      const id = await tracked.storedId;
      if (!id) return;
      const stored = await this.#o.writer.update(
        id,
        { details: tracked.adopted ? { ...details, continuedBy: "failover" } : details },
        fence,
      );
      this.#o.emit({ type: "incident.updated", incident: toFacadeIncident(stored) });
    });
  }

  #close(streamId: string, key: string, e: IncidentEvent): void {
    const tracked = this.#tracked.get(key);
    if (!tracked) return;
    if (tracked.timer) clearTimeout(tracked.timer);
    this.#tracked.delete(key);
    void this.#enqueue(streamId, async (fence) => {
      const id = await tracked.storedId;
      if (e.incident.id !== undefined) this.#o.onStored?.(e.incident.id, null);
      if (!id) return;
      const endedAt = e.incident.endedAt ?? this.#now().toISOString();
      let end = e.incident.end ?? e.incident.start;
      const a = tracked.adopted;
      if (a) {
        // The new owner's media time starts at zero: the adopted incident lasted what its
        // predecessor saw (wall clock since its onset) and at least what this owner saw.
        const seen = end - a.localStart;
        const since = (Date.parse(endedAt) - Date.parse(a.startedAt)) / 1000;
        end = roundTime(a.start + Math.max(seen, Number.isFinite(since) ? since : 0));
      }
      const details = a ? { ...e.incident.details, continuedBy: "failover" } : e.incident.details;
      const stored = await this.#o.writer.close(id, end, { endedAt, details }, fence);
      this.#o.emit({ type: "incident.closed", incident: toFacadeIncident(stored) });
    });
  }

  /**
   * Fleet: the incidents a previous owner left open on this stream. Each is continued by the
   * first open of its type within `graceMs`, else closed then ("not seen again").
   */
  adopt(streamId: string, incidents: readonly StoreIncident[], graceMs: number): void {
    this.#muted.delete(streamId);
    if (incidents.length === 0) return;
    const map = new Map(incidents.map((i) => [i.id, i]));
    const timer = setTimeout(() => this.#closeLeftovers(streamId), graceMs);
    timer.unref();
    this.#leftovers.set(streamId, { incidents: map, timer });
  }

  #takeLeftover(streamId: string, type: string): StoreIncident | undefined {
    const l = this.#leftovers.get(streamId);
    if (!l) return undefined;
    for (const [id, i] of l.incidents) {
      if (i.type === type) {
        l.incidents.delete(id);
        return i;
      }
    }
    return undefined;
  }

  #closeLeftovers(streamId: string): void {
    const l = this.#leftovers.get(streamId);
    this.#leftovers.delete(streamId);
    if (!l || this.#muted.has(streamId)) return;
    for (const i of l.incidents.values()) {
      void this.#enqueue(streamId, async (fence) => {
        const endedAt = this.#now().toISOString();
        const since = (Date.parse(endedAt) - Date.parse(i.startedAt)) / 1000;
        const end = roundTime(i.start + Math.max(0, Number.isFinite(since) ? since : 0));
        const stored = await this.#o.writer.close(
          i.id,
          end,
          { endedAt, details: { ...i.details, closedBy: "failover: not seen again by the new owner" } },
          fence,
        );
        this.#o.emit({ type: "incident.closed", incident: toFacadeIncident(stored) });
      });
    }
  }

  /** Whether the stream has an incident open here (recorded or adopted). */
  busy(streamId: string): boolean {
    for (const k of this.#tracked.keys()) if (k.startsWith(`${streamId}/`)) return true;
    return (this.#leftovers.get(streamId)?.incidents.size ?? 0) > 0;
  }

  /**
   * Fleet: the stream's lease is gone (or being handed over): nothing more is written for
   * it; its open incidents stay open in the store for the next owner to continue.
   */
  mute(streamId: string): void {
    this.#muted.add(streamId);
    for (const [k, t] of this.#tracked) {
      if (!k.startsWith(`${streamId}/`)) continue;
      if (t.timer) clearTimeout(t.timer);
      this.#tracked.delete(k);
    }
    const l = this.#leftovers.get(streamId);
    if (l) clearTimeout(l.timer);
    this.#leftovers.delete(streamId);
  }

  /** Waits for the stream's queued writes. */
  async settle(streamId: string): Promise<void> {
    await this.#queues.get(streamId);
  }

  /** Waits for every queued write and stops the timers. */
  async close(): Promise<void> {
    for (const t of this.#tracked.values()) if (t.timer) clearTimeout(t.timer);
    for (const l of this.#leftovers.values()) clearTimeout(l.timer);
    this.#leftovers.clear();
    await Promise.all(this.#queues.values());
  }
}
