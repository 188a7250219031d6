/**
 * The in-process design, as it is: `streamqc serve`'s own service (startService: one decoder
 * per stream, every detector in memory, incidents and evidence in SQLite and the evidence
 * directory, the HTTP API listening on localhost), run on the benchmark's live inputs until
 * every stream has `seconds` of media, then closed (which closes what is still open).
 * Its CPU is read from /proc after the service closed, when every decoder has exited and been
 * waited for: this process's own CPU plus its decoders'.
 */
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { errorMessage } from "../../errors.js";
import { startService } from "../../cli/serve-command.js";
import { SqliteStore } from "../../store/sqlite-store.js";
import { cpuTimes } from "./proc-stats.js";
import type { ComparedIncident, InProcessReply, InProcessStart } from "./protocol.js";

function send(m: InProcessReply): void {
  process.send?.(m);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runInProcess(o: InProcessStart): Promise<number> {
  const mediaSeconds: Record<string, number> = {};
  let error: string | undefined;
  let cpuAtStart = cpuTimes();
  try {
    const running = await startService({
      overrides: {
        dataDir: o.dataDir,
        ffmpeg: o.ffmpegPath,
        allowFileInputs: true,
        stallTimeoutMs: o.stallTimeoutMs,
        server: { host: "127.0.0.1", port: 0 },
        profiles: { default: { detectors: o.profile.detectors ?? {}, severity: o.profile.severity ?? {} } },
        streams: o.streams.map((s) => ({
          name: s.name,
          url: s.input,
          profile: "default",
          labels: {},
          enabled: true,
        })),
      },
      logStream: createWriteStream(join(o.dataDir, "service.log")),
    });
    // Start-up (loading modules, opening the store, the API listening) happens once per
    // service, not per stream-hour: the rate is measured from here.
    cpuAtStart = cpuTimes();
    send({ kind: "running" });
    const streams = await running.service.listStreams();
    // Live: the service runs until every stream has played `seconds` of media.
    // Each stream is stopped (as `POST /streams/{id}/stop` does) once it has played `seconds`
    // of media, like the staged converter's reader, so both designs see the same media.
    const deadline = Date.now() + (o.seconds * 4 + 30) * 1000;
    const live = new Set(streams.map((s) => s.id));
    while (live.size > 0 && Date.now() < deadline) {
      for (const s of streams) {
        if (!live.has(s.id)) continue;
        const t = running.service.streamState(s.id)?.mediaTime ?? 0;
        mediaSeconds[s.name] = t;
        if (t >= o.seconds) {
          live.delete(s.id);
          await running.service.stopStream(s.id);
        }
      }
      await sleep(20);
    }
    await running.close();
  } catch (err) {
    error = errorMessage(err);
  }
  send({
    kind: "end",
    cpu: cpuTimes(),
    cpuAtStart,
    mediaSeconds,
    incidents: error === undefined ? await readIncidents(join(o.dataDir, "streamqc.db")) : [],
    ...(error !== undefined ? { error } : {}),
  });
  return error === undefined ? 0 : 1;
}

/** Every incident in a store, as the two designs are compared. */
export async function readIncidents(dbPath: string): Promise<ComparedIncident[]> {
  const store = new SqliteStore(dbPath);
  try {
    const out: ComparedIncident[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await store.queryIncidents({ limit: 100, ...(cursor ? { cursor } : {}) });
      for (const i of page.items) {
        out.push({ stream: i.stream, type: i.type, start: i.start, end: i.end, severity: i.severity });
      }
      if (!page.next) break;
      cursor = page.next;
    }
    return out.sort(
      (a, b) => a.stream.localeCompare(b.stream) || a.start - b.start || a.type.localeCompare(b.type),
    );
  } finally {
    await store.close();
  }
}

export function runInProcessChild(): Promise<number> {
  return new Promise((resolveExit) => {
    process.once("message", (m: InProcessStart) => {
      void runInProcess(m).then((code) => {
        process.disconnect?.();
        resolveExit(code);
      });
    });
  });
}
