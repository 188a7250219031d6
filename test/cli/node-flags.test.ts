import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { SERVICE_NODE_FLAGS, withServiceFlags } from "../../src/cli/node-flags.js";
import { ROOT } from "../helpers/cli.js";

/** V8's young generation (MiB) in a Node started with `nodeArgs`, after enough garbage to fill it. */
function youngGeneration(nodeArgs: readonly string[]): number {
  const script =
    "let keep = []; for (let i = 0; i < 3e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 50000) keep = []; }" +
    "const s = require('node:v8').getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');" +
    "console.log(s.space_size / 1048576);";
  const r = spawnSync(process.execPath, [...nodeArgs, "-e", script], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return Number(r.stdout.trim());
}

describe("Node's flags for a monitoring process", () => {
  it("the streamqc command starts Node with them (its #! line), and they shrink the young generation", () => {
    const first = readFileSync(resolve(ROOT, "src/cli/main.ts"), "utf8").split("\n")[0]!;
    const prefix = "#!/usr/bin/env -S node ";
    expect(first.startsWith(prefix)).toBe(true);
    const args = first.slice(prefix.length).trim().split(/\s+/);
    expect(args).toEqual([...SERVICE_NODE_FLAGS]);
    // Two semi-spaces of at most 2 MiB with them; Node 20's default lets them grow to 16 each.
    expect(youngGeneration(args)).toBeLessThanOrEqual(4);
    expect(youngGeneration([])).toBeGreaterThan(4);
  });

  it("the scripts that start the service or a worker give Node the same flags", () => {
    for (const script of ["scripts/demo.sh", "scripts/fleet-demo.sh"]) {
      const lines = readFileSync(resolve(ROOT, script), "utf8")
        .split("\n")
        .filter((l) => /dist\/cli\/main\.js (serve|worker)\b/.test(l));
      expect(lines.length, script).toBeGreaterThan(0);
      for (const l of lines)
        expect(l, script).toContain(`node ${SERVICE_NODE_FLAGS.join(" ")} dist/cli/main.js`);
    }
  });

  it("adds each flag to a child's arguments once, and keeps a value given on the command line", () => {
    expect(withServiceFlags([])).toEqual([...SERVICE_NODE_FLAGS]);
    expect(withServiceFlags(["--import", "tsx"])).toEqual(["--import", "tsx", ...SERVICE_NODE_FLAGS]);
    expect(withServiceFlags(["--max-semi-space-size=8"])).toEqual(["--max-semi-space-size=8"]);
    expect(withServiceFlags(withServiceFlags([]))).toEqual([...SERVICE_NODE_FLAGS]);
  });
});
