/** `/events`: the live event stream (Server-Sent Events), fanned out by the EventHub. */
import { z } from "zod";
import type { ApiContext, ApiInstance } from "../api-context.js";
import { ErrorSchema } from "../schemas.js";

export function eventRoutes(api: ApiInstance, { hub }: ApiContext): void {
  api.get(
    "/events",
    {
      schema: {
        tags: ["events"],
        summary:
          "Live events (Server-Sent Events): incident.opened|updated|closed|acknowledged, stream.state, stream.levels, maintenance.changed",
        description:
          "Each event's `data:` is one LiveEvent (see components). Incident, state and maintenance events carry an id; reconnect with the Last-Event-ID header (or ?lastEventId=) to get what was missed from a small buffer, or a `reset` event when it is gone. Browsers authenticate with the session cookie (POST /api/v1/session); other clients may give the token as ?token= because EventSource cannot send headers.",
        querystring: z.object({
          token: z
            .string()
            .optional()
            .describe("The bearer token, for EventSource clients without the cookie."),
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
