import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { buildApi, type ApiInstance } from "../../src/api/server.js";
import { isStreamqcError } from "../../src/errors.js";
import { MemoryFacade } from "./memory-facade.js";
import { TOKEN, makeApi, type ErrorBody } from "./helpers.js";

describe("API auth", () => {
  const apps: ApiInstance[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });

  function api(options: Parameters<typeof makeApi>[0] = {}) {
    const made = makeApi({ token: TOKEN, ...options });
    apps.push(made.app);
    return made;
  }

  it("requires the bearer token on every route but /healthz, /readyz and the dashboard shell", async () => {
    const { app } = api();
    for (const url of [
      "/api/v1/streams",
      "/api/v1/incidents",
      "/api/v1/reports",
      "/metrics",
      "/openapi.json",
      "/api/v1/nope",
    ]) {
      const none = await app.inject({ method: "GET", url });
      expect(none.statusCode, url).toBe(401);
      expect(none.headers["www-authenticate"]).toBe('Bearer realm="streamqc"');
      expect(none.json<ErrorBody>()).toEqual({
        error: "Unauthorized",
        message: "a bearer token is required",
      });
      const wrong = await app.inject({ method: "GET", url, headers: { authorization: `Bearer ${TOKEN}x` } });
      expect(wrong.statusCode, url).toBe(401);
      expect(wrong.json<ErrorBody>().message).toBe("the token is not valid");
      const ok = await app.inject({ method: "GET", url, headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.statusCode, url).toBe(url === "/api/v1/nope" ? 404 : 200);
    }
    for (const url of ["/healthz", "/readyz", "/"]) {
      expect((await app.inject({ method: "GET", url })).statusCode, url).toBe(200);
    }
  });

  it("refuses a write without the token and leaves the service untouched", async () => {
    const { app, facade } = api();
    const res = await app.inject({
      method: "POST",
      url: "/api/v1/streams",
      payload: { name: "x", url: "udp://@239.1.1.1:5000" },
    });
    expect(res.statusCode).toBe(401);
    expect(facade.streams.size).toBe(0);
  });

  it("takes ?token= on the event stream only", async () => {
    const { app } = api();
    const res = await app.inject({ method: "GET", url: `/api/v1/streams?token=${TOKEN}` });
    expect(res.statusCode).toBe(401);
    const sse = await app.inject({ method: "GET", url: `/api/v1/events?token=${TOKEN}x` });
    expect(sse.statusCode).toBe(401);
  });

  it("refuses to serve on a non-loopback host without a token", () => {
    const facade = new MemoryFacade();
    for (const host of ["0.0.0.0", "::", "192.168.1.10", "example.com"]) {
      let thrown: unknown;
      try {
        buildApi(facade, { host, logger: false });
      } catch (err) {
        thrown = err;
      }
      expect(isStreamqcError(thrown, "SQM_ERR_CONFIG"), host).toBe(true);
      expect((thrown as Error).message).toContain(host);
    }
    for (const host of ["127.0.0.1", "::1", "localhost"])
      apps.push(buildApi(facade, { host, logger: false }));
    apps.push(buildApi(facade, { host: "0.0.0.0", token: TOKEN, logger: false }));
  });

  it("redacts tokens in request logs", async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(...chunk.toString().split("\n").filter(Boolean));
        cb();
      },
    });
    const { app } = api({ logger: { level: "info", stream } });
    await app.inject({
      method: "GET",
      url: `/api/v1/streams?token=${TOKEN}`,
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    await app.inject({ method: "GET", url: `/api/v1/events?token=wrong-${TOKEN}` });
    const log = lines.join("\n");
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(log).toContain("/api/v1/streams?token=***");
    expect(log).not.toContain(TOKEN);
  });
});
