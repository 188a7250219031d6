/**
 * The staged design carries detector state between invocations as bytes (detector-snapshot.ts).
 * Fed the same decoded media, every detector group must report exactly the same conditions
 * whether it runs once over the whole input or restarts from a snapshot at every chunk.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { detectorGroups, runGroup } from "../../../src/bench/architecture/detector-group.js";
import { copyRecord, type ChunkRecord } from "../../../src/bench/architecture/chunk-codec.js";
import { resolveProfile } from "../../../src/config/profile.js";
import { generateClip } from "../../../src/gen/clip-generator.js";
import { MediaReader } from "../../../src/ingest/media-reader.js";
import { openSource } from "../../../src/ingest/open-source.js";

let dir: string;
const records: ChunkRecord[] = [];
let lastVideoPts = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sqm-arch-snap-"));
  const clip = join(dir, "clip.ts");
  await generateClip(clip, {
    duration: 12,
    width: 320,
    height: 180,
    defects: [
      { type: "freeze", start: 2, duration: 3 },
      { type: "silence", start: 3, duration: 3 },
      { type: "black", start: 7, duration: 3 },
      { type: "clipping", start: 8, duration: 1.5 },
    ],
  });
  let seq = 0;
  const push = (r: ChunkRecord): void => void records.push(copyRecord(r));
  const reader = new MediaReader(
    openSource(clip),
    { ffmpegPath: "ffmpeg", threads: 1, detail: true, thumbnails: false, failFast: true },
    {
      video: (frame) => {
        lastVideoPts = frame.pts;
        push({ seq: seq++, kind: "video", frame });
      },
      detail: (frame) => push({ seq: seq++, kind: "detail", frame }),
      audio: (block) => push({ seq: seq++, kind: "audio", block }),
      event: (event) => push({ seq: seq++, kind: "events", event }),
    },
  );
  reader.start();
  await reader.done;
  await reader.close();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Cuts records into chunks at each `seconds` boundary of video time, as the converter does. */
function cut(seconds: number): ChunkRecord[][] {
  const chunks: ChunkRecord[][] = [[]];
  let boundary = seconds;
  for (const r of records) {
    if (r.kind === "video" && r.frame.pts >= boundary) {
      chunks.push([]);
      while (r.frame.pts >= boundary) boundary += seconds;
    }
    chunks[chunks.length - 1]!.push(r);
  }
  return chunks;
}

describe("detector state carried between chunks as snapshots", () => {
  const profile = resolveProfile({});

  it("reports the same conditions chunked (1 s and 0.5 s) as in one run, for every group", () => {
    const types = new Set<string>();
    for (const group of detectorGroups(profile)) {
      const whole = runGroup(profile, group, null, records, lastVideoPts).findings;
      for (const seconds of [1, 0.5]) {
        const chunks = cut(seconds);
        expect(chunks.length).toBeGreaterThan(10);
        let snapshot: Uint8Array | null = null;
        const findings = [];
        for (let i = 0; i < chunks.length; i++) {
          const run = runGroup(
            profile,
            group,
            snapshot,
            chunks[i]!,
            i === chunks.length - 1 ? lastVideoPts : null,
          );
          snapshot = run.snapshot;
          findings.push(...run.findings);
        }
        expect(JSON.parse(JSON.stringify(findings)), `${group.name} at ${seconds} s`).toEqual(
          JSON.parse(JSON.stringify(whole)),
        );
      }
      for (const f of whole) types.add(f.condition.type);
    }
    // The injected defects were found (so the comparison compared something).
    expect([...types].sort()).toEqual(
      expect.arrayContaining(["audio.clipping", "audio.silence", "video.black", "video.freeze"]),
    );
  });
});
