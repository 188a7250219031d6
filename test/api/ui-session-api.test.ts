/**
 * The dashboard shell and its session: `/` and `/assets/*` from the UI bundle (placeholder
 * until one is built), open without a token; the token exchanged for an HttpOnly cookie that
 * then opens the API, the event stream and images to the browser, and only from this origin.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { gunzipSync, brotliDecompressSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "../helpers/media.js";
import { makeApi, TOKEN } from "./helpers.js";

describe("dashboard static files", () => {
  const web = tempDir("streamqc-web-");
  const empty = tempDir("streamqc-noweb-");
  afterAll(() => {
    web.cleanup();
    empty.cleanup();
  });
  mkdirSync(join(web.dir, "assets"));
  writeFileSync(
    join(web.dir, "index.html"),
    '<!doctype html><title>wall</title><script src="/assets/app-ABCD1234.js"></script>',
  );
  const js = `console.log(${JSON.stringify("x".repeat(5000))});\n`;
  writeFileSync(join(web.dir, "assets", "app-ABCD1234.js"), js);
  writeFileSync(join(web.dir, "assets", "wall.css"), "body{margin:0}");

  it("serves the bundle without a token: hashed assets for a year, compressed; others revalidate", async () => {
    const { app } = makeApi({ token: TOKEN, webRoots: [web.dir] });
    try {
      const index = await app.inject({ method: "GET", url: "/" });
      expect(index.statusCode).toBe(200);
      expect(index.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(index.headers["cache-control"]).toBe("no-cache");
      expect(index.body).toContain("<title>wall</title>");

      const br = await app.inject({
        method: "GET",
        url: "/assets/app-ABCD1234.js",
        headers: { "accept-encoding": "gzip, br" },
      });
      expect(br.statusCode).toBe(200);
      expect(br.headers["content-type"]).toBe("text/javascript; charset=utf-8");
      expect(br.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
      expect(br.headers["content-encoding"]).toBe("br");
      expect(br.headers["vary"]).toBe("accept-encoding");
      expect(brotliDecompressSync(br.rawPayload).toString()).toBe(js);
      const gz = await app.inject({
        method: "GET",
        url: "/assets/app-ABCD1234.js",
        headers: { "accept-encoding": "gzip" },
      });
      expect(gunzipSync(gz.rawPayload).toString()).toBe(js);
      const plain = await app.inject({ method: "GET", url: "/assets/app-ABCD1234.js" });
      expect(plain.headers["content-encoding"]).toBeUndefined();
      expect(plain.body).toBe(js);

      const css = await app.inject({ method: "GET", url: "/assets/wall.css" });
      expect(css.headers["cache-control"]).toBe("no-cache");
      const etag = css.headers["etag"] as string;
      expect(etag).toMatch(/^W\/"/);
      const again = await app.inject({
        method: "GET",
        url: "/assets/wall.css",
        headers: { "if-none-match": etag },
      });
      expect(again.statusCode).toBe(304);

      for (const bad of [
        "/assets/../index.html",
        "/assets/%2e%2e/index.html",
        "/assets/.hidden",
        "/assets/nope.js",
        "/assets/a//b.js",
      ]) {
        const res = await app.inject({ method: "GET", url: bad });
        // 404, or 401 where the path normalizes to no route at all (unknown routes need the token).
        expect([401, 404], bad).toContain(res.statusCode);
        expect(res.body, bad).not.toContain("<title>wall</title>");
      }
      // The API itself still needs the token.
      expect((await app.inject({ method: "GET", url: "/api/v1/streams" })).statusCode).toBe(401);
    } finally {
      await app.close();
    }
  });

  it("falls back to the placeholder dashboard while no bundle is built", async () => {
    const { app } = makeApi({ webRoots: [empty.dir] });
    try {
      const res = await app.inject({ method: "GET", url: "/" });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain("streamqc");
      expect((await app.inject({ method: "GET", url: "/assets/app.js" })).statusCode).toBe(404);
    } finally {
      await app.close();
    }
  });
});

describe("browser session over a real socket", () => {
  it("exchanges the token for an HttpOnly cookie that opens the API and the event stream, same origin only", async () => {
    const { app, facade } = makeApi({ token: TOKEN });
    try {
      await app.listen({ port: 0, host: "127.0.0.1" });
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const s = await facade.createStream({ name: "ch-1", url: "udp://@239.1.1.1:5000", profile: "default" });
      facade.thumbnails.set(s.id, {
        contentType: "image/jpeg",
        bytes: new Uint8Array([0xff, 0xd8, 0xff, 0xd9]),
      });

      expect(await (await fetch(`${base}/api/v1/session`)).json()).toEqual({
        required: true,
        authenticated: false,
      });
      const wrong = await fetch(`${base}/api/v1/session`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token: "wrong-token-0123456789" }),
      });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get("set-cookie")).toBeNull();
      const login = await fetch(`${base}/api/v1/session`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token: TOKEN }),
      });
      expect(login.status).toBe(204);
      const setCookie = login.headers.get("set-cookie")!;
      expect(setCookie).toMatch(
        /^streamqc_session=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=2592000$/,
      );
      expect(setCookie).not.toContain(TOKEN);
      const cookie = setCookie.split(";")[0]!;

      expect(await (await fetch(`${base}/api/v1/session`, { headers: { cookie } })).json()).toEqual({
        required: true,
        authenticated: true,
      });
      expect((await fetch(`${base}/api/v1/streams`, { headers: { cookie } })).status).toBe(200);
      const thumb = await fetch(`${base}/api/v1/streams/${s.id}/thumbnail`, { headers: { cookie } });
      expect(thumb.status).toBe(200);
      expect(thumb.headers.get("content-type")).toBe("image/jpeg");
      const events = await fetch(`${base}/api/v1/events`, { headers: { cookie } });
      expect(events.status).toBe(200);
      await events.body?.cancel();
      expect(
        (await fetch(`${base}/api/v1/streams`, { headers: { cookie: "streamqc_session=forged" } })).status,
      ).toBe(401);

      // A change with the cookie from another origin is refused; from ours it goes through.
      const create = (origin: string) =>
        fetch(`${base}/api/v1/streams`, {
          method: "POST",
          headers: { cookie, origin, "content-type": "application/json" },
          body: JSON.stringify({ name: `ch-${origin.length}`, url: "udp://@239.1.1.2:5000" }),
        });
      expect((await create("https://evil.example")).status).toBe(403);
      expect((await create(base)).status).toBe(201);

      const logout = await fetch(`${base}/api/v1/session`, { method: "DELETE" });
      expect(logout.status).toBe(204);
      expect(logout.headers.get("set-cookie")).toMatch(/^streamqc_session=; .*Max-Age=0/);
    } finally {
      await app.close();
    }
  });

  it("needs no session when no token is configured (loopback)", async () => {
    const { app } = makeApi();
    try {
      expect((await app.inject({ method: "GET", url: "/api/v1/session" })).json()).toEqual({
        required: false,
        authenticated: true,
      });
      const login = await app.inject({
        method: "POST",
        url: "/api/v1/session",
        payload: { token: "anything" },
      });
      expect(login.statusCode).toBe(204);
      expect(login.headers["set-cookie"]).toBeUndefined();
    } finally {
      await app.close();
    }
  });
});
