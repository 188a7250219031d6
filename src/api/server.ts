/**
 * The HTTP API of `streamqc serve`: Fastify with zod schemas (validation, serialization and
 * the OpenAPI document from one source), live events over SSE, Prometheus metrics, bearer
 * auth, and the dashboard. It talks to the service only through a ServiceFacade.
 *
 * This file only assembles: one route plugin per resource under `routes/`, each registered in
 * its own encapsulated context under `/api/v1`.
 */
import type { Server } from "node:http";
import swagger from "@fastify/swagger";
import Fastify, { type FastifyRequest } from "fastify";
import {
  createJsonSchemaTransform,
  createJsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import type { DestinationStream } from "pino";
import { StreamqcError } from "../errors.js";
import { API_PREFIX, type ApiContext, type ApiInstance } from "./api-context.js";
import { installAuth, isLoopbackHost, sessionRoutes } from "./auth.js";
import { installErrorHandler } from "./error-handler.js";
import { EventHub, type EventHubOptions } from "./event-hub.js";
import { ApiMetrics } from "./metrics.js";
import { workersRoutes } from "./workers-routes.js";
import { redactUrl } from "./redact.js";
import { eventRoutes } from "./routes/event-routes.js";
import { incidentRoutes } from "./routes/incident-routes.js";
import { maintenanceRoutes } from "./routes/maintenance-routes.js";
import { reportRoutes } from "./routes/report-routes.js";
import { serviceRoutes } from "./routes/service-routes.js";
import { streamRoutes } from "./routes/stream-routes.js";
import { uiRoutes } from "./routes/ui-routes.js";
import { apiSchemaRegistry } from "./schemas.js";
import type { ServiceFacade } from "../service/service-facade.js";

export { API_PREFIX, isLoopbackHost, type ApiInstance };

export interface ApiLoggerOptions {
  /** Default `info`. */
  readonly level?: string;
  /** Default stdout. */
  readonly stream?: DestinationStream;
}

export interface ApiOptions {
  /** The host the caller will listen on; without a token only loopback hosts are accepted. */
  readonly host: string;
  /** Bearer token; when set, every route but /healthz, /readyz, the session and the dashboard shell needs it. */
  readonly token?: string | undefined;
  /** Who acknowledges or mutes when a request does not say. Default `operator`. */
  readonly operator?: string;
  /** Request logs (pino, redacted); `false` for none. Default: info to stdout. */
  readonly logger?: ApiLoggerOptions | false;
  readonly events?: EventHubOptions;
  /** Directories holding the UI bundle (`index.html`, `assets/`); default: dist/web. */
  readonly webRoots?: readonly string[];
}

/** A resource's routes, registered under `/api/v1` in its own encapsulated context. */
type RoutePlugin = (api: ApiInstance, ctx: ApiContext) => void;

/**
 * The resources of `/api/v1`, in the order of the OpenAPI document. The fleet adds
 * `workerRoutes` (`GET /workers`) here.
 */
const RESOURCES: readonly RoutePlugin[] = [
  streamRoutes,
  incidentRoutes,
  maintenanceRoutes,
  reportRoutes,
  eventRoutes,
];

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
            redact: {
              paths: ["req.headers.authorization", "headers.authorization", "req.headers.cookie"],
              censor: "***",
            },
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

  installErrorHandler(app);
  installAuth(app, token);

  void app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "streamqc",
        description:
          "Live audio/video stream quality monitor: streams, incidents and acknowledgements, maintenance, reports, live events.",
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

  const ctx: ApiContext = { facade, hub, operator: options.operator ?? "operator" };
  for (const plugin of RESOURCES) {
    void app.register(
      (api: ApiInstance, _opts, done) => {
        plugin(api, ctx);
        done();
      },
      { prefix: API_PREFIX },
    );
  }
  void app.register(
    (api: ApiInstance, _opts, done) => {
      sessionRoutes(api, token);
      done();
    },
    { prefix: API_PREFIX },
  );
  void app.register(workersRoutes(facade), { prefix: API_PREFIX });

  void app.register((root: ApiInstance, _opts, done) => {
    serviceRoutes(root, ctx, metrics);
    uiRoutes(root, options.webRoots ? { webRoots: options.webRoots } : {});
    done();
  });

  return app;
}
