/**
 * The staged design's orchestrator: one state-machine execution per chunk, as a workflow
 * service runs it, one state per stage:
 *
 *   Convert -> Detect(picture) -> Detect(detail) -> Detect(sound) -> Detect(av) -> Detect(faults) -> Aggregate
 *
 * `Convert` is entered when the converter reports the chunk written (its work is the
 * converter's, not a function's); each Detect state invokes that group's function; Aggregate
 * invokes the aggregator. A state transition is counted on entering each state, so a chunk
 * costs groups + 2 transitions (the standard workflow's billing unit). A stream's executions
 * run one after the other: each needs the detector state its previous chunk wrote.
 *
 * The aggregator runs with a concurrency of one across streams (a function's reserved
 * concurrency of 1): it is the incident store's only writer, and the embedded store (SQLite)
 * takes one writer at a time; two aggregators in two processes failed with "database is
 * locked" under load.
 */
import type { ChunkManifest } from "./chunk-codec.js";
import type { DetectorGroup } from "./detector-group.js";
import type { FunctionPool } from "./function-pool.js";

export interface OrchestratorTotals {
  executions: number;
  stateTransitions: number;
  /** Wall seconds of each execution (the express workflow's billing unit). */
  executionSeconds: number[];
  /** Largest delay from a chunk being written to its execution's end: whether the design kept up. */
  maxLagSeconds: number;
  errors: string[];
}

export class StagedOrchestrator {
  private readonly queues = new Map<string, Promise<void>>();
  private aggregating: Promise<unknown> = Promise.resolve();
  readonly totals: OrchestratorTotals = {
    executions: 0,
    stateTransitions: 0,
    executionSeconds: [],
    maxLagSeconds: 0,
    errors: [],
  };

  constructor(
    private readonly pool: FunctionPool,
    private readonly groups: readonly DetectorGroup[],
  ) {}

  /** A converter wrote a chunk: start its execution after the stream's previous one. */
  chunkReady(manifest: ChunkManifest): void {
    const readyAt = performance.now();
    const prev = this.queues.get(manifest.stream) ?? Promise.resolve();
    const next = prev.then(() => this.execute(manifest, readyAt));
    this.queues.set(manifest.stream, next);
  }

  private async execute(manifest: ChunkManifest, readyAt: number): Promise<void> {
    const t0 = performance.now();
    this.totals.executions++;
    try {
      this.totals.stateTransitions++; // Convert
      for (const group of this.groups) {
        this.totals.stateTransitions++; // Detect(group)
        await this.pool.invoke("detect", { manifest, group });
      }
      this.totals.stateTransitions++; // Aggregate
      const input = { manifest, groups: this.groups.map((g) => g.name) };
      const run = this.aggregating.then(() => this.pool.invoke("aggregate", input));
      this.aggregating = run.catch(() => undefined);
      await run;
    } catch (err) {
      this.totals.errors.push(`${manifest.stream} chunk ${manifest.index}: ${String(err)}`);
    }
    const end = performance.now();
    this.totals.executionSeconds.push((end - t0) / 1000);
    this.totals.maxLagSeconds = Math.max(this.totals.maxLagSeconds, (end - readyAt) / 1000);
  }

  /** Resolves when every execution started so far has finished. */
  async drain(): Promise<void> {
    await Promise.all(this.queues.values());
  }
}
