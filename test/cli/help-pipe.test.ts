import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";

describe("streamqc output into a closed pipe", () => {
  it("exits quietly when the reader goes away (`streamqc analyze --help | head -0`)", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", resolve(ROOT, "src/cli/main.ts"), "analyze", "--help"],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    // Close the read end before the CLI writes: every write it makes then fails with EPIPE.
    child.stdout.destroy();
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const code = await new Promise<number | null>((done) => child.on("close", done));
    expect(stderr).not.toMatch(/EPIPE|Unhandled 'error' event/);
    expect(code).toBe(0);
  });
});
