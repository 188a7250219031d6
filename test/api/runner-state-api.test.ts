/**
 * The API's StreamState schema against a real StreamRunner decoding real media: the service
 * hands runner state to the API as is, so a field the runner adds or changes shape must not
 * turn `/state` into a 500 or slip through unannounced.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildApi } from "../../src/api/server.js";
import type { ServiceEvent } from "../../src/service/service-facade.js";
import { resolveProfile } from "../../src/config/profile.js";
import { StreamRunner, type StreamState as RunnerState } from "../../src/service/stream-runner.js";
import { MemoryFacade } from "./memory-facade.js";

const MEDIA = resolve(import.meta.dirname, "../../../shared/media/big-buck-bunny-60s-360p.mp4");
const hasMedia = existsSync(MEDIA);
if (!hasMedia)
  console.warn(`skipping runner-state API test: ${MEDIA} is absent (see /work/shared/media/README.md)`);

/** What the service adds to a runner's state (muting, worker, acknowledgements); none here. */
function asApi(state: RunnerState) {
  return {
    ...state,
    openIncidents: state.openIncidents.map((i) => ({ ...i, acknowledged: null })),
    muted: null,
    worker: null,
  };
}

describe.skipIf(!hasMedia)("StreamState of a real runner through the API", () => {
  const runners: StreamRunner[] = [];
  afterAll(async () => {
    await Promise.all(runners.map((r) => r.stop()));
  });

  it("serves a runner's state and state events unchanged", async () => {
    const facade = new MemoryFacade();
    facade.allowLocalFiles = true;
    const app = buildApi(facade, { host: "127.0.0.1", logger: false });
    try {
      await app.ready();
      const stream = await facade.createStream({ name: "bbb", url: MEDIA, profile: "default" });
      const events: ServiceEvent[] = [];
      facade.subscribe((e) => events.push(e));
      const ended = new Promise<RunnerState>((resolveEnded) => {
        const runner = new StreamRunner(
          { id: stream.id, name: stream.name, url: MEDIA, profileName: "default", labels: {} },
          resolveProfile({}),
          {
            ffmpegPath: "ffmpeg",
            allowFiles: true,
            realtimeFiles: false,
            onIncident: () => {},
            onState: (state) => {
              facade.states.set(stream.id, asApi(state));
              facade.emit({ type: "stream.state", state: asApi(state) });
              if (state.status === "down" || state.status === "error") resolveEnded(state);
            },
          },
        );
        runners.push(runner);
        runner.start();
      });
      const last = await ended;
      expect(last.lastError).toBe("the source ended");
      const state = asApi(runners[0]!.state());
      facade.states.set(stream.id, state);
      expect(state.frames).toBeGreaterThan(1000);

      const res = await app.inject({ method: "GET", url: `/api/v1/streams/${stream.id}/state` });
      expect(res.statusCode, res.body).toBe(200);
      // Every field the runner reports, and nothing else, reaches the client.
      expect(res.json()).toEqual(JSON.parse(JSON.stringify(state)));
      expect(events.map((e) => e.type)).toContain("stream.state");
    } finally {
      await app.close();
    }
  });

  it("serves an HLS stream's playlist state (target duration, sequence, last segment)", async () => {
    // A real 6 s HLS VOD of 2 s MPEG-TS segments, cut by ffmpeg, served over real HTTP.
    const dir = mkdtempSync(join(tmpdir(), "streamqc-hls-state-"));
    execFileSync("ffmpeg", [
      ...["-hide_banner", "-loglevel", "error", "-t", "6", "-i", MEDIA],
      ...["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac"],
      ...["-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod"],
      ...["-hls_segment_filename", join(dir, "seg-%d.ts"), join(dir, "live.m3u8")],
    ]);
    const server = createServer((req, res) => {
      const name = (req.url ?? "/").slice(1).replace(/[^A-Za-z0-9_.-]/g, "");
      try {
        res.writeHead(200).end(readFileSync(join(dir, name)));
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/live.m3u8`;
    const facade = new MemoryFacade();
    const app = buildApi(facade, { host: "127.0.0.1", logger: false });
    try {
      await app.ready();
      const stream = await facade.createStream({ name: "hls", url, profile: "default" });
      const ended = new Promise<void>((done) => {
        const runner = new StreamRunner(
          { id: stream.id, name: stream.name, url, profileName: "default", labels: {} },
          resolveProfile({}),
          {
            ffmpegPath: "ffmpeg",
            allowFiles: false,
            onIncident: () => {},
            onState: (state) => {
              if (state.status === "down" || state.status === "error") done();
            },
          },
        );
        runners.push(runner);
        runner.start();
      });
      await ended;
      const state = asApi(runners.at(-1)!.state());
      facade.states.set(stream.id, state);
      const res = await app.inject({ method: "GET", url: `/api/v1/streams/${stream.id}/state` });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual(JSON.parse(JSON.stringify(state)));
      const p = res.json<{ hlsPlaylist: Record<string, unknown> & { lastSegment: { sequence: number } } }>()
        .hlsPlaylist;
      const segments = readFileSync(join(dir, "live.m3u8"), "utf8").match(/^seg-\d+\.ts$/gm)!.length;
      expect(p).toMatchObject({
        url,
        variants: [],
        targetDuration: 2,
        mediaSequence: 0,
        playlistType: "VOD",
        endList: true,
        segments,
        segmentsDelivered: segments,
        discontinuities: 0,
        lastError: null,
      });
      expect(p.lastSegment.sequence).toBe(segments - 1);
    } finally {
      await app.close();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
