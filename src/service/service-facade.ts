/**
 * What the HTTP API needs from the service, and nothing more. The service implements it over
 * the store, the runners and the alert outbox; the API never reaches past it. Types come from
 * the API's zod schemas, so a change of the wire format shows up here as a type error.
 *
 * Conventions: an unknown id answers `undefined` (the API says 404); a duplicate stream name
 * throws `StreamqcError("SQM_ERR_CONFLICT")` (409); `SQM_ERR_NOT_FOUND` thrown is also a 404; a
 * cursor the store cannot decode throws `SQM_ERR_INVALID_CURSOR` (400, field `cursor`).
 * Inputs reach the facade validated: the name, URL scheme, profile name and labels are checked,
 * and `file:` URLs or paths only when `allowLocalFiles` is true.
 */
import type {
  ApiIncident,
  IncidentQuery,
  Maintenance,
  StreamHistory,
  Readiness,
  Report,
  Stream,
  StreamCreate,
  StreamPatch,
  StreamState,
} from "../api/schemas.js";
import type { WorkerInfo } from "../store/lease-port.js";

/** An incident as stored: the API adds each evidence item's `url` and the `lifecycle`. */
export type StoredIncident = Omit<ApiIncident, "evidence" | "lifecycle"> & {
  readonly evidence: readonly {
    readonly name: string;
    readonly contentType: string;
    readonly size: number;
  }[];
};

export interface IncidentPageResult {
  readonly items: readonly StoredIncident[];
  /** Opaque cursor of the next page; null on the last. Must be stable under concurrent inserts. */
  readonly next: string | null;
}

export interface StoredBlob {
  readonly contentType: string;
  readonly bytes: Uint8Array;
}

/** Who acknowledges and why; the API fills `by` with its default when the request has none. */
export interface AckInput {
  readonly by: string;
  readonly comment: string | null;
}

export interface AckResult {
  /** Every incident named or selected, as stored after the request. */
  readonly items: readonly StoredIncident[];
  /** How many this request acknowledged (the rest already were). */
  readonly acknowledged: number;
  /** Ids that name no incident. */
  readonly unknown: readonly string[];
}

/** A maintenance window to add; exactly one of the three selectors is set. */
export interface MaintenanceInput {
  readonly stream?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly all?: true;
  readonly from: string;
  readonly until: string;
  readonly reason: string;
  readonly by: string;
}

/** Live events as the service emits them; the API numbers, buffers and frames them for SSE. */
export type ServiceEvent =
  | {
      readonly type: "incident.opened" | "incident.updated" | "incident.closed" | "incident.acknowledged";
      readonly incident: StoredIncident;
    }
  | { readonly type: "maintenance.changed"; readonly items: readonly Maintenance[] }
  | { readonly type: "stream.state"; readonly state: StreamState }
  | {
      readonly type: "stream.levels";
      readonly streamId: string;
      readonly levels: StreamState["levels"];
      readonly loudness: StreamState["loudness"];
      /** PTS of the latest thumbnail, when there is one (fetched by `latestThumbnail`). */
      readonly thumbnailPts?: number;
    };

/** Numbers for `/metrics`, read at scrape time. Only configured streams appear. */
export interface MetricsSnapshot {
  readonly streams: readonly {
    readonly name: string;
    readonly up: boolean;
    readonly frames: number;
    readonly restarts: number;
    /** CPU seconds per detector type since the stream started. */
    readonly detectorCpuSeconds: Readonly<Record<string, number>>;
    readonly cpuSecondsPerMediaSecond: number | null;
    /** Live sources: seconds the monitoring is behind the signal; null for files or while down. */
    readonly behindLiveSeconds?: number | null;
    /** Light streams: decoding in full now, and promotions since start. */
    readonly promoted?: boolean;
    readonly promotions?: number;
  }[];
  /** Incidents opened, counted by the store (so they survive restarts). */
  readonly incidents: readonly {
    readonly stream: string;
    readonly type: string;
    readonly severity: string;
    readonly count: number;
  }[];
  /** Alert delivery attempts by outcome (`delivered`, `retry`, `failed`). */
  readonly alertDeliveries: readonly {
    readonly channel: string;
    readonly outcome: string;
    readonly count: number;
  }[];
  /** Deliveries given up on (after the last retry). */
  readonly alertFailures: readonly { readonly channel: string; readonly count: number }[];
  /** Promotion slots of light streams: in use, waiting, and the limit. */
  readonly promotions?: { readonly active: number; readonly queued: number; readonly max: number };
  /** Fleet: each worker's streams and measured load (from the database). */
  readonly workers?: readonly WorkerInfo[];
}

export interface ServiceFacade {
  /** Whether `file:` URLs and absolute paths may be monitored (demo channels, tests). */
  readonly allowLocalFiles: boolean;
  /** Names of the configured detector profiles; `default` is always one. */
  profileNames(): readonly string[];
  /**
   * Why the service could not monitor `url` (bad syntax, no port, a missing file), or
   * undefined when it can: such a URL is refused with a 400 rather than stored as a stream
   * that can only fail. Optional; without it only the scheme is checked.
   */
  urlProblem?(url: string): string | undefined;

  listStreams(): Promise<readonly Stream[]>;
  getStream(id: string): Promise<Stream | undefined>;
  /** Stores the stream (enabled) and starts monitoring it. Throws SQM_ERR_CONFLICT on a taken name. */
  createStream(input: StreamCreate & { readonly profile: string }): Promise<Stream>;
  /** Applies the patch; restarts the runner when url or profile change. Throws SQM_ERR_CONFLICT on a taken name. */
  updateStream(id: string, patch: StreamPatch): Promise<Stream | undefined>;
  /** Stops the runner and removes the stream (its incidents stay). False when unknown. */
  deleteStream(id: string): Promise<boolean>;
  /** Sets enabled and starts (or stops) the runner; answers the state after the change. */
  startStream(id: string): Promise<StreamState | undefined>;
  stopStream(id: string): Promise<StreamState | undefined>;
  /** Live state; a stopped or disabled stream answers its `stopped` state. Undefined when unknown. */
  streamState(id: string): StreamState | undefined;
  /** In a fleet it is fetched from the worker that runs the stream. */
  latestThumbnail(id: string): Promise<StoredBlob | undefined>;

  listIncidents(query: IncidentQuery): Promise<IncidentPageResult>;
  getIncident(id: string): Promise<StoredIncident | undefined>;
  getEvidence(incidentId: string, name: string): Promise<StoredBlob | undefined>;

  /**
   * Acknowledges each incident that is not yet (the first acknowledgement stands) and emits
   * `incident.acknowledged` for each one it changed. Unknown ids are listed, not thrown.
   */
  acknowledgeIncidents(ids: readonly string[], ack: AckInput): Promise<AckResult>;
  /**
   * Acknowledges a stream's (id or name) unacknowledged open incidents, and with
   * `includeCleared` its closed unacknowledged ones too. Undefined for an unknown stream.
   */
  acknowledgeStream(
    stream: string,
    ack: AckInput,
    options: { readonly includeCleared: boolean },
  ): Promise<AckResult | undefined>;

  /** Maintenance windows, by start; only those covering `stream` (id or name) when given; ended ones with `ended`. Undefined for an unknown stream. */
  listMaintenance(query: {
    readonly stream?: string | undefined;
    readonly ended?: boolean | undefined;
  }): Promise<readonly Maintenance[] | undefined>;
  /** Adds a window (emits `maintenance.changed`); undefined when `stream` names no stream. */
  addMaintenance(input: MaintenanceInput): Promise<Maintenance | undefined>;
  /** Removes a window (emits `maintenance.changed`); false when unknown. */
  deleteMaintenance(id: string): Promise<boolean>;
  /** Ends the muting of one stream (id or name): removes the windows for it alone. Undefined for an unknown stream. */
  unmuteStream(stream: string): Promise<number | undefined>;

  /** The stream's in-memory time series over the last `seconds`; undefined for an unknown stream. */
  streamHistory(id: string, seconds: number): Promise<StreamHistory | undefined>;

  /** One report per stream (all streams when `streamId` is undefined, else exactly one); undefined for an unknown stream. */
  reports(streamId: string | undefined, from: Date, to: Date): Promise<readonly Report[] | undefined>;

  /** Live events; returns the unsubscribe function. Listeners must not throw (the API's do not). */
  subscribe(listener: (event: ServiceEvent) => void): () => void;

  metrics(): Promise<MetricsSnapshot>;
  /** Fleet: the workers seen in the database. A single process has none (the list is empty). */
  listWorkers?(): Promise<readonly WorkerInfo[]>;
  /** Store reachable and runners started. */
  readiness(): Promise<Readiness>;
}
