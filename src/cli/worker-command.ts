/**
 * `streamqc worker --db URL [--name N] [--pool P] [--capacity N]`: a fleet member that runs
 * monitors only (docs/fleet.md). `STREAMQC_DATABASE_URL` may stand for `--db`. SIGTERM or
 * SIGINT drains it: its streams are stopped and their leases released for others to claim.
 */
import { parseArgs } from "node:util";
import { readEnvironment } from "../config/env.js";
import { StreamqcError } from "../errors.js";

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

function int(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new StreamqcError("SQM_ERR_USAGE", `${flag} must be a whole number ≥ ${min}`);
  return n;
}

export const WORKER_USAGE = `usage: streamqc worker --db URL [--name NAME] [--pool POOL] [--capacity N] [--config FILE]
         [--lease-ms MS] [--renew-ms MS] [--claim-ms MS] [--safety-ms MS] [--metrics-port P]

Runs the monitors of the streams it claims from the fleet's PostgreSQL database.
  --db URL          postgres:// URL (default $STREAMQC_DATABASE_URL)
  --name NAME       unique worker name (default <host>-<pid>)
  --pool POOL       only streams whose profile names this pool (default "default")
  --capacity N      most streams at once (default 50)
  --config FILE     the serve configuration (profiles, alerts, evidence, ffmpeg)
  --lease-ms MS     lease length (default 10000); --renew-ms (3000); --claim-ms (1000);
  --safety-ms MS    stop this long before a lease could expire (default 2000)
  --metrics-port P  serve Prometheus metrics on 127.0.0.1:P
SIGTERM drains: streams are released and picked up by other workers within about 2 s.`;

export async function runWorker(argv: string[], out: NodeJS.WriteStream): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      db: { type: "string" },
      name: { type: "string" },
      pool: { type: "string" },
      capacity: { type: "string" },
      config: { type: "string" },
      "lease-ms": { type: "string" },
      "renew-ms": { type: "string" },
      "claim-ms": { type: "string" },
      "safety-ms": { type: "string" },
      "rebalance-ms": { type: "string" },
      "claim-batch": { type: "string" },
      "adopt-grace-ms": { type: "string" },
      "metrics-port": { type: "string" },
      // Tests and the fleet benchmark only: run `sim:` streams without a decoder.
      "allow-simulated": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    out.write(WORKER_USAGE + "\n");
    return 0;
  }
  const db = values.db ?? readEnvironment().databaseUrl;
  if (!db) throw new StreamqcError("SQM_ERR_USAGE", "worker needs --db URL (or STREAMQC_DATABASE_URL)");
  if (values.name !== undefined && !NAME.test(values.name))
    throw new StreamqcError("SQM_ERR_USAGE", "--name: 1-64 letters, digits, '.', '_' or '-'");
  if (values.pool !== undefined && !NAME.test(values.pool))
    throw new StreamqcError("SQM_ERR_USAGE", "--pool: 1-64 letters, digits, '.', '_' or '-'");
  const timing = {
    ...(values["lease-ms"] !== undefined ? { leaseMs: int(values["lease-ms"], "--lease-ms", 500)! } : {}),
    ...(values["renew-ms"] !== undefined
      ? { renewEveryMs: int(values["renew-ms"], "--renew-ms", 100)! }
      : {}),
    ...(values["claim-ms"] !== undefined
      ? { claimEveryMs: int(values["claim-ms"], "--claim-ms", 100)! }
      : {}),
    ...(values["safety-ms"] !== undefined ? { safetyMs: int(values["safety-ms"], "--safety-ms", 100)! } : {}),
    ...(values["rebalance-ms"] !== undefined
      ? { rebalanceEveryMs: int(values["rebalance-ms"], "--rebalance-ms", 100)! }
      : {}),
  };
  const lease = timing.leaseMs ?? 10_000;
  if ((timing.renewEveryMs ?? 3000) + (timing.safetyMs ?? 2000) >= lease) {
    throw new StreamqcError("SQM_ERR_USAGE", "--renew-ms plus --safety-ms must be less than --lease-ms");
  }
  const capacity = int(values.capacity, "--capacity", 1);
  const batch = int(values["claim-batch"], "--claim-batch", 1);
  const grace = int(values["adopt-grace-ms"], "--adopt-grace-ms", 0);
  const metricsPort = int(values["metrics-port"], "--metrics-port", 0);
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
    allowSimulated: values["allow-simulated"],
    logStream: out,
  });
  process.stderr.write(
    `streamqc: worker ${running.worker.name} running${running.metricsUrl ? ` (metrics ${running.metricsUrl})` : ""}; SIGTERM drains\n`,
  );
  await new Promise<void>((resolveStop) => {
    process.once("SIGINT", () => resolveStop());
    process.once("SIGTERM", () => resolveStop());
  });
  process.stderr.write("streamqc: draining\n");
  await running.close();
  return 0;
}
