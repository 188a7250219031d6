/**
 * What a stream's detectors learnt of the channel (Detector.memory: the loudness rule's learnt
 * swing), kept in the store between runs of the stream: a service restart, a profile edit or
 * another fleet worker taking the stream picks it up (Detector.recall) instead of learning
 * the channel again from nothing, when its first deep quiet passage would be an incident
 * again. Kept in the store's settings under `detector-memory:<stream id>`, with the URL it was
 * learnt on (a stream pointed at another source starts afresh) and when it was saved (the
 * detectors count its age against how long they remember).
 */
import type { Json, SettingsStore } from "../store/store.js";

/** Seconds between saves while a stream runs (and once more when it stops). */
export const MEMORY_SAVE_SECONDS = 60;

export interface RecalledMemory {
  /** By detector type. */
  readonly memory: Readonly<Record<string, unknown>>;
  readonly ageSeconds: number;
}

export interface DetectorMemoryPort {
  /** The memory saved for this stream and URL, or null. */
  load(): Promise<RecalledMemory | null>;
  save(memory: Readonly<Record<string, unknown>>): Promise<void>;
}

interface Saved {
  readonly url: string;
  readonly savedAt: string;
  readonly detectors: Record<string, Json>;
}

export function memoryKey(streamId: string): string {
  return `detector-memory:${streamId}`;
}

function isSaved(v: Json | undefined): v is Json & Saved {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  return (
    typeof v["url"] === "string" &&
    typeof v["savedAt"] === "string" &&
    typeof v["detectors"] === "object" &&
    v["detectors"] !== null &&
    !Array.isArray(v["detectors"])
  );
}

export function detectorMemory(
  store: SettingsStore,
  stream: { readonly id: string; readonly url: string },
  now: () => Date = () => new Date(),
): DetectorMemoryPort {
  const key = memoryKey(stream.id);
  return {
    async load() {
      const v = await store.getSetting(key);
      if (!isSaved(v) || v.url !== stream.url) return null;
      const at = Date.parse(v.savedAt);
      if (!Number.isFinite(at)) return null;
      return { memory: v.detectors, ageSeconds: Math.max(0, (now().getTime() - at) / 1000) };
    },
    async save(memory) {
      if (Object.keys(memory).length === 0) return;
      const saved: Saved = {
        url: stream.url,
        savedAt: now().toISOString(),
        // Detector memories are plain JSON by contract (Detector.memory).
        detectors: JSON.parse(JSON.stringify(memory)) as Record<string, Json>,
      };
      await store.setSetting(key, saved as unknown as Json);
    },
  };
}
