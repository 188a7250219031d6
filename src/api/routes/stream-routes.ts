/** `/streams`: the configured streams, their live state, thumbnail and last hour of measurements. */
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
import {
  ErrorSchema,
  HistoryQuerySchema,
  IdParamsSchema,
  StreamCreateSchema,
  StreamHistorySchema,
  StreamListSchema,
  StreamPatchSchema,
  StreamSchema,
  StreamStateSchema,
  urlScheme,
} from "../schemas.js";
import type { FastifyReply } from "fastify";
import type { ServiceFacade } from "../../service/service-facade.js";

function checkUrl(facade: ServiceFacade, reply: FastifyReply, url: string | undefined): boolean {
  if (url !== undefined && urlScheme(url) === "file" && !facade.allowLocalFiles) {
    fieldError(reply, "url", "reading local files is not allowed");
    return false;
  }
  const problem = url === undefined ? undefined : facade.urlProblem?.(url);
  if (problem !== undefined) {
    fieldError(reply, "url", problem);
    return false;
  }
  return true;
}

function checkProfile(facade: ServiceFacade, reply: FastifyReply, profile: string | undefined): boolean {
  if (profile === undefined) return true;
  const known = facade.profileNames();
  if (!known.includes(profile)) {
    fieldError(reply, "profile", `unknown profile "${profile}"; configured: ${known.join(", ")}`);
    return false;
  }
  return true;
}

export function streamRoutes(api: ApiInstance, { facade }: ApiContext): void {
  const streams = { tags: ["streams"] };

  api.get(
    "/streams",
    {
      schema: { ...streams, summary: "List streams", response: { 200: StreamListSchema, 401: ErrorSchema } },
    },
    async () => ({ items: [...(await facade.listStreams())] }),
  );

  api.post(
    "/streams",
    {
      schema: {
        ...streams,
        summary: "Add a stream and start monitoring it",
        body: StreamCreateSchema,
        response: { 201: StreamSchema, 409: ErrorSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const body = req.body;
      if (!checkUrl(facade, reply, body.url) || !checkProfile(facade, reply, body.profile ?? "default"))
        return reply;
      const stream = await facade.createStream({ ...body, profile: body.profile ?? "default" });
      return reply.code(201).header("location", `${API_PREFIX}/streams/${stream.id}`).send(stream);
    },
  );

  api.get(
    "/streams/:id",
    {
      schema: {
        ...streams,
        summary: "One stream",
        params: IdParamsSchema,
        response: { 200: StreamSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const stream = await facade.getStream(req.params.id);
      return stream ? reply.send(stream) : notFound(reply, "stream", req.params.id);
    },
  );

  api.patch(
    "/streams/:id",
    {
      schema: {
        ...streams,
        summary: "Change a stream (a new url or profile restarts its monitoring)",
        params: IdParamsSchema,
        body: StreamPatchSchema,
        response: { 200: StreamSchema, 409: ErrorSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      if (!checkUrl(facade, reply, req.body.url) || !checkProfile(facade, reply, req.body.profile))
        return reply;
      const stream = await facade.updateStream(req.params.id, req.body);
      return stream ? reply.send(stream) : notFound(reply, "stream", req.params.id);
    },
  );

  api.delete(
    "/streams/:id",
    {
      schema: {
        ...streams,
        summary: "Stop and remove a stream (its incidents stay)",
        params: IdParamsSchema,
        response: { 204: z.null().describe("Removed"), ...errorResponses },
      },
    },
    async (req, reply) => {
      return (await facade.deleteStream(req.params.id))
        ? reply.code(204).send(null)
        : notFound(reply, "stream", req.params.id);
    },
  );

  for (const action of ["start", "stop"] as const) {
    api.post(
      `/streams/:id/${action}`,
      {
        schema: {
          ...streams,
          summary: action === "start" ? "Enable and start monitoring" : "Stop monitoring and disable",
          params: IdParamsSchema,
          response: { 200: StreamStateSchema, ...errorResponses },
        },
      },
      async (req, reply) => {
        const id = req.params.id;
        const state = action === "start" ? await facade.startStream(id) : await facade.stopStream(id);
        return state ? reply.send(state) : notFound(reply, "stream", id);
      },
    );
  }

  api.get(
    "/streams/:id/state",
    {
      schema: {
        ...streams,
        summary: "Live state: status, levels, loudness, TS/HLS counters, muting, open incidents, cost",
        params: IdParamsSchema,
        response: { 200: StreamStateSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const state = facade.streamState(req.params.id);
      return state ? reply.send(state) : notFound(reply, "stream", req.params.id);
    },
  );

  api.get(
    "/streams/:id/history",
    {
      schema: {
        ...streams,
        summary: "The last hour of loudness, true peak, levels per channel and A/V offset",
        description:
          "Sampled in memory about once a second while the stream runs; lost on restart. Columnar arrays (uPlot's data layout) with null where nothing was measured.",
        params: IdParamsSchema,
        querystring: HistoryQuerySchema,
        response: { 200: StreamHistorySchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const history = await facade.streamHistory(req.params.id, req.query.seconds);
      return history
        ? reply.header("cache-control", "no-store").send(history)
        : notFound(reply, "stream", req.params.id);
    },
  );

  api.get(
    "/streams/:id/thumbnail",
    {
      schema: {
        ...streams,
        summary: "The latest thumbnail (JPEG)",
        params: IdParamsSchema,
        response: {
          200: { description: "JPEG bytes", content: { "image/jpeg": { schema: z.string() } } },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const thumb = await facade.latestThumbnail(req.params.id);
      if (thumb) return sendBytes(reply.header("cache-control", "no-store"), thumb);
      if (!(await facade.getStream(req.params.id))) return notFound(reply, "stream", req.params.id);
      return reply.code(404).send(errorBody(404, `stream "${req.params.id}" has no thumbnail yet`));
    },
  );
}
