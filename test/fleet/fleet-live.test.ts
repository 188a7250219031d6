/**
 * The wall in a fleet: with the API (`serve --db --no-monitor`) in one process and a real
 * worker process decoding a REAL stream (ffmpeg publishing H.264 + AAC over UDP), the API
 * serves the stream's live thumbnail, its levels (in its state and as `stream.levels` events,
 * from the workers' batched LISTEN/NOTIFY notes) and its last measurements (fetched from the
 * worker's live endpoint, which refuses requests without the fleet token).
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import pg from "pg";
import type { StreamHistory, StreamState } from "../../src/api/schemas.js";
import { freeUdpPorts, udpLoopArgs } from "../../src/demo/loopback.js";
import { startFleetService } from "../../src/fleet/start-fleet-service.js";
import type { ServiceEvent } from "../../src/service/service-facade.js";
import { PostgresStore } from "../../src/store/postgres-store.js";
import { makeClip, tempDir } from "../helpers/media.js";
import { freshDatabase, pgSkipReason } from "./fleet-db.js";
import { startWorkerProcess, stopAll, until, type WorkerProcess } from "./fleet-processes.js";

const skip = pgSkipReason();
const TOKEN = "fleet-live-test-token";

describe.skipIf(skip)("fleet live view (thumbnails, levels, history from the worker)", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  });

  it("serves a worker's live thumbnail, levels and history through the API, with the fleet token", async () => {
    const db = await freshDatabase("fleetlive");
    cleanups.push(() => db.drop());
    const tmp = tempDir("sqm-fleetlive-");
    cleanups.push(() => tmp.cleanup());
    const clip = makeClip(join(tmp.dir, "clip.ts"), { duration: 4 });
    const [port] = await freeUdpPorts(1);
    const publisher = spawn("ffmpeg", ["-hide_banner", "-loglevel", "error", ...udpLoopArgs(clip, port!)], {
      stdio: "ignore",
    });
    cleanups.push(() => void publisher.kill("SIGKILL"));

    const before = process.env["STREAMQC_FLEET_TOKEN"];
    process.env["STREAMQC_FLEET_TOKEN"] = TOKEN;
    cleanups.push(() => {
      if (before === undefined) delete process.env["STREAMQC_FLEET_TOKEN"];
      else process.env["STREAMQC_FLEET_TOKEN"] = before;
    });
    const svc = await startFleetService({
      db: db.url,
      monitor: false,
      overrides: { dataDir: join(tmp.dir, "data"), server: { host: "127.0.0.1", port: 0 } },
      logStream: new Writable({ write: (_c, _e, cb) => cb() }),
    });
    cleanups.push(() => svc.close());
    const events: ServiceEvent[] = [];
    svc.facade.subscribe((e) => events.push(e));
    const store = await PostgresStore.open(db.url);
    cleanups.push(() => store.close());
    const s = await store.createStream({
      name: "live-1",
      url: `udp://127.0.0.1:${port}`,
      profile: "default",
    });
    const workers: WorkerProcess[] = [
      startWorkerProcess(db.url, "w-live", ["--claim-ms", "300"], { env: { STREAMQC_FLEET_TOKEN: TOKEN } }),
    ];
    cleanups.push(() => stopAll(workers));
    const api = `${svc.url}/api/v1`;

    const jpeg = await until(
      "the API to serve the worker's thumbnail",
      async () => {
        const r = await fetch(`${api}/streams/${s.id}/thumbnail`);
        return r.status === 200
          ? { type: r.headers.get("content-type"), bytes: new Uint8Array(await r.arrayBuffer()) }
          : undefined;
      },
      90_000,
      500,
    );
    expect(jpeg.type).toBe("image/jpeg");
    expect([jpeg.bytes[0], jpeg.bytes[1]]).toEqual([0xff, 0xd8]);

    const state = await until(
      "the state to carry the worker's levels",
      async () => {
        const st = (await (await fetch(`${api}/streams/${s.id}/state`)).json()) as StreamState;
        return st.levels.peakDbfs.length > 0 && st.thumbnailAt !== null ? st : undefined;
      },
      20_000,
      300,
    );
    expect(state.worker).toBe("w-live");
    // The tone is at about -21 dBFS peak: real levels, not placeholders.
    expect(state.levels.peakDbfs[0]!).toBeGreaterThan(-30);
    expect(state.levels.peakDbfs[0]!).toBeLessThan(-10);
    expect(events.some((e) => e.type === "stream.levels" && e.streamId === s.id)).toBe(true);

    const history = await until(
      "the history to have a few seconds",
      async () => {
        const h = (await (await fetch(`${api}/streams/${s.id}/history?seconds=600`)).json()) as StreamHistory;
        return h.t.length >= 3 ? h : undefined;
      },
      20_000,
      500,
    );
    expect(history.streamId).toBe(s.id);
    expect(history.peakDbfs[0]!.some((v) => v !== null && v > -30)).toBe(true);

    // The worker's own endpoint: registered in the database, closed without the token.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const row = await client.query<{ live_url: string }>(
      "SELECT live_url FROM workers WHERE name = 'w-live'",
    );
    await client.end();
    const live = row.rows[0]!.live_url;
    expect(live).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const thumb = `${live}/live/v1/streams/${s.id}/thumbnail`;
    expect((await fetch(thumb)).status).toBe(401);
    expect((await fetch(thumb, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await fetch(thumb, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    const bad = await fetch(`${live}/live/v1/streams/${s.id}/history?seconds=-1`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(bad.status).toBe(400);
  }, 180_000);
});
