/**
 * The staged design's object-store client: real S3 requests (SigV4-signed HTTP, the same
 * signer as the evidence store) to an S3-compatible server, each one counted by the request
 * class S3 bills (PUT/LIST vs GET) with the bytes it moved.
 */
import { createHash } from "node:crypto";
import { signV4, type S3Credentials } from "./sigv4-signer.js";

export interface ObjectCounts {
  put: number;
  get: number;
  list: number;
  bytesPut: number;
  bytesGot: number;
}

export function emptyCounts(): ObjectCounts {
  return { put: 0, get: 0, list: 0, bytesPut: 0, bytesGot: 0 };
}

export function addCounts(into: ObjectCounts, c: ObjectCounts): void {
  into.put += c.put;
  into.get += c.get;
  into.list += c.list;
  into.bytesPut += c.bytesPut;
  into.bytesGot += c.bytesGot;
}

export interface ObjectClientOptions extends S3Credentials {
  /** e.g. `http://127.0.0.1:4568`. */
  readonly endpoint: string;
  readonly bucket: string;
}

const REGION = "us-east-1";
const sha256Hex = (data: Uint8Array | string): string => createHash("sha256").update(data).digest("hex");

export class ObjectClient {
  readonly counts = emptyCounts();

  constructor(private readonly o: ObjectClientOptions) {}

  private url(key: string | null, query = ""): URL {
    const base = `${this.o.endpoint.replace(/\/+$/, "")}/${this.o.bucket}`;
    return new URL(
      key === null ? `${base}${query}` : `${base}/${key.split("/").map(encodeURIComponent).join("/")}`,
    );
  }

  private async request(method: string, url: URL, body: Uint8Array | null): Promise<Response> {
    // A connection the server closed while idle ("other side closed", EPIPE) fails the request
    // before it reaches the server: retried, as S3 clients do; only answered requests are counted.
    for (let attempt = 1; ; attempt++) {
      const headers = signV4(
        { method, url, headers: {}, payloadHash: sha256Hex(body ?? "") },
        this.o,
        REGION,
        new Date(),
      );
      let res: Response;
      try {
        res = await fetch(url, { method, headers, ...(body === null ? {} : { body }) });
      } catch (err) {
        if (attempt >= 4) throw err;
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
        continue;
      }
      return this.check(method, url, res);
    }
  }

  private async check(method: string, url: URL, res: Response): Promise<Response> {
    if (!res.ok && res.status !== 404 && !(method === "PUT" && res.status === 409)) {
      const text = await res.text().catch(() => "");
      throw new Error(`S3 ${method} ${url.pathname}: HTTP ${res.status} ${text.slice(0, 200)}`);
    }
    return res;
  }

  /** Creates the bucket (not counted: set-up, not per chunk). */
  async createBucket(): Promise<void> {
    const res = await this.request("PUT", this.url(null), null);
    await res.arrayBuffer();
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const res = await this.request("PUT", this.url(key), bytes);
    await res.arrayBuffer();
    this.counts.put++;
    this.counts.bytesPut += bytes.byteLength;
  }

  /** null when the object does not exist (still a billed GET). */
  async get(key: string): Promise<Uint8Array | null> {
    const res = await this.request("GET", this.url(key), null);
    const body = new Uint8Array(await res.arrayBuffer());
    this.counts.get++;
    if (res.status === 404) return null;
    this.counts.bytesGot += body.byteLength;
    return body;
  }

  /** ListObjectsV2 of a prefix (one page: a chunk's findings are a handful of objects). */
  async list(prefix: string): Promise<string[]> {
    const res = await this.request(
      "GET",
      this.url(null, `?list-type=2&prefix=${encodeURIComponent(prefix)}`),
      null,
    );
    const text = await res.text();
    this.counts.list++;
    this.counts.bytesGot += Buffer.byteLength(text);
    return [...text.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => decodeXml(m[1] ?? ""));
  }
}

function decodeXml(s: string): string {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}
