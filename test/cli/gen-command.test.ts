import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { runGen } from "../../src/cli/gen-command.js";
import { isStreamqcError } from "../../src/errors.js";
import type { GroundTruth } from "../../src/gen/clip-generator.js";

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = "";
  stream.setEncoding("utf8").on("data", (d: string) => (text += d));
  return { stream, text: () => text };
}

async function failure(argv: string[]): Promise<unknown> {
  return runGen(argv, sink().stream).then(
    () => new Error("accepted"),
    (e: unknown) => e,
  );
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
    const out = sink();
    const code = await runGen(
      [
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
      ],
      out.stream,
    );
    expect(code).toBe(0);
    expect(out.text()).toBe(`wrote ${target} (5 s, 2 defects)\nwrote ${join(dir, "out.truth.json")}\n`);
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

  it("refuses bad command lines with SQM_ERR_USAGE or SQM_ERR_DEFECT_SPEC", async () => {
    expect(isStreamqcError(await failure(["x.ts"]), "SQM_ERR_USAGE")).toBe(true);
    expect(isStreamqcError(await failure(["--defects", "black@1:2"]), "SQM_ERR_USAGE")).toBe(true);
    expect(isStreamqcError(await failure(["x.ts", "--defects", "", "--size", "big"]), "SQM_ERR_USAGE")).toBe(
      true,
    );
    expect(isStreamqcError(await failure(["x.ts", "--defects", "", "--bogus"]), "SQM_ERR_USAGE")).toBe(true);
    expect(isStreamqcError(await failure(["x.ts", "--defects", "nope@1:2"]), "SQM_ERR_DEFECT_SPEC")).toBe(
      true,
    );
  });

  it("prints its usage with --help", async () => {
    const out = sink();
    expect(await runGen(["--help"], out.stream)).toBe(0);
    expect(out.text()).toMatch(/^usage: streamqc gen OUT.ts --defects LIST/);
  });
});
