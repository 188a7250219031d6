import { defineConfig } from "vitest/config";

/**
 * Fleet tests that run several worker processes against one PostgreSQL and time their leases
 * (failover, a cut database connection, clock skew, the live view): run one file at a time,
 * after everything else, so that no other test's ffmpeg competes with their worker processes
 * for the two cores (the database cut once missed its takeover bound that way).
 */
const FLEET_PROCESSES = [
  "test/fleet/failover.test.ts",
  "test/fleet/db-cut.test.ts",
  "test/fleet/clock-skew.test.ts",
  "test/fleet/fleet-live.test.ts",
];

export default defineConfig({
  test: {
    // A throwaway PostgreSQL cluster for the PostgreSQL store and fleet tests (STREAMQC_TEST_PG_URL).
    globalSetup: ["test/setup/postgres-global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: "main",
          include: ["test/**/*.test.ts"],
          exclude: FLEET_PROCESSES,
          // Tests spawn real ffmpeg processes; two cores are shared between them.
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "fleet-processes",
          include: FLEET_PROCESSES,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
