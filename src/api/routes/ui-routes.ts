/**
 * The dashboard, served by the service itself (monitoring networks are often closed: no CDN).
 *
 * `/` is `index.html` of the UI bundle (`dist/web/`, built by esbuild), or the placeholder
 * page `src/api/dashboard.html` until a bundle exists. `/assets/*` serves files under
 * `dist/web/assets/`: names with a content hash (`app-3F2A9C1B.js`) are cached for a year,
 * others revalidate by ETag. Text files are sent compressed (brotli or gzip, as accepted),
 * compressed once and kept in memory (the bundle is small by design: under 100 KB compressed).
 */
import { readFile, stat } from "node:fs/promises";
import { extname, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants as zlib, gzipSync } from "node:zlib";
import type { FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { errorBody, type ApiInstance } from "../api-context.js";

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};
const COMPRESSIBLE = new Set([".html", ".js", ".mjs", ".css", ".json", ".map", ".svg", ".txt"]);
/** esbuild's `[name]-[hash]` names: the content never changes under such a name. */
const HASHED = /-[A-Z0-9]{8}\.[a-z0-9]+$/i;

interface Cached {
  readonly mtimeMs: number;
  readonly size: number;
  readonly etag: string;
  readonly raw: Buffer;
  readonly gzip: Buffer | null;
  readonly br: Buffer | null;
}

/** Where the bundle is: beside the compiled API (dist/api/routes, dist/cli) or, from src/, in dist/. */
export function defaultWebRoots(): string[] {
  return [
    fileURLToPath(new URL("../../web/", import.meta.url)),
    fileURLToPath(new URL("../web/", import.meta.url)),
    fileURLToPath(new URL("../../../dist/web/", import.meta.url)),
    // Run from src/ (tests, tsx), `../../web/` is the bundle's source, not the bundle.
  ].filter((root) => !root.includes(`${sep}src${sep}web`));
}

async function readPlaceholder(): Promise<string> {
  const candidates = [
    new URL("../dashboard.html", import.meta.url),
    new URL("./dashboard.html", import.meta.url),
    new URL("../../../src/api/dashboard.html", import.meta.url),
    new URL("../../src/api/dashboard.html", import.meta.url),
  ];
  for (const url of candidates) {
    try {
      return await readFile(url, "utf8");
    } catch {
      // Try the next place.
    }
  }
  return "<!doctype html><title>streamqc</title><p>The dashboard is not built: run <code>npm run build</code>.";
}

export interface UiOptions {
  /** Directories tried in order for `index.html` and `assets/`; default defaultWebRoots(). */
  readonly webRoots?: readonly string[];
}

export function uiRoutes(root: ApiInstance, options: UiOptions = {}): void {
  const roots = (options.webRoots ?? defaultWebRoots()).map((r) => resolve(r));
  const cache = new Map<string, Cached>();

  async function load(path: string): Promise<Cached | null> {
    let st;
    try {
      st = await stat(path);
    } catch {
      return null;
    }
    if (!st.isFile()) return null;
    const hit = cache.get(path);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit;
    const raw = await readFile(path);
    const compress = COMPRESSIBLE.has(extname(path)) && raw.length > 512;
    const entry: Cached = {
      mtimeMs: st.mtimeMs,
      size: st.size,
      etag: `W/"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`,
      raw,
      gzip: compress ? gzipSync(raw, { level: 9 }) : null,
      br: compress ? brotliCompressSync(raw, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } }) : null,
    };
    cache.set(path, entry);
    return entry;
  }

  /** The first root holding `relative`, never a path outside the root. */
  async function find(relative: string): Promise<{ path: string; file: Cached } | null> {
    for (const r of roots) {
      const path = resolve(r, relative);
      if (!path.startsWith(r + sep)) return null;
      const file = await load(path);
      if (file) return { path, file };
    }
    return null;
  }

  function send(req: FastifyRequest, reply: FastifyReply, path: string, file: Cached, cacheControl: string) {
    reply
      .type(TYPES[extname(path)] ?? "application/octet-stream")
      .header("cache-control", cacheControl)
      .header("etag", file.etag)
      .header("x-content-type-options", "nosniff");
    if (req.headers["if-none-match"] === file.etag) return reply.code(304).send();
    const accepted = String(req.headers["accept-encoding"] ?? "");
    if (file.br || file.gzip) reply.header("vary", "accept-encoding");
    if (file.br && /\bbr\b/.test(accepted)) return reply.header("content-encoding", "br").send(file.br);
    if (file.gzip && /\bgzip\b/.test(accepted))
      return reply.header("content-encoding", "gzip").send(file.gzip);
    return reply.send(file.raw);
  }

  let placeholder: Promise<string> | null = null;
  root.get("/", { schema: { hide: true } }, async (req, reply) => {
    const index = await find("index.html");
    if (index) return send(req, reply, index.path, index.file, "no-cache");
    placeholder ??= readPlaceholder();
    return reply
      .type("text/html; charset=utf-8")
      .header("cache-control", "no-cache")
      .send(await placeholder);
  });

  root.get(
    "/assets/*",
    { schema: { hide: true, params: z.object({ "*": z.string().max(256) }) } },
    async (req, reply) => {
      const name = req.params["*"];
      // Plain relative names only: no dot segments, no backslashes, no encoded tricks left after decoding.
      if (
        !/^[A-Za-z0-9_][A-Za-z0-9._/-]*$/.test(name) ||
        name.split("/").some((s) => s === "" || s.startsWith("."))
      ) {
        return reply.code(404).send(errorBody(404, `no asset ${name}`));
      }
      const hit = await find(`assets/${name}`);
      if (!hit) return reply.code(404).send(errorBody(404, `no asset ${name}`));
      return send(
        req,
        reply,
        hit.path,
        hit.file,
        HASHED.test(name) ? "public, max-age=31536000, immutable" : "no-cache",
      );
    },
  );
}
