/**
 * Where the service keeps evidence: a directory by default, or an S3 bucket through the AWS
 * SDK, imported only here and only when configured (the SDK is large; nothing else loads it).
 */
import { join } from "node:path";
import { DirectoryBlobStore, type BlobStore } from "../store/blob-store.js";
import type { S3BlobStoreOptions } from "../store/s3-sdk-blob-store.js";

export interface EvidenceTarget {
  readonly store: "directory" | "s3";
  readonly s3?: S3BlobStoreOptions | undefined;
}

export async function openEvidenceBlobs(target: EvidenceTarget, dataDir: string): Promise<BlobStore> {
  if (target.store === "s3" && target.s3) {
    const { S3BlobStore } = await import("../store/s3-sdk-blob-store.js");
    return S3BlobStore.open(target.s3);
  }
  return new DirectoryBlobStore(join(dataDir, "evidence"));
}
