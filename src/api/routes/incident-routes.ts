/**
 * `/incidents`: the journal (newest first, a page at a time), one incident with its evidence,
 * and acknowledgements (one, a selection, or all of a stream's).
 */
import { z } from "zod";
import {
  API_PREFIX,
  errorBody,
  errorResponses,
  fieldError,
  notFound,
  sendBytes,
  type ApiContext,
  type ApiInstance,
} from "../api-context.js";
import { toApiIncident } from "../incident-view.js";
import {
  AckBodySchema,
  BulkAckBodySchema,
  BulkAckResultSchema,
  EvidenceParamsSchema,
  IdParamsSchema,
  IncidentPageSchema,
  IncidentQuerySchema,
  IncidentSchema,
} from "../schemas.js";
import type { AckInput, AckResult } from "../../service/service-facade.js";

export function incidentRoutes(api: ApiInstance, { facade, operator }: ApiContext): void {
  const incidents = { tags: ["incidents"] };
  const ackOf = (body: { by?: string | undefined; comment?: string | undefined }): AckInput => ({
    by: body.by ?? operator,
    comment: body.comment === undefined || body.comment.trim() === "" ? null : body.comment,
  });
  const resultOf = (r: AckResult) => ({
    items: r.items.map((i) => toApiIncident(i, API_PREFIX)),
    acknowledged: r.acknowledged,
    unknown: [...r.unknown],
  });

  api.get(
    "/incidents",
    {
      schema: {
        ...incidents,
        summary: "Incidents, newest first, a page at a time",
        querystring: IncidentQuerySchema,
        response: { 200: IncidentPageSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const q = req.query;
      if (q.from !== undefined && q.to !== undefined && Date.parse(q.from) >= Date.parse(q.to)) {
        return fieldError(reply, "from", "must be before `to`");
      }
      const page = await facade.listIncidents(q);
      return { items: page.items.map((i) => toApiIncident(i, API_PREFIX)), next: page.next };
    },
  );

  api.get(
    "/incidents/:id",
    {
      schema: {
        ...incidents,
        summary: "One incident with its evidence list",
        params: IdParamsSchema,
        response: { 200: IncidentSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const incident = await facade.getIncident(req.params.id);
      return incident
        ? reply.send(toApiIncident(incident, API_PREFIX))
        : notFound(reply, "incident", req.params.id);
    },
  );

  api.post(
    "/incidents/:id/ack",
    {
      schema: {
        ...incidents,
        summary: "Acknowledge one incident",
        description:
          "Records who acknowledged it, when and why, and pushes `incident.acknowledged` to every event stream. The first acknowledgement stands: repeating it answers 200 with the incident unchanged. `by` defaults to the API's operator name.",
        params: IdParamsSchema,
        body: AckBodySchema.nullish().describe("Optional; an empty body is `{}`."),
        response: { 200: IncidentSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const result = await facade.acknowledgeIncidents([req.params.id], ackOf(req.body ?? {}));
      const incident = result.items[0];
      return incident
        ? reply.send(toApiIncident(incident, API_PREFIX))
        : notFound(reply, "incident", req.params.id);
    },
  );

  api.post(
    "/incidents/ack",
    {
      schema: {
        ...incidents,
        summary: "Acknowledge a selection (`ids`) or a stream's open incidents (`stream`)",
        description:
          "With `ids`: each named incident (unknown ids are listed in `unknown`; the rest are still acknowledged). With `stream` (id or name): its unacknowledged open incidents, and its cleared ones too with `includeCleared`. Pushes `incident.acknowledged` for each incident this request acknowledged.",
        body: BulkAckBodySchema,
        response: { 200: BulkAckResultSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const body = req.body;
      const ack = ackOf(body);
      if (body.ids !== undefined)
        return resultOf(await facade.acknowledgeIncidents([...new Set(body.ids)], ack));
      const stream = body.stream ?? "";
      const result = await facade.acknowledgeStream(stream, ack, {
        includeCleared: body.includeCleared ?? false,
      });
      return result ? resultOf(result) : notFound(reply, "stream", stream);
    },
  );

  api.get(
    "/incidents/:id/evidence/:name",
    {
      schema: {
        ...incidents,
        summary: "The bytes of one evidence item (thumbnail, levels, ...)",
        params: EvidenceParamsSchema,
        response: {
          200: {
            description: "The evidence, with its content type",
            content: { "application/octet-stream": { schema: z.string() } },
          },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const { id, name } = req.params;
      const blob = await facade.getEvidence(id, name);
      if (blob) return sendBytes(reply.header("cache-control", "private, max-age=86400, immutable"), blob);
      if (!(await facade.getIncident(id))) return notFound(reply, "incident", id);
      return reply
        .code(404)
        .send(
          errorBody(404, `incident "${id}" has no evidence named "${name}"`, { code: "SQM_ERR_NOT_FOUND" }),
        );
    },
  );
}
