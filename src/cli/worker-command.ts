/**
 * `streamqc worker --db URL [--name N] [--pool P] [--capacity N]`: a fleet member that runs
 * monitors only (docs/fleet.md). `STREAMQC_DATABASE_URL` may stand for `--db`. SIGTERM or
 * SIGINT drains it: its streams are stopped and their leases released for others to claim.
 */
import { readEnvironment } from "../config/env.js";
import { StreamqcError } from "../errors.js";
import type { Io, WorkerCliOptions } from "./command-options.js";

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

function int(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new StreamqcError("SQM_ERR_USAGE", `${flag} must be a whole number ≥ ${min}`);
  return n;
}

export async function runWorker(values: WorkerCliOptions, io: Io): Promise<number> {
  const db = values.db ?? readEnvironment().databaseUrl;
  if (!db) throw new StreamqcError("SQM_ERR_USAGE", "worker needs --db URL (or STREAMQC_DATABASE_URL)");
  if (values.name !== undefined && !NAME.test(values.name))
    throw new StreamqcError("SQM_ERR_USAGE", "--name: 1-64 letters, digits, '.', '_' or '-'");
  if (values.pool !== undefined && !NAME.test(values.pool))
    throw new StreamqcError("SQM_ERR_USAGE", "--pool: 1-64 letters, digits, '.', '_' or '-'");
  const timing = {
    leaseMs: int(values.leaseMs ?? "10000", "--lease-ms", 500)!,
    renewEveryMs: int(values.renewMs ?? "3000", "--renew-ms", 100)!,
    claimEveryMs: int(values.claimMs ?? "1000", "--claim-ms", 100)!,
    safetyMs: int(values.safetyMs ?? "2000", "--safety-ms", 100)!,
    rebalanceEveryMs: int(values.rebalanceMs ?? "5000", "--rebalance-ms", 100)!,
  };
  if (timing.renewEveryMs + timing.safetyMs >= timing.leaseMs) {
    throw new StreamqcError("SQM_ERR_USAGE", "--renew-ms plus --safety-ms must be less than --lease-ms");
  }
  const capacity = int(values.capacity, "--capacity", 1);
  const batch = int(values.claimBatch, "--claim-batch", 1);
  const grace = int(values.adoptGraceMs, "--adopt-grace-ms", 0);
  const metricsPort = int(values.metricsPort, "--metrics-port", 0);
  const livePort = int(values.livePort, "--live-port", 0);
  if (livePort !== undefined && livePort > 65535)
    throw new StreamqcError("SQM_ERR_USAGE", "--live-port must be ≤ 65535");
  if (values.liveUrl !== undefined && !/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(values.liveUrl))
    throw new StreamqcError("SQM_ERR_USAGE", "--live-url must be an http:// or https:// URL");
  const { startWorker } = await import("../fleet/start-worker.js");
  const running = await startWorker({
    db,
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(values.pool !== undefined ? { pool: values.pool } : {}),
    ...(capacity !== undefined ? { capacity } : {}),
    ...(values.config !== undefined ? { config: values.config } : {}),
    timing,
    ...(batch !== undefined ? { placement: { claimBatch: batch } } : {}),
    ...(grace !== undefined ? { adoptGraceMs: grace } : {}),
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    ...(values.liveHost !== undefined ? { liveHost: values.liveHost } : {}),
    ...(livePort !== undefined ? { livePort } : {}),
    ...(values.liveUrl !== undefined ? { liveUrl: values.liveUrl.replace(/\/+$/, "") } : {}),
    allowSimulated: values.allowSimulated,
    logStream: io.out,
  });
  io.err.write(
    `streamqc: worker ${running.worker.name} running${running.metricsUrl ? ` (metrics ${running.metricsUrl})` : ""}; SIGTERM drains\n`,
  );
  await new Promise<void>((resolveStop) => {
    process.once("SIGINT", () => resolveStop());
    process.once("SIGTERM", () => resolveStop());
  });
  io.err.write("streamqc: draining\n");
  await running.close();
  return 0;
}
