/**
 * "Open once a condition has lasted the minimum, close at its end": the run logic that black,
 * silence and the loudness rules share. A run begins where the condition first holds; it
 * opens (the caller reports `start`, dated at the run's beginning) once it has lasted
 * `minDuration`; when it ends, a run that reached the minimum only at its very end is opened
 * and closed at once, and a shorter one is dropped without a trace.
 */

/** What ending a run means for the caller: nothing, `end`, or `start` then `end`. */
export type RunEnd = "none" | "end" | "start-end";

/** Slack for float time arithmetic: a run of exactly the minimum counts. */
const EPS = 1e-6;

export class MinDurationRun {
  private running = false;
  private opened = false;
  private from = 0;

  constructor(private readonly minDuration: number) {}

  /** A run is going (the condition holds), open or not yet. */
  get inRun(): boolean {
    return this.running;
  }

  /** The run has lasted the minimum and was reported. */
  get isOpen(): boolean {
    return this.opened;
  }

  /** Where the current (or last) run began, media seconds. */
  get start(): number {
    return this.from;
  }

  /** The condition holds from `at`: begins a run there unless one is going. True when one began. */
  begin(at: number): boolean {
    if (this.running) return false;
    this.running = true;
    this.opened = false;
    this.from = at;
    return true;
  }

  /** The condition still holds at `now`: true exactly once per run, when it reaches the minimum. */
  reach(now: number): boolean {
    if (!this.running || this.opened || now - this.from + EPS < this.minDuration) return false;
    this.opened = true;
    return true;
  }

  /** The condition stopped holding at `end`. */
  finish(end: number): RunEnd {
    if (!this.running) return "none";
    this.running = false;
    if (this.opened) {
      this.opened = false;
      return "end";
    }
    return end - this.from + EPS >= this.minDuration ? "start-end" : "none";
  }
}
