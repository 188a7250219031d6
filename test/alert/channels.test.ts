import { afterEach, describe, expect, it } from "vitest";
import { parseRetryAfter } from "../../src/alert/channel.js";
import { AlertDispatcher } from "../../src/alert/dispatcher.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import {
  FAST,
  removeTempDirs,
  startReceiver,
  startService,
  waitFor,
  type Receiver,
  type Service,
} from "./helpers.js";

const open: Service[] = [];
const receivers: Receiver[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  for (const r of receivers.splice(0)) await r.close();
  await removeTempDirs();
});

describe("PagerDutyChannel", () => {
  it("triggers on open and resolves on close with the incident id as dedup_key", async () => {
    const rx = await startReceiver(() => ({
      status: 202,
      headers: { "content-type": "application/json" },
      body: '{"status":"success","message":"Event processed"}',
    }));
    receivers.push(rx);
    const svc = await startService({
      channels: [{ kind: "pagerduty", name: "pager", routingKey: "R0UT1NGKEY", baseUrl: rx.url }],
      routes: [{ channels: ["pager"], minSeverity: "major" }],
      dispatcher: FAST,
    });
    open.push(svc);
    const stream = await svc.store.createStream({ name: "ch-12", url: "udp://x", labels: { region: "eu" } });
    svc.dispatcher.start();
    const inc = await svc.writer.open({
      streamId: stream.id,
      type: "video.freeze",
      severity: "critical",
      start: 12.04,
      details: { frozenFrames: 74 },
    });
    await svc.writer.close(inc.id, 15);
    await waitFor(() => rx.requests.length === 2, "trigger and resolve");
    await waitFor(async () => (await svc.store.listDeliveries({ status: "pending" })).length === 0, "marks");

    expect(rx.requests.map((r) => [r.method, r.path])).toEqual([
      ["POST", "/v2/enqueue"],
      ["POST", "/v2/enqueue"],
    ]);
    const [trigger, resolve] = rx.requests.map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(trigger).toEqual({
      routing_key: "R0UT1NGKEY",
      event_action: "trigger",
      dedup_key: inc.id,
      payload: {
        summary: "Incident [critical]: video.freeze on ch-12 at 12.04 s media time",
        severity: "critical",
        source: "streamqc/ch-12",
        timestamp: inc.startedAt,
        component: "ch-12",
        class: "video.freeze",
        custom_details: {
          stream: "ch-12",
          labels: { region: "eu" },
          start: 12.04,
          end: null,
          frozenFrames: 74,
        },
      },
    });
    expect(resolve).toEqual({ routing_key: "R0UT1NGKEY", event_action: "resolve", dedup_key: inc.id });
  });
});

describe("SlackChannel", () => {
  it("posts text plus blocks with a readable summary", async () => {
    const rx = await startReceiver(() => ({ status: 200, body: "ok" }));
    receivers.push(rx);
    const svc = await startService({
      channels: [{ kind: "slack", name: "slack-ops", url: `${rx.url}/services/T000/B000/XXXX` }],
      routes: [{ channels: ["slack-ops"] }],
      dispatcher: FAST,
    });
    open.push(svc);
    const stream = await svc.store.createStream({ name: "ch-7", url: "udp://x" });
    svc.dispatcher.start();
    const inc = await svc.writer.open({
      streamId: stream.id,
      type: "audio.loudness",
      severity: "minor",
      start: 61.5,
      details: { lufs: -35.2 },
    });
    await svc.writer.close(inc.id, 70);
    await waitFor(() => rx.requests.length === 2, "two messages");
    const [opened, resolved] = rx.requests.map(
      (r) =>
        JSON.parse(r.body) as {
          text: string;
          blocks: { type: string; text?: { type: string; text: string } }[];
        },
    );
    expect(rx.requests[0]!.path).toBe("/services/T000/B000/XXXX");
    expect(opened!.text).toBe("Incident [minor]: audio.loudness on ch-7 at 61.50 s media time");
    expect(resolved!.text).toBe("Resolved: audio.loudness on ch-7 after 8.5 s");
    expect(opened!.blocks[0]).toEqual({
      type: "section",
      text: {
        type: "mrkdwn",
        text: ":red_circle: *Incident [minor]: audio.loudness on ch-7 at 61.50 s media time*",
      },
    });
    expect(opened!.blocks.map((b) => b.type)).toEqual(["section", "section", "context", "context"]);
    expect(JSON.stringify(opened!.blocks[2])).toContain("lufs=-35.2");
    expect(JSON.stringify(opened!.blocks[3])).toContain(inc.id);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  it("reads delta-seconds and HTTP dates", () => {
    expect(parseRetryAfter("1", now)).toBe(1000);
    expect(parseRetryAfter(" 120 ", now)).toBe(120_000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
  });
});

describe("AlertDispatcher.backoffMs", () => {
  it("draws from [0, min(maxDelayMs, baseDelayMs * 2^(attempt-1))] (full jitter)", async () => {
    const store = new SqliteStore(":memory:");
    const top = new AlertDispatcher({
      store,
      channels: [],
      config: { baseDelayMs: 100, maxDelayMs: 1000 },
      random: () => 1,
    });
    const bottom = new AlertDispatcher({
      store,
      channels: [],
      config: { baseDelayMs: 100 },
      random: () => 0,
    });
    expect([1, 2, 3, 4, 5, 9].map((a) => top.backoffMs(a))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(bottom.backoffMs(7)).toBe(0);
    await store.close();
  });
});
