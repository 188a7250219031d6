/**
 * What the dashboard reads from the API, typed from the server's own zod schemas (type-only
 * imports: nothing of zod reaches the bundle), so a change of the wire format is a type error
 * here. Fields the server adds with issue 12 (acknowledgements, maintenance, history, audio
 * meters in the live state) are optional: the page shows "not available" without them.
 */
import type { ApiIncident, Stream, StreamState } from "../../api/schemas.js";
import type { Severity } from "../../incident.js";

export type { Severity, Stream };

export interface Acknowledgement {
  readonly at: string;
  readonly by: string;
  readonly comment: string | null;
}

export type Incident = ApiIncident & { readonly acknowledged?: Acknowledgement | null };

export interface Levels {
  readonly peakDbfs: readonly number[];
  readonly rmsDbfs: readonly number[];
  /** Momentary loudness (LUFS) when the server sends it with the levels. */
  readonly momentaryLufs?: number | null;
  readonly lufsMomentary?: number | null;
}

export type LiveState = Omit<StreamState, "openIncidents" | "levels"> & {
  readonly levels: Levels;
  readonly openIncidents: readonly { readonly id?: string | undefined; readonly type: string }[];
  /** BS.1770 loudness of the stream, when the server sends it in the state. */
  readonly loudness?: {
    readonly momentary: number | null;
    readonly shortTerm: number | null;
    readonly integrated: number | null;
    readonly truePeak: number | null;
    readonly target: number | null;
    readonly truePeakLimit: number | null;
  } | null;
  /** In a fleet: the worker that runs the stream, and its lease epoch. */
  readonly worker?: string | null;
  readonly epoch?: number | null;
};

/** A maintenance window as the page uses it (normalised from the server's fields). */
export interface MaintenanceWindow {
  readonly id: string;
  /** The one stream it mutes (id); null when it selects by labels, or mutes everything. */
  readonly streamId: string | null;
  /** With `streamId` null: mutes the streams that carry all of these labels. */
  readonly labels: Readonly<Record<string, string>> | null;
  readonly startsAt: string | null;
  readonly endsAt: string;
  readonly reason: string;
  readonly createdBy: string | null;
}

export interface HistoryPoint {
  /** Unix milliseconds. */
  readonly t: number;
  readonly [field: string]: number | null;
}

export type LiveEvent =
  | { readonly type: "incident.opened" | "incident.updated" | "incident.closed"; readonly incident: Incident }
  | { readonly type: "incident.acknowledged"; readonly incident: Incident }
  | { readonly type: "stream.state"; readonly state: LiveState }
  | {
      readonly type: "stream.levels";
      readonly streamId: string;
      readonly levels: Levels;
      readonly thumbnail?: { readonly url: string; readonly pts: number };
    };
