/**
 * The HTTP API of `streamqc serve`: Fastify with zod schemas (validation, serialization and
 * the OpenAPI document from one source), live events over SSE, Prometheus metrics, bearer
 * auth. It talks to the service only through a ServiceFacade.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import swagger from "@fastify/swagger";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import {
  createJsonSchemaTransform,
  createJsonSchemaTransformObject,
  hasZodFastifySchemaValidationErrors,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import type { DestinationStream } from "pino";
import { z } from "zod";
import { StreamqcError, isStreamqcError, type ErrorCode } from "../errors.js";
import { EventHub, withEvidenceUrls, type EventHubOptions } from "./event-hub.js";
import { ApiMetrics } from "./metrics.js";
import { workersRoutes } from "./workers-routes.js";
import { redactUrl } from "./redact.js";
import { registerWebAssets, WEB_PUBLIC_ROUTES } from "./web-assets.js";
import {
  ErrorSchema,
  EvidenceParamsSchema,
  IdParamsSchema,
  IncidentPageSchema,
  IncidentQuerySchema,
  IncidentSchema,
  ReadinessSchema,
  ReportListSchema,
  ReportQuerySchema,
  ReportSchema,
  StreamCreateSchema,
  StreamListSchema,
  StreamPatchSchema,
  StreamSchema,
  StreamStateSchema,
  apiSchemaRegistry,
  urlScheme,
  type ApiError,
} from "./schemas.js";
import type { ServiceFacade } from "../service/service-facade.js";

export const API_PREFIX = "/api/v1";

export interface ApiLoggerOptions {
  /** Default `info`. */
  readonly level?: string;
  /** Default stdout. */
  readonly stream?: DestinationStream;
}

export interface ApiOptions {
  /** The host the caller will listen on; without a token only loopback hosts are accepted. */
  readonly host: string;
  /** Bearer token; when set, every route but /healthz, /readyz and the dashboard shell needs it. */
  readonly token?: string | undefined;
  /** Request logs (pino, redacted); `false` for none. Default: info to stdout. */
  readonly logger?: ApiLoggerOptions | false;
  readonly events?: EventHubOptions;
}

export type ApiInstance = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "::1", "[::1]", "localhost"]);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase()) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Routes open without a token: liveness and readiness probes, and the dashboard's static shell. */
const PUBLIC_ROUTES = new Set<string>(["/healthz", "/readyz", ...WEB_PUBLIC_ROUTES]);

/**
 * Compares in constant time. Hashing first gives both sides the same length, so neither the
 * comparison nor an early length check reveals how much of the token was right.
 */
function tokenMatches(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  SQM_ERR_NOT_FOUND: 404,
  SQM_ERR_CONFLICT: 409,
  SQM_ERR_FORBIDDEN_URL: 400,
  SQM_ERR_INPUT_UNSUPPORTED: 400,
  SQM_ERR_CONFIG: 400,
};

function errorBody(status: number, message: string, extra: Partial<ApiError> = {}): ApiError {
  return { error: STATUS_CODES[status] ?? "Error", message, ...extra };
}

/** A 400 that names the field, in the same shape as schema validation errors. */
function fieldError(reply: FastifyReply, path: string, message: string): FastifyReply {
  return reply.code(400).send(errorBody(400, `${path}: ${message}`, { details: [{ path, message }] }));
}

function notFound(reply: FastifyReply, what: string, id: string): FastifyReply {
  return reply.code(404).send(errorBody(404, `no ${what} with id "${id}"`, { code: "SQM_ERR_NOT_FOUND" }));
}

const errorResponses = { 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema } as const;

export function buildApi(facade: ServiceFacade, options: ApiOptions): ApiInstance {
  const token = options.token === "" ? undefined : options.token;
  if (token === undefined && !isLoopbackHost(options.host)) {
    throw new StreamqcError(
      "SQM_ERR_CONFIG",
      `refusing to serve the API on ${options.host} without a token: set STREAMQC_API_TOKEN (or the config's api token), or listen on 127.0.0.1`,
    );
  }

  const app = Fastify<Server>({
    logger:
      options.logger === false
        ? false
        : {
            level: options.logger?.level ?? "info",
            ...(options.logger?.stream ? { stream: options.logger.stream } : {}),
            redact: { paths: ["req.headers.authorization", "headers.authorization"], censor: "***" },
            serializers: {
              req(req: FastifyRequest) {
                return { method: req.method, url: redactUrl(req.url), host: req.host, remoteAddress: req.ip };
              },
            },
          },
    // A stream URL with a long signed query fits; a megabyte of labels does not.
    bodyLimit: 64 * 1024,
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const hub = new EventHub(facade, API_PREFIX, options.events);
  const metrics = new ApiMetrics(
    () => facade.metrics(),
    () => hub.stats(),
  );
  app.addHook("onReady", (done) => {
    hub.start();
    done();
  });
  // Before the server closes: open event streams would otherwise keep close() waiting forever.
  app.addHook("preClose", (done) => {
    hub.close();
    done();
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const details = err.validation.flatMap((v) => {
        const path = v.instancePath.replace(/^\//, "").replaceAll("/", ".");
        const keys = (v.params as { keys?: unknown }).keys;
        if (v.keyword === "unrecognized_keys" && Array.isArray(keys)) {
          return keys.map((k) => ({
            path: path ? `${path}.${String(k)}` : String(k),
            message: "unknown field",
          }));
        }
        return [{ path, message: v.message ?? "invalid" }];
      });
      const where = err.validationContext ?? "request";
      const summary = details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join("; ");
      return reply.code(400).send(errorBody(400, `invalid ${where}: ${summary}`, { details }));
    }
    if (isStreamqcError(err, "SQM_ERR_INVALID_CURSOR")) {
      return reply.code(400).send(
        errorBody(400, `cursor: ${err.message}`, {
          code: err.code,
          details: [{ path: "cursor", message: err.message }],
        }),
      );
    }
    if (isStreamqcError(err)) {
      const status = STATUS_OF[err.code] ?? 500;
      if (status >= 500) req.log.error({ err }, "request failed");
      return reply.code(status).send(errorBody(status, err.message, { code: err.code }));
    }
    if (err.code === "FST_ERR_CTP_INVALID_JSON_BODY") {
      return reply.code(400).send(errorBody(400, "the body is not valid JSON"));
    }
    const status = typeof err.statusCode === "number" && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) {
      req.log.error({ err }, "request failed");
      // Internals (stack, SQL, paths) stay in the log.
      return reply.code(status).send(errorBody(status, "internal error; see the service log"));
    }
    return reply.code(status).send(errorBody(status, err.message));
  });

  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send(errorBody(404, `no route ${req.method} ${redactUrl(req.url).split("?")[0]}`)),
  );

  app.addHook("onRequest", async (req, reply) => {
    if (token === undefined) return;
    const route = req.routeOptions.url;
    if (route !== undefined && PUBLIC_ROUTES.has(route)) return;
    const header = req.headers.authorization;
    let given = header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
    // EventSource cannot set headers, so the event stream alone also takes ?token=. The URL may
    // then appear in proxy logs; our own request logs redact it.
    if (given === undefined && route === `${API_PREFIX}/events`) {
      const q = (req.query as Record<string, unknown> | undefined)?.["token"];
      if (typeof q === "string") given = q;
    }
    if (given === undefined || !tokenMatches(given, token)) {
      return reply
        .code(401)
        .header("www-authenticate", 'Bearer realm="streamqc"')
        .send(errorBody(401, given === undefined ? "a bearer token is required" : "the token is not valid"));
    }
  });

  void app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "streamqc",
        description: "Live audio/video stream quality monitor: streams, incidents, reports, live events.",
        version: "1.0.0",
      },
      components: {
        securitySchemes: { bearerAuth: { type: "http", scheme: "bearer" } },
      },
      security: [{ bearerAuth: [] }],
    },
    transform: createJsonSchemaTransform({ schemaRegistry: apiSchemaRegistry }),
    transformObject: createJsonSchemaTransformObject({ schemaRegistry: apiSchemaRegistry }),
  });

  void app.register(
    (api: ApiInstance, _opts, done) => {
      registerApiRoutes(api, facade, hub);
      done();
    },
    { prefix: API_PREFIX },
  );
  void app.register(workersRoutes(facade), { prefix: API_PREFIX });

  void app.register((root: ApiInstance, _opts, done) => {
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
    registerWebAssets(root);
    done();
  });

  return app;
}

function sendBytes(reply: FastifyReply, blob: { contentType: string; bytes: Uint8Array }): FastifyReply {
  // Stored content types are not trusted to be harmless: never let a browser sniff them into HTML.
  return reply
    .type(blob.contentType)
    .header("x-content-type-options", "nosniff")
    .header("content-length", blob.bytes.byteLength)
    .send(Buffer.from(blob.bytes.buffer, blob.bytes.byteOffset, blob.bytes.byteLength));
}

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

function registerApiRoutes(api: ApiInstance, facade: ServiceFacade, hub: EventHub): void {
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
        summary: "Live state: status, levels, measurements, open incidents, cost",
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
      const thumb = facade.latestThumbnail(req.params.id);
      if (thumb) return sendBytes(reply.header("cache-control", "no-store"), thumb);
      if (!(await facade.getStream(req.params.id))) return notFound(reply, "stream", req.params.id);
      return reply.code(404).send(errorBody(404, `stream "${req.params.id}" has no thumbnail yet`));
    },
  );

  const incidents = { tags: ["incidents"] };

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
      return { items: page.items.map((i) => withEvidenceUrls(i, API_PREFIX)), next: page.next };
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
        ? reply.send(withEvidenceUrls(incident, API_PREFIX))
        : notFound(reply, "incident", req.params.id);
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

  const reports = { tags: ["reports"] };
  const period = (q: { from?: string | undefined; to?: string | undefined }) => {
    const to = q.to !== undefined ? new Date(q.to) : new Date();
    const from = q.from !== undefined ? new Date(q.from) : new Date(to.getTime() - 24 * 3600_000);
    return { from, to };
  };

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

  api.get(
    "/events",
    {
      schema: {
        tags: ["events"],
        summary:
          "Live events (Server-Sent Events): incident.opened|updated|closed, stream.state, stream.levels",
        description:
          "Incident and state events carry an id; reconnect with the Last-Event-ID header (or ?lastEventId=) to get what was missed from a small buffer, or a `reset` event when it is gone. The token may be given as ?token= because EventSource cannot send headers.",
        querystring: z.object({
          token: z.string().optional().describe("The bearer token, for EventSource clients."),
          lastEventId: z.string().max(64).optional(),
        }),
        response: {
          200: { description: "text/event-stream", content: { "text/event-stream": { schema: z.string() } } },
          401: ErrorSchema,
        },
      },
    },
    (req, reply) => {
      const header = req.headers["last-event-id"];
      const lastEventId = (Array.isArray(header) ? header[0] : header) ?? req.query.lastEventId;
      reply.hijack();
      hub.attach(reply.raw, lastEventId);
    },
  );
}
