/**
 * Evidence bytes (thumbnails, level plots) live in a blob store; the Store keeps only their
 * metadata and key. Two backends: a directory (the embedded default) and any S3-compatible
 * bucket, signed with AWS Signature V4 from node:crypto (no SDK: one small dependency-free
 * signer instead of megabytes of client).
 */
import { randomBytes } from "node:crypto";
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
