/**
 * SIMULATED stream, for fleet tests and the fleet benchmark only: a `sim:` URL stands in for
 * a decoder and its detectors so one machine can run a thousand streams. Coordination,
 * incident recording, the store and the alert outbox see exactly what a real stream gives
 * them; only the media is missing. Every report that uses it says so.
 *
 *   sim:NAME?period=20&duty=8&type=video.freeze&cost=0.05
 *
 * The defect is on while (wall-clock seconds mod period) < duty, so every owner of the
 * stream sees the same defect windows (a period that divides 3600 keeps them the same on a
 * machine whose clock is whole hours off). `cost` is the CPU seconds per media second the
 * stream reports (synthetic: placement by cost can be tested without burning the CPU).
 */
import { randomUUID } from "node:crypto";
import type { ResolvedProfile } from "../config/profile.js";
import { StreamqcError } from "../errors.js";
import { roundTime, type Incident } from "../incident.js";
import type { IncidentEvent } from "../monitor/stream-monitor.js";
import type { StreamDefinition, StreamState, StreamStatus } from "../service/stream-runner.js";

export interface SimulatedSpec {
  readonly periodS: number;
  readonly dutyS: number;
  readonly type: string;
  readonly cost: number;
}

export function isSimulatedUrl(url: string): boolean {
  return url.startsWith("sim:");
}

export function parseSimulatedUrl(url: string): SimulatedSpec {
  const u = new URL(url);
  const num = (k: string, d: number): number => {
    const v = u.searchParams.get(k);
    const n = v === null ? d : Number(v);
    if (!Number.isFinite(n) || n < 0)
      throw new StreamqcError("SQM_ERR_USAGE", `${url}: ${k} must be a number ≥ 0`);
    return n;
  };
  const spec = {
    periodS: num("period", 60),
    dutyS: num("duty", 0),
    type: u.searchParams.get("type") ?? "video.freeze",
    cost: num("cost", 0.01),
  };
  if (spec.periodS <= 0 || spec.dutyS >= spec.periodS) {
    throw new StreamqcError("SQM_ERR_USAGE", `${url}: need period > 0 and duty < period`);
  }
  return spec;
}

export interface SimulatedRunnerDeps {
  onIncident(event: IncidentEvent): void;
  onState?(state: StreamState): void;
  /** Wall clock (the defect windows follow it); injectable for tests. */
  readonly now?: () => number;
  /** Tick period; default 1000 ms. */
  readonly tickMs?: number;
}

export class SimulatedRunner {
  readonly #spec: SimulatedSpec;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #startedMs = 0;
  #status: StreamStatus = "stopped";
  #since = new Date();
  #open: Incident | null = null;

  constructor(
    readonly definition: StreamDefinition,
    private readonly profile: ResolvedProfile,
    private readonly deps: SimulatedRunnerDeps,
  ) {
    this.#spec = parseSimulatedUrl(definition.url);
    this.#now = deps.now ?? Date.now;
  }

  get id(): string {
    return this.definition.id;
  }

  #mediaTime(): number {
    return this.#timer === null ? 0 : roundTime((this.#now() - this.#startedMs) / 1000);
  }

  start(): void {
    if (this.#timer) return;
    this.#startedMs = this.#now();
    this.#timer = setInterval(() => this.#tick(), this.deps.tickMs ?? 1000);
    this.#timer.unref();
    this.#setStatus("up");
    this.#tick();
  }

  #tick(): void {
    const s = this.#now() / 1000;
    const on = this.#spec.dutyS > 0 && s % this.#spec.periodS < this.#spec.dutyS;
    const t = this.#mediaTime();
    if (on && !this.#open) {
      const window = Math.floor(s / this.#spec.periodS);
      this.#open = {
        id: randomUUID(),
        stream: this.definition.name,
        type: this.#spec.type,
        start: t,
        end: null,
        duration: null,
        severity: this.profile.severityOf(this.#spec.type),
        details: { simulated: true, window },
        startedAt: new Date(this.#now()).toISOString(),
        endedAt: null,
      };
      this.deps.onIncident({ phase: "open", incident: this.#open, evidence: {} });
    } else if (!on && this.#open) {
      this.#close(t);
    }
  }

  #close(t: number): void {
    const o = this.#open;
    if (!o) return;
    this.#open = null;
    const closed = {
      ...o,
      end: t,
      duration: roundTime(t - o.start),
      endedAt: new Date(this.#now()).toISOString(),
    };
    this.deps.onIncident({ phase: "close", incident: closed, evidence: {} });
  }

  #setStatus(status: StreamStatus): void {
    if (status === this.#status) return;
    this.#status = status;
    this.#since = new Date();
    this.deps.onState?.(this.state());
  }

  state(): StreamState {
    const media = this.#mediaTime();
    const cpu = media * this.#spec.cost;
    return {
      id: this.definition.id,
      name: this.definition.name,
      status: this.#status,
      since: this.#since.toISOString(),
      lastError: null,
      mediaTime: media,
      behindLiveSeconds: 0,
      restarts: 0,
      frames: 0,
      decoderErrors: 0,
      levels: { peakDbfs: [], rmsDbfs: [] },
      measurements: { simulated: { period: this.#spec.periodS, duty: this.#spec.dutyS } },
      openIncidents: this.#open ? [this.#open] : [],
      cost: {
        decoderCpuSeconds: cpu,
        detectorCpuSeconds: 0,
        perMediaSecond: media > 0 ? this.#spec.cost : null,
      },
      detectorCpuMs: {},
      loudness: null,
      tr101290: null,
      hls: null,
      thumbnailAt: null,
    };
  }

  latestThumbnail(): undefined {
    return undefined;
  }

  /** Stops; an open incident is closed at the current media time (like a real runner). Idempotent. */
  stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    const t = this.#mediaTime();
    this.#timer = null;
    this.#close(t);
    this.#setStatus("stopped");
    return Promise.resolve();
  }
}
