/**
 * FFmpeg's side of analyze alone, without Node: our decoder command under each decode policy
 * (decode-policy.ts), writing its NUT stream to /dev/null, against `ffmpeg -f null` decoding
 * alone, on the first SECONDS of a clip, in interleaved rounds (CPU time from bash's `times`,
 * as `streamqc bench` measures). Prints each round and the median per-round ratio to decoding.
 *
 *   npx tsx scripts/decoder-side-bench.ts [CLIP] [ROUNDS] [SECONDS]
 *   (default .bench/clip-1920x1080-60s.ts, made by `npm run bench`; 5 rounds; 20 s)
 */
import { mkdirSync } from "node:fs";
import { measure, median } from "../src/cli/bench-measure.js";
import { DECODE_CHOICES, type DecodePolicy } from "../src/ingest/decode-policy.js";
import { decoderArgs } from "../src/ingest/media-reader.js";
import { openSource } from "../src/ingest/open-source.js";

const clip = process.argv[2] ?? ".bench/clip-1920x1080-60s.ts";
const rounds = Number(process.argv[3] ?? "5");
const seconds = process.argv[4] ?? "20";
mkdirSync(".bench", { recursive: true });
const policies = DECODE_CHOICES.filter((c): c is DecodePolicy => c !== "auto");
const commands: Record<string, string[]> = {
  decode: [
    "ffmpeg",
    "-hide_banner",
    "-nostdin",
    "-threads",
    "1",
    "-i",
    clip,
    "-t",
    seconds,
    "-f",
    "null",
    "-",
  ],
};
for (const policy of policies) {
  const args = decoderArgs(openSource(clip), {
    ffmpegPath: "ffmpeg",
    detail: true,
    threads: 1,
    decodePolicy: policy,
  });
  // The same command analyze runs (single-threaded, detail frames on), cut to SECONDS of output.
  args.splice(args.lastIndexOf("-f"), 0, "-t", seconds);
  // Its output, pipe:1, goes to /dev/null (measure).
  commands[policy] = ["ffmpeg", ...args];
}
const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
for (let round = 1; round <= rounds; round++) {
  for (const [name, argv] of Object.entries(commands))
    cpu[name]!.push((await measure(`side-${name}`, argv)).cpu);
  console.log(
    `round ${round}: ${Object.entries(cpu)
      .map(([k, v]) => `${k} ${v.at(-1)!.toFixed(2)}`)
      .join(", ")} CPU s`,
  );
}
for (const [name, v] of Object.entries(cpu)) {
  const ratios = v.map((x, i) => x / cpu.decode![i]!);
  console.log(
    `${name}: median ${median(v).toFixed(2)} CPU s; per round vs decode alone, median ${median(ratios).toFixed(3)} ` +
      `(${ratios.map((r) => r.toFixed(3)).join(", ")})`,
  );
}
