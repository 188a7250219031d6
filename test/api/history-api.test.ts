/** `/streams/{id}/history`: the in-memory ring through the API, and the ring itself. */
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import type { StreamHistory } from "../../src/api/schemas.js";
import { StreamHistoryRing } from "../../src/service/stream-history.js";
import { makeApi, TOKEN, type ErrorBody } from "./helpers.js";

describe("StreamHistoryRing", () => {
  it("keeps the last `capacity` samples, oldest first, columnar, null where nothing was measured", () => {
    const ring = new StreamHistoryRing(4);
    for (let n = 0; n < 6; n++) {
      ring.push({
        t: 1_000_000 + n * 1000,
        momentary: n === 3 ? null : -23 - n,
        shortTerm: -24,
        integrated: -23.04,
        truePeak: -3.26,
        avOffsetMs: n === 5 ? 40 : null,
        // A second channel appears at n = 4: it has no past.
        peakDbfs: n >= 4 ? [-6, -7] : [-6],
        rmsDbfs: n >= 4 ? [-18, -19] : [-18],
      });
    }
    const h = ring.since("s1", 0, { target: -23, truePeakLimit: -1 });
    expect(h.t).toEqual([1002, 1003, 1004, 1005]);
    expect(h.momentary).toEqual([-25, null, -27, -28]);
    expect(h.integrated).toEqual([-23, -23, -23, -23]);
    expect(h.avOffsetMs).toEqual([null, null, null, 40]);
    expect(h.peakDbfs).toEqual([
      [-6, -6, -6, -6],
      [null, null, -7, -7],
    ]);
    expect(h.target).toBe(-23);
    expect(ring.since("s1", 1_004_000, { target: null, truePeakLimit: null }).t).toEqual([1004, 1005]);
  });
});

describe("history API", () => {
  const history: StreamHistory = {
    streamId: "s1",
    intervalSeconds: 1,
    t: [Date.now() / 1000 - 10, Date.now() / 1000 - 1],
    momentary: [-23.5, null],
    shortTerm: [-23, -22],
    integrated: [-23, -23],
    truePeak: [-2, -1.5],
    avOffsetMs: [null, 20],
    peakDbfs: [[-6, -5]],
    rmsDbfs: [[-18, -17]],
    target: -23,
    truePeakLimit: -1,
  };

  it("answers the window asked for, validates `seconds`, 404s an unknown stream", async () => {
    const { app, facade } = makeApi();
    try {
      const s = await facade.createStream({ name: "ch-1", url: "udp://@239.1.1.1:5000", profile: "default" });
      facade.histories.set(s.id, { ...history, streamId: s.id });
      const all = await app.inject({ method: "GET", url: `/api/v1/streams/${s.id}/history` });
      expect(all.statusCode, all.body).toBe(200);
      expect(all.headers["cache-control"]).toBe("no-store");
      expect(all.json<StreamHistory>()).toEqual({ ...history, streamId: s.id });
      const recent = await app.inject({ method: "GET", url: `/api/v1/streams/${s.id}/history?seconds=5` });
      expect(recent.json<StreamHistory>().momentary).toEqual([null]);
      for (const q of ["seconds=0", "seconds=3601", "seconds=abc", "seconds=1.5", "other=1"]) {
        const bad = await app.inject({ method: "GET", url: `/api/v1/streams/${s.id}/history?${q}` });
        expect(bad.statusCode, q).toBe(400);
        expect(bad.json<ErrorBody>().details?.length, q).toBeGreaterThan(0);
      }
      expect((await app.inject({ method: "GET", url: "/api/v1/streams/nope/history" })).statusCode).toBe(404);
    } finally {
      await app.close();
    }
  });

  it("serves over a real socket with the token", async () => {
    const { app, facade } = makeApi({ token: TOKEN });
    try {
      await app.listen({ port: 0, host: "127.0.0.1" });
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const s = await facade.createStream({ name: "ch-1", url: "udp://@239.1.1.1:5000", profile: "default" });
      const url = `${base}/api/v1/streams/${s.id}/history?seconds=60`;
      expect((await fetch(url)).status).toBe(401);
      const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as StreamHistory).t).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
