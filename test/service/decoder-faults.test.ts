/**
 * A decoder that dies (SIGKILL) or hangs (SIGSTOP) costs its stream a restart and a
 * `stream.down` incident, never the service: monitoring resumes on its own.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningService } from "../../src/cli/serve-command.js";
import { tempDir } from "../helpers/media.js";
import { api, makeClip, poll, QUIET_PROFILE, running, startInProcess } from "./helpers.js";

interface State {
  status: string;
  frames: number;
  restarts: number;
}
interface Incident {
  id: string;
  type: string;
  start: number;
  end: number | null;
  details: Record<string, unknown>;
}

/** The watchdog's timeout in this test: short, so a hung decoder is caught within the test. */
const STALL_MS = 2000;

describe("decoder faults in the running service", () => {
  const tmp = tempDir("streamqc-decoder-");
  let svc: RunningService;
  let streamId = "";

  beforeAll(async () => {
    const clip = await makeClip(join(tmp.dir, "clean.ts"), [], 10);
    svc = await startInProcess({
      dataDir: join(tmp.dir, "data"),
      allowFileInputs: true,
      stallTimeoutMs: STALL_MS,
      profile: QUIET_PROFILE,
      streams: [{ name: "cam", url: clip, profile: "default", labels: {}, enabled: true }],
    });
    const list = await api<{ items: { id: string }[] }>(svc.url, "GET", "/streams");
    streamId = list.body.items[0]?.id ?? "";
    await poll(
      async () => (await api<State>(svc.url, "GET", `/streams/${streamId}/state`)).body.status === "up",
      15_000,
      "the stream to come up",
    );
  }, 60_000);

  afterAll(async () => {
    await svc?.close();
    tmp.cleanup();
  });

  const state = async (): Promise<State> =>
    (await api<State>(svc.url, "GET", `/streams/${streamId}/state`)).body;
  const downIncidents = async (): Promise<Incident[]> =>
    (await api<{ items: Incident[] }>(svc.url, "GET", `/incidents?stream=${streamId}&type=stream.down`)).body
      .items;

  async function expectRecovery(pid: number, before: State, knownDown: number): Promise<Incident> {
    await poll(() => !running(pid), 5000, "the decoder to be gone");
    // Monitoring resumes within 5 s: a fresh decoder, frames advancing, the stream up again.
    await poll(
      async () => {
        const s = await state();
        const fresh = svc.service.runner(streamId)?.decoderPidNow;
        return s.status === "up" && s.frames > before.frames + 25 && fresh !== undefined && fresh !== pid;
      },
      5000,
      "monitoring to resume",
    );
    const down = await poll(
      async () => {
        const items = await downIncidents();
        return items.length > knownDown && items.every((i) => i.end !== null) ? items : undefined;
      },
      5000,
      "the stream.down incident to be recorded and closed",
    );
    expect(down.length).toBe(knownDown + 1);
    expect((await state()).restarts).toBe(before.restarts + 1);
    return down[0]!;
  }

  it("SIGKILL of the decoder opens stream.down and monitoring resumes", async () => {
    const pid = svc.service.runner(streamId)?.decoderPidNow;
    expect(pid).toBeTypeOf("number");
    const before = await state();
    process.kill(pid!, "SIGKILL");
    const incident = await expectRecovery(pid!, before, 0);
    expect(incident.type).toBe("stream.down");
    expect(String(incident.details["reason"])).toMatch(/SIGKILL/);
    expect(incident.end! - incident.start).toBeLessThan(5);
    // Nothing else was reported: a clean clip, one restart.
    const all = (await api<{ items: Incident[] }>(svc.url, "GET", `/incidents?stream=${streamId}`)).body
      .items;
    expect(all.map((i) => i.type).filter((t) => t !== "stream.down" && t !== "stream.gap")).toEqual([]);
  }, 30_000);

  it("a decoder stopped with SIGSTOP is caught by the watchdog and restarted", async () => {
    const pid = svc.service.runner(streamId)?.decoderPidNow;
    expect(pid).toBeTypeOf("number");
    const before = await state();
    const known = (await downIncidents()).length;
    process.kill(pid!, "SIGSTOP");
    try {
      // The watchdog needs STALL_MS of silence, then kills; allow for that on top of the restart.
      await poll(() => !running(pid!), STALL_MS + 5000, "the watchdog to kill the stopped decoder");
      const incident = await expectRecovery(pid!, before, known);
      expect(incident.type).toBe("stream.down");
    } finally {
      if (running(pid!)) process.kill(pid!, "SIGKILL");
    }
  }, 30_000);
});
