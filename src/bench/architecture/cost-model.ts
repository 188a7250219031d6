/**
 * Measured counts to dollars per stream-hour, for both designs, with the public list prices of
 * price-list.ts. Every count is scaled from the run to one stream-hour (3,600 s of one
 * stream's media); the model for each term is stated next to it.
 */
import { EXPRESS_MEMORY_MB, INSTANCE, LAMBDA_MB_PER_VCPU, LAMBDA_MIN_MB, PRICES } from "./price-list.js";
import type { ObjectCounts } from "./object-client.js";

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

export interface InProcessMeasured {
  readonly streams: number;
  /** Sum over streams of media seconds analysed. */
  readonly mediaSeconds: number;
  /** The service process's own CPU seconds (Node: ingest pipes, detectors, store, API). */
  readonly serviceCpuSeconds: number;
  /** Its decoders' CPU seconds (ffmpeg children). */
  readonly decoderCpuSeconds: number;
  /** Peak resident memory of the service and its decoders together. */
  readonly peakRssBytes: number;
}

export interface StagedMeasured {
  readonly streams: number;
  readonly mediaSeconds: number;
  readonly chunks: number;
  readonly groups: number;
  readonly executions: number;
  readonly stateTransitions: number;
  /** Each execution's wall seconds, chunk ready to aggregate done. */
  readonly executionSeconds: readonly number[];
  readonly invocations: { readonly detect: number; readonly aggregate: number };
  /** Sums over invocations of the handler's wall and CPU seconds. */
  readonly invocationWallSeconds: number;
  readonly invocationCpuSeconds: number;
  /** Sum over invocations of max(0, wall - CPU): time waiting on the object store and the database. */
  readonly invocationWaitSeconds: number;
  readonly functionPeakRssBytes: number;
  /** CPU seconds the functions cost: see architecture-bench.ts for warm and cold. */
  readonly functionCpuSeconds: number;
  /** CPU seconds of the function processes, whole lives (start-up, idle and invocations). */
  readonly functionProcessCpuSeconds: number;
  readonly converterCpuSeconds: { readonly node: number; readonly decoders: number };
  readonly converterPeakRssBytes: number;
  /** The provider's side, measured but priced through requests and transitions. */
  readonly orchestratorCpuSeconds: number;
  readonly objectStoreCpuSeconds: number;
  readonly requests: ObjectCounts;
  readonly stateRequests: {
    readonly get: number;
    readonly put: number;
    readonly bytesGot: number;
    readonly bytesPut: number;
  };
}

/** The share of an instance a stream needs: whichever of its vCPUs or memory runs out first. */
function instanceCost(
  cpuSecondsPerStreamHour: number,
  rssBytesPerStream: number,
): {
  vcpuShare: number;
  memoryShare: number;
  usdPerStreamHour: number;
} {
  const vcpuShare = cpuSecondsPerStreamHour / 3600 / INSTANCE.vcpus;
  const memoryShare = rssBytesPerStream / GIB / INSTANCE.memoryGiB;
  return {
    vcpuShare,
    memoryShare,
    usdPerStreamHour: Math.max(vcpuShare, memoryShare) * PRICES.ec2InstancePerHour.value,
  };
}

export interface InProcessCost {
  readonly perStreamHour: {
    readonly cpuSeconds: number;
    readonly serviceCpuSeconds: number;
    readonly decoderCpuSeconds: number;
    readonly memoryMiB: number;
    readonly functionInvocations: 0;
    readonly gbSeconds: 0;
    readonly stateTransitions: 0;
    readonly requests: ObjectCounts;
  };
  readonly costs: { readonly instance: number };
  readonly instanceShare: { readonly vcpu: number; readonly memory: number };
  readonly totalPerStreamHour: number;
}

export function priceInProcess(m: InProcessMeasured): InProcessCost {
  const hours = m.mediaSeconds / 3600;
  const cpu = (m.serviceCpuSeconds + m.decoderCpuSeconds) / hours;
  const rssPerStream = m.peakRssBytes / m.streams;
  const inst = instanceCost(cpu, rssPerStream);
  return {
    perStreamHour: {
      cpuSeconds: cpu,
      serviceCpuSeconds: m.serviceCpuSeconds / hours,
      decoderCpuSeconds: m.decoderCpuSeconds / hours,
      memoryMiB: rssPerStream / MIB,
      functionInvocations: 0,
      gbSeconds: 0,
      stateTransitions: 0,
      requests: { put: 0, get: 0, list: 0, bytesPut: 0, bytesGot: 0 },
    },
    costs: { instance: inst.usdPerStreamHour },
    instanceShare: { vcpu: inst.vcpuShare, memory: inst.memoryShare },
    totalPerStreamHour: inst.usdPerStreamHour,
  };
}

export interface StagedCost {
  readonly perStreamHour: {
    readonly cpuSeconds: number;
    readonly converterCpuSeconds: number;
    readonly functionCpuSeconds: number;
    readonly functionProcessCpuSeconds: number;
    readonly orchestratorCpuSeconds: number;
    readonly objectStoreCpuSeconds: number;
    readonly memoryMiB: number;
    readonly functionInvocations: number;
    readonly gbSeconds: number;
    readonly stateTransitions: number;
    readonly executions: number;
    readonly expressGbSeconds: number;
    readonly requests: ObjectCounts;
    readonly stateRequests: StagedMeasured["stateRequests"];
  };
  /** The function memory priced: the smallest size that holds the measured peak. */
  readonly functionMemoryMB: number;
  /** USD per stream-hour of each term, the standard-workflow, x86 design. */
  readonly costs: {
    readonly converterInstance: number;
    readonly lambdaRequests: number;
    readonly lambdaDuration: number;
    readonly stepFunctionsStandard: number;
    readonly s3PutList: number;
    readonly s3Get: number;
  };
  /** The cheaper variant: express workflows and Arm functions. */
  readonly expressArm: {
    readonly stepFunctionsExpress: number;
    readonly lambdaDurationArm: number;
    readonly totalPerStreamHour: number;
  };
  readonly dominantTerm: string;
  readonly totalPerStreamHour: number;
}

export function priceStaged(m: StagedMeasured): StagedCost {
  const hours = m.mediaSeconds / 3600;
  const per = (x: number): number => x / hours;
  const invocations = m.invocations.detect + m.invocations.aggregate;
  const functionMemoryMB = Math.max(LAMBDA_MIN_MB, Math.ceil(m.functionPeakRssBytes / MIB));
  const memGb = functionMemoryMB / 1024;
  // Billed duration: waiting time as measured, CPU time stretched to the CPU share the memory
  // size buys (memory / 1,769 MB of a vCPU; a local process had a whole core). GB-seconds of
  // the CPU part are therefore CPU-seconds x 1,769 MB whatever the memory size below it.
  const cpuStretch = Math.max(1, LAMBDA_MB_PER_VCPU / functionMemoryMB);
  const gbSeconds = memGb * (m.invocationWaitSeconds + m.invocationCpuSeconds * cpuStretch);
  // Express: each execution's duration rounded up to 100 ms, at the 64 MB minimum step.
  const expressGbSeconds =
    m.executionSeconds.reduce((a, s) => a + Math.ceil(s * 10) / 10, 0) * (EXPRESS_MEMORY_MB / 1024);
  const converterCpu = m.converterCpuSeconds.node + m.converterCpuSeconds.decoders;
  const converter = instanceCost(per(converterCpu), m.converterPeakRssBytes / m.streams);
  const r = m.requests;
  const costs = {
    converterInstance: converter.usdPerStreamHour,
    lambdaRequests: per(invocations) * PRICES.lambdaPerRequest.value,
    lambdaDuration: per(gbSeconds) * PRICES.lambdaX86PerGbSecond.value,
    stepFunctionsStandard: per(m.stateTransitions) * PRICES.stepFunctionsStandardPerTransition.value,
    s3PutList: per(r.put + r.list) * PRICES.s3PutListPerRequest.value,
    s3Get: per(r.get) * PRICES.s3GetPerRequest.value,
  };
  const total = Object.values(costs).reduce((a, b) => a + b, 0);
  const stepFunctionsExpress =
    per(m.executions) * PRICES.stepFunctionsExpressPerRequest.value +
    per(expressGbSeconds) * PRICES.stepFunctionsExpressPerGbSecond.value;
  const lambdaDurationArm = per(gbSeconds) * PRICES.lambdaArmPerGbSecond.value;
  const dominantTerm = Object.entries(costs).sort((a, b) => b[1] - a[1])[0]![0];
  return {
    perStreamHour: {
      cpuSeconds: per(
        converterCpu + m.functionCpuSeconds + m.orchestratorCpuSeconds + m.objectStoreCpuSeconds,
      ),
      converterCpuSeconds: per(converterCpu),
      functionCpuSeconds: per(m.functionCpuSeconds),
      functionProcessCpuSeconds: per(m.functionProcessCpuSeconds),
      orchestratorCpuSeconds: per(m.orchestratorCpuSeconds),
      objectStoreCpuSeconds: per(m.objectStoreCpuSeconds),
      memoryMiB: m.converterPeakRssBytes / m.streams / MIB + functionMemoryMB,
      functionInvocations: per(invocations),
      gbSeconds: per(gbSeconds),
      stateTransitions: per(m.stateTransitions),
      executions: per(m.executions),
      expressGbSeconds: per(expressGbSeconds),
      requests: {
        put: per(r.put),
        get: per(r.get),
        list: per(r.list),
        bytesPut: per(r.bytesPut),
        bytesGot: per(r.bytesGot),
      },
      stateRequests: {
        get: per(m.stateRequests.get),
        put: per(m.stateRequests.put),
        bytesGot: per(m.stateRequests.bytesGot),
        bytesPut: per(m.stateRequests.bytesPut),
      },
    },
    functionMemoryMB,
    costs,
    expressArm: {
      stepFunctionsExpress,
      lambdaDurationArm,
      totalPerStreamHour:
        total - costs.stepFunctionsStandard - costs.lambdaDuration + stepFunctionsExpress + lambdaDurationArm,
    },
    dominantTerm,
    totalPerStreamHour: total,
  };
}
