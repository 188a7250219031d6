/**
 * `streamqc watch URL`: one live stream in the terminal — the state of each detector, audio
 * levels, and incidents as they open and close. On a terminal it redraws a status panel;
 * piped, it prints one line per event.
 */
import { ffmpegPathFrom } from "../config/config.js";
import { loadAnalysisConfig } from "../config/service-config.js";
import { resolveProfile } from "../config/profile.js";
import { StreamqcError } from "../errors.js";
import { checkFfmpeg } from "../ingest/ffmpeg-binary.js";
import { MediaReader } from "../ingest/media-reader.js";
import type { StreamEvent } from "../ingest/media.js";
import { openSource } from "../ingest/open-source.js";
import { streamNameOf } from "../monitor/analyze.js";
import { LevelMeter, type Levels } from "../monitor/level-meter.js";
import { StreamMonitor, type IncidentEvent } from "../monitor/stream-monitor.js";
import { formatClock, incidentLine } from "./output.js";
import type { Io, WatchOptions } from "./command-options.js";

export async function runWatch(url: string, values: WatchOptions, io: Io): Promise<number> {
  const { out } = io;
  const duration = values.duration === undefined ? undefined : Number(values.duration);
  if (duration !== undefined && !(duration > 0)) {
    throw new StreamqcError("SQM_ERR_USAGE", "--duration must be a positive number of seconds");
  }
  const config = loadAnalysisConfig(values.config);
  const ffmpegPath = ffmpegPathFrom(config);
  checkFfmpeg(ffmpegPath);
  const profile = resolveProfile(config.profile ?? {});
  // A file is played at its own rate, as if it were live.
  const source = openSource(url, { realtime: true });
  const tty = out.isTTY === true;
  const log: string[] = [];
  const say = (line: string): void => {
    const stamped = `${new Date().toISOString().slice(11, 19)}  ${line}`;
    if (tty) {
      log.push(stamped);
      if (log.length > 12) log.shift();
    } else out.write(stamped + "\n");
  };
  const onIncident = (e: IncidentEvent): void => {
    if (e.phase === "update") return;
    say(`${e.phase === "open" ? "OPEN " : "CLOSE"} ${incidentLine(e.incident)}`);
  };
  const monitor = new StreamMonitor({ stream: streamNameOf(url), profile, onIncident });
  const meter = new LevelMeter();
  let levels: Levels = { peakDbfs: [], rmsDbfs: [] };
  let state = "connecting";
  let frames = 0;
  let lastPts = 0;
  const reader = new MediaReader(
    source,
    {
      ffmpegPath,
      threads: 1,
      detail: profile.detectors.some((d) => d.definition.needs.detail),
      ...(duration !== undefined ? { duration } : {}),
    },
    {
      video: (f) => {
        frames++;
        lastPts = f.pts;
        monitor.video(f);
      },
      detail: (f) => monitor.detail(f),
      audio: (b) => {
        meter.push(b);
        monitor.audio(b);
      },
      event: (e: StreamEvent) => {
        monitor.event(e);
        if (e.kind === "connected") state = "up";
        if (e.kind === "lost") state = `down: ${e.reason}`;
        if (e.kind === "connected" || e.kind === "lost")
          say(`${e.kind.toUpperCase()} ${"reason" in e ? e.reason : e.url}`);
        if (e.kind === "decoder-error") say(`decoder: ${e.message}`);
      },
    },
  );
  let lastFrames = 0;
  const draw = (): void => {
    levels = meter.take();
    const fps = (frames - lastFrames) * 2;
    lastFrames = frames;
    if (!tty) return;
    const lines = [
      `streamqc watch  ${url}`,
      `state ${state}   media ${formatClock(lastPts)}   ${fps} fps   decoder ${reader.running ? `pid ${String(reader.pid)}` : "not running"}   decoder errors ${reader.stats.decoderErrors}`,
      `levels peak ${levels.peakDbfs.map((v) => v.toFixed(1)).join(" / ") || "-"} dBFS   rms ${levels.rmsDbfs.map((v) => v.toFixed(1)).join(" / ") || "-"} dBFS`,
      "",
      "detectors:",
      ...monitor.detectors.map((d) => `  ${d.type.padEnd(18)} ${JSON.stringify(d.measure?.() ?? {})}`),
      "",
      "open incidents:",
      ...(monitor.openIncidents().map((i) => "  " + incidentLine(i)) || []),
      "",
      "events:",
      ...log.map((l) => "  " + l),
    ];
    out.write("\x1b[H\x1b[2J" + lines.join("\n") + "\n");
  };
  const timer = setInterval(draw, 500);
  const stop = (): void => void reader.close();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    reader.start();
    const result = await reader.done;
    monitor.flush(result.mediaEnd);
    draw();
    return 0;
  } finally {
    clearInterval(timer);
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await reader.close();
  }
}
