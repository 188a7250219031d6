/**
 * Prometheus metrics, in a registry of our own (the global one would mix in whatever else the
 * process registers, and tests build many APIs in one process). Values are read from the
 * service at scrape time rather than counted here, so a restart of the API cannot make them
 * disagree with the service, and a removed stream's series disappear with it.
 *
 * Label values are bounded: stream names are configured streams only; incident types,
 * severities, detectors, channels and outcomes come from known sets, anything else is `other`.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { DETECTORS, INCIDENT_TYPES } from "../detect/registry.js";
import { SEVERITIES } from "../incident.js";
import type { MetricsSnapshot } from "../service/service-facade.js";

/** Every incident type a registered detector declares; anything else is counted as `other`. */
export const KNOWN_INCIDENT_TYPES: ReadonlySet<string> = new Set(INCIDENT_TYPES.keys());
const KNOWN_SEVERITIES: ReadonlySet<string> = new Set(SEVERITIES);
const KNOWN_CHANNELS: ReadonlySet<string> = new Set(["webhook", "slack", "pagerduty"]);
const KNOWN_OUTCOMES: ReadonlySet<string> = new Set(["delivered", "retry", "failed"]);

function bounded(value: string, known: ReadonlySet<string>): string {
  return known.has(value) ? value : "other";
}

/** Live-event delivery numbers, from the SSE hub. */
export interface LiveEventStats {
  readonly clients: number;
  readonly dropped: number;
}

export class ApiMetrics {
  readonly registry = new Registry();
  private readonly up: Gauge<"stream">;
  private readonly frames: Counter<"stream">;
  private readonly restarts: Counter<"stream">;
  private readonly incidents: Counter<"stream" | "type" | "severity">;
  private readonly detectorCpu: Counter<"stream" | "detector">;
  private readonly costPerMediaSecond: Gauge<"stream">;
  private readonly behindLive: Gauge<"stream">;
  private readonly deliveries: Counter<"channel" | "outcome">;
  private readonly deliveryFailures: Counter<"channel">;
  private readonly promoted: Gauge<"stream">;
  private readonly promotionsTotal: Counter<"stream">;
  private readonly promotionSlots: Gauge<"state">;
  private readonly workerStreams: Gauge<"worker" | "pool">;
  private readonly workerLoad: Gauge<"worker" | "pool">;
  private readonly knownDetectors: ReadonlySet<string> = new Set(DETECTORS.map((d) => d.type));

  constructor(
    private readonly snapshot: () => Promise<MetricsSnapshot>,
    liveEvents: () => LiveEventStats,
  ) {
    const registers = [this.registry];
    this.up = new Gauge({
      name: "streamqc_stream_up",
      help: "1 when the stream's source is connected and decoding, else 0.",
      labelNames: ["stream"],
      registers,
    });
    this.promoted = new Gauge({
      name: "streamqc_stream_promoted",
      help: "Light streams: 1 while promoted to full decoding, else 0.",
      labelNames: ["stream"],
      registers,
    });
    this.promotionsTotal = new Counter({
      name: "streamqc_promotions_total",
      help: "Light streams: promotions to full decoding since the stream's runner started.",
      labelNames: ["stream"],
      registers,
    });
    this.promotionSlots = new Gauge({
      name: "streamqc_promotion_slots",
      help: "Promotion slots of this process: active (decoding in full), queued (waiting), max (the limit).",
      labelNames: ["state"],
      registers,
    });
    this.frames = new Counter({
      name: "streamqc_decoded_frames_total",
      help: "Video frames decoded since the stream's runner started.",
      labelNames: ["stream"],
      registers,
    });
    this.restarts = new Counter({
      name: "streamqc_decoder_restarts_total",
      help: "Times the stream's source was lost and reconnected.",
      labelNames: ["stream"],
      registers,
    });
    this.incidents = new Counter({
      name: "streamqc_incidents_total",
      help: "Incidents opened, by stream, type (unknown types as `other`) and severity.",
      labelNames: ["stream", "type", "severity"],
      registers,
    });
    this.detectorCpu = new Counter({
      name: "streamqc_detector_cpu_seconds_total",
      help: "CPU seconds spent in each detector.",
      labelNames: ["stream", "detector"],
      registers,
    });
    this.costPerMediaSecond = new Gauge({
      name: "streamqc_stream_cpu_seconds_per_media_second",
      help: "CPU seconds (decoder and detectors) per second of media, since the stream started.",
      labelNames: ["stream"],
      registers,
    });
    this.behindLive = new Gauge({
      name: "streamqc_stream_behind_live_seconds",
      help: "Live streams: seconds the monitoring is behind the live signal (0 while it keeps up; it grows when the process cannot decode its streams in real time).",
      labelNames: ["stream"],
      registers,
    });
    this.deliveries = new Counter({
      name: "streamqc_alert_deliveries_total",
      help: "Alert delivery attempts by channel and outcome (delivered, retry, failed).",
      labelNames: ["channel", "outcome"],
      registers,
    });
    this.deliveryFailures = new Counter({
      name: "streamqc_alert_delivery_failures_total",
      help: "Alerts given up on after the last retry, by channel.",
      labelNames: ["channel"],
      registers,
    });
    this.workerStreams = new Gauge({
      name: "streamqc_fleet_worker_streams",
      help: "Fleet: stream leases each worker holds (from the database).",
      labelNames: ["worker", "pool"],
      registers,
    });
    this.workerLoad = new Gauge({
      name: "streamqc_fleet_worker_load",
      help: "Fleet: each worker's measured load, CPU seconds per media second over its streams.",
      labelNames: ["worker", "pool"],
      registers,
    });
    new Gauge({
      name: "streamqc_sse_clients",
      help: "Connected live-event (SSE) clients.",
      registers,
      collect() {
        this.set(liveEvents().clients);
      },
    });
    new Counter({
      name: "streamqc_sse_dropped_events_total",
      help: "Live events dropped for clients that did not read fast enough.",
      registers,
      collect() {
        this.reset();
        this.inc(liveEvents().dropped);
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: "streamqc_" });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private rendering: Promise<string> | null = null;

  /**
   * Reads one snapshot from the service, then renders the exposition. Concurrent scrapes share
   * one rendering, so one scrape's reset cannot land in the middle of another's output.
   */
  render(): Promise<string> {
    if (!this.rendering) {
      const p = this.renderOnce().finally(() => {
        if (this.rendering === p) this.rendering = null;
      });
      this.rendering = p;
    }
    return this.rendering;
  }

  private async renderOnce(): Promise<string> {
    this.apply(await this.snapshot());
    return this.registry.metrics();
  }

  private apply(s: MetricsSnapshot): void {
    // Reset then set: the series of streams, channels or types that are gone vanish.
    for (const m of [
      this.up,
      this.frames,
      this.restarts,
      this.incidents,
      this.detectorCpu,
      this.costPerMediaSecond,
      this.behindLive,
      this.deliveries,
      this.deliveryFailures,
      this.promoted,
      this.promotionsTotal,
      this.promotionSlots,
      this.workerStreams,
      this.workerLoad,
    ]) {
      m.reset();
    }
    for (const st of s.streams) {
      const stream = st.name;
      this.up.set({ stream }, st.up ? 1 : 0);
      this.frames.inc({ stream }, st.frames);
      this.restarts.inc({ stream }, st.restarts);
      if (st.promotions !== undefined) {
        this.promoted.set({ stream }, st.promoted ? 1 : 0);
        this.promotionsTotal.inc({ stream }, st.promotions);
      }
      if (st.cpuSecondsPerMediaSecond !== null) {
        this.costPerMediaSecond.set({ stream }, st.cpuSecondsPerMediaSecond);
      }
      if (st.behindLiveSeconds !== undefined && st.behindLiveSeconds !== null) {
        this.behindLive.set({ stream }, st.behindLiveSeconds);
      }
      for (const [detector, seconds] of Object.entries(st.detectorCpuSeconds)) {
        this.detectorCpu.inc({ stream, detector: bounded(detector, this.knownDetectors) }, seconds);
      }
    }
    const streams = new Set(s.streams.map((st) => st.name));
    for (const i of s.incidents) {
      // Incidents of deleted streams stay in the store but not in the metrics.
      if (!streams.has(i.stream)) continue;
      this.incidents.inc(
        {
          stream: i.stream,
          type: bounded(i.type, KNOWN_INCIDENT_TYPES),
          severity: bounded(i.severity, KNOWN_SEVERITIES),
        },
        i.count,
      );
    }
    for (const d of s.alertDeliveries) {
      this.deliveries.inc(
        { channel: bounded(d.channel, KNOWN_CHANNELS), outcome: bounded(d.outcome, KNOWN_OUTCOMES) },
        d.count,
      );
    }
    if (s.promotions) {
      for (const state of ["active", "queued", "max"] as const) {
        this.promotionSlots.set({ state }, s.promotions[state]);
      }
    }
    for (const f of s.alertFailures) {
      this.deliveryFailures.inc({ channel: bounded(f.channel, KNOWN_CHANNELS) }, f.count);
    }
    for (const w of s.workers ?? []) {
      this.workerStreams.set({ worker: w.name, pool: w.pool }, w.streams);
      this.workerLoad.set({ worker: w.name, pool: w.pool }, w.load);
    }
  }
}
