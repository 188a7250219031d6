/**
 * The messages between the benchmark (the orchestrator, in the parent process) and its child
 * processes: detector and aggregator functions, converters and the in-process service. They
 * travel over Node's IPC channel as JSON.
 */
import type { ProfileInput } from "../../config/profile.js";
import type { ChunkManifest } from "./chunk-codec.js";
import type { DetectorGroup } from "./detector-group.js";
import type { ObjectClientOptions, ObjectCounts } from "./object-client.js";
import type { CpuTimes } from "./proc-stats.js";

/** An incident as both designs are compared: what the store holds, minus ids and wall clocks. */
export interface ComparedIncident {
  readonly stream: string;
  readonly type: string;
  readonly start: number;
  readonly end: number | null;
  readonly severity: string;
}

export interface FunctionInit {
  readonly kind: "init";
  readonly s3: ObjectClientOptions;
  readonly profile: ProfileInput;
  /** The staged design's incident database (SQLite, the normal store). */
  readonly dbPath: string;
  /** Where evidence blobs go (the normal directory blob store). */
  readonly evidenceDir: string;
}

export interface DetectInput {
  readonly manifest: ChunkManifest;
  readonly group: DetectorGroup;
}

export interface AggregateInput {
  readonly manifest: ChunkManifest;
  /** Group names in state-machine order: findings are applied in this order. */
  readonly groups: readonly string[];
}

export type Invocation =
  | { readonly kind: "invoke"; readonly id: number; readonly fn: "detect"; readonly input: DetectInput }
  | {
      readonly kind: "invoke";
      readonly id: number;
      readonly fn: "aggregate";
      readonly input: AggregateInput;
    };

export interface InvocationStats {
  /** Wall milliseconds of the handler (what a function is billed for). */
  readonly wallMs: number;
  /** CPU milliseconds the process spent in the handler (user + system). */
  readonly cpuMs: number;
  /** Resident memory after the handler, bytes. */
  readonly rssBytes: number;
  /** Object-store requests of this invocation. */
  readonly requests: ObjectCounts;
  /** Of those, the detector-state snapshot's own GET/PUT and bytes. */
  readonly state: {
    readonly get: number;
    readonly put: number;
    readonly bytesGot: number;
    readonly bytesPut: number;
  };
  readonly findings: number;
}

export type FunctionReply =
  | { readonly kind: "ready" }
  | { readonly kind: "done"; readonly id: number; readonly error?: string; readonly stats: InvocationStats }
  | { readonly kind: "bye"; readonly cpu: CpuTimes; readonly peakRssBytes: number };

export interface ConverterStart {
  readonly kind: "start";
  readonly stream: string;
  readonly input: string;
  readonly seconds: number;
  readonly chunkSeconds: number;
  readonly ffmpegPath: string;
  readonly detail: boolean;
  readonly s3: ObjectClientOptions;
  /** The decoder watchdog's stall timeout, the same in both designs. */
  readonly stallTimeoutMs: number;
}

export type ConverterReply =
  | { readonly kind: "chunk"; readonly manifest: ChunkManifest; readonly requests: ObjectCounts }
  | {
      readonly kind: "end";
      readonly cpu: CpuTimes;
      /** CPU when conversion began (process start-up, excluded from the per-hour rate). */
      readonly cpuAtStart: CpuTimes;
      readonly mediaSeconds: number;
      readonly requests: ObjectCounts;
      readonly error?: string;
    };

export interface InProcessStart {
  readonly kind: "start";
  readonly streams: readonly { readonly name: string; readonly input: string }[];
  readonly seconds: number;
  readonly dataDir: string;
  readonly ffmpegPath: string;
  readonly profile: ProfileInput;
  /** The decoder watchdog's stall timeout, the same in both designs. */
  readonly stallTimeoutMs: number;
}

export type InProcessReply =
  | { readonly kind: "running" }
  | {
      readonly kind: "end";
      readonly cpu: CpuTimes;
      /** CPU when the service was up, before any media: start-up, excluded from the per-hour rate. */
      readonly cpuAtStart: CpuTimes;
      readonly mediaSeconds: Record<string, number>;
      readonly incidents: readonly ComparedIncident[];
      readonly error?: string;
    };
