import { afterAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { generateNoEventClip, generateSyncClip } from "../../src/gen/sync-clip.js";
import { analyzeInput } from "../../src/monitor/analyze.js";
import { measureAvSync } from "../helpers/av-sync-measure.js";
import { tempDir } from "../helpers/media.js";

const tmp = tempDir("streamqc-avsync-");
afterAll(() => tmp.cleanup());

describe("av.sync on the sync pattern", () => {
  for (const offsetMs of [-300, -120, 0, 80, 300]) {
    it(`estimates ${offsetMs} ms within 20 ms, and opens an incident only outside -45..+125 ms`, async () => {
      const file = join(tmp.dir, `sync${offsetMs}.ts`);
      await generateSyncClip(file, { offsetMs, duration: 14 });
      const { measurements } = await measureAvSync(file);
      const last = measurements[measurements.length - 1];
      expect(last?.offsetMs).not.toBeNull();
      expect(Math.abs((last?.offsetMs ?? 1e9) - offsetMs)).toBeLessThanOrEqual(20);
      const { incidents } = await analyzeInput(file, { detectors: { "video.blockiness": false } });
      const sync = incidents.filter((i) => i.type === "av.sync");
      if (offsetMs < -45 || offsetMs > 125) {
        expect(sync).toHaveLength(1);
        expect(sync[0]?.start).toBeLessThan(1.5); // the first flash is at 0.8 s
        expect(Math.abs(Number(sync[0]?.details.offsetMs) - offsetMs)).toBeLessThanOrEqual(20);
      } else {
        expect(sync).toHaveLength(0);
      }
    });
  }

  it("opens an incident for an 80 ms lag under the atsc-is191 preset (+45 ms lag limit)", async () => {
    const file = join(tmp.dir, "sync80.ts");
    await generateSyncClip(file, { offsetMs: 80, duration: 14 });
    const { incidents } = await analyzeInput(file, {
      detectors: { "video.blockiness": false, "av.sync": { preset: "atsc-is191" } },
    });
    expect(incidents.filter((i) => i.type === "av.sync")).toHaveLength(1);
  });
});

describe("av.sync without usable events", () => {
  for (const picture of ["static", "pan"] as const) {
    it(`gives no estimate and no incident on a steady tone over a ${picture} picture`, async () => {
      const file = join(tmp.dir, `none-${picture}.ts`);
      await generateNoEventClip(file, { duration: 12, picture });
      const { measurements, conditions } = await measureAvSync(file);
      expect(measurements.length).toBeGreaterThan(5);
      expect(measurements.every((m) => m.offsetMs === null)).toBe(true);
      expect(conditions).toHaveLength(0);
    });
  }
});

describe("av.sync onset after an in-sync stretch", () => {
  it("dates a -120 ms window to its first flash, not to a flash end that fit the lag by chance (eval sync-early-window)", async () => {
    const file = join(tmp.dir, "sync-window.ts");
    const truth = await generateSyncClip(file, {
      duration: 30,
      offsetMs: 0,
      windows: [{ start: 10, duration: 10, offsetMs: -120 }],
    });
    expect(truth.incidents).toHaveLength(1);
    const { incidents } = await analyzeInput(file, { detectors: { "video.blockiness": false } });
    const sync = incidents.filter((i) => i.type === "av.sync");
    expect(sync).toHaveLength(1);
    expect(Math.abs((sync[0]?.start ?? -1) - (truth.incidents[0]?.start ?? 0))).toBeLessThanOrEqual(0.5);
  });
});
