/**
 * The terminal table of `streamqc bench --architecture`: both designs' counts and prices per
 * stream-hour side by side, then the ratio and whether the incidents matched.
 */
import type { ArchitectureResult } from "./architecture-bench.js";

const usd = (x: number): string => (x >= 0.01 ? `$${x.toFixed(4)}` : `$${x.toFixed(6)}`);
const num = (x: number): string =>
  x >= 100 ? Math.round(x).toLocaleString("en-US") : x >= 1 ? x.toFixed(2) : x.toFixed(3);
const mib = (bytes: number): string => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "))
    .join("\n");
}

export function formatArchitectureReport(r: ArchitectureResult): string {
  const i = r.inProcess;
  const s = r.staged;
  const ip = i.perStreamHour;
  const sp = s.perStreamHour;
  const rows: string[][] = [
    ["per stream-hour", "in-process", "staged"],
    ["CPU seconds (all processes, measured)", num(ip.cpuSeconds), num(sp.cpuSeconds)],
    ["  decoders / converter", num(ip.decoderCpuSeconds), num(sp.converterCpuSeconds)],
    ["  service / functions", num(ip.serviceCpuSeconds), num(sp.functionCpuSeconds)],
    ["  orchestrator (provider's)", "-", num(sp.orchestratorCpuSeconds)],
    ["  object store (provider's)", "-", num(sp.objectStoreCpuSeconds)],
    [
      "memory per stream (MiB)",
      num(ip.memoryMiB),
      `${num(sp.memoryMiB)} (incl. ${s.functionMemoryMB} MB fn)`,
    ],
    ["function invocations", "0", num(sp.functionInvocations)],
    ["function GB-seconds", "0", num(sp.gbSeconds)],
    ["state transitions (standard)", "0", num(sp.stateTransitions)],
    ["executions (express)", "0", num(sp.executions)],
    ["S3 PUT", "0", num(sp.requests.put)],
    ["S3 GET", "0", num(sp.requests.get)],
    ["S3 LIST", "0", num(sp.requests.list)],
    ["bytes moved (PUT + GET)", "0", mib(sp.requests.bytesPut + sp.requests.bytesGot)],
    ["  of which detector state", "0", mib(sp.stateRequests.bytesPut + sp.stateRequests.bytesGot)],
    ["cost: instance (vCPU/memory share)", usd(i.costs.instance), usd(s.costs.converterInstance)],
    ["cost: function requests", "-", usd(s.costs.lambdaRequests)],
    ["cost: function duration (x86)", "-", usd(s.costs.lambdaDuration)],
    ["cost: Step Functions standard", "-", usd(s.costs.stepFunctionsStandard)],
    ["cost: S3 PUT + LIST", "-", usd(s.costs.s3PutList)],
    ["cost: S3 GET", "-", usd(s.costs.s3Get)],
    ["total per stream-hour", usd(i.totalPerStreamHour), usd(s.totalPerStreamHour)],
    ["  variant: express + Arm functions", "-", usd(s.expressArm.totalPerStreamHour)],
  ];
  const lines = [
    `streamqc bench --architecture: ${r.config.streams} stream(s) x ${r.config.seconds} s live, ` +
      `${r.config.chunkSeconds} s chunks, ${r.config.groups.length} detector groups, ${r.config.invoke} functions ` +
      `(pool ${r.config.poolSize})`,
    `machine: ${r.config.machine}`,
    "",
    table(rows),
    "",
    `ratio (staged / in-process per stream-hour): ${r.ratio.toFixed(1)}x  ` +
      `(express + Arm variant: ${r.ratioExpressArm.toFixed(1)}x)`,
    `dominant staged term: ${s.dominantTerm}`,
    `per chunk: ${num(s.stateTransitionsPerChunk)} state transitions, ${num(s.invocationsPerChunk)} invocations; ` +
      `${s.chunks} chunks; staged lag at most ${s.maxLagSeconds.toFixed(1)} s behind live`,
    `incidentsMatch: ${r.incidentsMatch} (in-process ${r.incidents.inProcess.length}, staged ${r.incidents.staged.length}; ` +
      `injected types: ${r.incidents.expectedTypes.join(", ")})`,
  ];
  return lines.join("\n") + "\n";
}
