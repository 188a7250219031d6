/** `/maintenance` through the API: create, list, delete, unmute; validation; events over a real socket. */
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ApiInstance } from "../../src/api/server.js";
import type { Maintenance, Stream } from "../../src/api/schemas.js";
import type { MemoryFacade } from "./memory-facade.js";
import { makeApi, TOKEN, type ErrorBody } from "./helpers.js";
import { SseReader } from "./sse-reader.js";

const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

describe("maintenance API", () => {
  let app: ApiInstance;
  let facade: MemoryFacade;
  let ch1: Stream;
  beforeEach(async () => {
    ({ app, facade } = makeApi({ operator: "noc" }));
    ch1 = await facade.createStream({
      name: "ch-1",
      url: "udp://@239.1.1.1:5000",
      profile: "default",
      labels: { region: "eu" },
    });
  });
  afterEach(async () => {
    await app.close();
  });

  const post = (payload: unknown) =>
    app.inject({ method: "POST", url: "/api/v1/maintenance", payload: payload as object });

  it("mutes a stream by name until a time, lists it, and removes it", async () => {
    const until = inAnHour();
    const res = await post({ stream: "ch-1", until, reason: "encoder swap" });
    expect(res.statusCode, res.body).toBe(201);
    const w = res.json<Maintenance>();
    expect(w).toMatchObject({
      streamId: ch1.id,
      stream: "ch-1",
      labels: null,
      until,
      reason: "encoder swap",
      by: "noc",
      active: true,
    });
    const list = await app.inject({ method: "GET", url: "/api/v1/maintenance" });
    expect(list.json<{ items: Maintenance[] }>().items.map((x) => x.id)).toEqual([w.id]);
    expect(
      (await app.inject({ method: "GET", url: "/api/v1/maintenance?stream=ch-1" })).json<{
        items: Maintenance[];
      }>().items,
    ).toHaveLength(1);
    expect((await app.inject({ method: "GET", url: "/api/v1/maintenance?stream=nope" })).statusCode).toBe(
      404,
    );
    expect((await app.inject({ method: "DELETE", url: `/api/v1/maintenance/${w.id}` })).statusCode).toBe(204);
    expect((await app.inject({ method: "DELETE", url: `/api/v1/maintenance/${w.id}` })).statusCode).toBe(404);
  });

  it("mutes by labels and for all streams, and unmutes one stream", async () => {
    const byLabels = await post({
      labels: { region: "eu" },
      until: inAnHour(),
      reason: "headend",
      by: "alice",
    });
    expect(byLabels.statusCode, byLabels.body).toBe(201);
    expect(byLabels.json<Maintenance>()).toMatchObject({
      streamId: null,
      labels: { region: "eu" },
      by: "alice",
    });
    const later = new Date(Date.now() + 600_000).toISOString();
    const all = await post({ all: true, from: later, until: inAnHour(), reason: "planned" });
    expect(all.statusCode, all.body).toBe(201);
    expect(all.json<Maintenance>()).toMatchObject({
      streamId: null,
      labels: null,
      from: later,
      active: false,
    });
    await post({ stream: ch1.id, until: inAnHour(), reason: "mine" });
    const removed = await app.inject({ method: "DELETE", url: "/api/v1/maintenance?stream=ch-1" });
    expect(removed.json()).toEqual({ removed: 1 });
    expect(facade.maintenance).toHaveLength(2);
    expect((await app.inject({ method: "DELETE", url: "/api/v1/maintenance?stream=nope" })).statusCode).toBe(
      404,
    );
    expect((await app.inject({ method: "DELETE", url: "/api/v1/maintenance" })).statusCode).toBe(400);
  });

  it("refuses what is not a clear window, naming the field, and stores nothing", async () => {
    const until = inAnHour();
    const cases: [unknown, string][] = [
      [{ until, reason: "x" }, ""],
      [{ stream: "ch-1", all: true, until, reason: "x" }, ""],
      [{ stream: "ch-1", until: "tomorrow", reason: "x" }, "until"],
      [{ stream: "ch-1", until: new Date(Date.now() - 1000).toISOString(), reason: "x" }, "until"],
      [{ stream: "ch-1", from: until, until, reason: "x" }, "until"],
      [{ stream: "ch-1", until, reason: "" }, "reason"],
      [{ stream: "ch-1", until, reason: "r".repeat(501) }, "reason"],
      [{ stream: "ch-1", until }, "reason"],
      [{ labels: {}, until, reason: "x" }, "labels"],
      [{ labels: { "bad key": "x" }, until, reason: "x" }, "labels.bad key"],
      [{ all: false, until, reason: "x" }, "all"],
      [{ stream: "ch-1", until, reason: "x", extra: 1 }, "extra"],
      [{ stream: "ch-1", until, reason: "x", by: "\u0000" }, "by"],
    ];
    for (const [body, field] of cases) {
      const res = await post(body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(
        res.json<ErrorBody>().details?.map((d) => d.path),
        JSON.stringify(body),
      ).toContain(field);
    }
    const unknown = await post({ stream: "nope", until, reason: "x" });
    expect(unknown.statusCode).toBe(404);
    expect(facade.maintenance).toHaveLength(0);
  });
});

describe("maintenance over a real socket", () => {
  it("needs the token, and pushes maintenance.changed to the event stream", async () => {
    const { app, facade } = makeApi({ token: TOKEN });
    try {
      await app.listen({ port: 0, host: "127.0.0.1" });
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      await facade.createStream({ name: "ch-1", url: "udp://@239.1.1.1:5000", profile: "default" });
      const res = await fetch(`${base}/api/v1/events?token=${TOKEN}`);
      const events = new SseReader(res);
      await events.next();
      const body = JSON.stringify({ stream: "ch-1", until: inAnHour(), reason: "swap" });
      const headers = { "content-type": "application/json" };
      expect((await fetch(`${base}/api/v1/maintenance`, { method: "POST", headers, body })).status).toBe(401);
      const created = await fetch(`${base}/api/v1/maintenance`, {
        method: "POST",
        headers: { ...headers, authorization: `Bearer ${TOKEN}` },
        body,
      });
      expect(created.status).toBe(201);
      const w = (await created.json()) as Maintenance;
      const e = await events.nextEvent();
      expect(e.event).toBe("maintenance.changed");
      expect(e.id).toMatch(/-\d+$/);
      expect((JSON.parse(e.data!) as { items: Maintenance[] }).items.map((x) => x.id)).toEqual([w.id]);
      await events.close();
    } finally {
      await app.close();
    }
  });
});
