/**
 * The price arithmetic on made-up counts: each term is its count per stream-hour times its
 * list price, the instance share is whichever of vCPUs or memory runs out first, and a
 * function's CPU is billed at the share of a vCPU its memory size buys.
 */
import { describe, expect, it } from "vitest";
import {
  priceInProcess,
  priceStaged,
  type StagedMeasured,
} from "../../../src/bench/architecture/cost-model.js";
import { INSTANCE, PRICES } from "../../../src/bench/architecture/price-list.js";

const MIB = 1024 ** 2;

describe("cost model", () => {
  it("prices the in-process design by its share of an instance", () => {
    // 2 streams x 30 min = 1 stream-hour; 720 CPU-s = 0.2 vCPU-hours.
    const c = priceInProcess({
      streams: 2,
      mediaSeconds: 3600,
      serviceCpuSeconds: 240,
      decoderCpuSeconds: 480,
      peakRssBytes: 400 * MIB,
    });
    expect(c.perStreamHour.cpuSeconds).toBeCloseTo(720, 9);
    expect(c.instanceShare.vcpu).toBeCloseTo(0.2 / INSTANCE.vcpus, 9);
    expect(c.instanceShare.memory).toBeCloseTo(200 / 1024 / INSTANCE.memoryGiB, 9);
    expect(c.totalPerStreamHour).toBeCloseTo((0.2 / INSTANCE.vcpus) * PRICES.ec2InstancePerHour.value, 12);
  });

  it("prices the staged design term by term per stream-hour", () => {
    const m: StagedMeasured = {
      streams: 1,
      mediaSeconds: 1800, // half a stream-hour: every count doubles
      chunks: 1800,
      groups: 5,
      executions: 1800,
      stateTransitions: 1800 * 7,
      executionSeconds: Array.from({ length: 1800 }, () => 0.25),
      invocations: { detect: 1800 * 5, aggregate: 1800 },
      invocationWallSeconds: 200,
      invocationCpuSeconds: 100,
      invocationWaitSeconds: 100,
      functionPeakRssBytes: 100 * MIB, // below the 128 MB minimum
      functionCpuSeconds: 100,
      functionProcessCpuSeconds: 110,
      converterCpuSeconds: { node: 50, decoders: 150 },
      converterPeakRssBytes: 150 * MIB,
      orchestratorCpuSeconds: 5,
      objectStoreCpuSeconds: 60,
      requests: { put: 30_000, get: 40_000, list: 1800, bytesPut: 1e9, bytesGot: 2e9 },
      stateRequests: { get: 10_000, put: 10_000, bytesGot: 1e8, bytesPut: 1e8 },
    };
    const c = priceStaged(m);
    expect(c.functionMemoryMB).toBe(128);
    expect(c.perStreamHour.stateTransitions).toBe(2 * 1800 * 7);
    expect(c.costs.stepFunctionsStandard).toBeCloseTo(2 * 1800 * 7 * (0.025 / 1000), 12);
    expect(c.costs.lambdaRequests).toBeCloseTo(2 * 1800 * 6 * (0.2 / 1e6), 12);
    // 128 MB buys 128/1769 of a vCPU: 100 CPU-s take 100 x 1769/128 s, plus 100 s of waiting.
    const gbs = (128 / 1024) * (100 + 100 * (1769 / 128));
    expect(c.perStreamHour.gbSeconds).toBeCloseTo(2 * gbs, 9);
    expect(c.costs.lambdaDuration).toBeCloseTo(2 * gbs * 0.0000166667, 12);
    expect(c.costs.s3PutList).toBeCloseTo(2 * 31_800 * (0.005 / 1000), 12);
    expect(c.costs.s3Get).toBeCloseTo(2 * 40_000 * (0.0004 / 1000), 12);
    // Express: 0.25 s rounds up to 0.3 s, at 64 MB.
    const express = 2 * 1800 * (1 / 1e6) + 2 * 1800 * 0.3 * (64 / 1024) * 0.00001667;
    expect(c.expressArm.stepFunctionsExpress).toBeCloseTo(express, 12);
    const sum = Object.values(c.costs).reduce((a, b) => a + b, 0);
    expect(c.totalPerStreamHour).toBeCloseTo(sum, 12);
    expect(c.dominantTerm).toBe("stepFunctionsStandard");
  });
});
