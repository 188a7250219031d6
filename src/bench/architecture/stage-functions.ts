/**
 * The staged design's two functions, as one invocation each:
 *
 * - detect: one detector group over one chunk. GET the group's state snapshot (from the
 *   stream's previous chunk), GET the chunk's media objects the group takes, run the registry's
 *   detectors (detector-group.ts), PUT the findings, PUT the new snapshot.
 * - aggregate: one chunk's findings into incidents. GET its own state (which condition is which
 *   stored incident), LIST the chunk's findings and GET each, then open, update and close
 *   incidents through the normal store and incident writer, with evidence thumbnails fetched
 *   from the chunk objects, as the in-process service records them; PUT its state.
 */
import { deserialize, serialize } from "node:v8";
import type { ConditionEvent } from "../../detect/detector.js";
import type { ResolvedProfile } from "../../config/profile.js";
import type { Thumbnail } from "../../ingest/media.js";
import { roundTime } from "../../incident.js";
import type { BlobStore } from "../../store/blob-store.js";
import { saveEvidence } from "../../store/evidence-writer.js";
import type { Store } from "../../store/store.js";
import type { IncidentWriter } from "../../service/incident-writer.js";
import { decodeRecords, keys, type ChunkRecord } from "./chunk-codec.js";
import { mergeRecords, runGroup } from "./detector-group.js";
import type { ObjectClient } from "./object-client.js";
import type { AggregateInput, DetectInput } from "./protocol.js";

export interface StateTraffic {
  get: number;
  put: number;
  bytesGot: number;
  bytesPut: number;
}

export function emptyStateTraffic(): StateTraffic {
  return { get: 0, put: 0, bytesGot: 0, bytesPut: 0 };
}

async function getState(
  s3: ObjectClient,
  key: string,
  index: number,
  t: StateTraffic,
): Promise<Uint8Array | null> {
  // A stream's first chunk starts from fresh detectors: there is no snapshot to read yet.
  if (index === 0) return null;
  const bytes = await s3.get(key);
  t.get++;
  t.bytesGot += bytes?.byteLength ?? 0;
  if (bytes === null) throw new Error(`state ${key} is missing: the previous chunk did not finish`);
  return bytes;
}

async function putState(s3: ObjectClient, key: string, bytes: Uint8Array, t: StateTraffic): Promise<void> {
  await s3.put(key, bytes);
  t.put++;
  t.bytesPut += bytes.byteLength;
}

export async function detectFunction(
  s3: ObjectClient,
  profile: ResolvedProfile,
  input: DetectInput,
  traffic: StateTraffic,
): Promise<number> {
  const { manifest: m, group } = input;
  const snapshot = await getState(s3, keys.state(m.stream, group.name), m.index, traffic);
  const lists: ChunkRecord[][] = [];
  for (const kind of group.kinds) {
    if (m.objects[kind] === undefined) continue;
    const bytes = await s3.get(keys.media(m.stream, m.index, kind));
    if (bytes === null) throw new Error(`chunk object ${keys.media(m.stream, m.index, kind)} is missing`);
    lists.push(decodeRecords(bytes));
  }
  const run = runGroup(profile, group, snapshot, mergeRecords(lists), m.final ? m.lastVideoPts : null);
  await s3.put(
    keys.findings(m.stream, m.index, group.name),
    new TextEncoder().encode(JSON.stringify(run.findings)),
  );
  await putState(s3, keys.state(m.stream, group.name), run.snapshot, traffic);
  return run.findings.length;
}

/** The aggregator's own state between chunks: the open incidents and where chunks start. */
interface AggregateState {
  /** Condition key (`type@start`) to the stored incident's id. */
  open: Record<string, string>;
  /** The last video time seen: the end of a condition that ends without one. */
  lastPts: number;
  /** Recent chunks' first times, to find the thumbnails around an onset. */
  chunks: [index: number, firstPts: number][];
}

const KEPT_CHUNKS = 64;

export interface AggregateDeps {
  readonly s3: ObjectClient;
  readonly profile: ResolvedProfile;
  readonly store: Store;
  readonly blobs: BlobStore;
  readonly writer: IncidentWriter;
}

/** The thumbnails before and at an onset, from the chunk objects that hold them. */
async function evidenceAt(
  s3: ObjectClient,
  stream: string,
  state: AggregateState,
  start: number,
): Promise<{ before?: Thumbnail; during?: Thumbnail }> {
  const at = state.chunks.filter(([, first]) => first <= start).map(([i]) => i);
  const idx = at.length > 0 ? at[at.length - 1]! : state.chunks[0]?.[0];
  if (idx === undefined) return {};
  const thumbs: Thumbnail[] = [];
  for (const i of idx > 0 ? [idx - 1, idx] : [idx]) {
    const bytes = await s3.get(keys.media(stream, i, "thumbs"));
    if (bytes) for (const r of decodeRecords(bytes)) if (r.kind === "thumbs") thumbs.push(r.thumb);
  }
  let before: Thumbnail | undefined;
  let during: Thumbnail | undefined;
  for (const t of thumbs) {
    if (t.pts < start) before = t;
    else if (!during) during = t;
  }
  return { ...(before ? { before } : {}), ...(during ? { during } : {}) };
}

export async function aggregateFunction(
  deps: AggregateDeps,
  input: AggregateInput,
  traffic: StateTraffic,
): Promise<number> {
  const { s3, store, writer } = deps;
  const m = input.manifest;
  const stateKey = keys.state(m.stream, "aggregate");
  const raw = await getState(s3, stateKey, m.index, traffic);
  const state: AggregateState = raw
    ? (deserialize(raw) as AggregateState)
    : { open: {}, lastPts: 0, chunks: [] };
  state.chunks.push([m.index, m.firstPts]);
  if (state.chunks.length > KEPT_CHUNKS) state.chunks.shift();

  const listed = new Set(await s3.list(keys.findingsPrefix(m.stream, m.index)));
  const events: ConditionEvent[] = [];
  for (const group of input.groups) {
    const key = keys.findings(m.stream, m.index, group);
    if (!listed.has(key)) throw new Error(`findings ${key} are missing`);
    const bytes = await s3.get(key);
    if (bytes) events.push(...(JSON.parse(new TextDecoder().decode(bytes)) as ConditionEvent[]));
  }

  const streamRecord =
    (await store.getStreamByName(m.stream)) ??
    (await store.createStream({ name: m.stream, url: `staged:${m.stream}` }));
  // Updates are written once per chunk and incident (the service writes them at most every 5 s).
  const updates = new Map<string, Readonly<Record<string, unknown>>>();
  for (const e of events) {
    const c = e.condition;
    const key = `${c.type}@${c.start.toFixed(3)}`;
    if (e.phase === "start") {
      const start = roundTime(c.start);
      const stored = await writer.open({
        streamId: streamRecord.id,
        type: c.type,
        severity: deps.profile.severityOf(c.type),
        start,
        details: { ...c.details },
      });
      state.open[key] = stored.id;
      const ev = await evidenceAt(s3, m.stream, state, c.start);
      for (const [name, thumb] of [
        ["before.jpg", ev.before],
        ["during.jpg", ev.during],
      ] as const) {
        if (thumb) await saveEvidence(store, deps.blobs, stored.id, name, thumb.jpeg, "image/jpeg");
      }
      const measured = new TextEncoder().encode(
        JSON.stringify({ incident: stored, details: c.details }, null, 2),
      );
      await saveEvidence(store, deps.blobs, stored.id, "measurements.json", measured, "application/json");
      continue;
    }
    let id = state.open[key];
    if (id === undefined) {
      // An end without a start (a detector that reports whole conditions at once): open it now.
      const stored = await writer.open({
        streamId: streamRecord.id,
        type: c.type,
        severity: deps.profile.severityOf(c.type),
        start: roundTime(c.start),
        details: { ...c.details },
      });
      id = stored.id;
      state.open[key] = id;
    }
    if (e.phase === "update") {
      updates.set(id, { ...(updates.get(id) ?? {}), ...c.details });
      continue;
    }
    updates.delete(id);
    const before = await store.getIncident(id);
    const end = roundTime(c.end ?? state.lastPts);
    await writer.close(id, end, { details: { ...(before?.details ?? {}), ...c.details } });
    delete state.open[key];
  }
  for (const [id, details] of updates) {
    const before = await store.getIncident(id);
    await writer.update(id, { details: { ...(before?.details ?? {}), ...details } });
  }
  state.lastPts = Math.max(state.lastPts, m.lastVideoPts);
  await putState(s3, stateKey, serialize(state), traffic);
  return events.length;
}
