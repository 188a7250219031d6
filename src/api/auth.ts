/**
 * Bearer-token auth for the API, and the browser session that stands for it.
 *
 * - Programs send `Authorization: Bearer <token>`.
 * - Browsers cannot put a header on `EventSource`, `<img src>` or a CSV download link, so the
 *   dashboard exchanges the token once for a cookie: `POST /api/v1/session {token}` sets
 *   `streamqc_session` (HttpOnly, SameSite=Strict, Secure over https). Its value is an HMAC
 *   of the token, never the token itself, so a new token ends every session.
 * - A cookie-authenticated request that changes something must come from this origin
 *   (`Origin`, when the browser sends one, must name this host): with SameSite=Strict this
 *   stops cross-site request forgery even on browsers that ignore SameSite.
 * - `?token=` is still taken on the event stream alone, for non-browser SSE clients.
 * Open without a token: /healthz, /readyz, the dashboard shell (`/`, `/assets/*`) and the
 * session routes.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { API_PREFIX, errorBody, type ApiInstance } from "./api-context.js";
import { ErrorSchema } from "./schemas.js";

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "::1", "[::1]", "localhost"]);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase()) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export const SESSION_COOKIE = "streamqc_session";
/** Thirty days: a wall display stays logged in across browser restarts; a new token ends it. */
const SESSION_MAX_AGE_SECONDS = 30 * 24 * 3600;

/** Routes open without a token: probes, the dashboard shell and the session exchange. */
const PUBLIC_ROUTES = new Set(["/healthz", "/readyz", "/", "/assets/*", `${API_PREFIX}/session`]);
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Compares in constant time. Hashing first gives both sides the same length, so neither the
 * comparison nor an early length check reveals how much of the token was right.
 */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

function sessionValue(token: string): string {
  return createHmac("sha256", token).update("streamqc-session-v1").digest("base64url");
}

function cookieOf(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function sameOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function unauthorized(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(401).header("www-authenticate", 'Bearer realm="streamqc"').send(errorBody(401, message));
}

/** The onRequest check; a no-op without a token (loopback only, see buildApi). */
export function installAuth(app: ApiInstance, token: string | undefined): void {
  if (token === undefined) return;
  const session = sessionValue(token);
  app.addHook("onRequest", async (req, reply) => {
    const route = req.routeOptions.url;
    if (route !== undefined && PUBLIC_ROUTES.has(route)) return;
    const header = req.headers.authorization;
    let given = header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
    // EventSource cannot set headers; the URL may then appear in proxy logs, ours redact it.
    if (given === undefined && route === `${API_PREFIX}/events`) {
      const q = (req.query as Record<string, unknown> | undefined)?.["token"];
      if (typeof q === "string") given = q;
    }
    if (given !== undefined) {
      if (!sameSecret(given, token)) return unauthorized(reply, "the token is not valid");
      return;
    }
    const cookie = cookieOf(req, SESSION_COOKIE);
    if (cookie === undefined) return unauthorized(reply, "a bearer token is required");
    if (!sameSecret(cookie, session)) return unauthorized(reply, "the session is not valid; log in again");
    if (!SAFE_METHODS.has(req.method) && !sameOrigin(req)) {
      return reply
        .code(403)
        .send(errorBody(403, "a cookie session only works from the dashboard's own origin"));
    }
  });
}

/** `GET|POST|DELETE /api/v1/session`: whether a token is needed, log in, log out. */
export function sessionRoutes(api: ApiInstance, token: string | undefined): void {
  const session = token === undefined ? undefined : sessionValue(token);
  const tags = ["session"];
  const cookie = (req: FastifyRequest, value: string, maxAge: number): string =>
    `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}` +
    (req.protocol === "https" ? "; Secure" : "");

  api.get(
    "/session",
    {
      schema: {
        tags,
        summary: "Whether this client is authenticated, and whether a token is needed at all",
        security: [],
        response: {
          200: z.object({ required: z.boolean(), authenticated: z.boolean() }),
        },
      },
    },
    (req) => {
      const header = req.headers.authorization;
      const bearer = header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
      const viaCookie = cookieOf(req, SESSION_COOKIE);
      const authenticated =
        token === undefined ||
        (bearer !== undefined && sameSecret(bearer, token)) ||
        (viaCookie !== undefined && session !== undefined && sameSecret(viaCookie, session));
      return { required: token !== undefined, authenticated };
    },
  );

  api.post(
    "/session",
    {
      schema: {
        tags,
        summary: "Exchange the token for a session cookie (for browsers: EventSource, images, downloads)",
        description:
          "Sets `streamqc_session` (HttpOnly, SameSite=Strict; Secure over https), valid 30 days or until the token changes. Without a configured token it sets nothing.",
        security: [],
        body: z.strictObject({ token: z.string().min(1).max(512) }),
        response: { 204: z.null().describe("Logged in"), 400: ErrorSchema, 401: ErrorSchema },
      },
    },
    async (req, reply) => {
      if (token === undefined || session === undefined) return reply.code(204).send(null);
      if (!sameSecret(req.body.token, token)) return unauthorized(reply, "the token is not valid");
      return reply
        .code(204)
        .header("set-cookie", cookie(req, session, SESSION_MAX_AGE_SECONDS))
        .send(null);
    },
  );

  api.delete(
    "/session",
    {
      schema: {
        tags,
        summary: "Log out: clear the session cookie",
        security: [],
        response: { 204: z.null().describe("Logged out") },
      },
    },
    async (req, reply) =>
      reply
        .code(204)
        .header("set-cookie", cookie(req, "", 0))
        .send(null),
  );
}
