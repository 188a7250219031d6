/**
 * Evidence = bytes in the BlobStore + a metadata row in the Store. The blob is written first:
 * a crash in between leaves an orphan blob (harmless, same key is overwritten on retry), never
 * a row pointing at nothing.
 */
import type { BlobStore } from "./blob-store.js";
import type { Fence } from "./lease-port.js";
import type { EvidenceRecord, EvidenceStore } from "./store.js";

/** `incidents/<incident id>/<name>`: one folder per incident, easy to list and delete. */
export function evidenceKey(incidentId: string, name: string): string {
  return `incidents/${incidentId}/${name}`;
}

export async function saveEvidence(
  store: EvidenceStore,
  blobs: BlobStore,
  incidentId: string,
  name: string,
  bytes: Uint8Array,
  contentType: string,
  /** A fleet worker's lease on the incident's stream: the row is refused once it is lost. */
  fence?: Fence,
): Promise<EvidenceRecord> {
  const blobKey = evidenceKey(incidentId, name);
  await blobs.put(blobKey, bytes, contentType);
  return store.addEvidence({ incidentId, name, contentType, blobKey, size: bytes.byteLength }, fence);
}
