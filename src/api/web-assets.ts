/**
 * The dashboard's files, built by `scripts/bundle-web.mjs` into dist/web: `index.html` at `/`
 * and the hashed bundle at `/assets/<file>`. Both are public (the page holds no data; the API
 * behind it needs the token). Assets are immutable (their names carry a content hash); the
 * page is revalidated so a new build is picked up. Until a build exists, `/` says how to make one.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";

/**
 * The package's dist/web: two levels up from this module whether it runs compiled
 * (dist/api), bundled (dist/cli) or from source through tsx (src/api).
 */
const WEB_DIR = new URL("../../dist/web/", import.meta.url);

const TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  txt: "text/plain; charset=utf-8",
};

async function readWeb(name: string): Promise<Buffer | undefined> {
  try {
    return await readFile(fileURLToPath(new URL(name, WEB_DIR)));
  } catch {
    return undefined;
  }
}

export const WEB_PUBLIC_ROUTES = ["/", "/assets/:file"] as const;

// Fastify's own instance type: the routes here need no type provider.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function registerWebAssets(root: FastifyInstance<any, any, any, any, any>): void {
  root.get("/", { schema: { hide: true } }, async (_req, reply) => {
    const html = await readWeb("index.html");
    if (!html) {
      return reply
        .code(503)
        .type("text/plain; charset=utf-8")
        .send("The dashboard is not built: run `npm run build` (or ./scripts/setup.sh).\n");
    }
    return reply
      .header("x-content-type-options", "nosniff")
      .header("referrer-policy", "no-referrer")
      .type("text/html; charset=utf-8")
      .header("cache-control", "no-cache")
      .header(
        "content-security-policy",
        "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
      )
      .send(html);
  });

  root.get<{ Params: { file: string } }>("/assets/:file", { schema: { hide: true } }, async (req, reply) => {
    const file = req.params.file;
    const ext = /^[A-Za-z0-9_.-]+\.([a-z]+)$/.exec(file)?.[1];
    // Names only, no paths: nothing outside dist/web/assets can be named.
    const type = ext === undefined || file.includes("..") ? undefined : TYPES[ext];
    const bytes = type === undefined ? undefined : await readWeb(`assets/${file}`);
    if (!bytes || type === undefined) {
      return reply.code(404).send({ error: "Not Found", message: `no asset ${file}` });
    }
    return reply
      .header("x-content-type-options", "nosniff")
      .type(type)
      .header("cache-control", "public, max-age=31536000, immutable")
      .send(bytes);
  });
}
