/**
 * Evidence on S3 (or an S3-compatible server) through the AWS SDK's S3 client, for a fleet
 * whose workers and API run on different machines (docs/fleet.md). The SDK is loaded with a
 * dynamic import, only when the service is configured with an S3 evidence target, so the
 * command line and the SQLite default never load it.
 *
 * Credentials: the SDK's standard chain (environment, shared config and credentials files,
 * SSO, container and instance roles) unless the configuration gives a key pair.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { StreamqcError } from "../errors.js";
import { validateBlobKey, type Blob, type BlobStore } from "./blob-store.js";

export interface S3BlobStoreOptions {
  readonly bucket: string;
  /** An S3-compatible server (`http://127.0.0.1:9000`): path-style URLs. Default: AWS. */
  readonly endpoint?: string | undefined;
  /** Default: the SDK's (AWS_REGION, shared config), else `us-east-1`. */
  readonly region?: string | undefined;
  /** Prepended to every key, e.g. `streamqc/`. Default none. */
  readonly prefix?: string | undefined;
  /** Both or neither: without them the standard credential chain is used. */
  readonly accessKeyId?: string | undefined;
  readonly secretAccessKey?: string | undefined;
  readonly sessionToken?: string | undefined;
  /** Per request; default 30 000 ms. */
  readonly timeoutMs?: number | undefined;
}

const DEFAULT_TYPE = "application/octet-stream";

function httpStatus(err: unknown): number | undefined {
  const m = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata;
  return m?.httpStatusCode;
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : "";
}

export class S3BlobStore implements BlobStore {
  readonly #client: S3Client;
  readonly #sdk: typeof import("@aws-sdk/client-s3");
  readonly #o: S3BlobStoreOptions;
  #closed = false;

  private constructor(sdk: typeof import("@aws-sdk/client-s3"), client: S3Client, o: S3BlobStoreOptions) {
    this.#sdk = sdk;
    this.#client = client;
    this.#o = o;
  }

  static async open(o: S3BlobStoreOptions): Promise<S3BlobStore> {
    if ((o.accessKeyId === undefined) !== (o.secretAccessKey === undefined)) {
      throw new StreamqcError(
        "SQM_ERR_CONFIG",
        "evidence.s3: give accessKeyId and secretAccessKey together, or neither",
      );
    }
    const sdk = await import("@aws-sdk/client-s3");
    const client = new sdk.S3Client({
      ...(o.region !== undefined ? { region: o.region } : {}),
      // S3-compatible servers (MinIO, Ceph, R2...) often reject the newer default checksum
      // headers: send them only where an operation requires them.
      ...(o.endpoint !== undefined
        ? {
            endpoint: o.endpoint,
            forcePathStyle: true,
            requestChecksumCalculation: "WHEN_REQUIRED" as const,
            responseChecksumValidation: "WHEN_REQUIRED" as const,
          }
        : {}),
      ...(o.accessKeyId !== undefined && o.secretAccessKey !== undefined
        ? {
            credentials: {
              accessKeyId: o.accessKeyId,
              secretAccessKey: o.secretAccessKey,
              ...(o.sessionToken !== undefined ? { sessionToken: o.sessionToken } : {}),
            },
          }
        : {}),
      // Evidence is small and written once: the SDK's retries (3 attempts) are enough.
      maxAttempts: 3,
    });
    // The SDK needs a region even for S3-compatible servers; the chain may not give one.
    if (o.region === undefined) {
      const fromChain = await client.config.region().catch(() => undefined);
      if (!fromChain) {
        client.destroy();
        return S3BlobStore.open({ ...o, region: "us-east-1" });
      }
    }
    return new S3BlobStore(sdk, client, o);
  }

  #key(key: string): string {
    if (this.#closed) throw new StreamqcError("SQM_ERR_CLOSED", "the blob store is closed");
    validateBlobKey(key);
    return (this.#o.prefix ?? "") + key;
  }

  #signal(): AbortSignal {
    return AbortSignal.timeout(this.#o.timeoutMs ?? 30_000);
  }

  #fail(err: unknown, what: string): never {
    const status = httpStatus(err);
    throw new StreamqcError(
      "SQM_ERR_BLOB_STORE",
      `S3 ${what}: ${status !== undefined ? `HTTP ${status} ` : ""}${errorName(err)}`.trim(),
      { cause: err },
    );
  }

  /** Creates the bucket unless it exists (for local servers and first start). */
  async ensureBucket(): Promise<void> {
    try {
      await this.#client.send(new this.#sdk.CreateBucketCommand({ Bucket: this.#o.bucket }), {
        abortSignal: this.#signal(),
      });
    } catch (err) {
      const name = errorName(err);
      if (name === "BucketAlreadyOwnedByYou" || name === "BucketAlreadyExists" || httpStatus(err) === 409)
        return;
      this.#fail(err, `create bucket ${this.#o.bucket}`);
    }
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    const Key = this.#key(key);
    try {
      await this.#client.send(
        new this.#sdk.PutObjectCommand({
          Bucket: this.#o.bucket,
          Key,
          Body: bytes,
          ContentType: contentType,
        }),
        { abortSignal: this.#signal() },
      );
    } catch (err) {
      this.#fail(err, `put ${key}`);
    }
  }

  async get(key: string): Promise<Blob | null> {
    const Key = this.#key(key);
    try {
      const res = await this.#client.send(new this.#sdk.GetObjectCommand({ Bucket: this.#o.bucket, Key }), {
        abortSignal: this.#signal(),
      });
      const bytes = res.Body ? await res.Body.transformToByteArray() : new Uint8Array();
      return { bytes, contentType: res.ContentType ?? DEFAULT_TYPE };
    } catch (err) {
      if (errorName(err) === "NoSuchKey" || httpStatus(err) === 404) return null;
      this.#fail(err, `get ${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    const Key = this.#key(key);
    try {
      await this.#client.send(new this.#sdk.DeleteObjectCommand({ Bucket: this.#o.bucket, Key }), {
        abortSignal: this.#signal(),
      });
    } catch (err) {
      if (httpStatus(err) === 404) return;
      this.#fail(err, `delete ${key}`);
    }
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#client.destroy();
    }
    return Promise.resolve();
  }
}
