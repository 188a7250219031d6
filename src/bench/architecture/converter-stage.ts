/**
 * The staged design's converter: one long-running process per stream (a container, not a
 * function: a live decoder cannot restart every second). It is the same decoder as the
 * service's (MediaReader: one ffmpeg, NUT demuxer), reading the same live input; it cuts the
 * media into chunks by video time and PUTs each chunk to the object store as one object per
 * kind of media, then tells the orchestrator, which starts the chunk's execution (as an S3
 * event or a StartExecution call would).
 */
import { errorMessage } from "../../errors.js";
import { MediaReader } from "../../ingest/media-reader.js";
import { openSource } from "../../ingest/open-source.js";
import {
  copyRecord,
  encodeRecords,
  keys,
  type ChunkManifest,
  type ChunkRecord,
  type MediaKind,
} from "./chunk-codec.js";
import { ObjectClient } from "./object-client.js";
import { cpuTimes } from "./proc-stats.js";
import type { ConverterReply, ConverterStart } from "./protocol.js";

const KINDS: readonly MediaKind[] = ["video", "detail", "audio", "events", "thumbs"];

function send(m: ConverterReply): void {
  process.send?.(m);
}

export async function convertStream(o: ConverterStart, s3: ObjectClient): Promise<number> {
  // The process's start-up happens once per stream's life, not per hour: measured from here.
  const cpuAtStart = cpuTimes();
  let seq = 0;
  let index = 0;
  let boundary = o.chunkSeconds;
  let records: ChunkRecord[] = [];
  let firstPts: number | null = null;
  let lastVideoPts = 0;
  // Chunks are written in order, one after the other, as they fill. A failed write is kept
  // as the run's error (never an unhandled rejection that would kill the converter).
  let writing: Promise<void> = Promise.resolve();
  let writeError: string | undefined;

  const flushChunk = (final: boolean): void => {
    const chunk = records;
    const m = { index, firstPts: firstPts ?? lastVideoPts, lastVideoPts };
    records = [];
    firstPts = null;
    index++;
    writing = writing
      .then(async () => {
        const before = { ...s3.counts };
        const objects: Partial<Record<MediaKind, number>> = {};
        for (const kind of KINDS) {
          const of = chunk.filter((r) => r.kind === kind);
          if (of.length === 0) continue;
          const bytes = encodeRecords(of);
          await s3.put(keys.media(o.stream, m.index, kind), bytes);
          objects[kind] = bytes.byteLength;
        }
        const manifest: ChunkManifest = { stream: o.stream, ...m, final, objects };
        send({
          kind: "chunk",
          manifest,
          requests: {
            put: s3.counts.put - before.put,
            get: s3.counts.get - before.get,
            list: s3.counts.list - before.list,
            bytesPut: s3.counts.bytesPut - before.bytesPut,
            bytesGot: s3.counts.bytesGot - before.bytesGot,
          },
        });
      })
      .catch((err: unknown) => void (writeError ??= errorMessage(err)));
  };

  const add = (r: ChunkRecord): void => {
    records.push(copyRecord(r));
  };
  const source = openSource(o.input, { allowFiles: true, realtime: true });
  const reader = new MediaReader(
    source,
    // The service's decoder options (stream-runner.ts), plus the duration the benchmark runs.
    {
      ffmpegPath: o.ffmpegPath,
      threads: 1,
      thumbnails: true,
      detail: o.detail,
      duration: o.seconds,
      stallTimeoutMs: o.stallTimeoutMs,
    },
    {
      video: (frame) => {
        // The reader stops at the first frame at or past the run's length: that frame stays in
        // the last chunk instead of opening a chunk of one frame (which would overstate the
        // per-chunk counts of a short run).
        if (frame.pts >= boundary && records.length > 0 && frame.pts < o.seconds) {
          flushChunk(false);
          while (frame.pts >= boundary) boundary += o.chunkSeconds;
        }
        firstPts ??= frame.pts;
        lastVideoPts = frame.pts;
        add({ seq: seq++, kind: "video", frame });
      },
      detail: (frame) => add({ seq: seq++, kind: "detail", frame }),
      audio: (block) => add({ seq: seq++, kind: "audio", block }),
      thumbnail: (thumb) => add({ seq: seq++, kind: "thumbs", thumb }),
      event: (event) => add({ seq: seq++, kind: "events", event }),
    },
  );
  let error: string | undefined;
  let mediaSeconds = 0;
  try {
    reader.start();
    const result = await reader.done;
    mediaSeconds = result.mediaEnd;
  } catch (err) {
    error = errorMessage(err);
  }
  await reader.close();
  flushChunk(true);
  await writing;
  error ??= writeError;
  send({
    kind: "end",
    cpu: cpuTimes(),
    cpuAtStart,
    mediaSeconds,
    requests: s3.counts,
    ...(error !== undefined ? { error } : {}),
  });
  return error === undefined ? 0 : 1;
}

/** The child side: waits for its start message, converts, reports, exits. */
export function runConverterChild(): Promise<number> {
  return new Promise((resolveExit) => {
    process.once("message", (m: ConverterStart) => {
      void convertStream(m, new ObjectClient(m.s3)).then((code) => {
        process.disconnect?.();
        resolveExit(code);
      });
    });
  });
}
