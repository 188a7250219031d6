/**
 * Acknowledgements through the API: one incident, a selection, a stream's open incidents;
 * validation at the boundary; the default operator; and the `incident.acknowledged` event
 * reaching a second client over a real socket.
 */
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ApiInstance } from "../../src/api/server.js";
import type { ApiIncident, Stream } from "../../src/api/schemas.js";
import { storedIncident, type MemoryFacade } from "./memory-facade.js";
import { makeApi, TOKEN, type ErrorBody } from "./helpers.js";
import { SseReader } from "./sse-reader.js";

interface BulkResult {
  items: ApiIncident[];
  acknowledged: number;
  unknown: string[];
}

describe("acknowledgements API", () => {
  let app: ApiInstance;
  let facade: MemoryFacade;
  let ch1: Stream;
  let ch2: Stream;
  beforeEach(async () => {
    ({ app, facade } = makeApi({ operator: "night-shift" }));
    ch1 = await facade.createStream({ name: "ch-1", url: "udp://@239.1.1.1:5000", profile: "default" });
    ch2 = await facade.createStream({ name: "ch-2", url: "udp://@239.1.1.2:5000", profile: "default" });
    facade.incidents.push(
      storedIncident(1, ch1, { end: null, duration: null, endedAt: null }),
      storedIncident(2, ch1, { end: null, duration: null, endedAt: null, type: "audio.silence" }),
      storedIncident(3, ch1), // closed, never acknowledged: cleared
      storedIncident(4, ch2, { end: null, duration: null, endedAt: null }),
    );
  });
  afterEach(async () => {
    await app.close();
  });

  const post = (url: string, payload: unknown) =>
    app.inject({ method: "POST", url, payload: payload as object });

  it("acknowledges one incident with who and why; the incident then carries it and its lifecycle", async () => {
    const before = (await app.inject({ method: "GET", url: "/api/v1/incidents/i0001" })).json<ApiIncident>();
    expect(before.acknowledged).toBeNull();
    expect(before.lifecycle).toBe("active");
    const res = await post("/api/v1/incidents/i0001/ack", { by: "alice", comment: "encoder restarted" });
    expect(res.statusCode, res.body).toBe(200);
    const acked = res.json<ApiIncident>();
    expect(acked.acknowledged).toMatchObject({ by: "alice", comment: "encoder restarted" });
    expect(Date.parse(acked.acknowledged!.at)).toBeGreaterThan(Date.now() - 10_000);
    expect(acked.lifecycle).toBe("acknowledged");
    // The first acknowledgement stands: a second one answers the same.
    const again = await post("/api/v1/incidents/i0001/ack", { by: "bob" });
    expect(again.statusCode).toBe(200);
    expect(again.json<ApiIncident>().acknowledged).toEqual(acked.acknowledged);
    const listed = await app.inject({ method: "GET", url: "/api/v1/incidents?acknowledged=true" });
    expect(listed.json<{ items: ApiIncident[] }>().items.map((i) => i.id)).toEqual(["i0001"]);
    const cleared = (await app.inject({ method: "GET", url: "/api/v1/incidents/i0003" })).json<ApiIncident>();
    expect(cleared.lifecycle).toBe("cleared");
    expect((await post("/api/v1/incidents/i0003/ack", {})).json<ApiIncident>().lifecycle).toBe("resolved");
  });

  it("takes the configured operator when `by` is missing, and an empty body", async () => {
    const res = await app.inject({ method: "POST", url: "/api/v1/incidents/i0002/ack" });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<ApiIncident>().acknowledged).toMatchObject({ by: "night-shift", comment: null });
  });

  it("refuses bad input with the field named, and acknowledges nothing", async () => {
    const cases: [string, unknown, string][] = [
      ["/api/v1/incidents/i0001/ack", { by: "" }, "by"],
      ["/api/v1/incidents/i0001/ack", { by: "x".repeat(65) }, "by"],
      ["/api/v1/incidents/i0001/ack", { by: "eve\u0007" }, "by"],
      ["/api/v1/incidents/i0001/ack", { comment: "y".repeat(1001) }, "comment"],
      ["/api/v1/incidents/i0001/ack", { comment: "bell\u0007" }, "comment"],
      ["/api/v1/incidents/i0001/ack", { who: "alice" }, "who"],
      ["/api/v1/incidents/ack", {}, ""],
      ["/api/v1/incidents/ack", { ids: ["i0001"], stream: "ch-1" }, ""],
      ["/api/v1/incidents/ack", { ids: [] }, "ids"],
      ["/api/v1/incidents/ack", { ids: ["i0001"], includeCleared: true }, "includeCleared"],
      ["/api/v1/incidents/ack", { ids: Array.from({ length: 501 }, (_, n) => `i${n}`) }, "ids"],
    ];
    for (const [url, body, field] of cases) {
      const res = await post(url, body);
      expect(res.statusCode, `${url} ${JSON.stringify(body)}`).toBe(400);
      const err = res.json<ErrorBody>();
      expect(
        err.details?.map((d) => d.path),
        JSON.stringify(body),
      ).toContain(field);
    }
    expect(facade.incidents.every((i) => i.acknowledged === null)).toBe(true);
    const missing = await post("/api/v1/incidents/nope/ack", {});
    expect(missing.statusCode).toBe(404);
    expect(missing.json<ErrorBody>().code).toBe("SQM_ERR_NOT_FOUND");
  });

  it("acknowledges a selection, listing ids it does not know", async () => {
    const res = await post("/api/v1/incidents/ack", {
      ids: ["i0001", "i0004", "zzz", "i0001"],
      comment: "seen",
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<BulkResult>();
    expect(body.items.map((i) => [i.id, i.acknowledged?.by, i.acknowledged?.comment])).toEqual([
      ["i0001", "night-shift", "seen"],
      ["i0004", "night-shift", "seen"],
    ]);
    expect(body.acknowledged).toBe(2);
    expect(body.unknown).toEqual(["zzz"]);
  });

  it("acknowledges a stream's open incidents (by name or id), and its cleared ones on request", async () => {
    const open = (await post("/api/v1/incidents/ack", { stream: "ch-1" })).json<BulkResult>();
    expect(open.items.map((i) => i.id).sort()).toEqual(["i0001", "i0002"]);
    expect(open.acknowledged).toBe(2);
    const again = (
      await post("/api/v1/incidents/ack", { stream: ch1.id, includeCleared: true })
    ).json<BulkResult>();
    expect(again.items.map((i) => [i.id, i.lifecycle])).toEqual([["i0003", "resolved"]]);
    // The other stream is untouched.
    expect(facade.incidents.find((i) => i.id === "i0004")!.acknowledged).toBeNull();
    const unknown = await post("/api/v1/incidents/ack", { stream: "no-such" });
    expect(unknown.statusCode).toBe(404);
  });
});

describe("acknowledgements over a real socket", () => {
  it("pushes incident.acknowledged to every open event stream, with a resumable id", async () => {
    const { app, facade } = makeApi({ token: TOKEN });
    try {
      await app.listen({ port: 0, host: "127.0.0.1" });
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const stream = await facade.createStream({
        name: "ch-1",
        url: "udp://@239.1.1.1:5000",
        profile: "default",
      });
      facade.incidents.push(storedIncident(1, stream, { end: null, duration: null, endedAt: null }));
      const open = async () => {
        const res = await fetch(`${base}/api/v1/events?token=${TOKEN}`);
        expect(res.status).toBe(200);
        return new SseReader(res);
      };
      // Two dashboards watching.
      const a = await open();
      const b = await open();
      await a.next();
      await b.next();
      const refused = await fetch(`${base}/api/v1/incidents/i0001/ack`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ by: "mallory" }),
      });
      expect(refused.status).toBe(401);
      const res = await fetch(`${base}/api/v1/incidents/i0001/ack`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ by: "alice", comment: "on it" }),
      });
      expect(res.status).toBe(200);
      for (const client of [a, b]) {
        const e = await client.nextEvent();
        expect(e.event).toBe("incident.acknowledged");
        expect(e.id).toMatch(/^[0-9a-f]{8}-\d+$/);
        const data = JSON.parse(e.data!) as { type: string; incident: ApiIncident };
        expect(data.type).toBe("incident.acknowledged");
        expect(data.incident).toMatchObject({
          id: "i0001",
          lifecycle: "acknowledged",
          acknowledged: { by: "alice", comment: "on it" },
        });
        await client.close();
      }
      // A repeat announces nothing new: it changed nothing.
      expect(facade.incidents[0]!.acknowledged?.by).toBe("alice");
    } finally {
      await app.close();
    }
  });
});
