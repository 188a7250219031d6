/**
 * The one test of the API over a real socket: real HTTP with fetch, and an SSE client reading
 * the event stream as a browser's EventSource would.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiInstance } from "../../src/api/server.js";
import type { Stream } from "../../src/api/schemas.js";
import { stateOf, storedIncident, type MemoryFacade } from "./memory-facade.js";
import { TOKEN, makeApi } from "./helpers.js";
import { SseReader } from "./sse-reader.js";

describe("API over a real socket", () => {
  let app: ApiInstance;
  let facade: MemoryFacade;
  let base: string;
  const auth = { authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    ({ app, facade } = makeApi({
      token: TOKEN,
      events: { heartbeatMs: 200, bufferSize: 8, maxClientBacklogBytes: 64 * 1024 },
    }));
    await app.listen({ port: 0, host: "127.0.0.1" });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    // Closes with event streams still open: preClose ends them, so this must not hang.
    await app.close();
  });

  const sse = async (query: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}/api/v1/events?${query}`, { headers });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    return new SseReader(res);
  };

  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`${base}/metrics`, { headers: auth })).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    return Number(line?.split(" ")[1]);
  };

  /** Polls a metric until it has a value; the test fails on vitest's timeout otherwise. */
  const until = async (name: string, ok: (v: number) => boolean) => {
    for (;;) {
      const v = await metric(name);
      if (ok(v)) return v;
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it("serves JSON over HTTP with the token and refuses without", async () => {
    expect((await fetch(`${base}/api/v1/streams`)).status).toBe(401);
    const created = await fetch(`${base}/api/v1/streams`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ name: "live-1", url: "https://cdn.example.com/live.m3u8" }),
    });
    expect(created.status).toBe(201);
    const stream = (await created.json()) as Stream;
    const list = (await (await fetch(`${base}/api/v1/streams`, { headers: auth })).json()) as {
      items: Stream[];
    };
    expect(list.items.map((s) => s.id)).toEqual([stream.id]);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it("streams events with SSE framing and resumes from Last-Event-ID", async () => {
    const stream = (await facade.listStreams())[0]!;
    const first = await sse(`token=${TOKEN}`);
    const hello = await first.next();
    expect(hello.retry).toBe("3000");
    expect(hello.comment).toMatch(/^streamqc [0-9a-f]{8}$/);
    await until("streamqc_sse_clients", (v) => v === 1);

    facade.emit({
      type: "incident.opened",
      incident: storedIncident(1, stream, { end: null, duration: null }),
    });
    facade.emit({
      type: "stream.levels",
      streamId: stream.id,
      levels: { peakDbfs: [-6.2], rmsDbfs: [-18] },
      loudness: null,
      thumbnailPts: 12.5,
    });
    // A second thumbnail within the interval is left out; the levels still go.
    facade.emit({
      type: "stream.levels",
      streamId: stream.id,
      levels: { peakDbfs: [-7], rmsDbfs: [-19] },
      loudness: null,
      thumbnailPts: 13,
    });

    const opened = await first.nextEvent();
    expect(opened.event).toBe("incident.opened");
    expect(opened.id).toMatch(/^[0-9a-f]{8}-1$/);
    expect(JSON.parse(opened.data!)).toMatchObject({
      type: "incident.opened",
      incident: { id: "i0001", stream: "live-1", end: null },
    });
    const levels = await first.nextEvent();
    expect(levels).toEqual({
      event: "stream.levels",
      data: JSON.stringify({
        type: "stream.levels",
        streamId: stream.id,
        levels: { peakDbfs: [-6.2], rmsDbfs: [-18] },
        loudness: null,
        thumbnail: { url: `/api/v1/streams/${stream.id}/thumbnail`, pts: 12.5 },
      }),
    });
    const levels2 = await first.nextEvent();
    expect(levels2.id).toBeUndefined();
    expect(JSON.parse(levels2.data!)).not.toHaveProperty("thumbnail");
    // Heartbeats keep idle connections open through proxies.
    for (;;) if ((await first.next()).comment === "heartbeat") break;

    await first.close();
    await until("streamqc_sse_clients", (v) => v === 0);

    // Missed while disconnected:
    facade.emit({ type: "incident.closed", incident: storedIncident(1, stream) });
    facade.emit({ type: "stream.state", state: stateOf(stream, "down") });

    const resumed = await sse("", { ...auth, "last-event-id": opened.id! });
    const missed1 = await resumed.nextEvent();
    const missed2 = await resumed.nextEvent();
    const boot = opened.id!.split("-")[0]!;
    expect([missed1.id, missed1.event]).toEqual([`${boot}-2`, "incident.closed"]);
    expect([missed2.id, missed2.event]).toEqual([`${boot}-3`, "stream.state"]);
    expect(JSON.parse(missed2.data!)).toMatchObject({
      type: "stream.state",
      state: { id: stream.id, status: "down" },
    });
    facade.emit({ type: "stream.state", state: stateOf(stream, "up") });
    const live = await resumed.nextEvent();
    expect([live.id, live.event]).toEqual([`${boot}-4`, "stream.state"]);
    await resumed.close();

    // An id from another boot (or one that left the buffer) cannot be resumed: the client is told to refetch.
    const stale = await sse(`token=${TOKEN}&lastEventId=00000000-3`);
    const reset = await stale.nextEvent();
    expect(reset.event).toBe("reset");
    expect(reset.id).toBeUndefined();
    await stale.close();
    for (let n = 0; n < 10; n++) facade.emit({ type: "stream.state", state: stateOf(stream, "up") });
    const tooOld = await sse(`token=${TOKEN}`, { "last-event-id": `${boot}-1` });
    expect((await tooOld.nextEvent()).event).toBe("reset");
    await tooOld.close();
    await until("streamqc_sse_clients", (v) => v === 0);
  });

  it("drops and counts events for a client that does not read, without disconnecting it", async () => {
    const stream = (await facade.listStreams())[0]!;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(`${base}/api/v1/events?token=${TOKEN}`, resolve);
      req.on("error", reject);
      req.end();
    });
    expect(res.statusCode).toBe(200);
    res.pause();
    await until("streamqc_sse_clients", (v) => v === 1);
    const big = { blob: "x".repeat(64 * 1024) };
    let dropped = 0;
    // Socket buffers on both ends absorb a few megabytes first; then the backlog limit applies.
    for (let batch = 0; batch < 200 && dropped === 0; batch++) {
      for (let n = 0; n < 20; n++) {
        facade.emit({ type: "incident.updated", incident: storedIncident(2, stream, { details: big }) });
      }
      await new Promise((r) => setImmediate(r));
      dropped = await metric("streamqc_sse_dropped_events_total");
    }
    expect(dropped).toBeGreaterThan(0);
    expect(await metric("streamqc_sse_clients")).toBe(1);
    res.destroy();
    await until("streamqc_sse_clients", (v) => v === 0);
  });
});
