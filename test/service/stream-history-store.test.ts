/**
 * The channel page's history outlives a restart: StreamHistories writes a downsampled copy
 * (one sample per 10 s, highest peaks, latest loudness) to a real SQLite store, and a new
 * process's StreamHistories reads the hour back into the ring that `/history` serves.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { STORED_EVERY_MS, STORED_KEEP_MS, StreamHistories } from "../../src/service/stream-history.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function openStore(dir?: string): Promise<{ store: SqliteStore; dir: string }> {
  const d = dir ?? (await mkdtemp(join(tmpdir(), "streamqc-history-")));
  if (!dir) dirs.push(d);
  return { store: new SqliteStore(join(d, "streamqc.db")), dir: d };
}

/** A stream's measurements as the runner gives them: loudness falls 1 LU a second. */
function run(at: number) {
  return {
    loudness: () => ({
      momentary: -20 - at,
      shortTerm: -21 - at,
      integrated: -23,
      truePeak: at === 7 ? -0.5 : -3,
      target: -23,
      truePeakLimit: -1,
    }),
    avOffsetMs: () => 40,
  };
}

describe("StreamHistories with a store", () => {
  it("writes one sample per 10 s and a new process reads the hour back", async () => {
    const { store, dir } = await openStore();
    const s = await store.createStream({ name: "ch", url: "udp://239.0.0.1:5000" });
    const T0 = Date.now() - 60_000;
    const first = new StreamHistories(3600, store);
    for (let k = 0; k < 30; k++) {
      // A 2 s overload at 7 s: the stored sample of 0..10 s must still show it.
      const peak = k === 7 ? -0.2 : -12;
      first.record(s.id, { peakDbfs: [peak, -13], rmsDbfs: [-20, -21] }, run(k), T0 + k * 1000);
    }
    await first.close();
    const stored = await store.readHistory(s.id, 0);
    expect(stored.map((h) => h.t)).toEqual([T0, T0 + STORED_EVERY_MS, T0 + 2 * STORED_EVERY_MS]);
    expect(stored[0]!.sample).toMatchObject({ pk: [-0.2, -13], tp: -0.5, i: -23, av: 40 });
    // The latest loudness of each interval (9 s into the first).
    expect(stored[0]!.sample).toMatchObject({ m: -29, s: -30 });
    expect(stored[1]!.sample).toMatchObject({ pk: [-12, -13], tp: -3 });
    await store.close();

    // "Restart": a new store on the same file, a new StreamHistories, an empty ring.
    const again = await openStore(dir);
    const second = new StreamHistories(3600, again.store);
    await second.restore(s.id);
    const h = second.read(s.id, 3600, undefined);
    expect(h.t).toEqual(stored.map((x) => x.t / 1000));
    expect(h.momentary).toEqual([-29, -39, -49]);
    expect(h.peakDbfs[0]).toEqual([-0.2, -12, -12]);
    expect(h.avOffsetMs).toEqual([40, 40, 40]);
    // Live samples recorded after the restart follow the restored ones.
    second.record(s.id, { peakDbfs: [-6, -6], rmsDbfs: [-9, -9] }, run(0), Date.now());
    expect(second.read(s.id, 3600, undefined).t).toHaveLength(4);
    await second.close();
    await again.store.close();
  });

  it("keeps an hour in the store and nothing without a store", async () => {
    const { store } = await openStore();
    const s = await store.createStream({ name: "ch", url: "udp://239.0.0.1:5000" });
    const now = Date.now();
    await store.appendHistories([
      {
        streamId: s.id,
        samples: [
          { t: now - STORED_KEEP_MS - 60_000, sample: { m: -30, pk: [-10], rms: [-20] } },
          { t: now - 60_000, sample: { m: -24, pk: [-10], rms: [-20] } },
        ],
      },
    ]);
    const h = new StreamHistories(3600, store);
    await h.restore(s.id, now);
    // Only the sample within the hour comes back; the first flush prunes the older one.
    expect(h.read(s.id, 7200, undefined, now).momentary).toEqual([-24]);
    await h.flush(now);
    expect((await store.readHistory(s.id, 0)).map((x) => x.t)).toEqual([now - 60_000]);
    await h.close();
    const memoryOnly = new StreamHistories(3600);
    await memoryOnly.restore(s.id);
    expect(memoryOnly.read(s.id, 3600, undefined).t).toEqual([]);
    await store.close();
  });
});
