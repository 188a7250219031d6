/**
 * Fleet metrics (prefix `streamqc_fleet_`). A worker serves its own on `--metrics-port`
 * (Prometheus scrapes each worker); the API process adds the fleet-wide view from the
 * database (streams and load per worker). Values are read at scrape time.
 */
import { createServer, type Server } from "node:http";
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";

import type { WorkerCounters } from "./worker-service.js";

function counter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** A worker's own registry. */
export function workerRegistry(read: () => WorkerCounters): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "streamqc_" });
  new Gauge({
    name: "streamqc_fleet_leases_held",
    help: "Stream leases this worker holds now.",
    registers: [registry],
    collect() {
      this.set(read().leasesHeld);
    },
  });
  counter(registry, "streamqc_fleet_claims_total", "Streams claimed by this worker.", () => read().claims);
  new Counter({
    name: "streamqc_fleet_lease_losses_total",
    help: "Streams this worker stopped, by reason: deadline (renewals failed), taken (lease gone at renewal), fenced (a write was refused), drain, rebalance.",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(read().losses)) this.inc({ reason }, n);
    },
  });
  counter(
    registry,
    "streamqc_fleet_fenced_writes_total",
    "Writes the store refused because this worker's lease on the stream was gone.",
    () => read().fencedWrites,
  );
  counter(
    registry,
    "streamqc_fleet_renew_failures_total",
    "Lease renewals that failed (no answer, error).",
    () => read().renewFailures,
  );
  return registry;
}

/** Adds the fleet-wide gauges to the API's registry. */

/** `GET /metrics` on loopback (or the given host) for a worker. */
export async function serveMetrics(registry: Registry, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== "GET" || req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { "content-type": registry.contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
