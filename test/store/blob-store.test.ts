import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStreamqcError } from "../../src/errors.js";
import { signV4 } from "../../src/bench/architecture/sigv4-signer.js";
import { DirectoryBlobStore, validateBlobKey, type BlobStore } from "../../src/store/blob-store.js";
import { S3BlobStore } from "../../src/store/s3-sdk-blob-store.js";

const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 1, 2, 3, 250, 251, 0xff, 0xd9]);

function blobStoreContract(name: string, make: () => { store: BlobStore }): void {
  describe(name, () => {
    it("puts, gets and deletes bytes with their content type", async () => {
      const { store } = make();
      await store.put("incidents/01ABC/before.jpg", JPEG, "image/jpeg");
      const got = await store.get("incidents/01ABC/before.jpg");
      expect(got).not.toBeNull();
      expect(Buffer.from(got!.bytes).equals(Buffer.from(JPEG))).toBe(true);
      expect(got!.contentType).toBe("image/jpeg");
      await store.put("incidents/01ABC/before.jpg", new Uint8Array([1]), "image/jpeg");
      expect(Array.from((await store.get("incidents/01ABC/before.jpg"))!.bytes)).toEqual([1]);
      await store.delete("incidents/01ABC/before.jpg");
      expect(await store.get("incidents/01ABC/before.jpg")).toBeNull();
      await store.delete("incidents/01ABC/before.jpg");
    });

    it("returns null for a missing key", async () => {
      const { store } = make();
      expect(await store.get("incidents/none/during.jpg")).toBeNull();
    });

    it("rejects keys that could escape the store", async () => {
      const { store } = make();
      for (const key of ["../x", "a/../../x", "/etc/passwd", "a//b", "a\\b", "", ".hidden", "a/./b"]) {
        await expect(store.put(key, JPEG, "image/jpeg"), key).rejects.toSatisfy((e) =>
          isStreamqcError(e, "SQM_ERR_BLOB_KEY"),
        );
      }
    });
  });
}

describe("validateBlobKey", () => {
  it("accepts evidence keys", () => {
    expect(() => validateBlobKey("incidents/01HZX3/during.jpg")).not.toThrow();
  });
});

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

let dirStore: DirectoryBlobStore;
let dirRoot: string;
beforeAll(async () => {
  dirRoot = await mkdtemp(join(tmpdir(), "sqm-blobs-"));
  dirs.push(dirRoot);
  dirStore = new DirectoryBlobStore(dirRoot);
});
blobStoreContract("DirectoryBlobStore", () => ({ store: dirStore }));

describe("DirectoryBlobStore atomic writes", () => {
  it("leaves no temporary files behind", async () => {
    await dirStore.put("a/b/c.json", new TextEncoder().encode("{}"), "application/json");
    expect(await readdir(join(dirRoot, "blobs", "a", "b"))).toEqual(["c.json"]);
  });

  it("throws SQM_ERR_CLOSED after close", async () => {
    const s = new DirectoryBlobStore(dirRoot);
    await s.close();
    await s.close();
    await expect(s.get("a/b/c.json")).rejects.toSatisfy((e) => isStreamqcError(e, "SQM_ERR_CLOSED"));
  });
});

describe("signV4 (the architecture benchmark's object client)", () => {
  // The worked example of the S3 documentation ("Signature Calculations for the Authorization
  // Header", GET Object): an independent check of canonicalisation and key derivation.
  it("reproduces the AWS documentation example", () => {
    const headers = signV4(
      {
        method: "GET",
        url: new URL("https://examplebucket.s3.amazonaws.com/test.txt"),
        headers: { Range: "bytes=0-9" },
        payloadHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      },
      { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
      "us-east-1",
      new Date("2013-05-24T00:00:00Z"),
    );
    expect(headers["authorization"]).toBe(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, " +
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    );
  });
});

// s3rver is a local S3 emulator that checks each request's SigV4 signature against its
// built-in account: the AWS SDK's client really signs and sends what S3 would accept.
describe("S3BlobStore (AWS SDK) against a local s3rver", () => {
  let server: S3rver;
  let s3: S3BlobStore;
  let s3Dir: string;
  let endpoint: string;
  beforeAll(async () => {
    s3Dir = await mkdtemp(join(tmpdir(), "sqm-s3rver-"));
    dirs.push(s3Dir);
    server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: s3Dir });
    const { port } = await server.run();
    endpoint = `http://127.0.0.1:${port}`;
    s3 = await S3BlobStore.open({
      endpoint,
      bucket: "evidence",
      prefix: "streamqc/",
      // s3rver's built-in account.
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
    });
    await s3.ensureBucket();
    await s3.ensureBucket();
  });
  afterAll(async () => {
    await s3.close();
    await server.close();
  });

  it("rejects requests from an unknown access key (requests are really authenticated)", async () => {
    const bad = await S3BlobStore.open({
      endpoint,
      bucket: "evidence",
      accessKeyId: "NOBODY",
      secretAccessKey: "x",
    });
    await expect(bad.put("x.jpg", JPEG, "image/jpeg")).rejects.toSatisfy(
      (e) => isStreamqcError(e, "SQM_ERR_BLOB_STORE") && /InvalidAccessKeyId/.test((e as Error).message),
    );
  });

  it("without a key pair in the configuration, uses the standard credential chain (here: the environment)", async () => {
    const saved = { id: process.env["AWS_ACCESS_KEY_ID"], secret: process.env["AWS_SECRET_ACCESS_KEY"] };
    process.env["AWS_ACCESS_KEY_ID"] = "S3RVER";
    process.env["AWS_SECRET_ACCESS_KEY"] = "S3RVER";
    const chain = await S3BlobStore.open({ endpoint, bucket: "evidence", prefix: "chain/" });
    try {
      await chain.put("a/during.jpg", JPEG, "image/jpeg");
      expect((await chain.get("a/during.jpg"))?.bytes).toEqual(JPEG);
      // Under the configured prefix, as an explicitly keyed client sees it.
      const plain = await S3BlobStore.open({
        endpoint,
        bucket: "evidence",
        accessKeyId: "S3RVER",
        secretAccessKey: "S3RVER",
      });
      expect((await plain.get("chain/a/during.jpg"))?.contentType).toBe("image/jpeg");
      await plain.close();
    } finally {
      await chain.close();
      for (const [k, v] of [
        ["AWS_ACCESS_KEY_ID", saved.id],
        ["AWS_SECRET_ACCESS_KEY", saved.secret],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  blobStoreContract("S3BlobStore", () => ({ store: s3 }));
});
