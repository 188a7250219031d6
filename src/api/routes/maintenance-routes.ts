/**
 * `/maintenance`: mute a stream, a label set or every stream until a time, with a reason.
 * Muted streams are still monitored and their incidents recorded; only alerts are not sent
 * (the alert router checks the windows when an incident opens).
 */
import { z } from "zod";
import { errorResponses, notFound, type ApiContext, type ApiInstance } from "../api-context.js";
import {
  IdParamsSchema,
  MaintenanceCreateSchema,
  MaintenanceDeleteQuerySchema,
  MaintenanceListSchema,
  MaintenanceQuerySchema,
  MaintenanceSchema,
} from "../schemas.js";

export function maintenanceRoutes(api: ApiInstance, { facade, operator }: ApiContext): void {
  const maintenance = { tags: ["maintenance"] };

  api.get(
    "/maintenance",
    {
      schema: {
        ...maintenance,
        summary: "Maintenance windows not yet ended (or all with `ended=true`), by start",
        querystring: MaintenanceQuerySchema,
        response: { 200: MaintenanceListSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const items = await facade.listMaintenance(req.query);
      return items ? { items: [...items] } : notFound(reply, "stream", req.query.stream ?? "");
    },
  );

  api.post(
    "/maintenance",
    {
      schema: {
        ...maintenance,
        summary: "Mute a stream, a label set or every stream until a time",
        description:
          "Exactly one of `stream` (id or name), `labels` (streams whose labels include all of these) or `all: true`. Pushes `maintenance.changed` and the affected streams' `stream.state` (with `muted`).",
        body: MaintenanceCreateSchema,
        response: { 201: MaintenanceSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const window = await facade.addMaintenance({
        ...(b.stream !== undefined ? { stream: b.stream } : {}),
        ...(b.labels !== undefined ? { labels: b.labels } : {}),
        ...(b.all !== undefined ? { all: b.all } : {}),
        from: b.from ?? new Date().toISOString(),
        until: b.until,
        reason: b.reason,
        by: b.by ?? operator,
      });
      return window ? reply.code(201).send(window) : notFound(reply, "stream", b.stream ?? "");
    },
  );

  api.delete(
    "/maintenance/:id",
    {
      schema: {
        ...maintenance,
        summary: "End a maintenance window (remove it)",
        params: IdParamsSchema,
        response: { 204: z.null().describe("Removed"), ...errorResponses },
      },
    },
    async (req, reply) =>
      (await facade.deleteMaintenance(req.params.id))
        ? reply.code(204).send(null)
        : notFound(reply, "maintenance window", req.params.id),
  );

  api.delete(
    "/maintenance",
    {
      schema: {
        ...maintenance,
        summary: "Unmute one stream: remove the windows for that stream alone",
        description: "Label and global windows that cover it stay; remove those by id.",
        querystring: MaintenanceDeleteQuerySchema,
        response: { 200: z.object({ removed: z.number().int() }), ...errorResponses },
      },
    },
    async (req, reply) => {
      const removed = await facade.unmuteStream(req.query.stream);
      return removed === undefined ? notFound(reply, "stream", req.query.stream) : { removed };
    },
  );
}
