/** The fleet benchmark's table (BENCHMARKS.md "fleet"). */
import type { FleetRunResult } from "./fleet-bench.js";

const s = (ms: number): string => (ms / 1000).toFixed(1);

export function fleetReport(results: readonly FleetRunResult[], machine: string): string {
  const lines = [
    "| run | streams | workers | start-up / claim all (s) | failover max / p95 (s), streams moved | DB tx/s | worker RSS median / max (MB) | its decoders' RSS median / max (MB) | CPU per worker + decoders median / max (cores) | incidents | refused writes |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of results) {
    lines.push(
      `| ${r.spec.label} | ${r.spec.streams} | ${r.spec.workers} | ${s(r.startupMs)} / ${Number.isNaN(r.claimAllMs) ? `${r.claimed} claimed in 240 s` : s(r.claimAllMs)} | ` +
        `${s(r.failoverMaxMs)} / ${s(r.failoverP95Ms)}, ${r.killedStreams} | ${r.dbTransactionsPerSecond.toFixed(0)} | ` +
        `${r.rssMb.median.toFixed(0)} / ${r.rssMb.max.toFixed(0)} | ` +
        `${r.decoderRssMb.median.toFixed(0)} / ${r.decoderRssMb.max.toFixed(0)} | ${r.cpu.median.toFixed(2)} / ${r.cpu.max.toFixed(2)} | ` +
        `${r.incidents} | ${r.refusedWrites} |`,
    );
  }
  return [
    ...lines,
    "",
    `Machine: ${machine}. Default lease timing (lease 10 s, renew 3 s, claim poll 1 s).`,
    "Claim all: from spawning the workers (start-up included) until every stream is owned.",
    "Failover: from SIGKILL of one worker until each of its streams is owned again (polled every 100 ms).",
    "DB tx/s: pg_stat_database commits + rollbacks per second of the fleet's database, steady state.",
    "SIMULATED rows: `sim:` sources stand in for ffmpeg (no media, synthetic cost); leases, placement,",
    "incidents and the store are the real ones. ffmpeg rows: real decoders and detectors on a looped clip.",
    "",
  ].join("\n");
}
