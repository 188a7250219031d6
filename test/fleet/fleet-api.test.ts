/**
 * `serve --db --no-monitor` with one real worker process on a real PostgreSQL (a SIMULATED
 * stream): the API lists the worker, a stream's state names its owner and epoch, an incident
 * the worker records reaches the API's live events (LISTEN/NOTIFY), and stopping the stream
 * through the API takes it from the worker.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startFleetService } from "../../src/fleet/start-fleet-service.js";
import type { ServiceEvent } from "../../src/service/service-facade.js";
import { PostgresStore } from "../../src/store/postgres-store.js";
import { freshDatabase, pgSkipReason } from "./fleet-db.js";
import { startWorkerProcess, stopAll, until, type WorkerProcess } from "./fleet-processes.js";

const skip = pgSkipReason();

describe.skipIf(skip)("fleet API (serve --db --no-monitor)", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it("lists workers, shows owner and epoch, relays incidents, and stops a stream on its worker", async () => {
    const db = await freshDatabase("fleetapi");
    cleanups.push(() => db.drop());
    const dir = mkdtempSync(join(tmpdir(), "sqm-fleetapi-"));
    cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    const { Writable } = await import("node:stream");
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const svc = await startFleetService({
      db: db.url,
      monitor: false,
      overrides: { dataDir: join(dir, "data"), server: { host: "127.0.0.1", port: 0 } },
      allowSimulated: true,
      logStream: sink,
    });
    cleanups.push(() => svc.close());
    const events: ServiceEvent[] = [];
    svc.facade.subscribe((e) => events.push(e));
    const store = await PostgresStore.open(db.url);
    cleanups.push(() => store.close());
    // Always in a defect window: an incident opens as soon as the stream runs.
    const s = await store.createStream({
      name: "sim-1",
      url: "sim:sim-1?period=3600&duty=3599",
      profile: "default",
    });
    const workers: WorkerProcess[] = [startWorkerProcess(db.url, "w-api", ["--claim-ms", "300"])];
    cleanups.push(() => stopAll(workers));
    const api = `${svc.url}/api/v1`;
    const list = await until(
      "the worker to hold the stream",
      async () => {
        const r = (await (await fetch(`${api}/workers`)).json()) as {
          items: { name: string; streams: number }[];
        };
        return r.items.find((w) => w.name === "w-api" && w.streams === 1) ? r : undefined;
      },
      60_000,
      300,
    );
    expect(list.items[0]).toMatchObject({ name: "w-api", pool: "default", streams: 1 });
    const state = await until(
      "the state to name its owner",
      async () => {
        const st = (await (await fetch(`${api}/streams/${s.id}/state`)).json()) as {
          worker: string | null;
          epoch: number;
          status: string;
        };
        return st.worker === "w-api" && st.status === "up" ? st : undefined;
      },
      10_000,
      200,
    );
    expect(state.epoch).toBeGreaterThanOrEqual(1);
    await until(
      "the incident to reach the API's live events",
      () => Promise.resolve(events.some((e) => e.type === "incident.opened")),
      10_000,
    );
    const stopped = await fetch(`${api}/streams/${s.id}/stop`, { method: "POST" });
    expect(stopped.status).toBe(200);
    await until(
      "the worker to let the stream go",
      async () => {
        const r = (await (await fetch(`${api}/workers`)).json()) as { items: { streams: number }[] };
        return r.items[0]?.streams === 0;
      },
      10_000,
      200,
    );
    const open = await store.openIncidents(s.id);
    expect(open).toEqual([]); // closed by the API when the stream was stopped
  }, 120_000);
});
