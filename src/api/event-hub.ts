/**
 * Live events for `/events` (Server-Sent Events): one subscription to the service, fanned out
 * to every connected client.
 *
 * - Incident (opened, updated, closed, acknowledged), stream-state and maintenance events carry an `id:` (`<boot>-<seq>`) and are kept in a small
 *   ring buffer, so a client that reconnects with `Last-Event-ID` gets what it missed. The boot
 *   prefix makes an id from before a restart unusable instead of wrongly matching; such a
 *   client (or one that fell out of the buffer) gets a `reset` event and refetches the state.
 * - Level events are ephemeral: no id, not buffered (a stale meter is worth nothing, and one
 *   per stream per second would push incidents out of the buffer). Their thumbnail is a URL
 *   (the bytes stay out of the stream), at most one per stream every `thumbnailIntervalMs`.
 * - A client that does not read fast enough is never buffered for without bound: once its
 *   socket's backlog passes `maxClientBacklogBytes`, events for it are dropped and counted.
 */
import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { LiveEvent } from "./schemas.js";
import type { ServiceEvent, ServiceFacade } from "../service/service-facade.js";
import { toApiIncident } from "./incident-view.js";

export interface EventHubOptions {
  /** Buffered events for `Last-Event-ID` resume. Default 512. */
  readonly bufferSize?: number;
  /** Comment lines that keep proxies from closing an idle stream. Default 15 000 ms. */
  readonly heartbeatMs?: number;
  /** Backlog of one client beyond which its events are dropped. Default 256 KiB. */
  readonly maxClientBacklogBytes?: number;
  /** Least time between two thumbnails of one stream. Default 5 000 ms. */
  readonly thumbnailIntervalMs?: number;
}

interface Client {
  readonly res: ServerResponse;
  dropped: number;
}

interface Buffered {
  readonly seq: number;
  readonly frame: string;
}

export class EventHub {
  private readonly boot = randomBytes(4).toString("hex");
  private seq = 0;
  private readonly buffer: Buffered[] = [];
  private readonly clients = new Set<Client>();
  private readonly lastThumbnailAt = new Map<string, number>();
  private droppedTotal = 0;
  private unsubscribe: (() => void) | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly bufferSize: number;
  private readonly heartbeatMs: number;
  private readonly maxBacklog: number;
  private readonly thumbnailIntervalMs: number;

  constructor(
    private readonly facade: ServiceFacade,
    private readonly prefix: string,
    options: EventHubOptions = {},
  ) {
    this.bufferSize = options.bufferSize ?? 512;
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    this.maxBacklog = options.maxClientBacklogBytes ?? 256 * 1024;
    this.thumbnailIntervalMs = options.thumbnailIntervalMs ?? 5_000;
  }

  /** Subscribes to the service; until then (and after close) nothing is published. */
  start(): void {
    if (this.unsubscribe || this.closed) return;
    this.unsubscribe = this.facade.subscribe((e) => {
      try {
        this.publish(e);
      } catch {
        // A broken event must not reach the service's emitter (and through it, ingest).
      }
    });
    this.heartbeat = setInterval(() => this.broadcast(": heartbeat\n\n"), this.heartbeatMs);
    this.heartbeat.unref();
  }

  stats(): { clients: number; dropped: number } {
    return { clients: this.clients.size, dropped: this.droppedTotal };
  }

  /** Takes over an HTTP response as an event stream, replaying from `lastEventId` when possible. */
  attach(res: ServerResponse, lastEventId: string | undefined): void {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      // nginx buffers responses by default, which would hold events back.
      "x-accel-buffering": "no",
    });
    if (this.closed) {
      res.end();
      return;
    }
    const client: Client = { res, dropped: 0 };
    this.clients.add(client);
    res.on("close", () => this.clients.delete(client));
    res.write(`retry: 3000\n: streamqc ${this.boot}\n\n`);
    if (lastEventId !== undefined && lastEventId !== "") this.replay(client, lastEventId);
  }

  private replay(client: Client, lastEventId: string): void {
    const m = /^([0-9a-f]+)-(\d+)$/.exec(lastEventId);
    const oldest = this.buffer[0]?.seq ?? this.seq + 1;
    const seen = m && m[1] === this.boot ? Number(m[2]) : NaN;
    // Resumable when nothing after `seen` has left the buffer.
    if (!Number.isInteger(seen) || seen > this.seq || seen < oldest - 1) {
      this.send(
        client,
        `event: reset\ndata: {"reason":"the events after Last-Event-ID are no longer buffered"}\n\n`,
      );
      return;
    }
    for (const b of this.buffer) if (b.seq > seen) this.send(client, b.frame);
  }

  private publish(e: ServiceEvent): void {
    if (this.closed) return;
    const live = this.toLive(e);
    if (!live) return;
    const data = JSON.stringify(live);
    if (live.type === "stream.levels") {
      this.broadcast(`event: ${live.type}\ndata: ${data}\n\n`);
      return;
    }
    const seq = ++this.seq;
    const frame = `id: ${this.boot}-${seq}\nevent: ${live.type}\ndata: ${data}\n\n`;
    this.buffer.push({ seq, frame });
    if (this.buffer.length > this.bufferSize) this.buffer.shift();
    this.broadcast(frame);
  }

  private toLive(e: ServiceEvent): LiveEvent | undefined {
    switch (e.type) {
      case "incident.opened":
      case "incident.updated":
      case "incident.closed":
      case "incident.acknowledged":
        return { type: e.type, incident: toApiIncident(e.incident, this.prefix) };
      case "maintenance.changed":
        return { type: e.type, items: [...e.items] };
      case "stream.state":
        return { type: e.type, state: e.state };
      case "stream.levels": {
        const event: LiveEvent = {
          type: e.type,
          streamId: e.streamId,
          levels: e.levels,
          loudness: e.loudness,
        };
        if (e.thumbnailPts === undefined || this.clients.size === 0) return event;
        const now = Date.now();
        const last = this.lastThumbnailAt.get(e.streamId);
        if (last !== undefined && now - last < this.thumbnailIntervalMs) return event;
        this.lastThumbnailAt.set(e.streamId, now);
        return {
          ...event,
          thumbnail: {
            url: `${this.prefix}/streams/${encodeURIComponent(e.streamId)}/thumbnail`,
            pts: e.thumbnailPts,
          },
        };
      }
      default:
        return undefined;
    }
  }

  private broadcast(frame: string): void {
    for (const c of this.clients) this.send(c, frame);
  }

  private send(client: Client, frame: string): void {
    if (client.res.writableEnded || client.res.destroyed) return;
    if (client.res.writableLength > this.maxBacklog) {
      client.dropped++;
      this.droppedTotal++;
      return;
    }
    client.res.write(frame);
  }

  /** Ends every event stream and unsubscribes. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }
}
