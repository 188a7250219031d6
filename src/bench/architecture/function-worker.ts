/**
 * The child side of a function: a process that serves invocations one at a time, as a
 * function's execution environment does (warm: many invocations; cold: one, then exit). It
 * measures each invocation's wall time, its CPU (process.cpuUsage) and memory, and counts
 * its object-store requests; at exit it reports its whole CPU from /proc.
 */
import { join } from "node:path";
import { AlertRouter } from "../../alert/alert-router.js";
import { parseAlertConfig } from "../../config/alert-config.js";
import { resolveProfile, type ResolvedProfile } from "../../config/profile.js";
import { errorMessage } from "../../errors.js";
import { IncidentWriter } from "../../service/incident-writer.js";
import { DirectoryBlobStore } from "../../store/blob-store.js";
import { SqliteStore } from "../../store/sqlite-store.js";
import { ObjectClient, type ObjectCounts } from "./object-client.js";
import { cpuTimes, rssBytes } from "./proc-stats.js";
import type { FunctionInit, FunctionReply, Invocation } from "./protocol.js";
import {
  aggregateFunction,
  detectFunction,
  emptyStateTraffic,
  type AggregateDeps,
} from "./stage-functions.js";

interface Env {
  readonly s3: ObjectClient;
  readonly profile: ResolvedProfile;
  readonly init: FunctionInit;
  aggregate: AggregateDeps | null;
}

function send(m: FunctionReply): void {
  process.send?.(m);
}

function delta(a: ObjectCounts, b: ObjectCounts): ObjectCounts {
  return {
    put: b.put - a.put,
    get: b.get - a.get,
    list: b.list - a.list,
    bytesPut: b.bytesPut - a.bytesPut,
    bytesGot: b.bytesGot - a.bytesGot,
  };
}

/** The aggregator's store is opened on its first invocation and kept, as a warm function keeps a connection. */
function aggregateDeps(env: Env): AggregateDeps {
  if (env.aggregate) return env.aggregate;
  const store = new SqliteStore(env.init.dbPath);
  const blobs = new DirectoryBlobStore(join(env.init.evidenceDir));
  const writer = new IncidentWriter({ store, router: new AlertRouter(parseAlertConfig({}, "bench"), store) });
  env.aggregate = { s3: env.s3, profile: env.profile, store, blobs, writer };
  return env.aggregate;
}

async function invoke(env: Env, m: Invocation): Promise<void> {
  const before = { ...env.s3.counts };
  const traffic = emptyStateTraffic();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let findings = 0;
  let error: string | undefined;
  try {
    findings =
      m.fn === "detect"
        ? await detectFunction(env.s3, env.profile, m.input, traffic)
        : await aggregateFunction(aggregateDeps(env), m.input, traffic);
  } catch (err) {
    error = errorMessage(err);
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  send({
    kind: "done",
    id: m.id,
    ...(error !== undefined ? { error } : {}),
    stats: {
      wallMs,
      cpuMs: (cpu.user + cpu.system) / 1000,
      rssBytes: rssBytes(),
      requests: delta(before, env.s3.counts),
      state: traffic,
      findings,
    },
  });
}

/** Runs until the parent sends `exit`; returns the exit status. */
export async function runFunctionWorker(): Promise<number> {
  let env: Env | null = null;
  let peak = 0;
  let chain: Promise<void> = Promise.resolve();
  return new Promise<number>((resolveExit) => {
    process.on("message", (raw: { kind: string }) => {
      if (raw.kind === "init") {
        const init = raw as FunctionInit;
        env = {
          s3: new ObjectClient(init.s3),
          profile: resolveProfile(init.profile),
          init,
          aggregate: null,
        };
        send({ kind: "ready" });
      } else if (raw.kind === "invoke" && env) {
        const e = env;
        chain = chain
          .then(() => invoke(e, raw as Invocation))
          .then(() => void (peak = Math.max(peak, rssBytes())));
      } else if (raw.kind === "exit") {
        void chain.then(async () => {
          await env?.aggregate?.store.close();
          send({ kind: "bye", cpu: cpuTimes(), peakRssBytes: Math.max(peak, rssBytes()) });
          process.disconnect?.();
          resolveExit(0);
        });
      }
    });
  });
}
