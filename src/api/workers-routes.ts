/**
 * Fleet routes (docs/fleet.md): `GET /workers` lists the workers the database has seen,
 * with the streams each holds and its measured load. A single process has no workers.
 */
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import type { ServiceFacade } from "../service/service-facade.js";
import { ErrorSchema, WorkerListSchema } from "./schemas.js";

export function workersRoutes(facade: ServiceFacade): FastifyPluginCallbackZod {
  return (api, _opts, done) => {
    api.get(
      "/workers",
      {
        schema: {
          tags: ["fleet"],
          summary: "Fleet workers: pool, streams held, measured load, last lease renewal",
          response: { 200: WorkerListSchema, 401: ErrorSchema },
        },
      },
      async () => ({ items: [...((await facade.listWorkers?.()) ?? [])] }),
    );
    done();
  };
}
