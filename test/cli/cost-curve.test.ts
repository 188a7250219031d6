import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import {
  costSvg,
  costTable,
  cpuPerChannelHour,
  pssPerChannel,
  type CostPoint,
} from "../../src/cli/cost-curve-plot.js";
import { childrenCpuBetween, treeUsage } from "../../src/cli/process-tree-usage.js";

function point(mode: CostPoint["mode"], channels: number, nodeCpu: number, decoderCpu: number): CostPoint {
  return {
    mode,
    channels,
    seconds: 30,
    nodeCpu,
    decoderCpu,
    publisherCpu: 0.01,
    realtime: 1,
    promotions: 0,
    decoderErrors: 0,
    nodeRssMiB: 100 + channels * 10,
    nodeHeapMiB: 30,
    nodeExternalMiB: 5,
    nodeBuffersMiB: channels * 8,
    replayMiB: channels * 6,
    loopDelayMaxMs: 40,
    decoders: channels,
    decoderRssMiB: 75,
    decoderPssMiB: 35,
  };
}

describe("cost curve", () => {
  it("prices a channel-hour from CPU per channel-second and divides memory by channels", () => {
    const p = point("light", 4, 0.01, 0.02);
    expect(cpuPerChannelHour(p)).toBeCloseTo(108, 6);
    // Node's 140 MiB shared by 4 channels, plus each decoder's proportional set.
    expect(pssPerChannel(p)).toBeCloseTo(140 / 4 + 35, 6);
    const table = costTable([p, point("full", 1, 0.01, 0.2)]);
    expect(table).toContain("| light | 4 | 108 | 36 | 3.00 | 33 | 70.0 |");
    expect(table).toContain("| full | 1 | 756 |");
    // Node's buffers and replay windows per channel, and the longest stall.
    expect(table).toContain("| 8.0 / 6.0 | 1.000 | 40 | 0 |");
  });

  it("plots each mode as a line with a labelled point per channel count", () => {
    const svg = costSvg(
      [point("light", 1, 0.01, 0.02), point("light", 16, 0.01, 0.02), point("full", 1, 0.01, 0.2)],
      "a <caption> & more",
    );
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    // Two panels, a line per mode with points: light has two points in each, full one.
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg.match(/<circle /g)).toHaveLength(6);
    expect(svg).toContain(">108<");
    expect(svg).toContain("a &lt;caption&gt; &amp; more");
  });

  it("counts the CPU of a child that ended between two readings", async () => {
    // A real parent whose child burns about 0.4 s of CPU and exits before the second reading.
    const parent = spawn(
      process.execPath,
      [
        "-e",
        `const { spawn } = require("node:child_process");
         process.stdin.once("data", () => {
           const c = spawn(process.execPath, ["-e", "const t = Date.now(); while (Date.now() - t < 400) {}"]);
           c.on("exit", () => process.stdout.write("done\\n"));
         });`,
      ],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    try {
      await new Promise((r) => setTimeout(r, 300));
      const a = treeUsage(parent.pid!);
      expect(a).not.toBeNull();
      expect(a!.children).toHaveLength(0);
      expect(a!.rss).toBeGreaterThan(1024 * 1024);
      const done = new Promise((r) => parent.stdout.once("data", r));
      parent.stdin.write("go\n");
      await done;
      const b = treeUsage(parent.pid!)!;
      // Wall time 400 ms of a busy loop; on a shared machine it gets at least some of it.
      expect(childrenCpuBetween(a!, b)).toBeGreaterThan(0.05);
      expect(childrenCpuBetween(a!, b)).toBeLessThan(2);
    } finally {
      parent.kill("SIGKILL");
    }
  });
});
