/**
 * A chunk: what the converter stage hands to the detector functions through the object store.
 * One stream's media from one chunk boundary to the next, cut by video time, split into one
 * object per kind of media (a detector group fetches only the kinds its detectors take).
 *
 * Every record keeps its arrival number (`seq`), so a group that takes several kinds replays
 * them in exactly the order the in-process monitor received them: the same calls, in the
 * same order, to the same detector code.
 */
import { deserialize, serialize } from "node:v8";
import type { AudioBlock, DetailFrame, StreamEvent, Thumbnail, VideoFrame } from "../../ingest/media.js";

export type MediaKind = "video" | "detail" | "audio" | "events" | "thumbs";

export type ChunkRecord =
  | { readonly seq: number; readonly kind: "video"; readonly frame: VideoFrame }
  | { readonly seq: number; readonly kind: "detail"; readonly frame: DetailFrame }
  | { readonly seq: number; readonly kind: "audio"; readonly block: AudioBlock }
  | { readonly seq: number; readonly kind: "events"; readonly event: StreamEvent }
  | { readonly seq: number; readonly kind: "thumbs"; readonly thumb: Thumbnail };

/** What the converter says about a chunk when it starts the chunk's execution. */
export interface ChunkManifest {
  readonly stream: string;
  readonly index: number;
  /** Media seconds of the chunk's first and last video frame (or record). */
  readonly firstPts: number;
  readonly lastVideoPts: number;
  /** The stream ended with this chunk: the detectors flush at lastVideoPts. */
  readonly final: boolean;
  /** The kinds that have an object in this chunk, with their sizes in bytes. */
  readonly objects: Partial<Record<MediaKind, number>>;
}

/**
 * Copies a record out of the reader's reused buffers (the frame's luma and the audio block's
 * samples are valid only while the handler runs; see ingest/media.ts).
 */
export function copyRecord(r: ChunkRecord): ChunkRecord {
  // `new Uint8Array(view)`, not `.slice()`: the reader's bytes may be a Buffer, whose slice is a view.
  switch (r.kind) {
    case "video":
      return { ...r, frame: { ...r.frame, luma: new Uint8Array(r.frame.luma) } };
    case "detail":
      return { ...r, frame: { ...r.frame, luma: new Uint8Array(r.frame.luma) } };
    case "audio":
      return {
        ...r,
        block: {
          ...r.block,
          samples: new Float32Array(r.block.samples.subarray(0, r.block.frames * r.block.channels)),
        },
      };
    case "thumbs":
      return { ...r, thumb: { ...r.thumb, jpeg: new Uint8Array(r.thumb.jpeg) } };
    case "events":
      return r;
  }
}

export function encodeRecords(records: readonly ChunkRecord[]): Uint8Array {
  return serialize(records);
}

export function decodeRecords(bytes: Uint8Array): ChunkRecord[] {
  return deserialize(bytes) as ChunkRecord[];
}

/** Object keys: one prefix per stream and chunk, so the aggregator can LIST a chunk's findings. */
export const keys = {
  media: (stream: string, index: number, kind: MediaKind): string =>
    `chunks/${stream}/${String(index).padStart(6, "0")}/${kind}.bin`,
  findingsPrefix: (stream: string, index: number): string =>
    `findings/${stream}/${String(index).padStart(6, "0")}/`,
  findings: (stream: string, index: number, group: string): string =>
    `findings/${stream}/${String(index).padStart(6, "0")}/${group}.json`,
  state: (stream: string, group: string): string => `state/${stream}/${group}.bin`,
} as const;
