/**
 * What a newcomer sees in the first minute of `./scripts/demo.sh`: the demo service runs one
 * loop of the demo clip plus a margin, and the only incidents are those of the defects the
 * demo injects. Regression test for two that were not injected: a critical `stream.down` on
 * the HLS channel at start (monitoring began before its publisher was up) and a `ts.pcr-gap`
 * on the UDP channel at each loop (the copied loop made the clock jump).
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { RunningService } from "../../src/cli/serve-command.js";
import { DEMO_CLIP_SECONDS, DEMO_DEFECTS } from "../../src/demo/demo-channels.js";
import type { StreamHistory, StreamState } from "../../src/api/schemas.js";
import type { StoredIncident } from "../../src/store/store.js";
import { tempDir } from "../helpers/media.js";
import { api, startInProcess } from "../service/helpers.js";

/**
 * The incident types each injected defect is reported as. An over-driven, clipped passage is
 * also over the true-peak limit (a clipped wave's true peak is above 0 dBTP) and, at the
 * demo's gain, too loud for EBU R128: three facts about one injected defect.
 */
const TYPES_OF: Readonly<Record<string, readonly string[]>> = {
  freeze: ["video.freeze"],
  black: ["video.black"],
  silence: ["audio.silence"],
  clipping: ["audio.clipping", "audio.true-peak", "audio.loudness"],
};

/**
 * The run ends once both channels have crossed a loop boundary and shown every injected type,
 * or at this deadline: a channel joins the loop where the publisher is (UDP about 10 s in,
 * after the HLS playlist got its two segments), so a defect it missed comes round again a
 * loop later, plus detector latency and slack for a busy machine.
 */
const RUN_SECONDS = DEMO_CLIP_SECONDS + 45;
/** Samples in the history at the end: about one a second of the shortest possible run. */
const MIN_RUN_SECONDS = DEMO_CLIP_SECONDS;

describe("the demo's first minute", () => {
  const tmp = tempDir("streamqc-demo-");
  let svc: RunningService | undefined;
  afterAll(async () => {
    await svc?.close();
    tmp.cleanup();
  });

  it(
    "shows exactly the injected defects on both channels, and no stream.down or ts.* fault",
    async () => {
      svc = await startInProcess({ dataDir: join(tmp.dir, "data"), demo: true });
      const started = Date.now();
      const streams = await svc.store.listStreams();
      expect(streams.map((s) => s.name).sort()).toEqual(["demo-hls", "demo-udp"]);
      const expected = [...new Set(DEMO_DEFECTS.flatMap((d) => TYPES_OF[d.type]!))].sort();
      let all: StoredIncident[] = [];
      const seen = (name: string) =>
        [...new Set(all.filter((i) => i.stream === name).map((i) => i.type))].sort();
      for (;;) {
        await new Promise((r) => setTimeout(r, 2000));
        all = [];
        for (const s of streams)
          all.push(...(await svc.store.queryIncidents({ streamId: s.id, limit: 500 })).items);
        const crossed = streams.every(
          (s) => (svc!.service.streamState(s.id)?.mediaTime ?? 0) > DEMO_CLIP_SECONDS + 5,
        );
        const complete = streams.every((s) => expected.every((t) => seen(s.name).includes(t)));
        if ((crossed && complete) || Date.now() - started > RUN_SECONDS * 1000) break;
      }
      const summary = all
        .map((i) => `${i.stream} ${i.type} @${i.start} ${JSON.stringify(i.details)}`)
        .join("\n");
      expect(seen("demo-udp"), summary).toEqual(expected);
      expect(seen("demo-hls"), summary).toEqual(expected);
      // What the wall's tiles and channel page read, measured on the same run.
      for (const s of streams) {
        const state = (await api<StreamState>(svc.url, "GET", `/streams/${s.id}/state`)).body;
        expect(state.status, s.name).toBe("up");
        expect(state.loudness?.integrated, s.name).toBeTypeOf("number");
        expect(state.loudness?.target, s.name).toBe(-23);
        expect(Date.now() - Date.parse(state.thumbnailAt!), s.name).toBeLessThan(15_000);
        expect(state.worker).toBeNull();
        if (s.name === "demo-udp") expect(state.tr101290?.open).toBe(0);
        if (s.name === "demo-hls") expect(state.hls).not.toBeNull();
        const h = (await api<StreamHistory>(svc.url, "GET", `/streams/${s.id}/history?seconds=3600`)).body;
        // About one sample a second since monitoring began, with loudness and both channels measured.
        expect(h.t.length, s.name).toBeGreaterThan(MIN_RUN_SECONDS * 0.7);
        expect(h.momentary.filter((v) => v !== null).length, s.name).toBeGreaterThan(MIN_RUN_SECONDS * 0.5);
        expect(h.peakDbfs, s.name).toHaveLength(2);
        expect(h.truePeakLimit).toBe(-1);
      }
      // Each defect once per loop: at most two loops fit in the run.
      const loops = Math.ceil((Date.now() - started) / 1000 / DEMO_CLIP_SECONDS);
      for (const name of ["demo-udp", "demo-hls"]) {
        const count = all.filter((i) => i.stream === name).length;
        expect(count, summary).toBeLessThanOrEqual(expected.length * loops);
      }
    },
    (RUN_SECONDS + 120) * 1000,
  );
});
