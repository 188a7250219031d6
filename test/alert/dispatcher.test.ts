import { createHmac, timingSafeEqual } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { isStreamqcError } from "../../src/errors.js";
import type { StreamRecord } from "../../src/store/store.js";
import {
  FAST,
  removeTempDirs,
  SECRET,
  startReceiver,
  startService,
  waitFor,
  type Receiver,
  type Received,
  type Service,
} from "./helpers.js";

/**
 * Standard Webhooks verification written from the spec, independently of webhook-channel.ts:
 * key = base64 part of the secret, content = "{id}.{timestamp}.{body}", header holds
 * space-separated "v1,<base64>" entries.
 */
function verifyStandardWebhook(secret: string, req: Received): boolean {
  const id = req.headers["webhook-id"];
  const ts = req.headers["webhook-timestamp"];
  const sigs = req.headers["webhook-signature"];
  if (typeof id !== "string" || typeof ts !== "string" || typeof sigs !== "string") return false;
  const key = Buffer.from(secret.split("_")[1]!, "base64");
  const expected = createHmac("sha256", key).update(`${id}.${ts}.${req.body}`).digest();
  return sigs.split(" ").some((s) => {
    const [version, b64] = s.split(",");
    if (version !== "v1" || b64 === undefined) return false;
    const got = Buffer.from(b64, "base64");
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}

const open: Service[] = [];
const receivers: Receiver[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  for (const r of receivers.splice(0)) await r.close();
  await removeTempDirs();
});

async function service(
  receiver: Receiver,
  extra: Record<string, unknown> = {},
): Promise<{ svc: Service; stream: StreamRecord }> {
  const svc = await startService({
    channels: [{ kind: "webhook", name: "hook", url: `${receiver.url}/hooks/streamqc`, secret: SECRET }],
    routes: [{ channels: ["hook"] }],
    dispatcher: FAST,
    ...extra,
  });
  open.push(svc);
  const stream = await svc.store.createStream({ name: "ch-12", url: "srt://10.0.0.1:9000" });
  return { svc, stream };
}

async function receiver(reply: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const r = await startReceiver(reply);
  receivers.push(r);
  return r;
}

describe("AlertDispatcher with a webhook receiver", () => {
  it("delivers once after two 500s, every attempt with the same webhook-id and a valid signature", async () => {
    const rx = await receiver((_req, n) => (n < 2 ? { status: 500, body: "boom" } : { status: 204 }));
    const { svc, stream } = await service(rx);
    svc.dispatcher.start();
    svc.dispatcher.start();
    const inc = await svc.writer.open({
      streamId: stream.id,
      type: "video.freeze",
      severity: "major",
      start: 12.04,
    });
    const id = `${inc.id}.open.hook`;
    await waitFor(async () => (await svc.store.getDelivery(id))?.status === "delivered", "delivery");

    expect(rx.requests).toHaveLength(3);
    expect(rx.requests.map((r) => r.headers["webhook-id"])).toEqual([id, id, id]);
    for (const r of rx.requests) {
      expect(r.method).toBe("POST");
      expect(r.path).toBe("/hooks/streamqc");
      expect(r.headers["content-type"]).toBe("application/json");
      expect(verifyStandardWebhook(SECRET, r)).toBe(true);
    }
    // A tampered body must not verify: the check above can fail.
    expect(verifyStandardWebhook(SECRET, { ...rx.requests[0]!, body: rx.requests[0]!.body + " " })).toBe(
      false,
    );
    const body = JSON.parse(rx.requests[2]!.body) as {
      type: string;
      data: { incident: Record<string, unknown> };
    };
    expect(body.type).toBe("incident.opened");
    expect(body.data.incident).toMatchObject({
      id: inc.id,
      stream: "ch-12",
      type: "video.freeze",
      start: 12.04,
      end: null,
      severity: "major",
    });
    const row = await svc.store.getDelivery(id);
    expect(row).toMatchObject({ status: "delivered", attempts: 3 });

    // Nothing more to send: another scan sends nothing.
    expect(await svc.dispatcher.runOnce()).toBe(0);
    expect(rx.requests).toHaveLength(3);
  });

  it("honours Retry-After (seconds) on 429 before the next attempt", async () => {
    const rx = await receiver((_req, n) =>
      n === 0 ? { status: 429, headers: { "retry-after": "1" } } : { status: 200 },
    );
    const { svc, stream } = await service(rx);
    svc.dispatcher.start();
    const inc = await svc.writer.open({
      streamId: stream.id,
      type: "audio.silence",
      severity: "minor",
      start: 3,
    });
    await waitFor(
      async () => (await svc.store.getDelivery(`${inc.id}.open.hook`))?.status === "delivered",
      "delivery",
    );
    expect(rx.requests).toHaveLength(2);
    // Full jitter alone would retry within FAST.baseDelayMs (20 ms); the receiver asked for 1 s.
    expect(rx.requests[1]!.at - rx.requests[0]!.at).toBeGreaterThanOrEqual(1000);
  });

  it("disables the endpoint on 410 and delivers nothing more to it", async () => {
    const rx = await receiver(() => ({ status: 410 }));
    const { svc, stream } = await service(rx);
    const a = await svc.writer.open({
      streamId: stream.id,
      type: "video.black",
      severity: "major",
      start: 1,
    });
    const b = await svc.writer.open({
      streamId: stream.id,
      type: "audio.silence",
      severity: "major",
      start: 2,
    });
    svc.dispatcher.start();
    await waitFor(
      async () => (await svc.store.listDeliveries({ status: "pending" })).length === 0,
      "no pending",
    );
    expect(rx.requests).toHaveLength(1);
    expect(await svc.store.getChannelState("hook")).toMatchObject({
      disabled: true,
      reason: "HTTP 410 Gone",
    });
    expect((await svc.store.getDelivery(`${a.id}.open.hook`))!.status).toBe("failed");
    expect(await svc.store.getDelivery(`${b.id}.open.hook`)).toMatchObject({
      status: "failed",
      lastError: "channel disabled: HTTP 410 Gone",
    });
    // New incidents are still stored, but no longer routed to the disabled endpoint.
    const c = await svc.writer.open({
      streamId: stream.id,
      type: "video.freeze",
      severity: "major",
      start: 3,
    });
    expect(c.alertState).toBe("no-route");
    expect(await svc.store.listDeliveries({ incidentId: c.id })).toEqual([]);
    expect(rx.requests).toHaveLength(1);
  });

  it("fails a delivery permanently on 400 without retrying", async () => {
    const rx = await receiver(() => ({ status: 400, body: "bad" }));
    const { svc, stream } = await service(rx);
    const a = await svc.writer.open({
      streamId: stream.id,
      type: "video.black",
      severity: "major",
      start: 1,
    });
    svc.dispatcher.start();
    await waitFor(
      async () => (await svc.store.getDelivery(`${a.id}.open.hook`))?.status === "failed",
      "failure",
    );
    expect(rx.requests).toHaveLength(1);
    expect((await svc.store.getDelivery(`${a.id}.open.hook`))!.lastError).toBe("HTTP 400: bad");
  });

  it("gives up after maxAttempts transient failures", async () => {
    const rx = await receiver(() => ({ status: 502 }));
    const { svc, stream } = await service(rx, { dispatcher: { ...FAST, maxAttempts: 3 } });
    const a = await svc.writer.open({
      streamId: stream.id,
      type: "video.black",
      severity: "major",
      start: 1,
    });
    svc.dispatcher.start();
    await waitFor(
      async () => (await svc.store.getDelivery(`${a.id}.open.hook`))?.status === "failed",
      "give up",
    );
    expect(rx.requests).toHaveLength(3);
    expect((await svc.store.getDelivery(`${a.id}.open.hook`))!.lastError).toBe(
      "gave up after 3 attempts: HTTP 502",
    );
  });

  it("delivers pending rows exactly once after a restart over the same SQLite file", async () => {
    const rx = await receiver(() => ({ status: 200 }));
    const { svc, stream } = await service(rx);
    // Written while no dispatcher runs (the process died before dispatching).
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const inc = await svc.writer.open({
        streamId: stream.id,
        type: `video.t${i}`,
        severity: "major",
        start: i,
      });
      ids.push(`${inc.id}.open.hook`);
    }
    // The first row was claimed by a dispatcher that died mid-send: it is re-sent, with the
    // same id, once its lease runs out.
    const claimed = await svc.store.claimDueDeliveries(new Date(), 1, 300);
    expect(claimed.map((d) => d.id)).toEqual([ids[0]]);
    open.splice(open.indexOf(svc), 1);

    const again = await svc.restart();
    open.push(again);
    expect(rx.requests).toHaveLength(0);
    again.dispatcher.start();
    await waitFor(
      async () => (await again.store.listDeliveries({ status: "delivered" })).length === 4,
      "4 delivered",
    );
    // Let a few more scans pass; nothing may be sent twice.
    for (let i = 0; i < 3; i++) await again.dispatcher.runOnce();
    expect(rx.requests.map((r) => r.headers["webhook-id"]).sort()).toEqual([...ids].sort());
    expect((await again.store.getDelivery(ids[0]!))!.attempts).toBe(2);
  });

  it("closes idempotently and refuses to start after close", async () => {
    const rx = await receiver(() => ({ status: 200 }));
    const { svc } = await service(rx);
    svc.dispatcher.start();
    await svc.dispatcher.close();
    await svc.dispatcher.close();
    expect(() => svc.dispatcher.start()).toThrow(
      expect.toSatisfy((e) => isStreamqcError(e, "SQM_ERR_CLOSED")) as Error,
    );
  });
});
