import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { makeApi, TOKEN } from "./helpers.js";
import { renderOpenApi } from "../../scripts/openapi.js";

describe("docs/openapi.json", () => {
  it("is what the server serves (regenerate with `npm run openapi`)", async () => {
    const { app } = makeApi({ token: TOKEN });
    try {
      const res = await app.inject({
        method: "GET",
        url: "/openapi.json",
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(res.statusCode).toBe(200);
      const committed = readFileSync(resolve(import.meta.dirname, "../../docs/openapi.json"), "utf8");
      expect(renderOpenApi(res.json())).toBe(committed);
    } finally {
      await app.close();
    }
  });

  it("documents every route of DESIGN.md with the bearer scheme", () => {
    const doc = JSON.parse(readFileSync(resolve(import.meta.dirname, "../../docs/openapi.json"), "utf8")) as {
      openapi: string;
      paths: Record<string, Record<string, { security?: unknown[] }>>;
      components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toMatch(/^3\./);
    const ops = Object.entries(doc.paths).flatMap(([p, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${p}`),
    );
    for (const op of [
      "GET /api/v1/streams",
      "POST /api/v1/streams",
      "GET /api/v1/streams/{id}",
      "PATCH /api/v1/streams/{id}",
      "DELETE /api/v1/streams/{id}",
      "POST /api/v1/streams/{id}/start",
      "POST /api/v1/streams/{id}/stop",
      "GET /api/v1/streams/{id}/state",
      "GET /api/v1/incidents",
      "GET /api/v1/incidents/{id}",
      "GET /api/v1/incidents/{id}/evidence/{name}",
      "GET /api/v1/reports",
      "GET /api/v1/reports/streams/{id}",
      "GET /api/v1/events",
      "GET /metrics",
      "GET /healthz",
      "GET /readyz",
    ]) {
      expect(ops).toContain(op);
    }
    expect(doc.components.securitySchemes).toEqual({ bearerAuth: { type: "http", scheme: "bearer" } });
    expect(doc.paths["/healthz"]?.["get"]?.security).toEqual([]);
    for (const name of [
      "Stream",
      "StreamCreate",
      "StreamPatch",
      "StreamState",
      "Incident",
      "IncidentPage",
      "Report",
      "Error",
    ]) {
      expect(Object.keys(doc.components.schemas)).toContain(name);
    }
  });
});
