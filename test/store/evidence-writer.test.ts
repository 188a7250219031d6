import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DirectoryBlobStore } from "../../src/store/blob-store.js";
import { saveEvidence } from "../../src/store/evidence-writer.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";

let dir: string;
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("saveEvidence", () => {
  it("stores the bytes in the blob store and lists them on the incident", async () => {
    dir = await mkdtemp(join(tmpdir(), "sqm-evidence-"));
    const store = new SqliteStore(join(dir, "s.db"));
    const blobs = new DirectoryBlobStore(join(dir, "evidence"));
    try {
      const s = await store.createStream({ name: "ch-1", url: "udp://x" });
      const inc = await store.recordIncident(
        {
          streamId: s.id,
          type: "video.black",
          severity: "major",
          start: 1,
          startedAt: new Date().toISOString(),
        },
        [],
      );
      const jpeg = new Uint8Array([0xff, 0xd8, 1, 2, 3, 0xff, 0xd9]);
      const ev = await saveEvidence(store, blobs, inc.id, "during.jpg", jpeg, "image/jpeg");
      expect(ev).toMatchObject({
        blobKey: `incidents/${inc.id}/during.jpg`,
        size: 7,
        contentType: "image/jpeg",
      });
      const listed = (await store.getIncident(inc.id))!.evidence;
      expect(listed.map((e) => e.name)).toEqual(["during.jpg"]);
      const blob = await blobs.get(listed[0]!.blobKey);
      expect(Array.from(blob!.bytes)).toEqual(Array.from(jpeg));
    } finally {
      await blobs.close();
      await store.close();
    }
  });
});
