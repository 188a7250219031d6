import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { HlsSource, type SegmentInfo } from "../../src/ingest/hls/hls-source.js";
import type { StreamEvent } from "../../src/ingest/media.js";

type Handler = (path: string, elapsed: number, req: IncomingMessage, res: ServerResponse) => void;

interface Running {
  readonly base: string;
  readonly server: Server;
}

const open: { server: Server; source: HlsSource | null }[] = [];

afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.source?.close();
    o.server.closeAllConnections();
    await new Promise<void>((r) => o.server.close(() => r()));
  }
});

/** A real HTTP server on 127.0.0.1:0 whose answers depend on the seconds since it started. */
async function serve(handler: Handler): Promise<Running> {
  const t0 = performance.now();
  const server = createServer((req, res) =>
    handler(req.url ?? "/", (performance.now() - t0) / 1000, req, res),
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  open.push({ server, source: null });
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function send(
  res: ServerResponse,
  status: number,
  body: string | Uint8Array,
  type = "application/vnd.apple.mpegurl",
): void {
  res.writeHead(status, { "content-type": type });
  res.end(body);
}

/** A live window of `size` segments of `dur` seconds, advancing one per `dur` seconds. */
function livePlaylist(o: {
  seq: number;
  size?: number;
  td: number;
  dur: number;
  name?: (n: number) => string;
}): string {
  const size = o.size ?? 4;
  const first = Math.max(0, o.seq - size + 1);
  const lines = [
    "#EXTM3U",
    "#EXT-X-VERSION:3",
    `#EXT-X-TARGETDURATION:${o.td}`,
    `#EXT-X-MEDIA-SEQUENCE:${first}`,
  ];
  for (let n = first; n <= o.seq; n++)
    lines.push(`#EXTINF:${o.dur.toFixed(3)},`, (o.name ?? ((k) => `seg-${k}.ts`))(n));
  return lines.join("\n") + "\n";
}

function vodPlaylist(durations: readonly number[], td: number): string {
  const lines = ["#EXTM3U", "#EXT-X-VERSION:3", `#EXT-X-TARGETDURATION:${td}`, "#EXT-X-PLAYLIST-TYPE:VOD"];
  durations.forEach((d, n) => lines.push(`#EXTINF:${d},`, `seg-${n}.ts`));
  return lines.join("\n") + "\n#EXT-X-ENDLIST\n";
}

function segmentBody(path: string): Uint8Array {
  return new TextEncoder().encode(`body of ${path}`);
}

interface Watch {
  readonly events: StreamEvent[];
  readonly segments: SegmentInfo[];
  readonly bodies: string[];
  readonly source: HlsSource;
  readonly done: Promise<void>;
}

function watch(url: string, opts: Partial<ConstructorParameters<typeof HlsSource>[0]> = {}): Watch {
  const events: StreamEvent[] = [];
  const segments: SegmentInfo[] = [];
  const bodies: string[] = [];
  const source = new HlsSource({
    url,
    onEvent: (e) => events.push(e),
    onSegment: (bytes, info) => {
      segments.push(info);
      bodies.push(new TextDecoder().decode(bytes));
    },
    backoffInitialMs: 100,
    backoffMaxMs: 400,
    segmentRetryDelayMs: 50,
    ...opts,
  });
  const entry = open.at(-1);
  if (entry) entry.source = source;
  return { events, segments, bodies, source, done: source.start() };
}

const faults = (events: readonly StreamEvent[]): string[] =>
  events.flatMap((e) => (e.kind === "fault" ? [e.type] : []));

/** Waits until `pred` holds, polling; fails after `seconds`. */
async function until(pred: () => boolean, seconds: number, what: string): Promise<void> {
  const end = performance.now() + seconds * 1000;
  while (!pred()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("HlsSource against a real HTTP server", () => {
  it("healthy live stream via a master playlist: no fault, each segment once and in order", async () => {
    const { base } = await serve((path, t, _req, res) => {
      if (path === "/master.m3u8") {
        send(
          res,
          200,
          "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nlow.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=3000000\nhigh.m3u8\n",
        );
      } else if (path === "/high.m3u8")
        send(res, 200, livePlaylist({ seq: 5 + Math.floor(t), td: 2, dur: 1 }));
      else if (path === "/low.m3u8") send(res, 404, "wrong rendition");
      else send(res, 200, segmentBody(path), "video/mp2t");
    });
    const w = watch(`${base}/master.m3u8`);
    await until(() => w.segments.length >= 6, 15, "six segments");
    await w.source.close();
    expect(faults(w.events)).toEqual([]);
    expect(w.events[0]).toMatchObject({ kind: "connected" });
    expect(w.events.filter((e) => e.kind === "lost")).toEqual([]);
    const seqs = w.segments.map((s) => s.sequence);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    expect(w.bodies[0]).toBe(`body of /seg-${seqs[0]}.ts`);
    // Live start three segments from the edge of the first window (5 + 0..1 s).
    expect(seqs[0]).toBeGreaterThanOrEqual(3);
  });

  it("hls.stale-playlist: the live playlist stops advancing", async () => {
    const { base } = await serve((path, t, _req, res) => {
      if (path.endsWith(".m3u8"))
        send(res, 200, livePlaylist({ seq: 10 + Math.floor(Math.min(t, 1.2)), td: 1, dur: 1 }));
      else send(res, 200, segmentBody(path), "video/mp2t");
    });
    const w = watch(`${base}/live.m3u8`);
    await until(() => faults(w.events).length > 0, 10, "a fault");
    await w.source.close();
    expect(faults(w.events)).toEqual(["hls.stale-playlist"]);
  });

  it("hls.sequence-regress: the media sequence goes backwards", async () => {
    const { base } = await serve((path, t, _req, res) => {
      if (path.endsWith(".m3u8"))
        send(
          res,
          200,
          livePlaylist({ seq: t < 1.5 ? 100 + Math.floor(t) : 20 + Math.floor(t), td: 1, dur: 1 }),
        );
      else send(res, 200, segmentBody(path), "video/mp2t");
    });
    const w = watch(`${base}/live.m3u8`);
    await until(() => faults(w.events).length > 0, 10, "a fault");
    await w.source.close();
    expect(faults(w.events)).toEqual(["hls.sequence-regress"]);
    const e = w.events.find((x) => x.kind === "fault");
    expect(e?.kind === "fault" && e.details).toMatchObject({ from: 98 });
  });

  it("hls.uri-changed: a segment URI changes under the same media sequence number", async () => {
    const { base } = await serve((path, t, _req, res) => {
      const name = (n: number): string => (t < 1.5 ? `a-${n}.ts` : `b-${n}.ts`);
      if (path.endsWith(".m3u8"))
        send(res, 200, livePlaylist({ seq: 50 + Math.floor(t), td: 1, dur: 1, name }));
      else send(res, 200, segmentBody(path), "video/mp2t");
    });
    const w = watch(`${base}/live.m3u8`);
    await until(() => faults(w.events).length > 0, 10, "a fault");
    await w.source.close();
    expect(faults(w.events)).toEqual(["hls.uri-changed"]);
  });

  it("hls.segment-too-long: EXTINF 2.6 s under a 2 s target duration", async () => {
    const { base } = await serve((path, _t, _req, res) => {
      if (path.endsWith(".m3u8")) send(res, 200, vodPlaylist([2, 2.6, 2], 2));
      else send(res, 200, segmentBody(path), "video/mp2t");
    });
    const w = watch(`${base}/vod.m3u8`);
    await w.done;
    expect(faults(w.events)).toEqual(["hls.segment-too-long"]);
    expect(w.segments.map((s) => s.sequence)).toEqual([0, 1, 2]);
    expect(w.events.at(-1)).toMatchObject({ kind: "ended" });
  });

  it("hls.segment-failed: one segment answers 404 on every attempt; the others are delivered", async () => {
    const hits = new Map<string, number>();
    const { base } = await serve((path, _t, _req, res) => {
      hits.set(path, (hits.get(path) ?? 0) + 1);
      if (path.endsWith(".m3u8")) send(res, 200, vodPlaylist([1, 1, 1], 1));
      else if (path === "/seg-1.ts") send(res, 404, "gone", "text/plain");
      else send(res, 200, segmentBody(path), "video/mp2t");
    });
    const w = watch(`${base}/vod.m3u8`);
    await w.done;
    expect(faults(w.events)).toEqual(["hls.segment-failed"]);
    const f = w.events.find((e) => e.kind === "fault");
    expect(f?.kind === "fault" && f.details).toMatchObject({ sequence: 1, status: 404, attempts: 3 });
    expect(hits.get("/seg-1.ts")).toBe(3);
    expect(w.segments.map((s) => s.sequence)).toEqual([0, 2]);
  });

  it("hls.segment-failed: a network error (connection destroyed) is retried, then reported", async () => {
    const { base } = await serve((path, _t, req, res) => {
      if (path.endsWith(".m3u8")) send(res, 200, vodPlaylist([1, 1], 1));
      else if (path === "/seg-0.ts") req.socket.destroy();
      else send(res, 200, segmentBody(path), "video/mp2t");
    });
    const w = watch(`${base}/vod.m3u8`);
    await w.done;
    expect(faults(w.events)).toEqual(["hls.segment-failed"]);
    expect(w.segments.map((s) => s.sequence)).toEqual([1]);
  });

  it("hls.segment-slow: a 1 s segment takes 1.5 s to arrive", async () => {
    const { base } = await serve((path, _t, _req, res) => {
      if (path.endsWith(".m3u8")) send(res, 200, vodPlaylist([1, 1, 1], 1));
      else if (path === "/seg-1.ts") setTimeout(() => send(res, 200, segmentBody(path), "video/mp2t"), 1500);
      else send(res, 200, segmentBody(path), "video/mp2t");
    });
    const w = watch(`${base}/vod.m3u8`);
    await w.done;
    expect(faults(w.events)).toEqual(["hls.segment-slow"]);
    expect(w.segments.map((s) => s.sequence)).toEqual([0, 1, 2]);
  });

  it("hls.malformed: the message names the line", async () => {
    const { base } = await serve((path, _t, _req, res) => {
      if (path.endsWith(".m3u8"))
        send(res, 200, "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nseg-0.ts\n#EXTINF:x,\nseg-1.ts\n");
      else send(res, 200, segmentBody(path), "video/mp2t");
    });
    const w = watch(`${base}/live.m3u8`);
    await until(() => faults(w.events).length > 0, 10, "a fault");
    await w.source.close();
    expect(faults(w.events)).toEqual(["hls.malformed"]);
    const f = w.events.find((e) => e.kind === "fault");
    expect(f?.kind === "fault" && f.message).toMatch(/line 5/);
    expect(w.segments).toEqual([]);
  });

  it("lost then connected when the playlist is unreachable for a while; no fault", async () => {
    const { base } = await serve((path, t, _req, res) => {
      if (path.endsWith(".m3u8")) {
        if (t > 1 && t < 3.5) send(res, 503, "busy", "text/plain");
        else send(res, 200, livePlaylist({ seq: 10 + Math.floor(t), td: 2, dur: 1 }));
      } else send(res, 200, segmentBody(path), "video/mp2t");
    });
    const w = watch(`${base}/live.m3u8`);
    await until(() => w.events.filter((e) => e.kind === "connected").length >= 2, 10, "reconnection");
    await w.source.close();
    // Playlist-state events are facts, not connection changes: left out here.
    const changes = w.events.filter((e) => e.kind !== "playlist");
    expect(changes.map((e) => e.kind)).toEqual(["connected", "lost", "connected"]);
    expect(changes[1]).toMatchObject({ kind: "lost", fatal: false });
    expect((changes[1] as { reason: string }).reason).toMatch(/503/);
    // The outage is the playlist state's last error.
    expect(w.source.playlistState().lastError?.message).toMatch(/playlist unreachable: .*503/);
  });

  it("lost when the server is not there at all, with backoff; close() stops it", async () => {
    const { base, server } = await serve(() => undefined);
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    const w = watch(`${base}/live.m3u8`);
    await until(() => w.events.length > 0, 5, "lost");
    await w.source.close();
    await w.done;
    expect(w.events).toEqual([expect.objectContaining({ kind: "lost", fatal: false })]);
  });

  it("reports encrypted segments as unsupported and stops", async () => {
    const { base } = await serve((path, _t, _req, res) => {
      if (path.endsWith(".m3u8")) {
        send(
          res,
          200,
          '#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-KEY:METHOD=AES-128,URI="k.bin"\n#EXTINF:1,\nseg-0.ts\n#EXT-X-ENDLIST\n',
        );
      } else send(res, 200, segmentBody(path), "video/mp2t");
    });
    const w = watch(`${base}/vod.m3u8`);
    await w.done;
    expect(faults(w.events)).toEqual(["hls.unsupported-encryption"]);
    expect(w.events.at(-1)).toMatchObject({ kind: "lost", fatal: true });
    expect(w.segments).toEqual([]);
  });

  it("picks a rendition by index and by NAME", async () => {
    const { base } = await serve((path, _t, _req, res) => {
      if (path === "/master.m3u8") {
        send(
          res,
          200,
          '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=9,NAME="a"\na.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=1,NAME="b"\nb.m3u8\n',
        );
      } else if (path === "/a.m3u8" || path === "/b.m3u8") {
        send(
          res,
          200,
          `#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n${path.slice(1, 2)}-0.ts\n#EXT-X-ENDLIST\n`,
        );
      } else send(res, 200, segmentBody(path), "video/mp2t");
    });
    const byIndex = watch(`${base}/master.m3u8`, { rendition: 1 });
    await byIndex.done;
    expect(byIndex.bodies).toEqual(["body of /b-0.ts"]);
    const byName = watch(`${base}/master.m3u8`, { rendition: "a" });
    await byName.done;
    await byName.source.close();
    expect(byName.bodies).toEqual(["body of /a-0.ts"]);
  });

  it("reports the playlist state: variants, target duration, sequence, window, last segment", async () => {
    const { base } = await serve((path, t, _req, res) => {
      if (path === "/master.m3u8") {
        send(
          res,
          200,
          '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2"\nlow.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720\nhigh.m3u8\n',
        );
      } else if (path === "/high.m3u8")
        // The window advances one segment a second, then stops at segment 9: once that has been
        // delivered, every later reload returns the same window, so the state read below cannot
        // race a reload that moved the window past the last delivered segment.
        send(res, 200, livePlaylist({ seq: Math.min(5 + Math.floor(t), LAST), td: 2, dur: 1 }));
      else send(res, 200, segmentBody(path), "video/mp2t");
    });
    const LAST = 9;
    const w = watch(`${base}/master.m3u8`);
    await until(() => w.segments.some((s) => s.sequence === LAST), 15, `segment ${LAST}`);
    expect(w.segments.length).toBeGreaterThanOrEqual(4);
    await w.source.close();
    const states = w.events.flatMap((e) => (e.kind === "playlist" ? [e.playlist] : []));
    expect(states.length).toBeGreaterThan(0);
    const p = w.source.playlistState();
    expect(p.url).toBe(`${base}/high.m3u8`);
    expect(p.variants.map((v) => [v.bandwidth, v.resolution, v.chosen])).toEqual([
      [800000, "640x360", false],
      [3000000, "1280x720", true],
    ]);
    expect(p.variants[0]!.codecs).toBe("avc1.4d401e,mp4a.40.2");
    expect(p.targetDuration).toBe(2);
    expect(p.segments).toBe(4);
    expect(p.windowSeconds).toBe(4);
    expect(p.endList).toBe(false);
    // The window's first segment is the media sequence; the last delivered one is its edge.
    expect(p.lastSegment!.sequence).toBe(LAST);
    expect(p.mediaSequence).toBe(LAST - 3);
    expect(p.lastSegment!.duration).toBe(1);
    expect(p.segmentsDelivered).toBe(w.segments.length);
    expect(p.discontinuities).toBe(0);
    expect(p.lastError).toBeNull();
    expect(Date.now() - Date.parse(p.lastLoadAt!)).toBeLessThan(5000);
  });

  it("playlist state counts discontinuities and keeps the last error", async () => {
    const { base } = await serve((path, _t, _req, res) => {
      if (path === "/live.m3u8")
        send(
          res,
          200,
          "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-DISCONTINUITY-SEQUENCE:2\n" +
            "#EXTINF:1,\na.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:1,\nb.ts\n#EXTINF:1,\nmissing.ts\n#EXT-X-ENDLIST\n",
        );
      else if (path === "/missing.ts") send(res, 404, "gone", "text/plain");
      else send(res, 200, segmentBody(path), "video/mp2t");
    });
    const w = watch(`${base}/live.m3u8`);
    await w.done;
    await w.source.close();
    const p = w.source.playlistState();
    expect(p.mediaSequence).toBe(7);
    expect(p.discontinuitySequence).toBe(2);
    expect(p.endList).toBe(true);
    expect(p.segmentsDelivered).toBe(2);
    expect(p.discontinuities).toBe(1);
    expect(p.lastSegment!.sequence).toBe(8);
    expect(p.lastError?.message).toMatch(/segment 9 failed after 3 attempts: HTTP 404/);
  });
});
