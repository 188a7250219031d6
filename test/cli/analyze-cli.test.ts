import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { freeUdpPorts } from "../../src/demo/loopback.js";
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
    // Regression: the reason used to quote ffmpeg's banner ("libpostproc 56. 6.100 / …").
    expect(r.stderr).not.toMatch(/libpostproc|libav|configuration:|built with/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
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

  it("exits 1 saying nothing was received when a UDP input never sends (not '0 incidents')", async () => {
    const [port] = await freeUdpPorts(1);
    const r = await runCli(["analyze", `udp://127.0.0.1:${port}`, "--duration", "3"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim()).toMatch(
      /^streamqc analyze: cannot read udp:\/\/127\.0\.0\.1:\d+: no UDP datagrams received in 5 s of listening .*\[SQM_ERR_INPUT_UNREADABLE\]$/,
    );
  });

  it("answers --help for every command, and suggests the command meant", async () => {
    for (const command of ["analyze", "watch", "gen", "serve", "eval", "bench"]) {
      const r = await runCli([command, "--help"]);
      expect(r.code, command).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: streamqc ${command} `));
    }
    const analyze = await runCli(["analyze", "--help"]);
    // Help wraps at the terminal's width: compare with the wrapping undone.
    expect(analyze.stdout.replace(/\s+/g, " ")).toContain(
      '--format <format> how incidents are printed (choices: "text", "json", "jsonl", default: "text")',
    );
    const typo = await runCli(["analyz", "x.ts"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown command 'analyz'\n\(Did you mean analyze\?\)/);
  });

  it("exits 2 on usage errors and unsupported schemes", async () => {
    expect((await runCli(["analyze"])).code).toBe(2);
    expect((await runCli(["analyze", "x.ts", "--format", "xml"])).stderr).toMatch(
      /argument 'xml' is invalid. Allowed choices are text, json, jsonl/,
    );
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
