/**
 * What every route plugin of the API shares: the Fastify instance type with zod typing, the
 * context handed to each plugin, and the few reply helpers that keep error bodies alike.
 */
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { EventHub } from "./event-hub.js";
import { ErrorSchema, type ApiError } from "./schemas.js";
import type { ServiceFacade } from "../service/service-facade.js";

export const API_PREFIX = "/api/v1";

export type ApiInstance = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** Handed to every route plugin as its options. */
export interface ApiContext {
  readonly facade: ServiceFacade;
  readonly hub: EventHub;
  /** Who acknowledges or mutes when a request does not say (`server.operator`, else "operator"). */
  readonly operator: string;
}

export function errorBody(status: number, message: string, extra: Partial<ApiError> = {}): ApiError {
  return { error: STATUS_CODES[status] ?? "Error", message, ...extra };
}

/** A 400 that names the field, in the same shape as schema validation errors. */
export function fieldError(reply: FastifyReply, path: string, message: string): FastifyReply {
  return reply.code(400).send(errorBody(400, `${path}: ${message}`, { details: [{ path, message }] }));
}

export function notFound(reply: FastifyReply, what: string, id: string): FastifyReply {
  return reply.code(404).send(errorBody(404, `no ${what} with id "${id}"`, { code: "SQM_ERR_NOT_FOUND" }));
}

export const errorResponses = { 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema } as const;

export function sendBytes(
  reply: FastifyReply,
  blob: { contentType: string; bytes: Uint8Array },
): FastifyReply {
  // Stored content types are not trusted to be harmless: never let a browser sniff them into HTML.
  return reply
    .type(blob.contentType)
    .header("x-content-type-options", "nosniff")
    .header("content-length", blob.bytes.byteLength)
    .send(Buffer.from(blob.bytes.buffer, blob.bytes.byteOffset, blob.bytes.byteLength));
}
