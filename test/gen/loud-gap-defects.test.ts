/**
 * The `loud` and `gap` kinds and the programme level, checked with FFmpeg's own meters on a
 * real generated clip.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { generateClip, type GroundTruth } from "../../src/gen/clip-generator.js";
import { parseDefectSpec } from "../../src/gen/defect-spec.js";
import { tempDir } from "../helpers/media.js";

const tmp = tempDir("streamqc-gen-loud-gap-");
afterAll(() => tmp.cleanup());

/** ffmpeg's meters log to stderr. */
function stderrOf(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr.slice(-500)}`);
  return r.stderr;
}

function momentary(file: string): { t: number; m: number }[] {
  const log = stderrOf("ffmpeg", [
    "-hide_banner",
    "-nostats",
    "-i",
    file,
    "-af",
    "ebur128=framelog=info",
    "-f",
    "null",
    "-",
  ]);
  return [...log.matchAll(/t:\s*([\d.]+)\s+TARGET:\S+\s+LUFS\s+M:\s*(-?[\d.]+)/g)].map((m) => ({
    t: Number(m[1]),
    m: Number(m[2]),
  }));
}

function integrated(file: string, from: number, to: number): { lufs: number; peak: number } {
  const r = stderrOf("ffmpeg", [
    "-hide_banner",
    "-nostats",
    "-i",
    file,
    "-af",
    `atrim=${from}:${to},ebur128=peak=sample`,
    "-f",
    "null",
    "-",
  ]);
  const summary = r.slice(r.lastIndexOf("Summary:"));
  return {
    lufs: Number(/I:\s*(-?[\d.]+) LUFS/.exec(summary)?.[1]),
    peak: Number(/Peak:\s*(-?[\d.]+) dBFS/.exec(summary)?.[1]),
  };
}

function packetTimes(file: string, stream: "v" | "a"): number[] {
  const out = execFileSync(
    "ffprobe",
    ["-v", "error", "-select_streams", stream, "-show_entries", "packet=pts_time", "-of", "csv=p=0", file],
    { encoding: "utf8" },
  );
  return out
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => Number.parseFloat(l))
    .filter((v) => Number.isFinite(v))
    .sort((a, b) => a - b);
}

describe("gen: loud and gap", () => {
  let file = "";
  let truth: GroundTruth;
  beforeAll(async () => {
    file = join(tmp.dir, "loud-gap.ts");
    truth = await generateClip(file, { duration: 24, defects: parseDefectSpec("loud@4:5,gap@14:2") });
  });

  it("writes the truth: loud expects audio.loudness, gap expects stream.gap", () => {
    expect(truth.defects).toEqual([
      { type: "loud", start: 4, end: 9, expect: "audio.loudness" },
      { type: "gap", start: 14, end: 16, expect: "stream.gap" },
    ]);
  });

  it("keeps the programme at -23 LUFS and makes the loud section 12 LU louder without clipping", () => {
    const programme = integrated(file, 10, 14);
    expect(Math.abs(programme.lufs + 23)).toBeLessThanOrEqual(0.7);
    const loud = integrated(file, 4.5, 8.5);
    expect(Math.abs(loud.lufs - programme.lufs - 12)).toBeLessThanOrEqual(0.7);
    expect(loud.peak).toBeLessThan(-0.1);
    const onset = momentary(file).find((s) => s.t > 3 && s.m > -17);
    expect(onset?.t).toBeGreaterThan(4);
    expect(onset?.t).toBeLessThan(4.5);
  });

  it("leaves a 2 s hole in both tracks' timestamps and none elsewhere", () => {
    // Media time counts from the earliest packet of either track, as ingest's does.
    const origin = Math.min(...packetTimes(file, "v"), ...packetTimes(file, "a"));
    for (const [track, frame] of [
      ["v", 1 / 25],
      ["a", 1024 / 48000],
    ] as const) {
      const t = packetTimes(file, track);
      const holes: [number, number][] = [];
      for (let i = 1; i < t.length; i++) {
        // A hole runs from the end of the last frame before it to the first frame after it.
        if (t[i]! - t[i - 1]! > 0.3) holes.push([t[i - 1]! + frame - origin, t[i]! - origin]);
      }
      expect(holes, track).toHaveLength(1);
      expect(Math.abs(holes[0]![0] - 14), `${track} start`).toBeLessThanOrEqual(0.05);
      expect(Math.abs(holes[0]![1] - 16), `${track} end`).toBeLessThanOrEqual(0.05);
    }
  });
});
