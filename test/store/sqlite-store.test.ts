import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { storeConformance } from "./store-conformance.js";

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "sqm-store-"));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

storeConformance("sqlite", async () => {
  const dir = await tempDir();
  const store = new SqliteStore(join(dir, "streamqc.db"));
  return {
    store,
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe("SqliteStore", () => {
  it("migrates a new file to the current schema version and reopens it", async () => {
    const file = join(await tempDir(), "s.db");
    const s = new SqliteStore(file);
    await s.createStream({ name: "a", url: "udp://x" });
    await s.close();
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma("user_version", { simple: true })).toBe(SqliteStore.SCHEMA_VERSION);
    expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    raw.close();
    const again = new SqliteStore(file);
    expect((await again.listStreams()).map((x) => x.name)).toEqual(["a"]);
    await again.close();
  });

  it("refuses a database written by a newer schema", async () => {
    const file = join(await tempDir(), "s.db");
    const raw = new Database(file);
    raw.pragma("user_version = 999");
    raw.close();
    expect(() => new SqliteStore(file)).toThrow(/cannot open the database/);
  });

  it("keeps an incident and its outbox row when the process is killed with SIGKILL right after recordIncident", async () => {
    const file = join(await tempDir(), "crash.db");
    const fixture = fileURLToPath(new URL("./fixtures/record-then-hang.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", fixture, file], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const lines = createInterface({ input: child.stdout });
      const [line] = (await once(lines, "line")) as [string];
      const { incidentId } = JSON.parse(line) as { incidentId: string };
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      const [code, signal] = (await exited) as [number | null, string | null];
      expect([code, signal]).toEqual([null, "SIGKILL"]);
      // The commit sits in the WAL, not yet checkpointed: reopening must replay it.
      expect((await stat(`${file}-wal`)).size).toBeGreaterThan(0);

      const store = new SqliteStore(file);
      try {
        expect(store.integrityCheck()).toBe("ok");
        const inc = await store.getIncident(incidentId);
        expect(inc).toMatchObject({ type: "video.freeze", stream: "ch-1", start: 5.2, end: null });
        const rows = await store.listDeliveries({ incidentId });
        expect(rows.map((r) => [r.id, r.status])).toEqual([[`${incidentId}.open.ops`, "pending"]]);
      } finally {
        await store.close();
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });
});
