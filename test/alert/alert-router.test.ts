import { afterEach, describe, expect, it } from "vitest";
import {
  FAST,
  removeTempDirs,
  SECRET,
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

async function setup(extra: Record<string, unknown> = {}): Promise<{ svc: Service; rx: Receiver }> {
  const rx = await startReceiver(() => ({ status: 200 }));
  receivers.push(rx);
  const svc = await startService({
    channels: [
      { kind: "webhook", name: "all", url: `${rx.url}/all`, secret: SECRET },
      { kind: "webhook", name: "gold", url: `${rx.url}/gold`, secret: SECRET },
    ],
    routes: [
      { channels: ["all"] },
      { channels: ["gold"], labels: { tier: "gold", region: "eu" }, minSeverity: "major" },
    ],
    dispatcher: FAST,
    ...extra,
  });
  open.push(svc);
  return { svc, rx };
}

const settled = (svc: Service) => async () =>
  (await svc.store.listDeliveries({ status: "pending" })).length === 0;

describe("AlertRouter", () => {
  it("routes by label selectors and minimum severity", async () => {
    const { svc } = await setup();
    const gold = await svc.store.createStream({
      name: "g",
      url: "udp://x",
      labels: { tier: "gold", region: "eu" },
    });
    const silver = await svc.store.createStream({
      name: "s",
      url: "udp://x",
      labels: { tier: "silver", region: "eu" },
    });
    const channels = async (streamId: string, severity: "minor" | "major", type: string) => {
      const inc = await svc.writer.open({ streamId, type, severity, start: 0 });
      return (await svc.store.listDeliveries({ incidentId: inc.id })).map((d) => d.channel).sort();
    };
    expect(await channels(gold.id, "major", "video.a")).toEqual(["all", "gold"]);
    expect(await channels(gold.id, "minor", "video.b")).toEqual(["all"]);
    expect(await channels(silver.id, "major", "video.c")).toEqual(["all"]);
  });

  it("stores but does not alert a repeated open within the cooldown; other types still alert", async () => {
    const { svc, rx } = await setup({ cooldownSeconds: 600 });
    const s = await svc.store.createStream({ name: "ch-1", url: "udp://x" });
    svc.dispatcher.start();
    const t0 = Date.parse("2026-03-01T10:00:00Z");
    const atS = (sec: number) => new Date(t0 + sec * 1000).toISOString();
    const first = await svc.writer.open({
      streamId: s.id,
      type: "video.freeze",
      severity: "major",
      start: 0,
      startedAt: atS(0),
    });
    await svc.writer.close(first.id, 5, { endedAt: atS(5) });
    const second = await svc.writer.open({
      streamId: s.id,
      type: "video.freeze",
      severity: "major",
      start: 60,
      startedAt: atS(60),
    });
    await svc.writer.close(second.id, 62, { endedAt: atS(62) });
    const other = await svc.writer.open({
      streamId: s.id,
      type: "video.black",
      severity: "major",
      start: 70,
      startedAt: atS(70),
    });
    const later = await svc.writer.open({
      streamId: s.id,
      type: "video.freeze",
      severity: "major",
      start: 700,
      startedAt: atS(700),
    });

    expect([first, second, other, later].map((i) => i.alertState)).toEqual([
      "queued",
      "cooldown",
      "queued",
      "queued",
    ]);
    // The suppressed incident is stored, closed, and queryable like any other.
    expect(await svc.store.getIncident(second.id)).toMatchObject({ end: 62, alertState: "cooldown" });
    expect(await svc.store.listDeliveries({ incidentId: second.id })).toEqual([]);
    await waitFor(settled(svc), "deliveries");
    const sent = rx.requests.filter((r) => r.path === "/all").map((r) => r.headers["webhook-id"]);
    expect(sent.sort()).toEqual(
      [
        `${first.id}.open.all`,
        `${first.id}.close.all`,
        `${other.id}.open.all`,
        `${later.id}.open.all`,
      ].sort(),
    );
  });

  it("mutes a stream in a maintenance window: incident stored, no alert", async () => {
    const { svc, rx } = await setup();
    const muted = await svc.store.createStream({ name: "muted", url: "udp://x" });
    const live = await svc.store.createStream({ name: "live", url: "udp://x" });
    const now = Date.now();
    await svc.store.addMaintenanceWindow({
      streamId: muted.id,
      startsAt: new Date(now - 60_000).toISOString(),
      endsAt: new Date(now + 3_600_000).toISOString(),
      reason: "encoder swap",
    });
    svc.dispatcher.start();
    const m = await svc.writer.open({
      streamId: muted.id,
      type: "stream.down",
      severity: "critical",
      start: 0,
    });
    await svc.writer.close(m.id, 30);
    const l = await svc.writer.open({
      streamId: live.id,
      type: "stream.down",
      severity: "critical",
      start: 0,
    });
    expect(m.alertState).toBe("maintenance");
    expect(l.alertState).toBe("queued");
    expect((await svc.store.queryIncidents({ stream: "muted" })).items.map((i) => i.id)).toEqual([m.id]);
    await waitFor(settled(svc), "deliveries");
    expect(rx.requests.map((r) => r.headers["webhook-id"]).sort()).toEqual([`${l.id}.open.all`]);
  });

  it("mutes every stream whose labels match a label window; others still alert", async () => {
    const { svc, rx } = await setup();
    const eu = await svc.store.createStream({
      name: "eu-1",
      url: "udp://x",
      labels: { region: "eu", tier: "gold" },
    });
    const us = await svc.store.createStream({ name: "us-1", url: "udp://x", labels: { region: "us" } });
    const now = Date.now();
    await svc.store.addMaintenanceWindow({
      streamId: null,
      labels: { region: "eu" },
      startsAt: new Date(now - 60_000).toISOString(),
      endsAt: new Date(now + 3_600_000).toISOString(),
      reason: "eu headend",
    });
    svc.dispatcher.start();
    const m = await svc.writer.open({ streamId: eu.id, type: "video.black", severity: "critical", start: 0 });
    const l = await svc.writer.open({ streamId: us.id, type: "video.black", severity: "critical", start: 0 });
    expect(m.alertState).toBe("maintenance");
    expect(l.alertState).toBe("queued");
    await waitFor(settled(svc), "deliveries");
    expect(rx.requests.map((r) => r.headers["webhook-id"]).sort()).toEqual([`${l.id}.open.all`]);
  });

  it("sends an update when an alerted incident escalates, not when it de-escalates", async () => {
    const { svc } = await setup();
    const s = await svc.store.createStream({ name: "ch-1", url: "udp://x" });
    const inc = await svc.writer.open({ streamId: s.id, type: "video.freeze", severity: "minor", start: 0 });
    await svc.writer.update(inc.id, { severity: "critical" });
    await svc.writer.update(inc.id, { severity: "major" });
    const ids = (await svc.store.listDeliveries({ incidentId: inc.id })).map((d) => d.id);
    expect(ids).toEqual([`${inc.id}.open.all`, `${inc.id}.update-1.all`]);
  });

  it("tells the channels that had the alert who acknowledged it, once, after the open", async () => {
    const { svc, rx } = await setup();
    const gold = await svc.store.createStream({
      name: "g",
      url: "udp://x",
      labels: { tier: "gold", region: "eu" },
    });
    const inc = await svc.writer.open({
      streamId: gold.id,
      type: "video.black",
      severity: "major",
      start: 0,
    });
    const ack = { at: new Date().toISOString(), by: "night-shift", comment: "on it" };
    const after = await svc.writer.acknowledge(inc, ack);
    expect(after?.acknowledged).toEqual(ack);
    // A second operator's acknowledgement stands for nothing: no second announcement.
    await svc.writer.acknowledge(after!, { ...ack, by: "late" });
    const ids = (await svc.store.listDeliveries({ incidentId: inc.id })).map((d) => d.id).sort();
    expect(ids).toEqual([
      `${inc.id}.ack.all`,
      `${inc.id}.ack.gold`,
      `${inc.id}.open.all`,
      `${inc.id}.open.gold`,
    ]);
    svc.dispatcher.start();
    await waitFor(settled(svc), "deliveries");
    const bodies = rx.requests
      .filter((r) => r.path === "/all")
      .map((r) => JSON.parse(r.body) as { type: string; data: { acknowledged?: unknown } });
    // Received in order: the acknowledgement never overtakes the alert it acknowledges.
    expect(bodies.map((b) => b.type)).toEqual(["incident.opened", "incident.acknowledged"]);
    expect(bodies[1]!.data.acknowledged).toEqual(ack);
    // An incident no channel was told of (muted, or routed nowhere) announces no acknowledgement.
    await svc.store.addMaintenanceWindow({
      streamId: gold.id,
      startsAt: new Date(Date.now() - 1000).toISOString(),
      endsAt: new Date(Date.now() + 60_000).toISOString(),
      reason: "test",
    });
    const muted = await svc.writer.open({
      streamId: gold.id,
      type: "video.freeze",
      severity: "major",
      start: 1,
    });
    await svc.writer.acknowledge(muted, ack);
    expect(await svc.store.listDeliveries({ incidentId: muted.id })).toEqual([]);
  });
});
