/** Outside `/api/v1`: Prometheus metrics, the OpenAPI document, liveness and readiness probes. */
import { z } from "zod";
import type { ApiContext, ApiInstance } from "../api-context.js";
import type { ApiMetrics } from "../metrics.js";
import { ReadinessSchema } from "../schemas.js";

export function serviceRoutes(root: ApiInstance, { facade }: ApiContext, metrics: ApiMetrics): void {
  root.get(
    "/metrics",
    { schema: { tags: ["service"], summary: "Prometheus metrics (text exposition format)" } },
    async (_req, reply) => {
      const body = await metrics.render();
      return reply.type(metrics.contentType).send(body);
    },
  );
  root.get("/openapi.json", { schema: { hide: true } }, async (_req, reply) => reply.send(root.swagger()));
  root.get(
    "/healthz",
    {
      schema: {
        tags: ["service"],
        summary: "The process is alive",
        security: [],
        response: { 200: z.object({ status: z.literal("ok") }) },
      },
    },
    () => ({ status: "ok" as const }),
  );
  root.get(
    "/readyz",
    {
      schema: {
        tags: ["service"],
        summary: "The store is reachable and the runners are started",
        security: [],
        response: { 200: ReadinessSchema, 503: ReadinessSchema },
      },
    },
    async (req, reply) => {
      let readiness;
      try {
        readiness = await facade.readiness();
      } catch (err) {
        req.log.warn({ err }, "readiness check failed");
        readiness = { ready: false, checks: { service: { ok: false, message: "readiness check failed" } } };
      }
      return reply.code(readiness.ready ? 200 : 503).send(readiness);
    },
  );
}
