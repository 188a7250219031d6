/**
 * The Store contract as a test suite, run against every backend (STYLE.md, "store tests run
 * one conformance suite"): `storeConformance("sqlite", makeStore)` from each backend's test.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isStreamqcError, type ErrorCode } from "../../src/errors.js";
import type { NewDelivery, Store, StreamRecord } from "../../src/store/store.js";

export interface StoreFixture {
  readonly store: Store;
  /** Closes the store and removes whatever the backend created. */
  cleanup(): Promise<void>;
  /**
   * Backends with leases (PostgreSQL): sets the stream's lease row as the fleet's lease port
   * would, expiring `ttlMs` from now by the database's clock (negative: already expired;
   * worker null: released). Without it, the backend is one process and accepts every fence.
   */
  readonly setLease?: (
    streamId: string,
    worker: string | null,
    epoch: number,
    ttlMs: number,
  ) => Promise<void>;
}

const code = (c: ErrorCode) => (e: unknown) => isStreamqcError(e, c);

const T0 = Date.parse("2026-01-01T00:00:00.000Z");
const at = (seconds: number): string => new Date(T0 + seconds * 1000).toISOString();

function openDelivery(channel: string): NewDelivery {
  return { event: "open", channel, payload: { event: "incident.opened", channel } };
}

export function storeConformance(backend: string, make: () => Promise<StoreFixture>): void {
  describe(`Store conformance: ${backend}`, () => {
    let fx: StoreFixture;
    let store: Store;
    let ch12: StreamRecord;

    beforeEach(async () => {
      fx = await make();
      store = fx.store;
      ch12 = await store.createStream({
        name: "ch-12",
        url: "srt://10.0.0.1:9000",
        labels: { region: "eu", tier: "gold" },
        profile: { detectors: ["video.freeze"] },
      });
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    describe("streams", () => {
      it("round-trips a stream with labels, profile and defaults", async () => {
        expect(ch12.id).toMatch(/^[0-9A-Z]{26}$/);
        const got = await store.getStream(ch12.id);
        expect(got).toEqual(ch12);
        expect(got!.labels).toEqual({ region: "eu", tier: "gold" });
        expect(got!.profile).toEqual({ detectors: ["video.freeze"] });
        expect(got!.enabled).toBe(true);
        expect(await store.getStreamByName("ch-12")).toEqual(ch12);
        expect(await store.getStream("nope")).toBeNull();
      });

      it("refuses a second stream with the same name", async () => {
        await expect(store.createStream({ name: "ch-12", url: "udp://x" })).rejects.toSatisfy(
          code("SQM_ERR_CONFLICT"),
        );
      });

      it("updates, lists and deletes", async () => {
        const b = await store.createStream({ name: "ch-13", url: "udp://239.0.0.1:5000" });
        const upd = await store.updateStream(b.id, { enabled: false, labels: { region: "us" } });
        expect(upd.enabled).toBe(false);
        expect(upd.labels).toEqual({ region: "us" });
        expect(upd.url).toBe("udp://239.0.0.1:5000");
        await expect(store.updateStream(b.id, { name: "ch-12" })).rejects.toSatisfy(code("SQM_ERR_CONFLICT"));
        await expect(store.updateStream("nope", { enabled: true })).rejects.toSatisfy(
          code("SQM_ERR_NOT_FOUND"),
        );
        expect((await store.listStreams()).map((s) => s.name)).toEqual(["ch-12", "ch-13"]);
        await store.deleteStream(b.id);
        expect(await store.getStream(b.id)).toBeNull();
        expect(await store.getStreamByName("ch-13")).toBeNull();
        expect((await store.listStreams()).map((s) => s.name)).toEqual(["ch-12"]);
        // The name is free again.
        expect((await store.createStream({ name: "ch-13", url: "udp://@239.1.1.13:5000" })).id).not.toBe(
          b.id,
        );
      });
    });

    describe("incidents and the outbox", () => {
      it("keeps the incidents of a deleted stream", async () => {
        const s = await store.createStream({ name: "gone", url: "udp://@239.1.1.99:5000" });
        const inc = await store.recordIncident(
          {
            streamId: s.id,
            type: "video.black",
            severity: "critical",
            start: 1,
            startedAt: new Date().toISOString(),
          },
          [],
        );
        await store.deleteStream(s.id);
        expect((await store.getIncident(inc.id))?.stream).toBe("gone");
        expect((await store.queryIncidents({ stream: "gone" })).items.map((i) => i.id)).toEqual([inc.id]);
      });

      it("records an incident with its deliveries in one step", async () => {
        const inc = await store.recordIncident(
          {
            streamId: ch12.id,
            type: "video.freeze",
            severity: "major",
            start: 12.04,
            startedAt: at(12),
            details: { frozenFrames: 74 },
          },
          [openDelivery("ops-webhook"), openDelivery("pager")],
        );
        expect(inc).toMatchObject({
          stream: "ch-12",
          streamId: ch12.id,
          type: "video.freeze",
          severity: "major",
          start: 12.04,
          end: null,
          duration: null,
          startedAt: at(12),
          endedAt: null,
          alertState: "queued",
          details: { frozenFrames: 74 },
          evidence: [],
        });
        const rows = await store.listDeliveries({ incidentId: inc.id });
        expect(rows.map((r) => [r.id, r.status, r.attempts, r.event])).toEqual([
          [`${inc.id}.open.ops-webhook`, "pending", 0, "open"],
          [`${inc.id}.open.pager`, "pending", 0, "open"],
        ]);
        expect(rows[0]!.payload).toEqual({ event: "incident.opened", channel: "ops-webhook" });
      });

      it("writes nothing when the incident cannot be stored", async () => {
        await expect(
          store.recordIncident(
            {
              streamId: "no-such-stream",
              type: "video.black",
              severity: "minor",
              start: 1,
              startedAt: at(1),
            },
            [openDelivery("ops-webhook")],
          ),
        ).rejects.toSatisfy(code("SQM_ERR_NOT_FOUND"));
        const first = await store.recordIncident(
          {
            id: "INC1",
            streamId: ch12.id,
            type: "video.black",
            severity: "minor",
            start: 1,
            startedAt: at(1),
          },
          [openDelivery("a")],
        );
        await expect(
          store.recordIncident(
            {
              id: first.id,
              streamId: ch12.id,
              type: "video.black",
              severity: "minor",
              start: 2,
              startedAt: at(2),
            },
            [openDelivery("b")],
          ),
        ).rejects.toSatisfy(code("SQM_ERR_CONFLICT"));
        expect((await store.listDeliveries({})).map((d) => d.id)).toEqual(["INC1.open.a"]);
      });

      it("closes an incident and enqueues its close in the same step; repeats are no-ops", async () => {
        const inc = await store.recordIncident(
          { streamId: ch12.id, type: "audio.silence", severity: "minor", start: 30, startedAt: at(30) },
          [openDelivery("a")],
        );
        const close: NewDelivery = { event: "close", channel: "a", payload: { event: "incident.resolved" } };
        const closed = await store.updateIncident(inc.id, { end: 34.5, endedAt: at(34.5) }, [close]);
        expect(closed).toMatchObject({ end: 34.5, duration: 4.5, endedAt: at(34.5), revision: 1 });
        await store.updateIncident(inc.id, { details: { note: 1 } }, [close]);
        const ids = (await store.listDeliveries({ incidentId: inc.id })).map((d) => d.id);
        expect(ids).toEqual([`${inc.id}.open.a`, `${inc.id}.close.a`]);
        const upd = await store.updateIncident(inc.id, { severity: "critical" }, [
          { event: "update", channel: "a", payload: {} },
        ]);
        expect(upd.severity).toBe("critical");
        expect(upd.details).toEqual({ note: 1 });
        expect((await store.listDeliveries({ incidentId: inc.id })).map((d) => d.id)).toContain(
          `${inc.id}.update-3.a`,
        );
        await expect(store.updateIncident("nope", { end: 1 }, [])).rejects.toSatisfy(
          code("SQM_ERR_NOT_FOUND"),
        );
      });

      it("claims due deliveries under a lease and records retries, success and failure", async () => {
        const inc = await store.recordIncident(
          { streamId: ch12.id, type: "video.black", severity: "major", start: 1, startedAt: at(1) },
          [openDelivery("a"), openDelivery("b"), openDelivery("c")],
        );
        const now = new Date(Date.now() + 1000);
        const claimed = await store.claimDueDeliveries(now, 10, 60_000);
        expect(claimed.map((d) => [d.channel, d.attempts])).toEqual([
          ["a", 1],
          ["b", 1],
          ["c", 1],
        ]);
        // Leased: not due again until the lease runs out.
        expect(await store.claimDueDeliveries(now, 10, 60_000)).toEqual([]);
        await store.markDelivered(`${inc.id}.open.a`, now);
        await store.markRetry(`${inc.id}.open.b`, new Date(now.getTime() + 5000), "HTTP 500");
        await store.markFailed(`${inc.id}.open.c`, "HTTP 400");
        expect((await store.nextDueAt())?.getTime()).toBe(now.getTime() + 5000);
        const b = await store.getDelivery(`${inc.id}.open.b`);
        expect(b).toMatchObject({ status: "pending", attempts: 1, lastError: "HTTP 500" });
        expect((await store.getDelivery(`${inc.id}.open.a`))!.status).toBe("delivered");
        expect((await store.getDelivery(`${inc.id}.open.c`))!.status).toBe("failed");
        const again = await store.claimDueDeliveries(new Date(now.getTime() + 5000), 10, 60_000);
        expect(again.map((d) => [d.channel, d.attempts])).toEqual([["b", 2]]);
        // A late mark on a finished row changes nothing.
        await store.markRetry(`${inc.id}.open.a`, now, "late");
        expect((await store.getDelivery(`${inc.id}.open.a`))!.status).toBe("delivered");
        expect(await store.listDeliveries({ status: "pending" })).toHaveLength(1);
      });

      it("holds a close back while the open of the same incident and channel is pending", async () => {
        const inc = await store.recordIncident(
          { streamId: ch12.id, type: "video.black", severity: "major", start: 1, startedAt: at(1) },
          [openDelivery("a"), openDelivery("b")],
        );
        const now = new Date(Date.now() + 1000);
        const [a] = await store.claimDueDeliveries(now, 1, 60_000);
        expect(a!.id).toBe(`${inc.id}.open.a`);
        await store.markRetry(a!.id, now, "HTTP 500");
        await store.updateIncident(inc.id, { end: 2, endedAt: at(2) }, [
          { event: "close", channel: "a", payload: {} },
          { event: "close", channel: "b", payload: {} },
        ]);
        const due = await store.claimDueDeliveries(now, 10, 60_000);
        expect(due.map((d) => d.id).sort()).toEqual([`${inc.id}.open.a`, `${inc.id}.open.b`]);
        await store.markDelivered(`${inc.id}.open.a`, now);
        await store.markFailed(`${inc.id}.open.b`, "HTTP 400");
        const closes = await store.claimDueDeliveries(now, 10, 60_000);
        expect(closes.map((d) => d.id)).toEqual([`${inc.id}.close.a`, `${inc.id}.close.b`]);
      });

      it("records disabled channels", async () => {
        expect(await store.getChannelState("hook")).toEqual({
          channel: "hook",
          disabled: false,
          reason: null,
          since: null,
        });
        await store.disableChannel("hook", "HTTP 410 Gone", new Date(T0));
        expect(await store.getChannelState("hook")).toEqual({
          channel: "hook",
          disabled: true,
          reason: "HTTP 410 Gone",
          since: at(0),
        });
      });
    });

    describe("queries", () => {
      async function seed(): Promise<string[]> {
        const other = await store.createStream({ name: "ch-99", url: "udp://x" });
        const ids: string[] = [];
        const types = ["video.freeze", "video.black", "audio.silence"] as const;
        const sev = ["info", "minor", "major", "critical"] as const;
        for (let i = 0; i < 12; i++) {
          const inc = await store.recordIncident(
            {
              streamId: i % 4 === 3 ? other.id : ch12.id,
              type: types[i % 3]!,
              severity: sev[i % 4]!,
              start: i * 10,
              // Two incidents share each wall-clock second: the cursor must tie-break on id.
              startedAt: at(Math.floor(i / 2) * 100),
              ...(i % 5 === 0 ? {} : { end: i * 10 + 5, endedAt: at(Math.floor(i / 2) * 100 + 5) }),
            },
            [],
          );
          ids.push(inc.id);
        }
        return ids;
      }

      it("pages through every incident once, newest first", async () => {
        const ids = await seed();
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page: Awaited<ReturnType<Store["queryIncidents"]>> = await store.queryIncidents({
            limit: 5,
            ...(cursor === null ? {} : { cursor }),
          });
          seen.push(...page.items.map((i) => i.id));
          cursor = page.next;
          pages++;
        } while (cursor !== null);
        expect(pages).toBe(3);
        expect(new Set(seen).size).toBe(12);
        expect(new Set(seen)).toEqual(new Set(ids));
        const starts = await Promise.all(seen.map(async (id) => (await store.getIncident(id))!.startedAt));
        expect([...starts].sort().reverse()).toEqual(starts);
        // The store itself refuses a cursor it did not hand out, with the code the API maps to 400.
        await expect(store.queryIncidents({ cursor: "garbage" })).rejects.toSatisfy(
          code("SQM_ERR_INVALID_CURSOR"),
        );
        const forged = Buffer.from(JSON.stringify({ s: "x", i: 1 })).toString("base64url");
        await expect(store.queryIncidents({ cursor: forged })).rejects.toSatisfy(
          code("SQM_ERR_INVALID_CURSOR"),
        );
      });

      it("filters by stream, type, minimum severity, time range and open", async () => {
        await seed();
        const q = async (query: Parameters<Store["queryIncidents"]>[0]): Promise<number[]> =>
          (await store.queryIncidents({ ...query, limit: 500 })).items
            .map((i) => i.start)
            .sort((a, b) => a - b);
        expect(await q({ stream: "ch-99" })).toEqual([30, 70, 110]);
        expect(await q({ streamId: ch12.id, type: "video.freeze" })).toEqual([0, 60, 90]);
        expect(await q({ severity: "major" })).toEqual([20, 30, 60, 70, 100, 110]);
        expect(await q({ from: at(100), to: at(300) })).toEqual([20, 30, 40, 50]);
        expect(await q({ timeField: "start", from: 25, to: 60 })).toEqual([30, 40, 50]);
        expect(await q({ open: true })).toEqual([0, 50, 100]);
        expect(await q({ open: false, stream: "ch-12", type: "video.black" })).toEqual([10, 40]);
      });

      it("finds the last incident whose alert was queued, per stream and type", async () => {
        expect(await store.lastAlertedStart(ch12.id, "video.freeze")).toBeNull();
        const base = { streamId: ch12.id, type: "video.freeze", severity: "major", start: 0 } as const;
        await store.recordIncident({ ...base, startedAt: at(10) }, []);
        await store.recordIncident({ ...base, startedAt: at(20), alertState: "cooldown" }, []);
        await store.recordIncident({ ...base, type: "video.black", startedAt: at(30) }, []);
        expect(await store.lastAlertedStart(ch12.id, "video.freeze")).toBe(at(10));
      });
    });

    describe("acknowledgements", () => {
      it("stores who acknowledged, when and why; the first acknowledgement stands", async () => {
        const inc = await store.recordIncident(
          { streamId: ch12.id, type: "video.freeze", severity: "major", start: 1, startedAt: at(1) },
          [],
        );
        expect(inc.acknowledged).toBeNull();
        const acked = await store.acknowledgeIncident(inc.id, {
          at: at(5),
          by: "alice",
          comment: "encoder restarted",
        });
        expect(acked!.acknowledged).toEqual({ at: at(5), by: "alice", comment: "encoder restarted" });
        expect(acked!.revision).toBe(inc.revision);
        const again = await store.acknowledgeIncident(inc.id, { at: at(9), by: "bob", comment: null });
        expect(again!.acknowledged).toEqual({ at: at(5), by: "alice", comment: "encoder restarted" });
        expect((await store.getIncident(inc.id))!.acknowledged?.by).toBe("alice");
        expect(await store.acknowledgeIncident("nope", { at: at(9), by: "bob", comment: null })).toBeNull();
        // Closing keeps the acknowledgement (acknowledged + closed = resolved).
        const closed = await store.updateIncident(inc.id, { end: 3, endedAt: at(3) }, []);
        expect(closed.acknowledged?.by).toBe("alice");
      });

      it("enqueues the acknowledgement's deliveries with it, only for the first", async () => {
        const inc = await store.recordIncident(
          { streamId: ch12.id, type: "video.black", severity: "major", start: 1, startedAt: at(1) },
          [openDelivery("ops")],
        );
        const ackDelivery = {
          event: "ack",
          channel: "ops",
          payload: { event: "incident.acknowledged" },
        } as const;
        await store.acknowledgeIncident(inc.id, { at: at(4), by: "alice", comment: null }, [ackDelivery]);
        await store.acknowledgeIncident(inc.id, { at: at(6), by: "bob", comment: null }, [
          { ...ackDelivery, channel: "other" },
        ]);
        const rows = await store.listDeliveries({ incidentId: inc.id });
        expect(rows.map((d) => [d.id, d.event, d.channel])).toEqual([
          [`${inc.id}.open.ops`, "open", "ops"],
          [`${inc.id}.ack.ops`, "ack", "ops"],
        ]);
        // The acknowledgement waits behind the open it acknowledges.
        const due = await store.claimDueDeliveries(new Date(Date.now() + 1000), 10, 30_000);
        expect(due.map((d) => d.event)).toEqual(["open"]);
      });

      it("filters incidents by acknowledgement", async () => {
        const base = { streamId: ch12.id, type: "video.freeze", severity: "major", start: 0 } as const;
        const a = await store.recordIncident({ ...base, startedAt: at(1) }, []);
        const b = await store.recordIncident({ ...base, startedAt: at(2) }, []);
        await store.acknowledgeIncident(a.id, { at: at(3), by: "operator", comment: null });
        const ids = async (acknowledged: boolean): Promise<string[]> =>
          (await store.queryIncidents({ acknowledged })).items.map((i) => i.id);
        expect(await ids(true)).toEqual([a.id]);
        expect(await ids(false)).toEqual([b.id]);
        const page = await store.queryIncidents({ streamId: ch12.id });
        expect(page.items.find((i) => i.id === a.id)!.acknowledged).toEqual({
          at: at(3),
          by: "operator",
          comment: null,
        });
      });
    });

    describe("continuing open incidents", () => {
      it("lists a stream's open incidents, oldest first, so a new owner adopts them", async () => {
        const other = await store.createStream({ name: "ch-99", url: "udp://x" });
        const base = { streamId: ch12.id, severity: "major", start: 0 } as const;
        const late = await store.recordIncident({ ...base, type: "video.black", startedAt: at(50) }, []);
        const early = await store.recordIncident({ ...base, type: "video.freeze", startedAt: at(10) }, []);
        const closed = await store.recordIncident({ ...base, type: "audio.silence", startedAt: at(5) }, []);
        await store.updateIncident(closed.id, { end: 3, endedAt: at(8) }, []);
        await store.recordIncident(
          { ...base, streamId: other.id, type: "video.black", startedAt: at(1) },
          [],
        );
        const open = await store.openIncidents(ch12.id);
        expect(open.map((i) => i.id)).toEqual([early.id, late.id]);
        expect(open[0]).toMatchObject({ type: "video.freeze", end: null, stream: "ch-12" });
        expect(await store.openIncidents("no-such-stream")).toEqual([]);
      });
    });

    describe("fenced writes", () => {
      const newIncident = (startedAt: string) =>
        ({ streamId: ch12.id, type: "video.freeze", severity: "major", start: 1, startedAt }) as const;
      const evidence = (incidentId: string, name: string) => ({
        incidentId,
        name,
        contentType: "image/jpeg",
        blobKey: `incidents/${incidentId}/${name}`,
        size: 10,
      });

      it("accepts every write at the current epoch of an unexpired lease", async () => {
        await fx.setLease?.(ch12.id, "w1", 3, 30_000);
        const fence = { streamId: ch12.id, epoch: 3 };
        const inc = await store.recordIncident(newIncident(at(1)), [openDelivery("a")], fence);
        const upd = await store.updateIncident(
          inc.id,
          { end: 2, endedAt: at(2) },
          [{ event: "close", channel: "a", payload: {} }],
          fence,
        );
        expect(upd.end).toBe(2);
        await store.addEvidence(evidence(inc.id, "during.jpg"), fence);
        expect((await store.listDeliveries({ incidentId: inc.id })).map((d) => d.event)).toEqual([
          "open",
          "close",
        ]);
        expect((await store.listEvidence(inc.id)).map((e) => e.name)).toEqual(["during.jpg"]);
      });

      it("refuses, writing nothing, a write at an old epoch, after expiry, after release, or for another stream", async (ctx) => {
        if (fx.setLease === undefined) {
          ctx.skip(`${backend} runs one process and has no leases: every fence is held`);
          return;
        }
        const other = await store.createStream({ name: "ch-99", url: "udp://x" });
        await fx.setLease(ch12.id, "w1", 3, 30_000);
        await fx.setLease(other.id, "w1", 7, 30_000);
        const held = { streamId: ch12.id, epoch: 3 };
        const inc = await store.recordIncident(newIncident(at(1)), [openDelivery("a")], held);
        const nothingChanged = async (): Promise<void> => {
          expect((await store.queryIncidents({ streamId: ch12.id })).items.map((i) => i.id)).toEqual([
            inc.id,
          ]);
          expect(await store.getIncident(inc.id)).toMatchObject({ revision: 0, end: null, evidence: [] });
          expect((await store.listDeliveries({})).map((d) => d.id)).toEqual([`${inc.id}.open.a`]);
        };
        const refusedAll = async (fence: { streamId: string; epoch: number }): Promise<void> => {
          await expect(
            store.recordIncident(newIncident(at(2)), [openDelivery("b")], fence),
          ).rejects.toSatisfy(code("SQM_ERR_FENCED"));
          await expect(
            store.updateIncident(
              inc.id,
              { end: 2, endedAt: at(2) },
              [{ event: "close", channel: "a", payload: {} }],
              fence,
            ),
          ).rejects.toSatisfy(code("SQM_ERR_FENCED"));
          await expect(store.addEvidence(evidence(inc.id, "late.jpg"), fence)).rejects.toSatisfy(
            code("SQM_ERR_FENCED"),
          );
          await nothingChanged();
        };

        // Another worker claimed the stream since: epoch 4.
        await fx.setLease(ch12.id, "w2", 4, 30_000);
        await refusedAll(held);
        // Its own epoch, but the lease ran out by the database's clock.
        await fx.setLease(ch12.id, "w2", 4, -1);
        await refusedAll({ streamId: ch12.id, epoch: 4 });
        // Released (drained): nobody holds it.
        await fx.setLease(ch12.id, null, 4, 30_000);
        await refusedAll({ streamId: ch12.id, epoch: 4 });
        // A lease on another stream does not cover this stream's incident.
        await refusedAll({ streamId: other.id, epoch: 7 });
        // No lease row at all.
        const third = await store.createStream({ name: "ch-100", url: "udp://y" });
        await expect(
          store.recordIncident({ ...newIncident(at(3)), streamId: third.id }, [], {
            streamId: third.id,
            epoch: 0,
          }),
        ).rejects.toSatisfy(code("SQM_ERR_FENCED"));
      });
    });

    describe("evidence", () => {
      it("attaches evidence metadata to an incident", async () => {
        const inc = await store.recordIncident(
          { streamId: ch12.id, type: "video.freeze", severity: "major", start: 1, startedAt: at(1) },
          [],
        );
        await store.addEvidence({
          incidentId: inc.id,
          name: "before.jpg",
          contentType: "image/jpeg",
          blobKey: `incidents/${inc.id}/before.jpg`,
          size: 1234,
        });
        await store.addEvidence({
          incidentId: inc.id,
          name: "during.jpg",
          contentType: "image/jpeg",
          blobKey: `incidents/${inc.id}/during.jpg`,
          size: 999,
        });
        const got = await store.getIncident(inc.id);
        expect(got!.evidence.map((e) => [e.name, e.size, e.blobKey])).toEqual([
          ["before.jpg", 1234, `incidents/${inc.id}/before.jpg`],
          ["during.jpg", 999, `incidents/${inc.id}/during.jpg`],
        ]);
        const page = await store.queryIncidents({ streamId: ch12.id });
        expect(page.items[0]!.evidence).toHaveLength(2);
        const ev = {
          incidentId: inc.id,
          name: "before.jpg",
          contentType: "image/jpeg",
          blobKey: "k",
          size: 1,
        };
        await expect(store.addEvidence(ev)).rejects.toSatisfy(code("SQM_ERR_CONFLICT"));
        await expect(store.addEvidence({ ...ev, name: "../x" })).rejects.toSatisfy(code("SQM_ERR_USAGE"));
        await expect(store.addEvidence({ ...ev, incidentId: "nope" })).rejects.toSatisfy(
          code("SQM_ERR_NOT_FOUND"),
        );
      });
    });

    describe("maintenance windows and settings", () => {
      it("mutes a stream inside its window and every stream inside a global one", async () => {
        const other = await store.createStream({ name: "ch-99", url: "udp://x" });
        const w = await store.addMaintenanceWindow({
          streamId: ch12.id,
          startsAt: at(100),
          endsAt: at(200),
          reason: "encoder swap",
        });
        await store.addMaintenanceWindow({
          streamId: null,
          startsAt: at(1000),
          endsAt: at(1100),
          reason: "all",
        });
        const ms = (s: number): Date => new Date(T0 + s * 1000);
        expect(await store.inMaintenance(ch12.id, ms(99))).toBe(false);
        expect(await store.inMaintenance(ch12.id, ms(100))).toBe(true);
        expect(await store.inMaintenance(ch12.id, ms(199))).toBe(true);
        expect(await store.inMaintenance(ch12.id, ms(200))).toBe(false);
        expect(await store.inMaintenance(other.id, ms(150))).toBe(false);
        expect(await store.inMaintenance(other.id, ms(1050))).toBe(true);
        expect((await store.listMaintenanceWindows(ch12.id)).map((x) => x.reason)).toEqual([
          "encoder swap",
          "all",
        ]);
        await store.deleteMaintenanceWindow(w.id);
        expect(await store.inMaintenance(ch12.id, ms(150))).toBe(false);
        await expect(
          store.addMaintenanceWindow({ streamId: null, startsAt: at(5), endsAt: at(5), reason: "" }),
        ).rejects.toSatisfy(code("SQM_ERR_USAGE"));
      });

      it("mutes the streams whose labels include a window's labels", async () => {
        const us = await store.createStream({ name: "ch-us", url: "udp://y", labels: { region: "us" } });
        const w = await store.addMaintenanceWindow({
          streamId: null,
          labels: { region: "eu" },
          startsAt: at(0),
          endsAt: at(100),
          reason: "eu headend work",
          createdBy: "alice",
        });
        expect(w.labels).toEqual({ region: "eu" });
        expect(w.createdBy).toBe("alice");
        expect(await store.getMaintenanceWindow(w.id)).toEqual(w);
        const ms = (s: number): Date => new Date(T0 + s * 1000);
        expect(await store.inMaintenance(ch12.id, ms(50))).toBe(true);
        expect(await store.inMaintenance(us.id, ms(50))).toBe(false);
        expect((await store.listMaintenanceWindows(us.id)).length).toBe(0);
        expect((await store.listMaintenanceWindows(ch12.id)).map((x) => x.id)).toEqual([w.id]);
        expect((await store.listMaintenanceWindows()).map((x) => x.id)).toEqual([w.id]);
        await expect(
          store.addMaintenanceWindow({
            streamId: ch12.id,
            labels: { region: "eu" },
            startsAt: at(0),
            endsAt: at(1),
            reason: "",
          }),
        ).rejects.toSatisfy(code("SQM_ERR_USAGE"));
        expect(await store.deleteMaintenanceWindow(w.id)).toBe(true);
        expect(await store.deleteMaintenanceWindow(w.id)).toBe(false);
        expect(await store.getMaintenanceWindow(w.id)).toBeNull();
      });

      it("stores JSON settings", async () => {
        expect(await store.getSetting("alerts.paused")).toBeUndefined();
        await store.setSetting("alerts.paused", { until: "x", by: ["a"] });
        await store.setSetting("alerts.paused", true);
        expect(await store.getSetting("alerts.paused")).toBe(true);
      });
    });

    describe("reports", () => {
      it("computes availability and defect-seconds, clipped to the period, open incidents to now", async () => {
        const rec = (type: string, s: number, e: number | null): Promise<unknown> =>
          store.recordIncident(
            {
              streamId: ch12.id,
              type,
              severity: "major",
              start: s,
              startedAt: at(s),
              ...(e === null ? {} : { end: e, endedAt: at(e) }),
            },
            [],
          );
        await rec("stream.down", -50, 10); // clipped to 0..10
        await rec("stream.down", 100, 130);
        await rec("video.freeze", 200, 210);
        await rec("video.freeze", 205, 220); // overlaps: 200..220 counts once
        await rec("audio.silence", 3000, 3100); // after the period
        await rec("stream.down", 900, null); // open: counts to now = 960
        const r = await store.report(ch12.id, new Date(T0), new Date(T0 + 3600_000), new Date(T0 + 960_000));
        expect(r.periodSeconds).toBe(960);
        expect(r.downSeconds).toBe(10 + 30 + 60);
        expect(r.availability).toBeCloseTo(1 - 100 / 960, 9);
        expect(r.defectSeconds).toEqual({ "stream.down": 100, "video.freeze": 20 });
        expect(r.to).toBe(at(960));
      });
    });

    describe("history", () => {
      it("appends, replaces at the same time, reads from a time in order, and prunes", async () => {
        const other = await store.createStream({ name: "ch-13", url: "udp://239.0.0.1:5000" });
        const T = 1_764_500_000_000;
        const sample = (m: number) => ({ momentary: m, peakDbfs: [-6.5, -7], avOffsetMs: null });
        await store.appendHistories([
          {
            streamId: ch12.id,
            samples: [
              { t: T + 20_000, sample: sample(-22) },
              { t: T, sample: sample(-20) },
              { t: T + 10_000, sample: sample(-21) },
            ],
          },
        ]);
        await store.appendHistories([{ streamId: other.id, samples: [{ t: T, sample: sample(-30) }] }]);
        // A second write of the same instant replaces the first (a retried batch is harmless).
        await store.appendHistories([
          { streamId: ch12.id, samples: [{ t: T + 20_000, sample: sample(-23) }] },
        ]);
        expect(await store.readHistory(ch12.id, T)).toEqual([
          { t: T, sample: sample(-20) },
          { t: T + 10_000, sample: sample(-21) },
          { t: T + 20_000, sample: sample(-23) },
        ]);
        expect((await store.readHistory(ch12.id, T + 10_000)).map((h) => h.t)).toEqual([
          T + 10_000,
          T + 20_000,
        ]);
        expect(await store.readHistory(other.id, 0)).toEqual([{ t: T, sample: sample(-30) }]);
        expect(await store.readHistory("nope", 0)).toEqual([]);
        await store.appendHistories([{ streamId: ch12.id, samples: [] }]);
        expect(await store.pruneHistory(T + 10_000)).toBe(2);
        expect((await store.readHistory(ch12.id, 0)).map((h) => h.t)).toEqual([T + 10_000, T + 20_000]);
        expect(await store.readHistory(other.id, 0)).toEqual([]);
      });

      it("appends several streams' samples in one write, replacing at the same time, skipping an unknown stream", async () => {
        const a = await store.createStream({ name: "ch-14", url: "udp://239.0.0.1:5001" });
        const b = await store.createStream({ name: "ch-15", url: "udp://239.0.0.1:5002" });
        const T = 1_764_600_000_000;
        const sample = (m: number) => ({ momentary: m, peakDbfs: [-6.5], avOffsetMs: null });
        await store.appendHistories([{ streamId: a.id, samples: [{ t: T, sample: sample(-20) }] }]);
        await store.appendHistories([
          {
            streamId: a.id,
            samples: [
              { t: T, sample: sample(-21) },
              { t: T + 10_000, sample: sample(-22) },
            ],
          },
          // Unknown here (never created): skipped, and the others still written.
          { streamId: "unknown-stream", samples: [{ t: T, sample: sample(-40) }] },
          { streamId: b.id, samples: [{ t: T + 10_000, sample: sample(-30) }] },
          { streamId: "nope", samples: [] },
        ]);
        await store.appendHistories([]);
        expect(await store.readHistory(a.id, 0)).toEqual([
          { t: T, sample: sample(-21) },
          { t: T + 10_000, sample: sample(-22) },
        ]);
        expect(await store.readHistory(b.id, 0)).toEqual([{ t: T + 10_000, sample: sample(-30) }]);
        expect(await store.readHistory("unknown-stream", 0)).toEqual([]);
      });
    });

    describe("lifecycle", () => {
      it("closes idempotently and refuses use after close", async () => {
        await store.close();
        await store.close();
        await expect(store.getStream(ch12.id)).rejects.toSatisfy(code("SQM_ERR_CLOSED"));
      });
    });
  });
}
