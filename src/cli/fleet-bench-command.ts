/** `streamqc bench --fleet`: see src/bench/fleet/fleet-bench.ts. */
import { cpus, totalmem } from "node:os";
import { ffmpegPathFrom } from "../config/config.js";
import { StreamqcError } from "../errors.js";
import { checkFfmpeg } from "../ingest/ffmpeg-binary.js";
import {
  runFleetScenario,
  startCluster,
  type FleetRunResult,
  type FleetRunSpec,
} from "../bench/fleet/fleet-bench.js";
import { fleetReport } from "../bench/fleet/fleet-report.js";
import type { BenchOptions, Io } from "./command-options.js";

function count(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new StreamqcError("SQM_ERR_USAGE", `${name} must be a whole number ≥ 0`);
  return n;
}

export async function runFleetBenchCommand(values: BenchOptions, io: Io): Promise<number> {
  const seconds = count("--fleet-seconds", values.fleetSeconds);
  const specs: FleetRunSpec[] = [];
  const simStreams = count("--fleet-streams", values.fleetStreams);
  const simWorkers = count("--fleet-workers", values.fleetWorkers);
  const realStreams = count("--fleet-real-streams", values.fleetRealStreams);
  const realWorkers = count("--fleet-real-workers", values.fleetRealWorkers);
  if (simStreams > 0 && simWorkers > 1)
    specs.push({
      label: "SIMULATED sim:",
      kind: "simulated",
      streams: simStreams,
      workers: simWorkers,
      seconds,
      claimTimeoutMs: 240_000,
    });
  if (realStreams > 0 && realWorkers > 1)
    specs.push({
      label: "ffmpeg (looped 320x180 clip)",
      kind: "ffmpeg",
      streams: realStreams,
      workers: realWorkers,
      seconds,
      claimTimeoutMs: 240_000,
    });
  if (specs.length === 0)
    throw new StreamqcError("SQM_ERR_USAGE", "nothing to run: need streams and at least 2 workers");
  const ffmpegPath = ffmpegPathFrom({});
  if (specs.some((s) => s.kind === "ffmpeg")) checkFfmpeg(ffmpegPath);
  io.out.write("fleet bench: starting a throwaway PostgreSQL (scripts/pg-test-cluster.sh)\n");
  const cluster = await startCluster();
  const results: FleetRunResult[] = [];
  try {
    for (const spec of specs) {
      io.out.write(`fleet bench: ${spec.label}, ${spec.streams} streams over ${spec.workers} workers\n`);
      results.push(
        await runFleetScenario(cluster.url, spec, { ffmpegPath, log: (l) => io.out.write(`${l}\n`) }),
      );
    }
  } finally {
    await cluster.stop();
  }
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(1)} GB`;
  io.out.write(`\n${fleetReport(results, machine)}`);
  if (values.format === "json") io.out.write(`${JSON.stringify(results, null, 2)}\n`);
  return 0;
}
