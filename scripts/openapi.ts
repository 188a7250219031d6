/**
 * Writes docs/openapi.json from the API's own routes and schemas: `tsx scripts/openapi.ts`.
 * A test fails when the committed file and the served document differ.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { buildApi } from "../src/api/server.js";
import type { ServiceFacade } from "../src/service/service-facade.js";

/** The committed form: stable key order as generated, two-space indent, final newline. */
export function renderOpenApi(doc: unknown): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function unused(): never {
  throw new Error("the OpenAPI generator serves no requests");
}

// Routes and schemas do not depend on the service, so a facade that is never called will do.
const inertFacade: ServiceFacade = {
  allowLocalFiles: false,
  profileNames: unused,
  listStreams: unused,
  getStream: unused,
  createStream: unused,
  updateStream: unused,
  deleteStream: unused,
  startStream: unused,
  stopStream: unused,
  streamState: unused,
  latestThumbnail: unused,
  listIncidents: unused,
  getIncident: unused,
  getEvidence: unused,
  acknowledgeIncidents: unused,
  acknowledgeStream: unused,
  listMaintenance: unused,
  addMaintenance: unused,
  deleteMaintenance: unused,
  unmuteStream: unused,
  streamHistory: unused,
  reports: unused,
  subscribe: () => () => {},
  metrics: unused,
  readiness: unused,
};

export async function writeOpenApi(path: string): Promise<void> {
  const app = buildApi(inertFacade, { host: "127.0.0.1", logger: false });
  try {
    await app.ready();
    writeFileSync(path, renderOpenApi(app.swagger()));
  } finally {
    await app.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const out = resolve(import.meta.dirname, "../docs/openapi.json");
  await writeOpenApi(out);
  console.log(`wrote ${out}`);
}
