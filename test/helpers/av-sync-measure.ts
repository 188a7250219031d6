/** Runs av.sync alone over a file through the real reader and collects its measurements. */
import { avSyncDetector, AvSyncOptions } from "../../src/detect/av-sync-detector.js";
import type { ConditionEvent } from "../../src/detect/detector.js";
import { MediaReader } from "../../src/ingest/media-reader.js";
import { openSource } from "../../src/ingest/open-source.js";

export interface SyncMeasurement {
  readonly at: number;
  readonly offsetMs: number | null;
  readonly confidence: number | null;
}

export async function measureAvSync(
  path: string,
  options: Record<string, unknown> = {},
): Promise<{ measurements: SyncMeasurement[]; conditions: ConditionEvent[] }> {
  const conditions: ConditionEvent[] = [];
  const detector = avSyncDetector.create(AvSyncOptions.parse(options), (e) => conditions.push(e));
  const measurements: SyncMeasurement[] = [];
  let next = 1;
  const reader = new MediaReader(
    openSource(path),
    { ffmpegPath: "ffmpeg", failFast: true, threads: 1 },
    {
      video: (f) => detector.pushVideo?.(f),
      audio: (b) => {
        detector.pushAudio?.(b);
        if (b.pts >= next) {
          next = Math.floor(b.pts) + 1;
          const m = detector.measure?.() ?? {};
          measurements.push({
            at: b.pts,
            offsetMs: typeof m.offsetMs === "number" ? m.offsetMs : null,
            confidence: typeof m.confidence === "number" ? m.confidence : null,
          });
        }
      },
    },
  );
  try {
    reader.start();
    const res = await reader.done;
    detector.flush(res.mediaEnd);
  } finally {
    await reader.close();
  }
  return { measurements, conditions };
}
