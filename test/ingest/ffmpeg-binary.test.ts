import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkFfmpeg, checkFfmpegBanner, locateFfmpeg } from "../../src/ingest/ffmpeg-binary.js";
import { MediaReader } from "../../src/ingest/media-reader.js";
import { openSource } from "../../src/ingest/open-source.js";
import { makeClip, tempDir } from "../helpers/media.js";

const tmp = tempDir("streamqc-ffmpeg-binary-");
afterAll(() => tmp.cleanup());

/** An executable that prints an old ffmpeg's banner (on stderr, as a decoder does; on stdout, as -version does). */
function fakeOldFfmpeg(): string {
  const path = join(tmp.dir, "ffmpeg-4.4");
  writeFileSync(
    path,
    "#!/bin/sh\necho 'ffmpeg version 4.4.2-0+deb11u1 Copyright (c) 2000-2021 the FFmpeg developers' >&2\n" +
      "echo 'ffmpeg version 4.4.2-0+deb11u1 Copyright (c) 2000-2021 the FFmpeg developers'\nexit 0\n",
  );
  chmodSync(path, 0o755);
  return path;
}

describe("ffmpeg binary checks", () => {
  it("reads the version from a decoder's banner line, and refuses ffmpeg older than 5.1", () => {
    expect(checkFfmpegBanner("/x/ffmpeg", "[info]   built with gcc 12")).toBeNull();
    expect(checkFfmpegBanner("/x/ffmpeg", "[info] ffmpeg version 5.1.9-0+deb12u1 Copyright")).toBe("ok");
    const old = checkFfmpegBanner("/y/ffmpeg", "[info] ffmpeg version 4.4.2-0+deb11u1 Copyright");
    expect(old).toMatchObject({ code: "SQM_ERR_FFMPEG_TOO_OLD" });
    expect(String(old)).toMatch(/version 4\.4\.2.*needs 5\.1 or newer.*apt-get install -y ffmpeg/);
  });

  it("finds ffmpeg on PATH or at a path without running it, and says when it is not there", () => {
    expect(() => locateFfmpeg("ffmpeg")).not.toThrow();
    expect(() => locateFfmpeg("/nonexistent/ffmpeg")).toThrow(
      /ffmpeg was not found at "\/nonexistent\/ffmpeg"/,
    );
    expect(() => locateFfmpeg("no-such-ffmpeg-binary")).toThrow(/was not found/);
  });

  it("says clearly when ffmpeg is too old, whether checked up front or by a decoder's banner", async () => {
    const old = fakeOldFfmpeg();
    expect(() => checkFfmpeg(old)).toThrow(/is version 4\.4\.2.*5\.1 or newer/);
    const reader = new MediaReader(
      openSource(makeClip(join(tmp.dir, "x.ts"), { duration: 1 })),
      { ffmpegPath: old, failFast: true },
      {},
    );
    reader.start();
    await expect(reader.done).rejects.toMatchObject({ code: "SQM_ERR_FFMPEG_TOO_OLD" });
  });
});
