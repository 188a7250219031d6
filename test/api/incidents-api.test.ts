import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ApiInstance } from "../../src/api/server.js";
import type { ApiIncident, Stream } from "../../src/api/schemas.js";
import { storedIncident, type MemoryFacade } from "./memory-facade.js";
import { makeApi, type ErrorBody } from "./helpers.js";

interface Page {
  items: ApiIncident[];
  next: string | null;
}

describe("incidents API", () => {
  let app: ApiInstance;
  let facade: MemoryFacade;
  let stream: Stream;
  beforeEach(async () => {
    ({ app, facade } = makeApi());
    stream = await facade.createStream({ name: "ch-1", url: "udp://@239.1.1.1:5000", profile: "default" });
  });
  afterEach(async () => {
    await app.close();
  });

  const page = async (query: string): Promise<Page> => {
    const res = await app.inject({ method: "GET", url: `/api/v1/incidents?${query}` });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<Page>();
  };

  it("pages through all incidents with the cursor: 3 pages, no duplicates, none missed", async () => {
    for (let n = 1; n <= 10; n++) facade.incidents.push(storedIncident(n, stream));
    const seen: string[] = [];
    let cursor: string | null = null;
    const sizes: number[] = [];
    do {
      const p: Page = await page(`limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      sizes.push(p.items.length);
      seen.push(...p.items.map((i) => i.id));
      cursor = p.next;
      // An incident arriving while a client pages must not shift the pages it has not read.
      if (sizes.length === 1) facade.incidents.push(storedIncident(11, stream));
    } while (cursor !== null && sizes.length < 10);
    expect(sizes).toEqual([4, 4, 2]);
    expect(seen).toEqual([
      "i0010",
      "i0009",
      "i0008",
      "i0007",
      "i0006",
      "i0005",
      "i0004",
      "i0003",
      "i0002",
      "i0001",
    ]);
    expect(new Set(seen).size).toBe(10);
  });

  it("answers 400 with the cursor field for a cursor it did not issue", async () => {
    const res = await app.inject({ method: "GET", url: "/api/v1/incidents?cursor=bm90LWEtY3Vyc29y" });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>()).toMatchObject({
      code: "SQM_ERR_INVALID_CURSOR",
      details: [{ path: "cursor", message: "the cursor was not issued by this service" }],
    });
  });

  it("passes filters through and validates them", async () => {
    facade.incidents.push(
      storedIncident(1, stream, { type: "hls.stale-playlist", severity: "minor" }),
      storedIncident(2, stream, {
        type: "video.black",
        severity: "critical",
        end: null,
        duration: null,
        endedAt: null,
      }),
      storedIncident(3, stream),
    );
    expect((await page("type=hls")).items.map((i) => i.id)).toEqual(["i0001"]);
    expect((await page("open=true")).items.map((i) => i.id)).toEqual(["i0002"]);
    expect((await page("open=false&severity=major")).items.map((i) => i.id)).toEqual(["i0003"]);
    expect(
      (await page("stream=ch-1&from=2026-01-01T00:00:02Z&to=2026-01-01T00:00:03Z")).items.map((i) => i.id),
    ).toEqual(["i0002"]);
    const bad = await app.inject({ method: "GET", url: "/api/v1/incidents?severity=awful&limit=0" });
    expect(bad.statusCode).toBe(400);
    expect(
      bad
        .json<ErrorBody>()
        .details?.map((d) => d.path)
        .sort(),
    ).toEqual(["limit", "severity"]);
    const unknown = await app.inject({ method: "GET", url: "/api/v1/incidents?colour=red" });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json<ErrorBody>().details?.[0]?.path).toBe("colour");
  });

  it("returns one incident with evidence URLs, and the evidence bytes with their content type", async () => {
    const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);
    const levels = new TextEncoder().encode('{"peakDbfs":[-3.1]}');
    facade.incidents.push(
      storedIncident(1, stream, {
        evidence: [
          { name: "before.jpg", contentType: "image/jpeg", size: jpeg.length },
          { name: "levels.json", contentType: "application/json", size: levels.length },
        ],
      }),
    );
    facade.evidence.set("i0001/before.jpg", { contentType: "image/jpeg", bytes: jpeg });
    facade.evidence.set("i0001/levels.json", { contentType: "application/json", bytes: levels });

    const res = await app.inject({ method: "GET", url: "/api/v1/incidents/i0001" });
    expect(res.statusCode).toBe(200);
    const incident = res.json<ApiIncident>();
    expect(incident).toMatchObject({
      id: "i0001",
      streamId: stream.id,
      stream: "ch-1",
      type: "video.freeze",
      start: 1,
      end: 3,
    });
    expect(incident.evidence).toEqual([
      {
        name: "before.jpg",
        contentType: "image/jpeg",
        size: 9,
        url: "/api/v1/incidents/i0001/evidence/before.jpg",
      },
      {
        name: "levels.json",
        contentType: "application/json",
        size: levels.length,
        url: "/api/v1/incidents/i0001/evidence/levels.json",
      },
    ]);

    const bytes = await app.inject({ method: "GET", url: incident.evidence[0]!.url });
    expect(bytes.statusCode).toBe(200);
    expect(bytes.headers["content-type"]).toBe("image/jpeg");
    expect(bytes.headers["x-content-type-options"]).toBe("nosniff");
    expect(Buffer.compare(bytes.rawPayload, Buffer.from(jpeg))).toBe(0);
    const json = await app.inject({ method: "GET", url: incident.evidence[1]!.url });
    expect(json.headers["content-type"]).toMatch(/^application\/json/);
    expect(json.body).toBe('{"peakDbfs":[-3.1]}');

    const missing = await app.inject({ method: "GET", url: "/api/v1/incidents/i0001/evidence/after.jpg" });
    expect(missing.statusCode).toBe(404);
    expect(missing.json<ErrorBody>().message).toBe('incident "i0001" has no evidence named "after.jpg"');
    const noIncident = await app.inject({
      method: "GET",
      url: "/api/v1/incidents/i9999/evidence/before.jpg",
    });
    expect(noIncident.statusCode).toBe(404);
    expect(noIncident.json<ErrorBody>().message).toBe('no incident with id "i9999"');
  });
});
