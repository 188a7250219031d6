/**
 * The wall's browser benchmark (part of `npm run bench`): the built dashboard in Debian's
 * Chromium with 100 simulated streams whose levels update twice a second (and a thumbnail
 * every 5 s, an incident opening or closing every second), against the same page with the
 * event stream idle, measured in the same run in interleaved rounds. Reports main-thread long
 * tasks (PerformanceObserver `longtask`, over 50 ms), frame rate (requestAnimationFrame
 * callbacks per second) and the page weight (JS + CSS, gzip and brotli).
 *
 * The API here is simulated (a small HTTP server with the service's routes and event format):
 * the bench measures the page, and a hundred real decoders would measure ffmpeg instead.
 *
 * Chromium's Performance counters (style recalculations, layouts, script/style/layout time)
 * say where the main thread goes; `--baseline REF` builds the dashboard of a git revision and
 * measures it in the same run, rounds interleaved with the current build's.
 *
 * Usage: tsx scripts/wall-bench.ts [--streams N] [--seconds S] [--rounds R] [--width W --height H]
 *        [--baseline REF]
 * (WALL_PROFILE=1 prints the hottest functions of a CPU profile of the live page first;
 * WALL_TRACE=1 the renderer main thread's CPU time per Chromium trace event, per build.)
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { chromium } from "playwright-core";

const { values } = parseArgs({
  options: {
    streams: { type: "string", default: "100" },
    seconds: { type: "string", default: "15" },
    rounds: { type: "string", default: "3" },
    width: { type: "string", default: "1920" },
    height: { type: "string", default: "1080" },
    baseline: { type: "string" },
  },
});
const N = Number(values.streams);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const ROOT = join(import.meta.dirname, "..");
const WEB = join(ROOT, "dist/web");
/**
 * `--baseline REF`: the dashboard of that git revision is built into a temporary directory and
 * measured in the same run, its rounds interleaved with the current build's, so a change is
 * compared under the same (shared, noisy) machine load.
 */
const BASELINE_REF = values.baseline;
const CHROMIUM = process.env["STREAMQC_CHROMIUM"] ?? "/usr/bin/chromium";
const TYPES = ["video.freeze", "video.black", "audio.silence", "audio.loudness", "ts.cc-error"];
const SEVERITY: Record<string, string> = {
  "video.freeze": "major",
  "video.black": "critical",
  "audio.silence": "major",
  "audio.loudness": "minor",
  "ts.cc-error": "minor",
};

// ---- the simulated service
const tmp = mkdtempSync(join(tmpdir(), "streamqc-wall-bench-"));
const jpegFile = join(tmp, "thumb.jpg");
execFileSync("ffmpeg", [
  "-hide_banner",
  "-loglevel",
  "error",
  "-f",
  "lavfi",
  "-i",
  "testsrc2=size=320x180:rate=1",
  "-frames:v",
  "1",
  jpegFile,
]);
const jpeg = readFileSync(jpegFile);
const now = new Date().toISOString();
const streams = Array.from({ length: N }, (_, i) => ({
  id: `s${String(i).padStart(3, "0")}`,
  name: `channel-${String(i + 1).padStart(3, "0")}`,
  url: i % 3 === 0 ? `http://127.0.0.1/ch${i}/live.m3u8` : `udp://239.0.0.${i % 250}:5000`,
  profile: "default",
  labels: { region: ["eu", "us", "apac"][i % 3]!, team: i % 2 ? "news" : "sport" },
  enabled: true,
  createdAt: now,
  updatedAt: now,
}));
const state = (s: (typeof streams)[number]) => ({
  id: s.id,
  name: s.name,
  status: "up",
  since: now,
  lastError: null,
  mediaTime: 100,
  restarts: 0,
  frames: 2500,
  decoderErrors: 0,
  levels: { peakDbfs: [-12, -13], rmsDbfs: [-20, -21] },
  measurements: {
    "audio.loudness": { lufsMomentary: -23, lufsShortTerm: -23, lufsIntegrated: -23, target: -23 },
  },
  openIncidents: [],
  cost: { decoderCpuSeconds: 1, detectorCpuSeconds: 0.1, perMediaSecond: 0.05 },
  detectorCpuMs: {},
});
interface SimIncident {
  id: string;
  stream: string;
  streamId: string;
  type: string;
  start: number;
  end: number | null;
  duration: number | null;
  severity: string;
  details: Record<string, unknown>;
  startedAt: string;
  endedAt: string | null;
  evidence: never[];
  acknowledged: null;
}
const open = new Map<string, SimIncident>();
let seq = 0;
let live = false;
const clients = new Set<ServerResponse>();

function json(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
}

const handler = (web: string) => (req: IncomingMessage, res: ServerResponse) => {
  const url = new URL(req.url ?? "/", "http://x");
  const p = url.pathname;
  const WEB = web;
  if (p === "/") {
    res.writeHead(200, { "content-type": "text/html" }).end(readFileSync(join(WEB, "index.html")));
  } else if (p.startsWith("/assets/")) {
    const f = p.slice("/assets/".length).replace(/[^A-Za-z0-9_.-]/g, "");
    res
      .writeHead(200, { "content-type": f.endsWith(".css") ? "text/css" : "text/javascript" })
      .end(readFileSync(join(WEB, "assets", f)));
  } else if (p === "/api/v1/streams") json(res, { items: streams });
  else if (/^\/api\/v1\/streams\/[^/]+\/state$/.test(p)) {
    json(res, state(streams.find((s) => s.id === p.split("/")[4]) ?? streams[0]!));
  } else if (/^\/api\/v1\/streams\/[^/]+\/thumbnail$/.test(p)) {
    res.writeHead(200, { "content-type": "image/jpeg", "cache-control": "no-store" }).end(jpeg);
  } else if (p === "/api/v1/incidents") json(res, { items: [...open.values()], next: null });
  else if (p === "/api/v1/maintenance") json(res, { items: [] });
  else if (p === "/api/v1/events") {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.write("retry: 3000\n\n");
    clients.add(res);
    res.on("close", () => clients.delete(res));
  } else res.writeHead(404, { "content-type": "application/json" }).end('{"message":"no route"}');
};

// One simulated service per build measured (the same events go to every page connected).
async function serve(web: string): Promise<{ server: Server; base: string }> {
  const server = createServer(handler(web));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { server, base: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

function buildBaseline(ref: string): string {
  const dir = join(tmp, "baseline");
  mkdirSync(dir);
  const tar = execFileSync("git", ["-C", ROOT, "archive", ref, "src/web", "scripts/bundle-web.mjs"]);
  execFileSync("tar", ["-x", "-C", dir], { input: tar });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  execFileSync("node", ["scripts/bundle-web.mjs"], { cwd: dir, stdio: ["ignore", "ignore", "ignore"] });
  return join(dir, "dist/web");
}

const variants: { name: string; web: string }[] = [{ name: "current", web: WEB }];
if (BASELINE_REF !== undefined)
  variants.unshift({ name: `baseline ${BASELINE_REF}`, web: buildBaseline(BASELINE_REF) });
const servers = await Promise.all(variants.map((v) => serve(v.web)));

function send(event: string, data: unknown): void {
  const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  for (const c of clients) c.write(frame);
}

// Levels twice a second for every stream, spread over the half second as the service's
// runners are; thumbnails every 5 s per stream; an incident opens or closes every second.
let tick = 0;
const levelTimer = setInterval(() => {
  if (!live) return;
  tick++;
  const slot = tick % 10;
  for (let i = slot; i < N; i += 10) {
    const s = streams[i]!;
    const t = Date.now() / 1000 + i;
    const l = -20 + 8 * Math.sin(t);
    send("stream.levels", {
      type: "stream.levels",
      streamId: s.id,
      levels: { peakDbfs: [l + 6, l + 5], rmsDbfs: [l, l - 1], momentaryLufs: l - 3 },
      ...(tick % 100 === slot * 10
        ? { thumbnail: { url: `/api/v1/streams/${s.id}/thumbnail`, pts: t } }
        : {}),
    });
  }
}, 50);
const incidentTimer = setInterval(() => {
  if (!live) return;
  const s = streams[Math.floor(Math.random() * N)]!;
  const existing = [...open.values()].find((i) => i.streamId === s.id);
  if (existing && open.size > N / 10) {
    open.delete(existing.id);
    const closed = { ...existing, end: 10, duration: 5, endedAt: new Date().toISOString() };
    send("incident.closed", { type: "incident.closed", incident: closed });
    return;
  }
  const type = TYPES[seq % TYPES.length]!;
  const inc: SimIncident = {
    id: `i${++seq}`,
    stream: s.name,
    streamId: s.id,
    type,
    start: 5,
    end: null,
    duration: null,
    severity: SEVERITY[type]!,
    details: {},
    startedAt: new Date().toISOString(),
    endedAt: null,
    evidence: [],
    acknowledged: null,
  };
  open.set(inc.id, inc);
  send("incident.opened", { type: "incident.opened", incident: inc });
}, 1000);

// ---- the browser
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const context = await browser.newContext({
  viewport: { width: Number(values.width), height: Number(values.height) },
});
const page = await context.newPage();
// A string, not a function: tsx would wrap a function's inner closures in its `__name` helper,
// which does not exist in the page.
await page.addInitScript(`
  globalThis.benchLongTasks = [];
  globalThis.benchFrames = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) globalThis.benchLongTasks.push(e.duration);
  }).observe({ type: "longtask", buffered: true });
  const frame = () => {
    globalThis.benchFrames++;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
`);

async function load(v: number): Promise<void> {
  live = false;
  await page.goto(`${servers[v]!.base}/#/`);
  await page
    .locator("[data-stream]")
    .nth(N - 1)
    .waitFor({ timeout: 60_000 });
}

// Chromium's own counters (CDP Performance domain): how often and how long it restyled, laid
// out and ran script, which says where a slow frame goes.
const cdp = await context.newCDPSession(page);
await cdp.send("Performance.enable");
const CDP_METRICS = [
  "LayoutCount",
  "RecalcStyleCount",
  "LayoutDuration",
  "RecalcStyleDuration",
  "ScriptDuration",
  "TaskDuration",
  "ThreadTime",
  "ProcessTime",
] as const;
type CdpMetric = (typeof CDP_METRICS)[number];
async function cdpMetrics(): Promise<Record<CdpMetric, number>> {
  const { metrics } = await cdp.send("Performance.getMetrics");
  const out = {} as Record<CdpMetric, number>;
  for (const k of CDP_METRICS) out[k] = metrics.find((m) => m.name === k)?.value ?? 0;
  return out;
}

interface Round {
  readonly variant: number;
  readonly mode: "idle" | "live";
  readonly fps: number;
  readonly longTasks: number;
  readonly longTaskMs: number;
  readonly maxLongTaskMs: number;
  readonly events: number;
  /** Per second: layouts and style recalculations; fraction of wall time: their durations. */
  readonly layoutsPerS: number;
  readonly stylesPerS: number;
  readonly layoutShare: number;
  readonly styleShare: number;
  readonly scriptShare: number;
  readonly taskShare: number;
  /**
   * CPU seconds per second of the renderer's main thread and of its whole process (raster and
   * compositor threads too): unlike frame rate and long tasks, which count time the shared
   * machine gave to other processes, these are the page's own cost.
   */
  readonly mainCpu: number;
  readonly processCpu: number;
  /** Main-thread CPU milliseconds per frame drawn. */
  readonly cpuMsPerFrame: number;
}

async function round(variant: number, mode: "idle" | "live"): Promise<Round> {
  live = mode === "live";
  await new Promise((r) => setTimeout(r, 1500));
  const read = () =>
    page.evaluate(() => {
      const g = globalThis as unknown as {
        benchLongTasks: number[];
        benchFrames: number;
        streamqc: { applied: number };
      };
      return { tasks: [...g.benchLongTasks], frames: g.benchFrames, applied: g.streamqc.applied };
    });
  const a = await read();
  const ma = await cdpMetrics();
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const b = await read();
  const mb = await cdpMetrics();
  const seconds = (Date.now() - t0) / 1000;
  const tasks = b.tasks.slice(a.tasks.length);
  return {
    variant,
    mode,
    fps: (b.frames - a.frames) / seconds,
    longTasks: tasks.length,
    longTaskMs: tasks.reduce((x, y) => x + y, 0),
    maxLongTaskMs: tasks.reduce((x, y) => Math.max(x, y), 0),
    events: (b.applied - a.applied) / seconds,
    layoutsPerS: (mb.LayoutCount - ma.LayoutCount) / seconds,
    stylesPerS: (mb.RecalcStyleCount - ma.RecalcStyleCount) / seconds,
    layoutShare: (mb.LayoutDuration - ma.LayoutDuration) / seconds,
    styleShare: (mb.RecalcStyleDuration - ma.RecalcStyleDuration) / seconds,
    scriptShare: (mb.ScriptDuration - ma.ScriptDuration) / seconds,
    taskShare: (mb.TaskDuration - ma.TaskDuration) / seconds,
    mainCpu: (mb.ThreadTime - ma.ThreadTime) / seconds,
    processCpu: (mb.ProcessTime - ma.ProcessTime) / seconds,
    cpuMsPerFrame: ((mb.ThreadTime - ma.ThreadTime) * 1000) / Math.max(1, b.frames - a.frames),
  };
}

const CURRENT = variants.length - 1;
if (process.env["WALL_PROFILE"]) {
  await load(CURRENT);
  live = true;
  await new Promise((r) => setTimeout(r, 2000));
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.start");
  await new Promise((r) => setTimeout(r, 6000));
  const { profile } = (await cdp.send("Profiler.stop")) as unknown as {
    profile: {
      nodes: {
        id: number;
        callFrame: { functionName: string; url: string; lineNumber: number };
        hitCount?: number;
      }[];
    };
  };
  const self = new Map<string, number>();
  for (const n of profile.nodes) {
    const k = `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.split("/").pop()}:${n.callFrame.lineNumber}`;
    self.set(k, (self.get(k) ?? 0) + (n.hitCount ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25))
    process.stderr.write(`${((v / total) * 100).toFixed(1)}% ${k}\n`);
}

interface TraceEvent {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  tdur?: number;
  pid: number;
  tid: number;
  args?: { name?: string };
}

/**
 * Where the renderer's main thread spends 5 s of live updates, from Chromium's own tracing:
 * self CPU time (thread time, so other processes' load does not inflate it) per trace event.
 */
async function traceLive(v: number): Promise<void> {
  await load(v);
  live = true;
  await new Promise((r) => setTimeout(r, 2000));
  const categories =
    process.env["WALL_TRACE_CATEGORIES"] ??
    "devtools.timeline,disabled-by-default-devtools.timeline,blink,cc,v8";
  const frames = () => page.evaluate(() => (globalThis as unknown as { benchFrames: number }).benchFrames);
  const f0 = await frames();
  await browser.startTracing(page, { categories: categories.split(",") });
  await new Promise((r) => setTimeout(r, 5000));
  const f1 = await frames();
  const ev = (JSON.parse((await browser.stopTracing()).toString("utf8")) as { traceEvents: TraceEvent[] })
    .traceEvents;
  live = false;
  const main = ev.find((e) => e.ph === "M" && e.args?.name === "CrRendererMain");
  const spans = ev
    .filter((e) => main && e.pid === main.pid && e.tid === main.tid && e.ph === "X" && e.tdur !== undefined)
    .sort((a, b) => a.ts - b.ts || (b.dur ?? 0) - (a.dur ?? 0));
  const selfMs = new Map<string, number>();
  const stack: { end: number; name: string }[] = [];
  let top = 0;
  for (const e of spans) {
    while (stack.length > 0 && stack[stack.length - 1]!.end <= e.ts) stack.pop();
    const parent = stack[stack.length - 1];
    const ms = (e.tdur ?? 0) / 1000;
    if (!parent) top += ms;
    selfMs.set(e.name, (selfMs.get(e.name) ?? 0) + ms);
    if (parent) selfMs.set(parent.name, (selfMs.get(parent.name) ?? 0) - ms);
    stack.push({ end: e.ts + (e.dur ?? 0), name: e.name });
  }
  process.stderr.write(
    `${variants[v]!.name}: renderer main thread CPU over 5 s live: ${top.toFixed(0)} ms, ${f1 - f0} frames (${(top / Math.max(1, f1 - f0)).toFixed(1)} ms per frame); self CPU by trace event:\n`,
  );
  for (const [k, ms] of [...selfMs].sort((a, b) => b[1] - a[1]).slice(0, 15))
    process.stderr.write(`  ${ms.toFixed(0).padStart(6)} ms ${k}\n`);
}
if (process.env["WALL_TRACE"]) for (let v = 0; v < variants.length; v++) await traceLive(v);

const rounds: Round[] = [];
let visibleTiles = 0;
for (let r = 0; r < ROUNDS; r++) {
  for (let v = 0; v < variants.length; v++) {
    await load(v);
    rounds.push(await round(v, "idle"));
    rounds.push(await round(v, "live"));
    if (v === CURRENT)
      visibleTiles = await page.evaluate(() => {
        const g = globalThis as unknown as {
          document: { querySelectorAll(s: string): ArrayLike<{ querySelector(s: string): unknown }> };
        };
        return Array.from(g.document.querySelectorAll("[data-stream]")).filter((t) =>
          t.querySelector(".meter-canvas, .meter-bars"),
        ).length;
      });
  }
}
function weight(web: string): { raw: number; gz: number; br: number } {
  const assets = readFileSync(join(web, "index.html"), "utf8").match(/\/assets\/[^"]+/g) ?? [];
  const w = { raw: 0, gz: 0, br: 0 };
  for (const a of assets) {
    const bytes = readFileSync(join(web, a));
    w.raw += bytes.length;
    w.gz += gzipSync(bytes, { level: 9 }).length;
    w.br += brotliCompressSync(bytes).length;
  }
  return w;
}

const weights = variants.map((v) => weight(v.web));
live = false;
clearInterval(levelTimer);
clearInterval(incidentTimer);
await browser.close();
for (const c of clients) c.end();
for (const s of servers) s.server.close();
rmSync(tmp, { recursive: true, force: true });

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;
const lines = [
  `wall bench: ${N} simulated streams, levels twice a second each, ${ROUNDS} interleaved rounds of ${SECONDS} s${variants.length > 1 ? " per build" : ""}, medians; the machine is shared, so compare live with idle (and builds) of the same run`,
  `  tiles rendering meters (on screen, ${values.width}x${values.height}): ${visibleTiles} of ${N}; the rest skip rendering`,
];
variants.forEach((variant, v) => {
  const of = (mode: Round["mode"], k: keyof Omit<Round, "mode" | "variant">): number =>
    median(rounds.filter((r) => r.variant === v && r.mode === mode).map((r) => r[k]));
  const w = weights[v]!;
  lines.push(
    `  ${variant.name} (${of("live", "events").toFixed(0)} events/s applied):`,
    `    frame rate: idle ${of("idle", "fps").toFixed(1)} fps, live ${of("live", "fps").toFixed(1)} fps (ratio ${(of("live", "fps") / of("idle", "fps")).toFixed(2)})`,
    `    CPU (the page's own cost): main thread idle ${(of("idle", "mainCpu") * 100).toFixed(0)} %, live ${(of("live", "mainCpu") * 100).toFixed(0)} % of a core (${of("live", "cpuMsPerFrame").toFixed(1)} ms per frame); renderer process idle ${(of("idle", "processCpu") * 100).toFixed(0)} %, live ${(of("live", "processCpu") * 100).toFixed(0)} %`,
    `    long tasks (>50 ms) per ${SECONDS} s: idle ${of("idle", "longTasks")} (${of("idle", "longTaskMs").toFixed(0)} ms), live ${of("live", "longTasks")} (${of("live", "longTaskMs").toFixed(0)} ms, longest ${of("live", "maxLongTaskMs").toFixed(0)} ms)`,
    ...(["idle", "live"] as const).map(
      (m) =>
        `    main thread ${m}: busy ${(of(m, "taskShare") * 100).toFixed(0)} % (script ${(of(m, "scriptShare") * 100).toFixed(0)} %, style ${(of(m, "styleShare") * 100).toFixed(0)} %, layout ${(of(m, "layoutShare") * 100).toFixed(0)} %), ${of(m, "stylesPerS").toFixed(1)} style recalcs/s, ${of(m, "layoutsPerS").toFixed(1)} layouts/s`,
    ),
    `    page weight (JS + CSS): ${kib(w.raw)} raw, ${kib(w.gz)} gzip, ${kib(w.br)} brotli (budget 100 KB compressed: ${w.gz <= 100_000 ? "within" : "OVER"})`,
    "    rounds: " +
      rounds
        .filter((r) => r.variant === v)
        .map(
          (r) =>
            `${r.mode} ${r.fps.toFixed(1)} fps ${(r.mainCpu * 100).toFixed(0)} % CPU ${r.longTasks} long (${r.longTaskMs.toFixed(0)} ms)`,
        )
        .join("; "),
  );
});
process.stdout.write(lines.join("\n") + "\n");
