/**
 * `audio.loudness` on real programme: Big Buck Bunny (loudness range 18 LU) normalised to
 * -23 LUFS integrated, looped, coded as broadcasters send it, and with loudness defects made
 * from it. What broke (issue 10): the 30 s sliding window against ±1 LU raised three or four
 * incidents a minute on this programme at target; it judged dynamics, not programme loudness.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConditionEvent } from "../../src/detect/detector.js";
import { LoudnessOptionsSchema, loudnessDetector } from "../../src/detect/loudness/loudness-detector.js";
import { decodePcm, runFfmpeg } from "../helpers/ffmpeg-audio.js";
import { tempDir } from "../helpers/media.js";
import { decodeAudio } from "./decoded-media.js";

const BBB = resolve("../shared/media/big-buck-bunny-60s-360p.mp4");
const HAVE_BBB = existsSync(BBB);
const SR = 48_000;
/** Big Buck Bunny's first minute measures -25.9 LUFS integrated (ffmpeg ebur128): +2.9 dB is -23. */
const NORMALISE = "volume=2.9dB";

if (!HAVE_BBB) console.warn(`skipping loudness-real-content: ${BBB} is absent`);

interface Seen {
  readonly event: ConditionEvent;
  readonly at: number;
}

function detect(pcm: Float32Array): Seen[] {
  const seen: Seen[] = [];
  let at = 0;
  const det = loudnessDetector.create(LoudnessOptionsSchema.parse({}), (event) => {
    if (event.condition.type === "audio.loudness" && event.phase !== "update") seen.push({ event, at });
  });
  const frames = pcm.length / 2;
  for (let f = 0; f < frames; f += 4096) {
    const samples = pcm.slice(f * 2, Math.min(frames, f + 4096) * 2);
    at = (f + samples.length / 2) / SR;
    det.pushAudio!({ pts: f / SR, sampleRate: SR, channels: 2, frames: samples.length / 2, samples });
  }
  det.flush(frames / SR);
  return seen;
}

const gain = (x: Float32Array, db: number) => x.map((v) => v * Math.pow(10, db / 20));
function concat(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
const cut = (x: Float32Array, from: number, to: number) =>
  x.subarray(Math.round(from * SR) * 2, Math.round(to * SR) * 2);

describe.skipIf(!HAVE_BBB)("audio.loudness on real programme (Big Buck Bunny)", () => {
  const tmp = tempDir("streamqc-loudness-real-");
  /** Three loops of the normalised minute, 180 s. */
  let programme: Float32Array = new Float32Array(0);

  beforeAll(async () => {
    const once = await decodePcm(["-loglevel", "error", "-i", BBB, "-af", NORMALISE], SR, 2);
    programme = concat(once, once, once);
  }, 120_000);

  afterAll(() => tmp.cleanup());

  it("gives no incident at target from any phase of the programme", () => {
    for (const phase of [0, 10, 25, 38, 50]) {
      expect(detect(cut(concat(programme, programme), phase, phase + 180)), `phase ${phase}`).toEqual([]);
    }
  });

  for (const codec of [
    { name: "AAC 128k", args: ["-c:a", "aac", "-b:a", "128k", "-f", "adts"], ext: "aac" },
    { name: "MP2 192k in MPEG-TS", args: ["-c:a", "mp2", "-b:a", "192k", "-f", "mpegts"], ext: "ts" },
    { name: "AC-3 192k", args: ["-c:a", "ac3", "-b:a", "192k", "-f", "ac3"], ext: "ac3" },
  ]) {
    it(`gives no incident at target coded as ${codec.name} (2 minutes)`, async () => {
      const file = join(tmp.dir, `bbb.${codec.ext}`);
      await runFfmpeg([
        "-loglevel",
        "error",
        "-y",
        "-stream_loop",
        "1",
        "-i",
        BBB,
        "-vn",
        "-af",
        NORMALISE,
        ...codec.args,
        file,
      ]);
      const events: ConditionEvent[] = [];
      const det = loudnessDetector.create(LoudnessOptionsSchema.parse({}), (e) => events.push(e));
      const end = await decodeAudio(file, (b) => det.pushAudio!(b));
      det.flush(end);
      expect(events.filter((e) => e.condition.type === "audio.loudness")).toEqual([]);
    }, 120_000);
  }

  it("too-loud: the programme 10 LU above target gives one incident within 15 s of its first loud scene", () => {
    const seen = detect(gain(programme, 10));
    expect(seen.map((s) => s.event.phase)).toEqual(["start", "end"]);
    expect(seen[0]!.event.condition.details["rule"]).toBe("too-loud");
    // Its first 10 s are quiet ambience (short-term about -33 LUFS); the music starts at 10 s.
    expect(seen[0]!.at).toBeLessThanOrEqual(15);
  });

  for (const step of [-6, 6]) {
    it(`a step of ${step} LU at 60 s gives one incident within 60 s of it`, () => {
      const seen = detect(concat(cut(programme, 0, 60), gain(cut(programme, 60, 180), step)));
      expect(seen.map((s) => s.event.phase)).toEqual(["start", "end"]);
      expect(seen[0]!.at - 60).toBeLessThanOrEqual(60);
      expect(seen[0]!.at).toBeGreaterThan(60);
      expect(seen[0]!.event.condition.details["reason"]).toBe(step < 0 ? "quiet" : "loud");
    });
  }

  it("jump: a 10 s break of pink noise 10 LU above a programme at -27 LUFS gives one jump incident that ends with it", async () => {
    const pink = await decodePcm(
      [
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        "anoisesrc=color=pink:sample_rate=48000:amplitude=0.1:duration=10:seed=3",
        "-af",
        "loudnorm=I=-17:LRA=1:tp=-2:linear=false",
      ],
      SR,
      2,
    );
    const quieter = gain(programme, -4);
    const seen = detect(concat(cut(quieter, 0, 70), pink, cut(quieter, 70, 120)));
    expect(seen.map((s) => s.event.phase)).toEqual(["start", "end"]);
    const c = seen[1]!.event.condition;
    expect(c.details["rule"]).toBe("jump");
    expect(Math.abs(c.start - 70)).toBeLessThanOrEqual(0.5);
    expect(seen[0]!.at - 70).toBeLessThanOrEqual(6);
    expect(c.end!).toBeLessThan(84);
  });
});
