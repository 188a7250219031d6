/**
 * The architecture benchmark end to end on a short run: one stream, 10 s of live media with a
 * freeze, a silence and a black picture injected, 1 s chunks. Both designs run the registry's
 * detectors; they must record the same incidents, those must be the injected defects, and the
 * staged design's counts must agree with its own definition (a chunk is one execution of
 * groups + 2 states and groups + 1 invocations). No timing is asserted.
 */
import { resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  benchDefects,
  runArchitectureBench,
  type ArchitectureResult,
} from "../../../src/bench/architecture/architecture-bench.js";
import { formatArchitectureReport } from "../../../src/bench/architecture/architecture-report.js";

const SECONDS = 10;
let r: ArchitectureResult;

beforeAll(async () => {
  r = await runArchitectureBench({
    streams: 1,
    seconds: SECONDS,
    chunkSeconds: 1,
    invoke: "warm",
    poolSize: 2,
    ffmpegPath: "ffmpeg",
    width: 320,
    height: 180,
    child: { args: ["--import", "tsx", resolve("src/cli/main.ts"), "bench", "--architecture-child"] },
  });
}, 300_000);

describe("bench --architecture (1 stream, 10 s, 1 s chunks)", () => {
  it("finds the same incidents both ways, and they are the injected defects", () => {
    expect(r.incidentsMatch).toBe(true);
    const injected = benchDefects(SECONDS);
    for (const found of [r.incidents.inProcess, r.incidents.staged]) {
      expect(found.map((i) => i.type).sort()).toEqual(["audio.silence", "video.black", "video.freeze"]);
      for (const d of injected) {
        const type = { freeze: "video.freeze", silence: "audio.silence", black: "video.black" }[
          d.type as string
        ];
        const i = found.find((x) => x.type === type);
        expect(i, type).toBeDefined();
        expect(Math.abs(i!.start - d.start), `${type} start`).toBeLessThan(0.25);
        expect(Math.abs(i!.end! - (d.start + d.duration)), `${type} end`).toBeLessThan(0.25);
      }
    }
    expect(r.incidents.expectedTypes).toEqual(["audio.silence", "video.black", "video.freeze"]);
  });

  it("counts one execution per chunk, groups + 2 state transitions and groups + 1 invocations each", () => {
    const t = r.staged.totals;
    const groups = r.config.groups.length;
    expect(groups).toBe(5);
    // Chunks are cut every second of video: 10 s of media gives 10.
    expect(t.chunks).toBe(SECONDS);
    expect(t.executions).toBe(t.chunks);
    expect(t.stateTransitions).toBe(t.chunks * (groups + 2));
    expect(t.invocations.detect).toBe(t.chunks * groups);
    expect(t.invocations.aggregate).toBe(t.chunks);
  });

  it("counts object-store requests as the design defines them", () => {
    const t = r.staged.totals;
    const groups = r.config.groups.length;
    // State: every group and the aggregator write a snapshot per chunk, and read it from the second chunk on.
    expect(t.stateRequests.put).toBe(t.chunks * (groups + 1));
    expect(t.stateRequests.get).toBe((t.chunks - 1) * (groups + 1));
    expect(t.stateRequests.bytesPut).toBeGreaterThan(0);
    // One LIST per aggregation; PUTs: the converter's chunk objects, findings per group, snapshots.
    expect(t.requests.list).toBe(t.chunks);
    expect(t.requests.put).toBe(t.converterRequests.put + t.chunks * groups + t.stateRequests.put);
    // The converter writes every kind of media for each full chunk (video, detail, audio, events, thumbnails at most).
    expect(t.converterRequests.put).toBeGreaterThanOrEqual(t.chunks * 2);
    expect(t.converterRequests.put).toBeLessThanOrEqual(t.chunks * 5);
    // GETs: at least the state reads, a findings object per group and chunk, and each group's media.
    expect(t.requests.get).toBeGreaterThan(t.stateRequests.get + t.chunks * groups);
  });

  it("prices both designs per stream-hour and reports the ratio of their totals", () => {
    expect(r.inProcess.totalPerStreamHour).toBeGreaterThan(0);
    expect(r.staged.totalPerStreamHour).toBeGreaterThan(0);
    expect(r.ratio).toBeCloseTo(r.staged.totalPerStreamHour / r.inProcess.totalPerStreamHour, 10);
    const hours = r.staged.mediaSeconds / 3600;
    expect(r.staged.perStreamHour.stateTransitions).toBeCloseTo(r.staged.totals.stateTransitions / hours, 6);
    expect(r.staged.costs.stepFunctionsStandard).toBeCloseTo(
      (r.staged.totals.stateTransitions / hours) * (0.025 / 1000),
      10,
    );
    const report = formatArchitectureReport(r);
    expect(report).toMatch(/incidentsMatch: true/);
    expect(report).toMatch(/ratio \(staged \/ in-process per stream-hour\): [\d.]+x/);
    expect(JSON.parse(JSON.stringify(r))).toHaveProperty("ratio");
  });
});
