/**
 * `streamqc bench --architecture`: the same detectors on the same live inputs, run the two ways
 * the seeds describe, at the same time, and priced per stream-hour.
 *
 * - in-process: the service as it is (in-process-stage.ts), in its own process.
 * - staged: a converter process per stream writes chunks to an S3-compatible server (s3rver,
 *   its own process); this process orchestrates one state-machine execution per chunk
 *   (staged-orchestrator.ts), invoking detector-group and aggregator functions in worker
 *   processes (function-pool.ts) that read chunks and state from the store and write findings
 *   and state back; the aggregator records incidents in a SQLite store of its own.
 *
 * Inputs are generated clips with known defects (src/gen), read live (at their native rate).
 * Both designs must report the same incidents: `incidentsMatch`.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveProfile, type ProfileInput } from "../../config/profile.js";
import { expectedIncident, type Defect } from "../../gen/defect-spec.js";
import { generateClip } from "../../gen/clip-generator.js";
import { SqliteStore } from "../../store/sqlite-store.js";
import { exited, launchChild, nextMessage, type ChildCommand } from "./child-launcher.js";
import { detectorGroups } from "./detector-group.js";
import { priceInProcess, priceStaged, type InProcessCost, type StagedCost } from "./cost-model.js";
import { FunctionPool, type InvokeMode } from "./function-pool.js";
import {
  ObjectClient,
  addCounts,
  emptyCounts,
  type ObjectClientOptions,
  type ObjectCounts,
} from "./object-client.js";
import type { ObjectStoreReply } from "./object-store-stage.js";
import { cpuTimes, treeRssBytes } from "./proc-stats.js";
import type {
  ComparedIncident,
  ConverterReply,
  ConverterStart,
  InProcessReply,
  InProcessStart,
} from "./protocol.js";
import { StagedOrchestrator } from "./staged-orchestrator.js";
import { readIncidents } from "./in-process-stage.js";
import { PRICES, INSTANCE } from "./price-list.js";

export interface ArchitectureBenchOptions {
  readonly streams: number;
  /** Seconds of live media per stream. */
  readonly seconds: number;
  /** Chunk length of the staged design, seconds. */
  readonly chunkSeconds: number;
  readonly invoke: InvokeMode;
  /** Warm function processes; default streams + 1, at most 8. */
  readonly poolSize?: number;
  readonly ffmpegPath: string;
  readonly child: ChildCommand;
  /** Keep the working directory (clips, object store, databases) for inspection. */
  readonly keep?: boolean;
  readonly profile?: ProfileInput;
  /** Clip size; default 640x360 at 25 fps (small: the machine is shared). */
  readonly width?: number;
  readonly height?: number;
  readonly log?: (line: string) => void;
  /**
   * The decoder watchdog's stall timeout in both designs; default 60 s. The service's 10 s
   * default fired spuriously here at start-up on a machine loaded about 10x its cores by
   * other work (a decoder starved of CPU writes nothing for 10 s), restarting one design's
   * decoder and not the other's: a difference of the machine, not of the architecture.
   */
  readonly stallTimeoutMs?: number;
}

export interface ArchitectureResult {
  readonly config: {
    readonly streams: number;
    readonly seconds: number;
    readonly chunkSeconds: number;
    readonly groups: readonly { readonly name: string; readonly detectors: readonly string[] }[];
    readonly invoke: InvokeMode;
    readonly poolSize: number;
    readonly clip: string;
    readonly machine: string;
  };
  readonly incidentsMatch: boolean;
  readonly incidents: {
    readonly expectedTypes: readonly string[];
    readonly inProcess: readonly ComparedIncident[];
    readonly staged: readonly ComparedIncident[];
  };
  readonly inProcess: InProcessCost & { readonly mediaSeconds: number };
  readonly staged: StagedCost & {
    readonly mediaSeconds: number;
    readonly chunks: number;
    readonly maxLagSeconds: number;
    readonly stateTransitionsPerChunk: number;
    readonly invocationsPerChunk: number;
    /** The run's own totals (not per stream-hour), for checking counts against each other. */
    readonly totals: {
      readonly chunks: number;
      readonly executions: number;
      readonly stateTransitions: number;
      readonly invocations: { readonly detect: number; readonly aggregate: number };
      readonly requests: ObjectCounts;
      readonly converterRequests: ObjectCounts;
      readonly stateRequests: {
        readonly get: number;
        readonly put: number;
        readonly bytesGot: number;
        readonly bytesPut: number;
      };
    };
  };
  /** Staged cost / in-process cost per stream-hour (standard workflows, x86 functions). */
  readonly ratio: number;
  /** The same with the cheaper staged variant (express workflows, Arm functions). */
  readonly ratioExpressArm: number;
  readonly prices: typeof PRICES;
  readonly instance: typeof INSTANCE;
}

const S3_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

/** Defects every 10 s of media, ending well before the run stops so no incident is cut. */
export function benchDefects(seconds: number): Defect[] {
  const out: Defect[] = [];
  for (let k = 0; 10 * k + 10 <= seconds; k++) {
    const t = 10 * k;
    out.push(
      { type: "freeze", start: t + 1.5, duration: 2.5 },
      { type: "silence", start: t + 2.5, duration: 2.5 },
      { type: "black", start: t + 5, duration: 2.5 },
    );
  }
  return out;
}

function sameIncidents(a: readonly ComparedIncident[], b: readonly ComparedIncident[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export async function runArchitectureBench(o: ArchitectureBenchOptions): Promise<ArchitectureResult> {
  if (!Number.isInteger(o.streams) || o.streams < 1)
    throw new RangeError("streams must be a whole number >= 1");
  if (!(o.seconds >= 10)) throw new RangeError("seconds must be at least 10 (one defect pattern)");
  if (!(o.chunkSeconds > 0 && o.chunkSeconds <= o.seconds))
    throw new RangeError("chunk must be > 0 and <= seconds");
  const log = o.log ?? (() => undefined);
  const profileInput: ProfileInput = o.profile ?? {};
  const profile = resolveProfile(profileInput);
  const groups = detectorGroups(profile);
  const poolSize = o.poolSize ?? Math.min(8, o.streams + 1);
  const dir = mkdtempSync(join(tmpdir(), "sqm-arch-bench-"));
  const children: { kill(): void }[] = [];
  try {
    // ---- inputs: one clip per stream (different noise), the same defects
    const defects = benchDefects(o.seconds);
    const expectedTypes = [...new Set(defects.map((d) => expectedIncident(d.type, d.duration)))]
      .filter((t): t is string => t !== null)
      .sort();
    const inputs: { name: string; input: string }[] = [];
    for (let i = 0; i < o.streams; i++) {
      const input = join(dir, `s${i + 1}.ts`);
      log(`generating ${input}`);
      await generateClip(input, {
        duration: o.seconds + 5,
        defects,
        width: o.width ?? 640,
        height: o.height ?? 360,
        seed: i + 1,
        ffmpegPath: o.ffmpegPath,
      });
      inputs.push({ name: `s${i + 1}`, input });
    }

    // ---- the object store
    const storeErr: string[] = [];
    const objectStore = launchChild(o.child, "object-store", storeErr);
    children.push(objectStore);
    const s3dir = join(dir, "s3");
    mkdirSync(s3dir);
    objectStore.send({ kind: "start", directory: s3dir });
    const { port } = await nextMessage(
      objectStore,
      (m) => ((m as ObjectStoreReply).kind === "listening" ? (m as { port: number }) : undefined),
      "object store",
      storeErr,
    );
    const s3: ObjectClientOptions = {
      endpoint: `http://127.0.0.1:${port}`,
      bucket: "streamqc-staged",
      ...S3_CREDENTIALS,
    };
    await new ObjectClient(s3).createBucket();

    // ---- the staged design's incident store (migrated once, before the functions open it)
    const stagedDb = join(dir, "staged.db");
    const migrate = new SqliteStore(stagedDb);
    for (const s of inputs) await migrate.createStream({ name: s.name, url: `staged:${s.name}` });
    await migrate.close();

    const pool = new FunctionPool(
      o.child,
      {
        kind: "init",
        s3,
        profile: profileInput,
        dbPath: stagedDb,
        evidenceDir: join(dir, "staged-evidence"),
      },
      o.invoke,
      poolSize,
    );
    await pool.start();
    const orchestrator = new StagedOrchestrator(pool, groups);
    const cpu0 = cpuTimes();

    // ---- both designs start on the same live inputs at the same time
    const inErr: string[] = [];
    const inProc = launchChild(o.child, "in-process", inErr);
    children.push(inProc);
    const inDir = join(dir, "in-process");
    mkdirSync(inDir);
    const inEnd = nextMessage(
      inProc,
      (m) =>
        (m as InProcessReply).kind === "end" ? (m as Extract<InProcessReply, { kind: "end" }>) : undefined,
      "in-process service",
      inErr,
    );
    inProc.send({
      kind: "start",
      streams: inputs,
      seconds: o.seconds,
      dataDir: inDir,
      ffmpegPath: o.ffmpegPath,
      profile: profileInput,
      stallTimeoutMs: o.stallTimeoutMs ?? 60_000,
    } satisfies InProcessStart);

    const converterRequests = emptyCounts();
    let chunks = 0;
    const convErr: string[] = [];
    const converters = inputs.map((s) => {
      const c = launchChild(o.child, "converter", convErr);
      children.push(c);
      c.on("message", (m: ConverterReply) => {
        if (m.kind === "chunk") {
          chunks++;
          addCounts(converterRequests, m.requests);
          orchestrator.chunkReady(m.manifest);
        }
      });
      const end = nextMessage(
        c,
        (m) =>
          (m as ConverterReply).kind === "end" ? (m as Extract<ConverterReply, { kind: "end" }>) : undefined,
        `converter ${s.name}`,
        convErr,
      );
      c.send({
        kind: "start",
        stream: s.name,
        input: s.input,
        seconds: o.seconds,
        chunkSeconds: o.chunkSeconds,
        ffmpegPath: o.ffmpegPath,
        detail: profile.detectors.some((d) => d.definition.needs.detail),
        s3,
        stallTimeoutMs: o.stallTimeoutMs ?? 60_000,
      } satisfies ConverterStart);
      return { child: c, end };
    });

    // Memory: the peak of each design's process trees, sampled together.
    let inPeak = 0;
    let convPeak = 0;
    const sampler = setInterval(() => {
      if (inProc.pid) inPeak = Math.max(inPeak, treeRssBytes(inProc.pid));
      convPeak = Math.max(
        convPeak,
        converters.reduce((a, c) => a + (c.child.pid ? treeRssBytes(c.child.pid) : 0), 0),
      );
    }, 250);

    const convEnds = await Promise.all(converters.map((c) => c.end));
    await orchestrator.drain();
    const inResult = await inEnd;
    clearInterval(sampler);
    await Promise.all([...converters.map((c) => exited(c.child)), exited(inProc)]);
    await pool.close();
    const orchestratorCpu = cpuTimes().self - cpu0.self;
    const storeBye = nextMessage(
      objectStore,
      (m) =>
        (m as ObjectStoreReply).kind === "bye"
          ? (m as Extract<ObjectStoreReply, { kind: "bye" }>)
          : undefined,
      "object store exit",
      storeErr,
    );
    objectStore.send({ kind: "stop" });
    const storeEnd = await storeBye;
    await exited(objectStore);

    const failures = [
      ...(inResult.error ? [`in-process: ${inResult.error}`] : []),
      ...convEnds.filter((e) => e.error).map((e) => `converter: ${e.error}`),
      ...orchestrator.totals.errors,
      ...pool.totals.errors,
    ];
    if (failures.length > 0) throw new Error(`architecture bench failed: ${failures.slice(0, 5).join("; ")}`);

    const stagedIncidents = await readIncidents(stagedDb);
    const requests = emptyCounts();
    addCounts(requests, converterRequests);
    addCounts(requests, pool.totals.requests);
    const stagedMedia = convEnds.reduce((a, e) => a + e.mediaSeconds, 0);
    const inMedia = Object.values(inResult.mediaSeconds).reduce((a, b) => a + b, 0);

    const inProcess = priceInProcess({
      streams: o.streams,
      mediaSeconds: inMedia,
      serviceCpuSeconds: inResult.cpu.self - inResult.cpuAtStart.self,
      decoderCpuSeconds: inResult.cpu.children - inResult.cpuAtStart.children,
      peakRssBytes: inPeak,
    });
    const staged = priceStaged({
      streams: o.streams,
      mediaSeconds: stagedMedia,
      chunks,
      groups: groups.length,
      executions: orchestrator.totals.executions,
      stateTransitions: orchestrator.totals.stateTransitions,
      executionSeconds: orchestrator.totals.executionSeconds,
      invocations: pool.totals.invocations,
      invocationWallSeconds: pool.totals.wallSeconds,
      invocationCpuSeconds: pool.totals.cpuSeconds,
      invocationWaitSeconds: pool.totals.waitSeconds,
      functionPeakRssBytes: pool.totals.peakRssBytes,
      // Warm: the invocations' own CPU (a warm environment's start-up is amortised over its
      // life); cold: the processes' whole CPU, start-up included, as every invocation pays it.
      functionCpuSeconds: o.invoke === "warm" ? pool.totals.cpuSeconds : pool.totals.processCpuSeconds,
      functionProcessCpuSeconds: pool.totals.processCpuSeconds,
      converterCpuSeconds: {
        node: convEnds.reduce((a, e) => a + e.cpu.self - e.cpuAtStart.self, 0),
        decoders: convEnds.reduce((a, e) => a + e.cpu.children - e.cpuAtStart.children, 0),
      },
      converterPeakRssBytes: convPeak,
      orchestratorCpuSeconds: orchestratorCpu,
      objectStoreCpuSeconds: storeEnd.cpu.self + storeEnd.cpu.children,
      requests,
      stateRequests: pool.totals.state,
    });
    return {
      config: {
        streams: o.streams,
        seconds: o.seconds,
        chunkSeconds: o.chunkSeconds,
        groups: groups.map((g) => ({ name: g.name, detectors: g.detectors })),
        invoke: o.invoke,
        poolSize,
        clip: `${o.width ?? 640}x${o.height ?? 360} 25 fps H.264 + AAC (generated, defects: ${defects.length})`,
        machine: "shared with other work: CPU is measured per process from /proc, never wall time",
      },
      incidentsMatch: sameIncidents(inResult.incidents, stagedIncidents),
      incidents: { expectedTypes, inProcess: inResult.incidents, staged: stagedIncidents },
      inProcess: { ...inProcess, mediaSeconds: inMedia },
      staged: {
        ...staged,
        mediaSeconds: stagedMedia,
        chunks,
        maxLagSeconds: orchestrator.totals.maxLagSeconds,
        stateTransitionsPerChunk: orchestrator.totals.stateTransitions / Math.max(1, chunks),
        invocationsPerChunk:
          (pool.totals.invocations.detect + pool.totals.invocations.aggregate) / Math.max(1, chunks),
        totals: {
          chunks,
          executions: orchestrator.totals.executions,
          stateTransitions: orchestrator.totals.stateTransitions,
          invocations: { ...pool.totals.invocations },
          requests,
          converterRequests,
          stateRequests: { ...pool.totals.state },
        },
      },
      ratio: staged.totalPerStreamHour / inProcess.totalPerStreamHour,
      ratioExpressArm: staged.expressArm.totalPerStreamHour / inProcess.totalPerStreamHour,
      prices: PRICES,
      instance: INSTANCE,
    };
  } finally {
    for (const c of children) c.kill();
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
  }
}
