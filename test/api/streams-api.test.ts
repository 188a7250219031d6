import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ApiInstance } from "../../src/api/server.js";
import type { Stream, StreamState } from "../../src/api/schemas.js";
import type { MemoryFacade } from "./memory-facade.js";
import { makeApi, type ErrorBody } from "./helpers.js";

describe("streams API", () => {
  let app: ApiInstance;
  let facade: MemoryFacade;
  beforeEach(() => {
    ({ app, facade } = makeApi());
  });
  afterEach(async () => {
    await app.close();
  });

  const create = (payload: unknown) =>
    app.inject({ method: "POST", url: "/api/v1/streams", payload: payload as object });

  it("creates a stream: 201 with its id, default profile and a Location header", async () => {
    const res = await create({ name: "ch-12", url: "srt://10.0.0.1:9000", labels: { region: "eu" } });
    expect(res.statusCode).toBe(201);
    const body = res.json<Stream>();
    expect(body.id).toMatch(/\S/);
    expect(body).toMatchObject({
      name: "ch-12",
      url: "srt://10.0.0.1:9000",
      profile: "default",
      labels: { region: "eu" },
      enabled: true,
    });
    expect(res.headers.location).toBe(`/api/v1/streams/${body.id}`);
    const got = await app.inject({ method: "GET", url: `/api/v1/streams/${body.id}` });
    expect(got.statusCode).toBe(200);
    expect(got.json()).toEqual(body);
    const list = await app.inject({ method: "GET", url: "/api/v1/streams" });
    expect(list.json<{ items: Stream[] }>().items.map((s) => s.name)).toEqual(["ch-12"]);
  });

  it("answers 409 to a duplicate name, on create and on rename", async () => {
    expect((await create({ name: "a", url: "udp://@239.1.1.1:5000" })).statusCode).toBe(201);
    const b = (await create({ name: "b", url: "udp://@239.1.1.2:5000" })).json<Stream>();
    const dup = await create({ name: "a", url: "https://x/live.m3u8" });
    expect(dup.statusCode).toBe(409);
    expect(dup.json<ErrorBody>()).toMatchObject({ error: "Conflict", code: "SQM_ERR_CONFLICT" });
    const rename = await app.inject({
      method: "PATCH",
      url: `/api/v1/streams/${b.id}`,
      payload: { name: "a" },
    });
    expect(rename.statusCode).toBe(409);
    expect(facade.streams.size).toBe(2);
  });

  it("answers 400 with the field path for a bad payload", async () => {
    const res = await create({ name: "bad name!", url: "gopher://host/x", labels: { ok: 3 }, extra: true });
    expect(res.statusCode).toBe(400);
    const body = res.json<ErrorBody>();
    expect(body.error).toBe("Bad Request");
    expect(body.details?.map((d) => d.path).sort()).toEqual(["extra", "labels.ok", "name", "url"]);
    expect(body.details?.find((d) => d.path === "url")?.message).toMatch(/scheme/);
    const missing = await create({ url: "udp://@239.1.1.1:5000" });
    expect(missing.statusCode).toBe(400);
    expect(missing.json<ErrorBody>().details).toEqual([expect.objectContaining({ path: "name" })]);
    expect(facade.streams.size).toBe(0);
  });

  it("refuses local files unless the facade allows them, with a url field error", async () => {
    for (const url of ["file:///srv/media/a.ts", "/srv/media/a.ts"]) {
      const res = await create({ name: "local", url });
      expect(res.statusCode).toBe(400);
      expect(res.json<ErrorBody>().details).toEqual([
        { path: "url", message: "reading local files is not allowed" },
      ]);
    }
    facade.allowLocalFiles = true;
    expect((await create({ name: "local", url: "file:///srv/media/a.ts" })).statusCode).toBe(201);
  });

  it("refuses an unknown profile with a profile field error", async () => {
    const res = await create({ name: "p", url: "udp://@239.1.1.1:5000", profile: "nope" });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().details?.[0]?.path).toBe("profile");
    expect((await create({ name: "p", url: "udp://@239.1.1.1:5000", profile: "light" })).statusCode).toBe(
      201,
    );
  });

  it("answers 400 to a body that is not JSON", async () => {
    const res = await app.inject({
      method: "POST",
      url: "/api/v1/streams",
      headers: { "content-type": "application/json" },
      payload: '{"name": "x",',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>()).toEqual({ error: "Bad Request", message: "the body is not valid JSON" });
  });

  it("answers 404 with a clear message for unknown ids on every stream route", async () => {
    const routes: [string, string][] = [
      ["GET", "/api/v1/streams/nope"],
      ["PATCH", "/api/v1/streams/nope"],
      ["DELETE", "/api/v1/streams/nope"],
      ["POST", "/api/v1/streams/nope/start"],
      ["POST", "/api/v1/streams/nope/stop"],
      ["GET", "/api/v1/streams/nope/state"],
      ["GET", "/api/v1/streams/nope/thumbnail"],
      ["GET", "/api/v1/reports/streams/nope"],
      ["GET", "/api/v1/incidents/nope"],
    ];
    for (const [method, url] of routes) {
      const res = await app.inject({
        method: method as "GET",
        url,
        ...(method === "PATCH" ? { payload: { enabled: false } } : {}),
      });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json<ErrorBody>().message, `${method} ${url}`).toMatch(
        /^no (stream|incident) with id "nope"$/,
      );
    }
    const route = await app.inject({ method: "GET", url: "/api/v1/nothing" });
    expect(route.statusCode).toBe(404);
  });

  it("patches, stops, starts, reads state and deletes", async () => {
    const s = (await create({ name: "c", url: "udp://@239.1.1.1:5000" })).json<Stream>();
    const patched = await app.inject({
      method: "PATCH",
      url: `/api/v1/streams/${s.id}`,
      payload: { labels: { a: "b" } },
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json<Stream>().labels).toEqual({ a: "b" });
    const empty = await app.inject({ method: "PATCH", url: `/api/v1/streams/${s.id}`, payload: {} });
    expect(empty.statusCode).toBe(400);
    const stop = await app.inject({ method: "POST", url: `/api/v1/streams/${s.id}/stop` });
    expect(stop.statusCode).toBe(200);
    expect(stop.json<StreamState>().status).toBe("stopped");
    expect(facade.streams.get(s.id)?.enabled).toBe(false);
    const start = await app.inject({ method: "POST", url: `/api/v1/streams/${s.id}/start` });
    expect(start.json<StreamState>().status).toBe("starting");
    const state = await app.inject({ method: "GET", url: `/api/v1/streams/${s.id}/state` });
    expect(state.statusCode).toBe(200);
    expect(state.json<StreamState>()).toMatchObject({ id: s.id, name: "c", status: "starting", frames: 0 });
    const del = await app.inject({ method: "DELETE", url: `/api/v1/streams/${s.id}` });
    expect(del.statusCode).toBe(204);
    expect(del.body).toBe("");
    expect((await app.inject({ method: "GET", url: `/api/v1/streams/${s.id}` })).statusCode).toBe(404);
  });

  it("serves the latest thumbnail as JPEG, 404 before there is one", async () => {
    const s = (await create({ name: "t", url: "udp://@239.1.1.1:5000" })).json<Stream>();
    const none = await app.inject({ method: "GET", url: `/api/v1/streams/${s.id}/thumbnail` });
    expect(none.statusCode).toBe(404);
    expect(none.json<ErrorBody>().message).toMatch(/no thumbnail yet/);
    facade.thumbnails.set(s.id, {
      contentType: "image/jpeg",
      bytes: Uint8Array.from([0xff, 0xd8, 0xff, 0xd9]),
    });
    const res = await app.inject({ method: "GET", url: `/api/v1/streams/${s.id}/thumbnail` });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("image/jpeg");
    expect([...res.rawPayload]).toEqual([0xff, 0xd8, 0xff, 0xd9]);
  });

  it("reports one stream or all, and refuses from >= to", async () => {
    const s = (await create({ name: "r", url: "udp://@239.1.1.1:5000" })).json<Stream>();
    const from = "2026-01-01T00:00:00Z";
    const to = "2026-01-02T00:00:00Z";
    const one = await app.inject({
      method: "GET",
      url: `/api/v1/reports/streams/${s.id}?from=${from}&to=${to}`,
    });
    expect(one.statusCode).toBe(200);
    expect(one.json()).toEqual({
      stream: "r",
      streamId: s.id,
      from: "2026-01-01T00:00:00.000Z",
      to: "2026-01-02T00:00:00.000Z",
      availability: 1,
      defectSeconds: {},
    });
    const all = await app.inject({ method: "GET", url: `/api/v1/reports?from=${from}&to=${to}` });
    expect(all.json<{ items: unknown[] }>().items).toHaveLength(1);
    const bad = await app.inject({ method: "GET", url: `/api/v1/reports?from=${to}&to=${from}` });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<ErrorBody>().details?.[0]?.path).toBe("from");
    const notDate = await app.inject({ method: "GET", url: `/api/v1/reports?from=yesterday` });
    expect(notDate.statusCode).toBe(400);
    expect(notDate.json<ErrorBody>().details?.[0]?.path).toBe("from");
  });

  it("health is 200; readiness follows the facade (503 when not ready)", async () => {
    expect((await app.inject({ method: "GET", url: "/healthz" })).json()).toEqual({ status: "ok" });
    expect((await app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
    facade.ready = { ready: false, checks: { store: { ok: false, message: "database is locked" } } };
    const res = await app.inject({ method: "GET", url: "/readyz" });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual(facade.ready);
  });

  it("subscribes to live events once when ready and unsubscribes on close", async () => {
    const { app: other, facade: f } = makeApi();
    expect(f.listenerCount()).toBe(0);
    await other.ready();
    expect(f.listenerCount()).toBe(1);
    await other.close();
    expect(f.listenerCount()).toBe(0);
  });

  it("serves the dashboard page at / and its bundle under /assets (built by npm run build)", async () => {
    const res = await app.inject({ method: "GET", url: "/" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.headers["cache-control"]).toBe("no-cache");
    const js = /src="\/assets\/(app-[A-Z0-9]+\.js)"/.exec(res.body)?.[1];
    const css = /href="\/assets\/(app-[A-Z0-9]+\.css)"/.exec(res.body)?.[1];
    expect(js, res.body).toBeDefined();
    expect(css, res.body).toBeDefined();
    const script = await app.inject({ method: "GET", url: `/assets/${js}` });
    expect(script.statusCode).toBe(200);
    expect(script.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(script.headers["cache-control"]).toContain("immutable");
    expect(script.body).toContain("EventSource");
    expect((await app.inject({ method: "GET", url: `/assets/${css}` })).headers["content-type"]).toBe(
      "text/css; charset=utf-8",
    );
    for (const bad of ["/assets/..%2Fweb%2Findex.html", "/assets/nope.js", "/assets/index.html"]) {
      expect((await app.inject({ method: "GET", url: bad })).statusCode, bad).toBe(404);
    }
  });
});
