/**
 * Streams added, changed and removed through the API take effect without a restart, and one
 * stream failing does not disturb another's monitoring.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningService } from "../../src/cli/serve-command.js";
import { closedTcpPort, tempDir } from "../helpers/media.js";
import { api, makeClip, poll, QUIET_PROFILE, running, startInProcess } from "./helpers.js";

interface Stream {
  id: string;
  name: string;
  url: string;
}
interface State {
  status: string;
  frames: number;
  restarts: number;
  lastError: string | null;
}
interface Incident {
  type: string;
}

function cmdline(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
}

describe("stream changes through the API, live", () => {
  const tmp = tempDir("streamqc-live-");
  let svc: RunningService;
  let clipA = "";
  let clipB = "";
  let steady: Stream;

  beforeAll(async () => {
    clipA = await makeClip(join(tmp.dir, "a.ts"), [], 8);
    clipB = await makeClip(join(tmp.dir, "b.ts"), [], 8);
    svc = await startInProcess({
      dataDir: join(tmp.dir, "data"),
      allowFileInputs: true,
      profile: QUIET_PROFILE,
      streams: [{ name: "steady", url: clipA, profile: "default", labels: {}, enabled: true }],
    });
    steady = (await api<{ items: Stream[] }>(svc.url, "GET", "/streams")).body.items[0]!;
    await poll(async () => (await state(steady.id)).status === "up", 15_000, "the steady stream to come up");
  }, 60_000);

  afterAll(async () => {
    await svc?.close();
    tmp.cleanup();
  });

  async function state(id: string): Promise<State> {
    return (await api<State>(svc.url, "GET", `/streams/${id}/state`)).body;
  }

  it("add, change and remove a stream while another one runs undisturbed beside a failing one", async () => {
    const steadyBefore = await state(steady.id);

    const created = await api<Stream>(svc.url, "POST", "/streams", { name: "added", url: clipA });
    expect(created.status).toBe(201);
    const id = created.body.id;
    await poll(async () => (await state(id)).status === "up", 10_000, "the added stream to come up");
    const pid1 = svc.service.runner(id)?.decoderPidNow;
    expect(pid1).toBeTypeOf("number");
    expect(cmdline(pid1!)).toContain(clipA);

    const port = await closedTcpPort();
    const broken = await api<Stream>(svc.url, "POST", "/streams", {
      name: "broken",
      url: `rtmp://127.0.0.1:${port}/live/nothing`,
    });
    expect(broken.status).toBe(201);
    const brokenState = await poll(
      async () => {
        const s = await state(broken.body.id);
        return s.status === "down" && s.lastError ? s : undefined;
      },
      10_000,
      "the unreachable stream to be down",
    );
    expect(brokenState.lastError).toMatch(/refused|rtmp|ffmpeg/i);

    const patched = await api<Stream>(svc.url, "PATCH", `/streams/${id}`, { url: clipB });
    expect(patched.status).toBe(200);
    expect(patched.body.url).toBe(clipB);
    // The PATCH restarted monitoring: the old decoder is gone, a new one reads the new URL.
    expect(running(pid1!)).toBe(false);
    await poll(async () => (await state(id)).status === "up", 10_000, "the changed stream to come up");
    const pid2 = svc.service.runner(id)?.decoderPidNow;
    expect(pid2).toBeTypeOf("number");
    expect(pid2).not.toBe(pid1);
    expect(cmdline(pid2!)).toContain(clipB);

    // Regression: a stopped stream's state answered 404 as if the stream did not exist.
    const stopped = await api<State>(svc.url, "POST", `/streams/${id}/stop`);
    expect(stopped.status).toBe(200);
    expect(running(pid2!)).toBe(false);
    const stoppedState = await api<State>(svc.url, "GET", `/streams/${id}/state`);
    expect(stoppedState.status).toBe(200);
    expect(stoppedState.body.status).toBe("stopped");
    // Regression: a URL the runner cannot open was stored and only failed later.
    const missing = await api<{ details?: { path: string }[] }>(svc.url, "PATCH", `/streams/${id}`, {
      url: join(tmp.dir, "missing.ts"),
    });
    expect(missing.status).toBe(400);
    expect(missing.body.details?.map((d) => d.path)).toEqual(["url"]);
    expect((await api<Stream>(svc.url, "GET", `/streams/${id}`)).body.url).toBe(clipB);
    const restarted = await api<State>(svc.url, "POST", `/streams/${id}/start`);
    expect(restarted.status).toBe(200);
    await poll(async () => (await state(id)).status === "up", 10_000, "the restarted stream to come up");
    const pid3 = svc.service.runner(id)?.decoderPidNow;
    expect(pid3).toBeTypeOf("number");

    const deleted = await api(svc.url, "DELETE", `/streams/${id}`);
    expect(deleted.status).toBe(204);
    expect(running(pid3!)).toBe(false);
    expect(svc.service.runner(id)).toBeUndefined();
    expect((await api(svc.url, "GET", `/streams/${id}`)).status).toBe(404);
    expect((await api(svc.url, "GET", `/streams/${id}/state`)).status).toBe(404);

    // The failing stream keeps retrying on its own; it never touched the steady one.
    expect((await state(broken.body.id)).status).not.toBe("up");
    const steadyAfter = await state(steady.id);
    expect(steadyAfter.status).toBe("up");
    expect(steadyAfter.restarts).toBe(steadyBefore.restarts);
    expect(steadyAfter.frames).toBeGreaterThan(steadyBefore.frames);
    const steadyIncidents = (
      await api<{ items: Incident[] }>(svc.url, "GET", `/incidents?stream=${steady.id}`)
    ).body.items;
    expect(steadyIncidents.map((i) => i.type)).toEqual([]);

    const brokenPid = svc.service.runner(broken.body.id)?.decoderPidNow;
    expect((await api(svc.url, "DELETE", `/streams/${broken.body.id}`)).status).toBe(204);
    if (brokenPid !== undefined) expect(running(brokenPid)).toBe(false);
  }, 60_000);
});
