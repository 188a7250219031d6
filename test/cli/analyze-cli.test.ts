import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { closedTcpPort, makeClip, tempDir } from "../helpers/media.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe("streamqc analyze (bad input)", () => {
  it("exits 1 with one clear line for a missing file", async () => {
    const r = await runCli(["analyze", join(tmp.dir, "missing.ts")]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(
      /^streamqc analyze: cannot read .*missing\.ts: no such file \[SQM_ERR_INPUT_UNREADABLE\]$/,
    );
  });

  it("exits 1 for a file that is not media", async () => {
    const f = join(tmp.dir, "text.ts");
    writeFileSync(f, "hello\n".repeat(1000));
    const r = await runCli(["analyze", f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Invalid data found when processing input/);
  });

  it("exits 1 for a URL that refuses connections, without hanging", async () => {
    const r = await runCli([
      "analyze",
      `http://127.0.0.1:${await closedTcpPort()}/stream.m3u8`,
      "--duration",
      "5",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Connection refused|ECONNREFUSED/);
  });

  it("exits 2 on usage errors and unsupported schemes", async () => {
    expect((await runCli(["analyze"])).code).toBe(2);
    expect((await runCli(["analyze", "x.ts", "--format", "xml"])).stderr).toMatch(/--format must be one of/);
    const r = await runCli(["analyze", "gopher://example/x"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unsupported input scheme "gopher:"/);
  });

  it("prints nothing but JSON lines with --format jsonl, and exits 0 on clean media", async () => {
    const clip = makeClip(join(tmp.dir, "clean.ts"), { duration: 3 });
    const r = await runCli(["analyze", clip, "--format", "jsonl"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
  });

  it("says in one line when ffmpeg is missing, with the fix", async () => {
    const clip = makeClip(join(tmp.dir, "c2.ts"), { duration: 1 });
    const r = await runCli(["analyze", clip], { env: { STREAMQC_FFMPEG: "/opt/none/ffmpeg" } });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/apt-get install -y ffmpeg/);
  });
});
