import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // A throwaway PostgreSQL cluster for the PostgreSQL store and fleet tests (STREAMQC_TEST_PG_URL).
    globalSetup: ["test/setup/postgres-global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests spawn real ffmpeg processes; two cores are shared between them.
    maxWorkers: 2,
  },
});
