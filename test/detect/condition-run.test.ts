import { describe, expect, it } from "vitest";
import { MinDurationRun } from "../../src/detect/condition-run.js";

describe("MinDurationRun: open once a condition has lasted the minimum, close at its end", () => {
  it("opens once, at the minimum, dated at the run's beginning, and ends it", () => {
    const run = new MinDurationRun(2);
    expect(run.begin(1)).toBe(true);
    expect(run.begin(1.5)).toBe(false);
    expect(run.reach(2.9)).toBe(false);
    expect(run.reach(3)).toBe(true);
    expect(run.reach(3.5)).toBe(false);
    expect(run.isOpen).toBe(true);
    expect(run.start).toBe(1);
    expect(run.finish(4)).toBe("end");
    expect(run.inRun).toBe(false);
    expect(run.finish(5)).toBe("none");
  });

  it("drops a run shorter than the minimum, and opens and closes at once one that reached it only at its end", () => {
    const run = new MinDurationRun(2);
    run.begin(0);
    expect(run.finish(1.9)).toBe("none");
    run.begin(10);
    expect(run.reach(11.5)).toBe(false);
    expect(run.finish(12)).toBe("start-end");
    expect(run.isOpen).toBe(false);
  });
});
