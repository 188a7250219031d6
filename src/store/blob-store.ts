/**
 * Evidence bytes (thumbnails, level plots) live in a blob store; the Store keeps only their
 * metadata and key. Two backends: a directory (the embedded default) and any S3-compatible
 * bucket, signed with AWS Signature V4 from node:crypto (no SDK: one small dependency-free
 * signer instead of megabytes of client).
 */
import { createHash, createHmac, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { StreamqcError } from "../errors.js";

export interface Blob {
  readonly bytes: Uint8Array;
  readonly contentType: string;
}

export interface BlobStore {
  put(key: string, bytes: Uint8Array, contentType: string): Promise<void>;
  /** null when the key does not exist. */
  get(key: string): Promise<Blob | null>;
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}

// Segments of safe characters: no `..`, no absolute paths, no backslashes, nothing a shell
// or a URL would reinterpret. Evidence keys look like `incidents/<id>/before.jpg`.
const KEY_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
const MAX_KEY = 512;

/** Throws SQM_ERR_BLOB_KEY unless `key` is relative, normalised and made of safe segments. */
export function validateBlobKey(key: string): void {
  const segments = key.split("/");
  if (key.length === 0 || key.length > MAX_KEY || !segments.every((s) => KEY_SEGMENT.test(s))) {
    throw new StreamqcError("SQM_ERR_BLOB_KEY", `blob key ${JSON.stringify(key)} is not valid`);
  }
}

const DEFAULT_TYPE = "application/octet-stream";

/**
 * Blobs as files under `root/blobs/`, their content types beside them under `root/types/`.
 * Every write goes to a temporary file in the same directory and is renamed into place, so a
 * reader (or a crash) never sees half a file.
 */
export class DirectoryBlobStore implements BlobStore {
  readonly #root: string;
  #closed = false;

  constructor(root: string) {
    this.#root = root;
  }

  #paths(key: string): { blob: string; type: string } {
    if (this.#closed) throw new StreamqcError("SQM_ERR_CLOSED", "the blob store is closed");
    validateBlobKey(key);
    return { blob: join(this.#root, "blobs", key), type: join(this.#root, "types", key) };
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    const p = this.#paths(key);
    // Type first: a blob visible without its type would be served as octet-stream.
    await atomicWrite(p.type, contentType);
    await atomicWrite(p.blob, bytes);
  }

  async get(key: string): Promise<Blob | null> {
    const p = this.#paths(key);
    let bytes: Buffer;
    try {
      bytes = await readFile(p.blob);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    let contentType = DEFAULT_TYPE;
    try {
      contentType = await readFile(p.type, "utf8");
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), contentType };
  }

  async delete(key: string): Promise<void> {
    const p = this.#paths(key);
    await rm(p.blob, { force: true });
    await rm(p.type, { force: true });
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}

async function atomicWrite(path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${randomBytes(6).toString("hex")}`;
  try {
    await writeFile(tmp, data, { flush: true });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof Error && "code" in err && err.code === "ENOENT";
}

// ---------------------------------------------------------------- S3

export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface S3BlobStoreOptions extends S3Credentials {
  /** e.g. `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:9000`; path-style URLs are used. */
  readonly endpoint: string;
  readonly bucket: string;
  /** Default `us-east-1` (what MinIO and most S3-compatible servers expect). */
  readonly region?: string;
  /** Prepended to every key, e.g. `streamqc/`. Default none. */
  readonly prefix?: string;
  /** Per request; default 30 000 ms. */
  readonly timeoutMs?: number;
}

export interface SignableRequest {
  readonly method: string;
  readonly url: URL;
  /** Header names in any case; `host` is taken from the URL. */
  readonly headers: Readonly<Record<string, string>>;
  /** Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`. */
  readonly payloadHash: string;
}

const sha256Hex = (data: Uint8Array | string): string => createHash("sha256").update(data).digest("hex");
const hmac = (key: Uint8Array | string, data: string): Buffer =>
  createHmac("sha256", key).update(data).digest();

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters. */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `20130524T000000Z` */
export function amzDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

/**
 * AWS Signature Version 4 (header form) for S3: returns the headers to send, including
 * `authorization`, `x-amz-date` and `x-amz-content-sha256`.
 */
export function signV4(
  req: SignableRequest,
  creds: S3Credentials,
  region: string,
  now: Date,
  service = "s3",
): Record<string, string> {
  const date = amzDate(now);
  const day = date.slice(0, 8);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
  headers["host"] = req.url.host;
  headers["x-amz-date"] = date;
  headers["x-amz-content-sha256"] = req.payloadHash;
  if (creds.sessionToken !== undefined) headers["x-amz-security-token"] = creds.sessionToken;

  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${headers[n]!.trim().replace(/\s+/g, " ")}\n`).join("");
  const signedHeaders = names.join(";");
  // S3 signs the path as sent: each segment encoded once (no double encoding, unlike other services).
  const canonicalUri = req.url.pathname
    .split("/")
    .map((s) => uriEncode(decodeURIComponent(s)))
    .join("/");
  const query = [...req.url.searchParams.entries()]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonicalRequest = [
    req.method,
    canonicalUri,
    query,
    canonicalHeaders,
    signedHeaders,
    req.payloadHash,
  ].join("\n");
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", date, scope, sha256Hex(canonicalRequest)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, day), region), service), "aws4_request");
  const signature = createHmac("sha256", key).update(stringToSign).digest("hex");
  headers["authorization"] =
    `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  // fetch sets Host from the URL itself.
  delete headers["host"];
  return headers;
}

/** Any S3-compatible bucket (AWS, MinIO, Ceph, R2...) over path-style URLs. */
export class S3BlobStore implements BlobStore {
  readonly #options: S3BlobStoreOptions;
  readonly #endpoint: string;
  #closed = false;

  constructor(options: S3BlobStoreOptions) {
    this.#options = options;
    this.#endpoint = options.endpoint.replace(/\/+$/, "");
  }

  #url(key: string | null): URL {
    if (this.#closed) throw new StreamqcError("SQM_ERR_CLOSED", "the blob store is closed");
    const bucket = `${this.#endpoint}/${uriEncode(this.#options.bucket)}`;
    if (key === null) return new URL(bucket);
    validateBlobKey(key);
    const full = (this.#options.prefix ?? "") + key;
    return new URL(`${bucket}/${full.split("/").map(uriEncode).join("/")}`);
  }

  async #request(
    method: string,
    url: URL,
    body: Uint8Array | null,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const signed = signV4(
      { method, url, headers, payloadHash: sha256Hex(body ?? "") },
      this.#options,
      this.#options.region ?? "us-east-1",
      new Date(),
    );
    try {
      return await fetch(url, {
        method,
        headers: signed,
        ...(body === null ? {} : { body }),
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new StreamqcError("SQM_ERR_BLOB_STORE", `S3 ${method} ${url.pathname} failed`, { cause: err });
    }
  }

  async #fail(res: Response, what: string): Promise<never> {
    const text = await res.text().catch(() => "");
    const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? "";
    throw new StreamqcError("SQM_ERR_BLOB_STORE", `S3 ${what}: HTTP ${res.status} ${code}`.trim());
  }

  /** Creates the bucket unless it exists (for local servers and first start). */
  async ensureBucket(): Promise<void> {
    const res = await this.#request("PUT", this.#url(null), null);
    if (res.ok || res.status === 409) {
      await res.arrayBuffer();
      return;
    }
    await this.#fail(res, `create bucket ${this.#options.bucket}`);
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    const res = await this.#request("PUT", this.#url(key), bytes, { "content-type": contentType });
    if (!res.ok) await this.#fail(res, `put ${key}`);
    await res.arrayBuffer();
  }

  async get(key: string): Promise<Blob | null> {
    const res = await this.#request("GET", this.#url(key), null);
    if (res.status === 404) {
      await res.arrayBuffer();
      return null;
    }
    if (!res.ok) await this.#fail(res, `get ${key}`);
    return {
      bytes: new Uint8Array(await res.arrayBuffer()),
      contentType: res.headers.get("content-type") ?? DEFAULT_TYPE,
    };
  }

  async delete(key: string): Promise<void> {
    const res = await this.#request("DELETE", this.#url(key), null);
    if (!res.ok && res.status !== 404) await this.#fail(res, `delete ${key}`);
    await res.arrayBuffer();
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}
