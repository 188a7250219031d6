/**
 * The values each command receives, as commander parses them (src/cli/commands.ts): camelCase
 * keys, strings for numbers, which each command validates itself with an exact message.
 */
/** The streams a command writes to; tests and the entry pass process.stdout/stderr. */
export interface Io {
  readonly out: NodeJS.WriteStream;
  readonly err: NodeJS.WriteStream;
}

export interface AnalyzeOptions {
  readonly duration?: string;
  readonly format: string;
  readonly config?: string;
  readonly threads?: string;
  readonly stream?: string;
  readonly mode?: string;
  readonly decode?: string;
  readonly cpuReport: boolean;
}

export interface WatchOptions {
  readonly config?: string;
  readonly duration?: string;
}

export interface GenOptions {
  readonly defects?: string;
  readonly duration?: string;
  readonly size?: string;
  readonly fps?: string;
  readonly seed?: string;
  readonly base?: string;
}

export interface ServeOptions {
  readonly config?: string;
  readonly data?: string;
  readonly host?: string;
  readonly port?: string;
  readonly demo: boolean;
  readonly db?: string;
  /** commander's `--no-monitor`: false when given. */
  readonly monitor: boolean;
  readonly allowSimulated: boolean;
}

export interface WorkerCliOptions {
  readonly db?: string;
  readonly name?: string;
  readonly pool?: string;
  readonly capacity?: string;
  readonly config?: string;
  readonly leaseMs?: string;
  readonly renewMs?: string;
  readonly claimMs?: string;
  readonly safetyMs?: string;
  readonly rebalanceMs?: string;
  readonly claimBatch?: string;
  readonly adoptGraceMs?: string;
  readonly metricsPort?: string;
  readonly liveHost?: string;
  readonly livePort?: string;
  readonly liveUrl?: string;
  readonly allowSimulated: boolean;
}

export interface EvalOptions {
  readonly suite?: string;
  readonly jobs?: string;
  readonly real?: string;
  readonly mode?: string;
  readonly part?: string;
  readonly falseAlarms?: boolean;
  /** The music channel (eval/music-channel.ts) instead of the suite. */
  readonly music?: boolean;
  readonly minutes?: string;
  /** commander has checked it against DECODE_CHOICES. */
  readonly decode?: string;
  /** av.sync's natural-content correlation on for every clip. */
  readonly avSyncNatural?: boolean;
}

export interface BenchOptions {
  readonly duration: string;
  readonly size: string;
  readonly service: boolean;
  /** Default 16 for the service benchmark, 2 with --architecture. */
  readonly streams?: string;
  readonly serviceSeconds: string;
  readonly baselineSeconds: string;
  readonly rounds: string;
  readonly skipService: boolean;
  /** Only the light-mode benchmark (light-bench.ts). */
  readonly light: boolean;
  readonly skipLight: boolean;
  /** Only the cost curve (cost-curve-bench.ts), its channel counts and seconds per point. */
  readonly curve: boolean;
  readonly skipCurve: boolean;
  readonly curveLight: string;
  readonly curveFull: string;
  readonly curveSeconds: string;
  readonly serviceChild?: string;
  readonly serviceLog?: string;
  /** The architecture benchmark (src/bench/architecture/) and its options. */
  readonly architecture: boolean;
  readonly seconds: string;
  readonly chunk: string;
  readonly invoke: string;
  readonly format: string;
  readonly keep: boolean;
  /** Internal: the role of one of the architecture benchmark's child processes. */
  readonly architectureChild?: string;
  /** The fleet benchmark (src/bench/fleet/) and its sizes. */
  readonly fleet: boolean;
  readonly fleetStreams: string;
  readonly fleetWorkers: string;
  readonly fleetRealStreams: string;
  readonly fleetRealWorkers: string;
  readonly fleetSeconds: string;
}
