import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ApiInstance } from "../../src/api/server.js";
import type { Stream } from "../../src/api/schemas.js";
import { stateOf, type MemoryFacade } from "./memory-facade.js";
import { makeApi } from "./helpers.js";

/** `# TYPE name type` lines of an exposition, as a map. */
function types(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("GET /metrics", () => {
  let app: ApiInstance;
  let facade: MemoryFacade;
  let a: Stream;
  let b: Stream;
  beforeEach(async () => {
    ({ app, facade } = makeApi());
    a = await facade.createStream({ name: "ch-a", url: "udp://@239.1.1.1:5000", profile: "default" });
    b = await facade.createStream({ name: "ch-b", url: "udp://@239.1.1.2:5000", profile: "default" });
    facade.states.set(a.id, {
      ...stateOf(a, "up"),
      frames: 2500,
      restarts: 2,
      behindLiveSeconds: 12.5,
      detectorCpuMs: { "stream.health": 1500, "made.up": 10 },
      cost: { decoderCpuSeconds: 20, detectorCpuSeconds: 1.5, perMediaSecond: 0.215 },
    });
    facade.metricsExtra = {
      incidents: [
        { stream: "ch-a", type: "video.freeze", severity: "major", count: 3 },
        { stream: "ch-a", type: "video.wobble", severity: "minor", count: 1 },
        { stream: "ch-a", type: "video.weird", severity: "minor", count: 2 },
        { stream: "gone", type: "video.black", severity: "critical", count: 5 },
      ],
      alertDeliveries: [
        { channel: "webhook", outcome: "delivered", count: 7 },
        { channel: "carrier-pigeon", outcome: "lost-at-sea", count: 1 },
      ],
      alertFailures: [{ channel: "slack", count: 1 }],
    };
  });
  afterEach(async () => {
    await app.close();
  });

  const scrape = async () => {
    const res = await app.inject({ method: "GET", url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.body;
  };

  it("exposes every streamqc metric with its type", async () => {
    const t = types(await scrape());
    expect(Object.fromEntries([...t].filter(([n]) => !/^streamqc_(process|nodejs)_/.test(n)))).toEqual({
      streamqc_stream_up: "gauge",
      streamqc_stream_promoted: "gauge",
      streamqc_promotions_total: "counter",
      streamqc_promotion_slots: "gauge",
      streamqc_decoded_frames_total: "counter",
      streamqc_decoder_restarts_total: "counter",
      streamqc_incidents_total: "counter",
      streamqc_detector_cpu_seconds_total: "counter",
      streamqc_stream_cpu_seconds_per_media_second: "gauge",
      streamqc_stream_behind_live_seconds: "gauge",
      streamqc_alert_deliveries_total: "counter",
      streamqc_alert_delivery_failures_total: "counter",
      streamqc_sse_clients: "gauge",
      streamqc_sse_dropped_events_total: "counter",
      streamqc_fleet_worker_streams: "gauge",
      streamqc_fleet_worker_load: "gauge",
    });
    expect(t.get("streamqc_process_cpu_seconds_total")).toBe("counter");
    expect(t.get("streamqc_nodejs_heap_size_used_bytes")).toBe("gauge");
    for (const name of t.keys()) expect(name).toMatch(/^streamqc_/);
  });

  it("reads values from the service and maps unknown label values to other", async () => {
    const text = await scrape();
    expect(sample(text, "streamqc_stream_up", 'stream="ch-a"')).toBe(1);
    expect(sample(text, "streamqc_stream_up", 'stream="ch-b"')).toBe(0);
    expect(sample(text, "streamqc_decoded_frames_total", 'stream="ch-a"')).toBe(2500);
    expect(sample(text, "streamqc_decoder_restarts_total", 'stream="ch-a"')).toBe(2);
    expect(sample(text, "streamqc_stream_cpu_seconds_per_media_second", 'stream="ch-a"')).toBe(0.215);
    // No cost before any media: no sample rather than a made-up zero.
    expect(sample(text, "streamqc_stream_cpu_seconds_per_media_second", 'stream="ch-b"')).toBeUndefined();
    // Behind live: only for a stream that is up and live.
    expect(sample(text, "streamqc_stream_behind_live_seconds", 'stream="ch-a"')).toBe(12.5);
    expect(sample(text, "streamqc_stream_behind_live_seconds", 'stream="ch-b"')).toBeUndefined();
    expect(
      sample(text, "streamqc_detector_cpu_seconds_total", 'stream="ch-a",detector="stream.health"'),
    ).toBe(1.5);
    expect(sample(text, "streamqc_detector_cpu_seconds_total", 'stream="ch-a",detector="other"')).toBe(0.01);
    expect(
      sample(text, "streamqc_incidents_total", 'stream="ch-a",type="video.freeze",severity="major"'),
    ).toBe(3);
    expect(sample(text, "streamqc_incidents_total", 'stream="ch-a",type="other",severity="minor"')).toBe(3);
    expect(sample(text, "streamqc_alert_deliveries_total", 'channel="webhook",outcome="delivered"')).toBe(7);
    expect(sample(text, "streamqc_alert_deliveries_total", 'channel="other",outcome="other"')).toBe(1);
    expect(sample(text, "streamqc_alert_delivery_failures_total", 'channel="slack"')).toBe(1);
    for (const unknown of [
      "video.wobble",
      "video.weird",
      "made.up",
      "carrier-pigeon",
      "lost-at-sea",
      '"gone"',
    ]) {
      expect(text).not.toContain(unknown);
    }
  });

  it("drops the series of a removed stream", async () => {
    expect(await scrape()).toContain('stream="ch-b"');
    await facade.deleteStream(b.id);
    const text = await scrape();
    expect(text).not.toContain('stream="ch-b"');
    expect(sample(text, "streamqc_stream_up", 'stream="ch-a"')).toBe(1);
  });
});
