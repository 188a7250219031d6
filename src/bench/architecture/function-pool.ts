/**
 * The function runtime of the staged design: invocations go to worker processes, one
 * invocation at a time per process. `warm` keeps a fixed pool of processes alive across
 * invocations (a function's warm execution environments); `cold` starts a fresh process for
 * every invocation and ends it after (every invocation a cold start). Every process reports
 * its whole CPU from /proc when it ends, so start-up and idle CPU are counted too.
 */
import type { ChildProcess } from "node:child_process";
import { exited, launchChild, nextMessage, type ChildCommand } from "./child-launcher.js";
import type {
  AggregateInput,
  DetectInput,
  FunctionInit,
  FunctionReply,
  InvocationStats,
} from "./protocol.js";

export type InvokeMode = "warm" | "cold";

interface Worker {
  readonly child: ChildProcess;
  readonly stderr: string[];
  busy: boolean;
}

export interface PoolTotals {
  invocations: { detect: number; aggregate: number };
  wallSeconds: number;
  cpuSeconds: number;
  waitSeconds: number;
  peakRssBytes: number;
  processCpuSeconds: number;
  processes: number;
  requests: { put: number; get: number; list: number; bytesPut: number; bytesGot: number };
  state: { get: number; put: number; bytesGot: number; bytesPut: number };
  errors: string[];
}

export class FunctionPool {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly waiting: ((w: Worker) => void)[] = [];
  private nextId = 1;
  readonly totals: PoolTotals = {
    invocations: { detect: 0, aggregate: 0 },
    wallSeconds: 0,
    cpuSeconds: 0,
    waitSeconds: 0,
    peakRssBytes: 0,
    processCpuSeconds: 0,
    processes: 0,
    requests: { put: 0, get: 0, list: 0, bytesPut: 0, bytesGot: 0 },
    state: { get: 0, put: 0, bytesGot: 0, bytesPut: 0 },
    errors: [],
  };

  constructor(
    private readonly command: ChildCommand,
    private readonly init: FunctionInit,
    private readonly mode: InvokeMode,
    private readonly size: number,
  ) {}

  private async spawn(): Promise<Worker> {
    const stderr: string[] = [];
    const child = launchChild(this.command, "function", stderr);
    const w: Worker = { child, stderr, busy: false };
    this.all.push(w);
    this.totals.processes++;
    child.send(this.init);
    await nextMessage(
      child,
      (m) => ((m as FunctionReply).kind === "ready" ? true : undefined),
      "function start",
      stderr,
    );
    return w;
  }

  /** Starts the warm pool. */
  async start(): Promise<void> {
    if (this.mode === "cold") return;
    const workers = await Promise.all(Array.from({ length: this.size }, () => this.spawn()));
    this.idle.push(...workers);
  }

  private acquire(): Promise<Worker> {
    if (this.mode === "cold") return this.spawn();
    const w = this.idle.pop();
    if (w) return Promise.resolve(w);
    return new Promise((r) => this.waiting.push(r));
  }

  private async release(w: Worker): Promise<void> {
    if (this.mode === "cold") {
      await this.stop(w);
      return;
    }
    const next = this.waiting.shift();
    if (next) next(w);
    else this.idle.push(w);
  }

  private async stop(w: Worker): Promise<void> {
    if (w.child.exitCode !== null || w.child.signalCode !== null) return;
    const bye = nextMessage(
      w.child,
      (m) =>
        (m as FunctionReply).kind === "bye" ? (m as Extract<FunctionReply, { kind: "bye" }>) : undefined,
      "function exit",
      w.stderr,
    );
    w.child.send({ kind: "exit" });
    const b = await bye;
    this.totals.processCpuSeconds += b.cpu.self + b.cpu.children;
    this.totals.peakRssBytes = Math.max(this.totals.peakRssBytes, b.peakRssBytes);
    await exited(w.child);
  }

  async invoke(fn: "detect", input: DetectInput): Promise<InvocationStats>;
  async invoke(fn: "aggregate", input: AggregateInput): Promise<InvocationStats>;
  async invoke(fn: "detect" | "aggregate", input: DetectInput | AggregateInput): Promise<InvocationStats> {
    const w = await this.acquire();
    try {
      const id = this.nextId++;
      const done = nextMessage(
        w.child,
        (m) => {
          const r = m as FunctionReply;
          return r.kind === "done" && r.id === id ? r : undefined;
        },
        `${fn} invocation`,
        w.stderr,
      );
      w.child.send({ kind: "invoke", id, fn, input });
      const r = await done;
      const s = r.stats;
      const t = this.totals;
      t.invocations[fn]++;
      t.wallSeconds += s.wallMs / 1000;
      t.cpuSeconds += s.cpuMs / 1000;
      t.waitSeconds += Math.max(0, s.wallMs - s.cpuMs) / 1000;
      t.peakRssBytes = Math.max(t.peakRssBytes, s.rssBytes);
      for (const k of ["put", "get", "list", "bytesPut", "bytesGot"] as const) t.requests[k] += s.requests[k];
      for (const k of ["get", "put", "bytesGot", "bytesPut"] as const) t.state[k] += s.state[k];
      if (r.error !== undefined) t.errors.push(`${fn}: ${r.error}`);
      return s;
    } finally {
      await this.release(w);
    }
  }

  /** Ends every process and collects their CPU. Idempotent. */
  async close(): Promise<void> {
    const ws = this.idle.splice(0);
    await Promise.all(ws.map((w) => this.stop(w)));
    for (const w of this.all)
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
  }
}
