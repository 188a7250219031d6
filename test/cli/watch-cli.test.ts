import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateClip } from "../../src/gen/clip-generator.js";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/media.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe("streamqc watch", () => {
  it("shows incidents as they open and close on a stream played live, one line each when piped", async () => {
    const clip = join(tmp.dir, "watch.ts");
    await generateClip(clip, {
      duration: 10,
      defects: [{ type: "black", start: 2, duration: 3 }],
      width: 320,
      height: 180,
    });
    const r = await runCli(["watch", clip, "--duration", "7.5"], { timeoutMs: 40_000 });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/CONNECTED/);
    const open = lines.find((l) => /OPEN .*video\.black/.test(l));
    const close = lines.find((l) => /CLOSE .*video\.black/.test(l));
    expect(open).toBeDefined();
    expect(close).toMatch(/00:0[12]\.\d\d – 00:0[45]\.\d\d/);
    // Nothing but the stream's own events: no freeze or silence on this clip.
    expect(
      lines.filter((l) => /OPEN/.test(l)).map((l) => /(video|audio|stream|av|ts|hls)\.[a-z-]+/.exec(l)?.[0]),
    ).toEqual(["video.black"]);
  });
});
