/** `/reports`: availability and defect seconds per stream over a period. */
import { errorResponses, fieldError, notFound, type ApiContext, type ApiInstance } from "../api-context.js";
import { IdParamsSchema, ReportListSchema, ReportQuerySchema, ReportSchema } from "../schemas.js";

function period(q: { from?: string | undefined; to?: string | undefined }): { from: Date; to: Date } {
  const to = q.to !== undefined ? new Date(q.to) : new Date();
  const from = q.from !== undefined ? new Date(q.from) : new Date(to.getTime() - 24 * 3600_000);
  return { from, to };
}

export function reportRoutes(api: ApiInstance, { facade }: ApiContext): void {
  const reports = { tags: ["reports"] };

  api.get(
    "/reports",
    {
      schema: {
        ...reports,
        summary: "Availability and defect seconds of every stream over a period",
        querystring: ReportQuerySchema,
        response: { 200: ReportListSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { from, to } = period(req.query);
      if (from >= to) return fieldError(reply, "from", "must be before `to`");
      return { items: [...((await facade.reports(undefined, from, to)) ?? [])] };
    },
  );

  api.get(
    "/reports/streams/:id",
    {
      schema: {
        ...reports,
        summary: "Availability and defect seconds of one stream over a period",
        params: IdParamsSchema,
        querystring: ReportQuerySchema,
        response: { 200: ReportSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { from, to } = period(req.query);
      if (from >= to) return fieldError(reply, "from", "must be before `to`");
      const report = (await facade.reports(req.params.id, from, to))?.[0];
      return report ? reply.send(report) : notFound(reply, "stream", req.params.id);
    },
  );
}
