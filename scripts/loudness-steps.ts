/**
 * How soon `audio.loudness` reports a ±6 dB gain error on a programme, with the learnt limits
 * (the default) or fixed ones: the programme's sound is decoded once, then for each start time
 * (70 s, then every 37 s while 120 s remain) the detector is fed from the beginning with the
 * gain applied from that time on, and the media time of the first incident of that direction
 * is taken. Also counts the incidents on the clean programme.
 * Usage: npx tsx scripts/loudness-steps.ts FILE [learnt|fixed]
 */
import { spawnSync } from "node:child_process";
import { basename } from "node:path";
import { LoudnessOptionsSchema, loudnessDetector } from "../src/detect/loudness/loudness-detector.js";

const RATE = 48000;
const [file, mode = "learnt"] = process.argv.slice(2);
if (!file || (mode !== "learnt" && mode !== "fixed")) {
  console.error("usage: npx tsx scripts/loudness-steps.ts FILE [learnt|fixed]");
  process.exit(2);
}
const decoded = spawnSync(
  "ffmpeg",
  ["-v", "error", "-i", file, "-vn", "-ac", "2", "-ar", String(RATE), "-f", "f32le", "-"],
  {
    maxBuffer: 2 ** 31,
  },
);
if (decoded.status !== 0) {
  console.error(`ffmpeg could not decode ${file}: ${decoded.stderr.toString().trim()}`);
  process.exit(1);
}
const pcm = new Float32Array(
  decoded.stdout.buffer.slice(decoded.stdout.byteOffset, decoded.stdout.byteOffset + decoded.stdout.length),
);
const seconds = pcm.length / 2 / RATE;

/** Feeds the programme with `gainDb` from `from` on, up to `until`; the incidents' reasons and report times. */
function run(gainDb: number, from: number, until: number): { reason: string; at: number }[] {
  const found: { reason: string; at: number }[] = [];
  let at = 0;
  const det = loudnessDetector.create(LoudnessOptionsSchema.parse({ adaptive: mode === "learnt" }), (e) => {
    if (e.phase === "start" && e.condition.type === "audio.loudness")
      found.push({ reason: String(e.condition.details["reason"]), at });
  });
  const gain = Math.pow(10, gainDb / 20);
  const end = Math.min(pcm.length, Math.round(until * RATE) * 2);
  for (let o = 0; o < end; o += 2048) {
    const block = pcm.slice(o, Math.min(end, o + 2048));
    const pts = o / 2 / RATE;
    if (pts >= from) for (let i = 0; i < block.length; i++) block[i] = block[i]! * gain;
    at = (o + block.length) / 2 / RATE;
    det.pushAudio!({ pts, sampleRate: RATE, channels: 2, frames: block.length / 2, samples: block });
  }
  return found;
}

const clean = run(0, 0, seconds).length;
const parts: string[] = [];
for (const gainDb of [6, -6]) {
  const latencies: (number | null)[] = [];
  for (let t = 70; t < seconds - 120; t += 37) {
    const reason = gainDb > 0 ? "loud" : "quiet";
    const hit = run(gainDb, t, t + 200).find((i) => i.at >= t && i.reason === reason);
    latencies.push(hit ? hit.at - t : null);
  }
  const seen = latencies.filter((x): x is number => x !== null);
  parts.push(
    `${gainDb > 0 ? "+" : ""}${gainDb} dB: ${seen.filter((x) => x <= 60).length} of ${latencies.length} within 60 s, ` +
      `slowest ${seen.length ? Math.max(...seen).toFixed(0) : "-"} s, not within 200 s ${latencies.length - seen.length}`,
  );
}
console.log(
  `${basename(file)} (${seconds.toFixed(0)} s, ${mode} limits): clean ${clean} incidents; ${parts.join("; ")}`,
);
