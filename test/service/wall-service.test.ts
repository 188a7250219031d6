/**
 * The wall's server side on the real service (SQLite, real HTTP, real SSE): acknowledgements
 * are stored and survive a restart, pushed to open event streams; maintenance by labels mutes
 * exactly the matching streams in their live state and is pushed too; history answers.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiIncident, Maintenance, StreamHistory, StreamState } from "../../src/api/schemas.js";
import type { RunningService } from "../../src/cli/serve-command.js";
import type { StreamRecord } from "../../src/store/store.js";
import { tempDir } from "../helpers/media.js";
import { SseReader, type Frame } from "../api/sse-reader.js";
import { api, startInProcess } from "./helpers.js";

describe("acknowledgements and maintenance on the real service", () => {
  const tmp = tempDir("streamqc-wall-");
  const config = {
    dataDir: join(tmp.dir, "data"),
    // Never monitored: the test needs no media, only the store and the API.
    streams: [
      {
        name: "eu-1",
        url: "udp://127.0.0.1:9",
        profile: "default",
        labels: { region: "eu" },
        enabled: false,
      },
      {
        name: "us-1",
        url: "udp://127.0.0.1:9",
        profile: "default",
        labels: { region: "us" },
        enabled: false,
      },
    ],
  };
  let svc: RunningService;
  let eu: StreamRecord;
  let us: StreamRecord;

  beforeAll(async () => {
    svc = await startInProcess(config);
    eu = (await svc.store.getStreamByName("eu-1"))!;
    us = (await svc.store.getStreamByName("us-1"))!;
  }, 30_000);
  afterAll(async () => {
    await svc?.close();
    tmp.cleanup();
  });

  const events = async (): Promise<SseReader> => {
    const res = await fetch(`${svc.url}/api/v1/events`);
    expect(res.status).toBe(200);
    const reader = new SseReader(res);
    await reader.next();
    return reader;
  };
  const nextOf = async (reader: SseReader, type: string): Promise<Frame> => {
    for (;;) {
      const f = await reader.nextEvent();
      if (f.event === type) return f;
    }
  };
  const openIncident = (streamId: string, type: string) =>
    svc.store.recordIncident(
      { streamId, type, severity: "major", start: 1, startedAt: new Date().toISOString() },
      [],
    );

  it("stores an acknowledgement, pushes it, and keeps it across a restart", async () => {
    const a = await openIncident(eu.id, "video.freeze");
    const b = await openIncident(eu.id, "audio.silence");
    const c = await openIncident(us.id, "video.black");
    const watcher = await events();
    const one = await api<ApiIncident>(svc.url, "POST", `/incidents/${a.id}/ack`, {
      by: "alice",
      comment: "on it",
    });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      id: a.id,
      lifecycle: "acknowledged",
      acknowledged: { by: "alice", comment: "on it" },
    });
    const pushed = JSON.parse((await nextOf(watcher, "incident.acknowledged")).data!) as {
      incident: ApiIncident;
    };
    expect(pushed.incident.acknowledged).toEqual(one.body.acknowledged);
    expect((await svc.store.getIncident(a.id))!.acknowledged).toEqual(one.body.acknowledged);

    const bulk = await api<{ items: ApiIncident[]; acknowledged: number }>(
      svc.url,
      "POST",
      "/incidents/ack",
      {
        stream: "eu-1",
      },
    );
    expect(bulk.status).toBe(200);
    // `a` was acknowledged already; only `b` is new, by the default operator.
    expect(bulk.body.acknowledged).toBe(1);
    expect(bulk.body.items.map((i) => [i.id, i.acknowledged?.by])).toEqual([[b.id, "operator"]]);
    const unacked = await api<{ items: ApiIncident[] }>(svc.url, "GET", "/incidents?acknowledged=false");
    expect(unacked.body.items.map((i) => i.id)).toEqual([c.id]);
    await watcher.close();

    // A restart closes what was open (the new detectors cannot continue it); acknowledgements stay.
    await svc.close();
    svc = await startInProcess(config);
    const after = await api<ApiIncident>(svc.url, "GET", `/incidents/${a.id}`);
    expect(after.body.end).not.toBeNull();
    expect(after.body.lifecycle).toBe("resolved");
    expect(after.body.acknowledged).toEqual(one.body.acknowledged);
    expect((await api<ApiIncident>(svc.url, "GET", `/incidents/${c.id}`)).body.lifecycle).toBe("cleared");
  }, 60_000);

  it("mutes by labels in the live state, pushes the change, and unmutes", async () => {
    const watcher = await events();
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const created = await api<Maintenance>(svc.url, "POST", "/maintenance", {
      labels: { region: "eu" },
      until,
      reason: "eu headend work",
      by: "bob",
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      labels: { region: "eu" },
      until,
      reason: "eu headend work",
      by: "bob",
      active: true,
    });
    const changed = JSON.parse((await nextOf(watcher, "maintenance.changed")).data!) as {
      items: Maintenance[];
    };
    expect(changed.items.map((w) => w.id)).toEqual([created.body.id]);
    const state = async (id: string) => (await api<StreamState>(svc.url, "GET", `/streams/${id}/state`)).body;
    expect((await state(eu.id)).muted).toEqual({
      windowId: created.body.id,
      until,
      reason: "eu headend work",
    });
    expect((await state(us.id)).muted).toBeNull();
    expect(
      (await api<{ items: Maintenance[] }>(svc.url, "GET", "/maintenance?stream=us-1")).body.items,
    ).toEqual([]);
    // Incidents of a muted stream are recorded and not alerted.
    expect(await svc.store.inMaintenance(eu.id, new Date())).toBe(true);

    const one = await api<Maintenance>(svc.url, "POST", "/maintenance", {
      stream: "us-1",
      until,
      reason: "test",
    });
    expect(one.body).toMatchObject({ streamId: us.id, stream: "us-1", labels: null, by: "operator" });
    expect((await state(us.id)).muted?.windowId).toBe(one.body.id);
    expect((await api<{ removed: number }>(svc.url, "DELETE", "/maintenance?stream=us-1")).body).toEqual({
      removed: 1,
    });
    expect((await state(us.id)).muted).toBeNull();
    expect((await api(svc.url, "DELETE", `/maintenance/${created.body.id}`)).status).toBe(204);
    expect((await state(eu.id)).muted).toBeNull();
    expect((await api(svc.url, "DELETE", `/maintenance/${created.body.id}`)).status).toBe(404);
    await watcher.close();
  });

  it("answers a stream's history (empty for a stream that never ran) and 404 for an unknown one", async () => {
    const h = await api<StreamHistory>(svc.url, "GET", `/streams/${eu.id}/history?seconds=60`);
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ streamId: eu.id, intervalSeconds: 1, t: [], momentary: [] });
    expect((await api(svc.url, "GET", "/streams/nope/history")).status).toBe(404);
    expect((await api(svc.url, "GET", `/streams/${eu.id}/history?seconds=3601`)).status).toBe(400);
  });
});
