/**
 * One error body for the whole API: `{error, message, code?, details?}`. Schema failures name
 * each field; a StreamqcError answers the HTTP status defined with its code (errors.ts); any
 * other failure is a 500 whose internals stay in the log.
 */
import type { FastifyError } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { isStreamqcError } from "../errors.js";
import { errorBody, type ApiInstance } from "./api-context.js";
import { redactUrl } from "./redact.js";

export function installErrorHandler(app: ApiInstance): void {
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
      const status = err.statusCode;
      if (status >= 500) {
        req.log.error({ err }, "request failed");
        return reply
          .code(status)
          .send(errorBody(status, "internal error; see the service log", { code: err.code }));
      }
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
}
