/**
 * The service killed with SIGKILL right after recording an incident loses nothing and sends
 * nothing twice; a receiver that fails at first gets one logical delivery.
 */
import Database from "better-sqlite3";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { RunningService } from "../../src/cli/serve-command.js";
import { tempDir } from "../helpers/media.js";
import {
  api,
  childProcesses,
  makeClip,
  poll,
  QUIET_PROFILE,
  running,
  ServiceChild,
  startInProcess,
  WebhookReceiver,
  webhookAlerts,
} from "./helpers.js";

interface Incident {
  id: string;
  type: string;
  start: number;
  end: number | null;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Freeze from 3 s for 3 s: the freeze detector (2 s minimum) opens an incident at media 5 s. */
const FREEZE = { type: "freeze" as const, start: 3, duration: 3 };

describe("service crash recovery", () => {
  it("SIGKILL after an incident is recorded: DB intact, incident kept, alert sent exactly once after restart, no decoder survives", async () => {
    const tmp = tempDir("streamqc-crash-");
    cleanups.push(tmp.cleanup);
    const clip = await makeClip(join(tmp.dir, "clip.ts"), [FREEZE], 10);
    const receiver = await new WebhookReceiver(() => 500).listen();
    cleanups.push(() => receiver.close());
    const config = join(tmp.dir, "streamqc.json");
    writeFileSync(
      config,
      JSON.stringify({
        dataDir: join(tmp.dir, "data"),
        server: { port: 0 },
        allowFileInputs: true,
        profile: QUIET_PROFILE,
        streams: [{ name: "cam", url: clip }],
        alerts: webhookAlerts(receiver.url),
      }),
    );

    const first = new ServiceChild(["serve", "--config", config]);
    cleanups.push(() => first.kill());
    const url1 = await first.url;
    const incident = await poll(
      async () =>
        (await api<{ items: Incident[] }>(url1, "GET", "/incidents?type=video.freeze")).body.items[0],
      30_000,
      "the freeze incident in the store",
    );
    expect(incident.start).toBeGreaterThan(FREEZE.start - 0.2);
    expect(incident.start).toBeLessThan(FREEZE.start + 0.2);
    const decoders = childProcesses(first.pid).filter((p) => p.comm === "ffmpeg");
    expect(decoders.length).toBe(1);

    await first.kill("SIGKILL");
    // pdeathsig: the kernel kills the decoder with its parent.
    await poll(() => decoders.every((d) => !running(d.pid)), 5000, "the killed service's ffmpeg to die");

    const db = new Database(join(tmp.dir, "data", "streamqc.db"));
    try {
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      const row = db.prepare("SELECT type, media_start FROM incidents WHERE id = ?").get(incident.id) as
        { type: string; media_start: number } | undefined;
      expect(row?.type).toBe("video.freeze");
      expect(row?.media_start).toBeCloseTo(incident.start, 3);
    } finally {
      db.close();
    }

    receiver.statusFor = () => 200;
    const second = new ServiceChild(["serve", "--config", config]);
    cleanups.push(() => second.kill("SIGTERM"));
    const url2 = await second.url;
    const openId = `${incident.id}.open.hook`;
    await poll(() => receiver.deliveredCount(openId) > 0, 30_000, "the open alert after restart");
    // The incident left open by the crash is closed by the restart; its close alert follows.
    const closeId = `${incident.id}.close.hook`;
    await poll(() => receiver.deliveredCount(closeId) > 0, 30_000, "the close alert after restart");
    // Let the dispatcher run a few more scans (and a claimed row's lease run out) before counting.
    await new Promise((r) => setTimeout(r, 4000));

    expect(receiver.deliveredCount(openId)).toBe(1);
    expect(receiver.deliveredCount(closeId)).toBe(1);
    const delivered = new Map<string, number>();
    for (const a of receiver.attempts) {
      expect(a.signatureOk, `signature of ${a.id}`).toBe(true);
      if (a.status === 200) delivered.set(a.id, (delivered.get(a.id) ?? 0) + 1);
    }
    for (const [id, n] of delivered) expect(n, id).toBe(1);
    const stored = await api<Incident>(url2, "GET", `/incidents/${incident.id}`);
    expect(stored.status).toBe(200);
    expect(stored.body.end).not.toBeNull();

    await second.kill("SIGTERM");
    expect((await second.exited).code).toBe(0);
  }, 120_000);

  it("a receiver that fails twice then succeeds gets one logical delivery, every attempt the same webhook-id", async () => {
    const tmp = tempDir("streamqc-retry-");
    cleanups.push(tmp.cleanup);
    const clip = await makeClip(join(tmp.dir, "clip.ts"), [FREEZE], 10);
    const receiver = await new WebhookReceiver((n) => (n <= 2 ? 500 : 200)).listen();
    cleanups.push(() => receiver.close());
    const svc: RunningService = await startInProcess({
      dataDir: join(tmp.dir, "data"),
      allowFileInputs: true,
      profile: QUIET_PROFILE,
      streams: [{ name: "cam", url: clip, profile: "default", labels: {}, enabled: true }],
      alerts: webhookAlerts(receiver.url),
    });
    cleanups.push(() => svc.close());
    const opened = await poll(
      () => receiver.attempts.find((a) => a.type === "incident.opened" && a.status === 200),
      30_000,
      "a delivered open alert",
    );
    expect(opened.incidentType).toBe("video.freeze");
    const forIncident = receiver.attempts.filter(
      (a) => a.type === "incident.opened" && a.incidentId === opened.incidentId,
    );
    expect(forIncident.map((a) => a.status)).toEqual([500, 500, 200]);
    expect(new Set(forIncident.map((a) => a.id))).toEqual(new Set([`${opened.incidentId}.open.hook`]));
    for (const a of forIncident) expect(a.signatureOk).toBe(true);
    // The body is the same facts on every attempt; only the timestamp header may differ.
    expect(new Set(forIncident.map((a) => a.body)).size).toBe(1);
  }, 60_000);
});
