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
import type { StoredIncident } from "../../src/store/store.js";
import { tempDir } from "../helpers/media.js";
import { startInProcess } from "../service/helpers.js";

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

/** The loop plus the longest detector latency (freeze closes 4 s in, then minimum durations). */
const RUN_SECONDS = DEMO_CLIP_SECONDS + 15;

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
      await new Promise((r) => setTimeout(r, RUN_SECONDS * 1000));
      const all: StoredIncident[] = [];
      for (const s of streams)
        all.push(...(await svc.store.queryIncidents({ streamId: s.id, limit: 500 })).items);
      const seen = (name: string) =>
        [...new Set(all.filter((i) => i.stream === name).map((i) => i.type))].sort();
      const expected = [...new Set(DEMO_DEFECTS.flatMap((d) => TYPES_OF[d.type]!))].sort();
      const summary = all
        .map((i) => `${i.stream} ${i.type} @${i.start} ${JSON.stringify(i.details)}`)
        .join("\n");
      expect(seen("demo-udp"), summary).toEqual(expected);
      expect(seen("demo-hls"), summary).toEqual(expected);
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
