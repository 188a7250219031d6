import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { runCommandLine } from "../../src/cli/command-line.js";
import type { GroundTruth } from "../../src/gen/clip-generator.js";

function sink(): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough();
  let text = "";
  stream.setEncoding("utf8").on("data", (d: string) => (text += d));
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

/** Runs `streamqc gen ARGS` in this process: its exit status, stdout and stderr. */
async function gen(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = sink();
  const err = sink();
  const code = await runCommandLine(["gen", ...args], { out: out.stream, err: err.stream });
  return { code, out: out.text(), err: err.text() };
}

describe("streamqc gen", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("writes the clip and its truth and says where", async () => {
    const dir = await mkdtemp(join(tmpdir(), "streamqc-gen-cli-"));
    dirs.push(dir);
    const target = join(dir, "out.ts");
    const { code, out } = await gen([
      target,
      "--defects",
      "black@1:2.5,silence@2:2",
      "--duration",
      "5",
      "--size",
      "320x180",
      "--fps",
      "30",
      "--seed",
      "3",
    ]);
    expect(code).toBe(0);
    expect(out).toBe(`wrote ${target} (5 s, 2 defects)\nwrote ${join(dir, "out.truth.json")}\n`);
    expect((await stat(target)).size).toBeGreaterThan(10_000);
    const truth = JSON.parse(await readFile(join(dir, "out.truth.json"), "utf8")) as GroundTruth;
    expect(truth).toEqual({
      duration: 5,
      defects: [
        { type: "black", start: 1, end: 3.5, expect: "video.black" },
        { type: "silence", start: 2, end: 4, expect: "audio.silence" },
      ],
    });
  });

  it("refuses bad command lines with exit status 2 and one clear line", async () => {
    const noDefects = await gen(["x.ts"]);
    expect(noDefects.code).toBe(2);
    expect(noDefects.err).toMatch(/--defects is required .*\[SQM_ERR_USAGE\]/);
    const noTarget = await gen(["--defects", "black@1:2"]);
    expect(noTarget.code).toBe(2);
    expect(noTarget.err).toMatch(/missing required argument 'out'/);
    const badSize = await gen(["x.ts", "--defects", "", "--size", "big"]);
    expect(badSize.code).toBe(2);
    expect(badSize.err).toMatch(/--size must be WxH, e.g. 1920x1080, got "big".*\[SQM_ERR_USAGE\]/);
    const bogus = await gen(["x.ts", "--defects", "", "--bogus"]);
    expect(bogus.code).toBe(2);
    expect(bogus.err).toMatch(/unknown option '--bogus'/);
    const spec = await gen(["x.ts", "--defects", "nope@1:2"]);
    expect(spec.code).toBe(2);
    expect(spec.err).toMatch(/\[SQM_ERR_DEFECT_SPEC\]/);
  });

  it("suggests the option meant when one is mistyped", async () => {
    const r = await gen(["x.ts", "--defect", "black@1:2"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Did you mean --defects\?/);
  });

  it("prints its usage, options and defaults with --help", async () => {
    const r = await gen(["--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: streamqc gen \[options\] <out>/);
    expect(r.out).toMatch(/--defects <list>/);
    expect(r.out).toMatch(/--fps <n> +frame rate \(default 25\)/);
  });
});
