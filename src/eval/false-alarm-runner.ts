/**
 * False alarms per hour on clean real content: the real recording looped into one clean
 * programme per broadcast profile (at least `minutes` in all), each run through `analyze`
 * with the default profile; every incident is counted by type. Clips are generated once into
 * the suite directory and reused (same name and options, same file).
 *
 * Real speech too, where Debian's alsa-utils is installed (scripts/setup.sh installs it): its
 * spoken test words (/usr/share/sounds/alsa, "Front Center" ...) joined into one voice track,
 * looped over the recording's pictures, in two more encodes (AAC and MP2) of the same length.
 * Without them the run says so and goes on with the recording alone.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { analyzeInput, type DecodeChoice } from "../monitor/analyze.js";
import { BROADCAST_PROFILE_NAMES, type BroadcastProfileName } from "../gen/broadcast-profile.js";
import { cachedCleanProgramme, type CleanProgramme } from "../gen/clean-programme.js";
import { runFfmpeg } from "../gen/corrupt-clip.js";
import { pool } from "./eval-runner.js";
import { EXTRA_MEDIA_HINT, type ExtraMedia } from "./extra-media.js";

/** Spoken words shipped by Debian's alsa-utils (Noise.wav, pink noise, is left out). */
export const SPEECH_DIR = "/usr/share/sounds/alsa";
const SPEECH_FILES = [
  "Front_Center",
  "Front_Left",
  "Front_Right",
  "Rear_Center",
  "Rear_Left",
  "Rear_Right",
  "Side_Left",
  "Side_Right",
].map((n) => `${SPEECH_DIR}/${n}.wav`);
/** The encodes the speech programme is carried in. */
const SPEECH_PROFILES: readonly BroadcastProfileName[] = ["h264-aac-2m", "mpeg2-mp2-1500k"];

export interface FalseAlarmOptions {
  readonly dir: string;
  readonly realMedia: string;
  /** The camera, music and trailer (extra-media.ts), when fetched: more programmes. */
  readonly extraMedia?: ExtraMedia | null;
  readonly ffmpegPath: string;
  /** Total minutes of programme, spread evenly over the profiles. Default 10. */
  readonly minutes?: number;
  readonly jobs?: number;
  /** Full decoding's policy (decode-policy.ts). Default `auto`. */
  readonly decodePolicy?: DecodeChoice;
  /** Per-detector option overrides for every clip, as in a profile's `detectors`. */
  readonly detectors?: Record<string, unknown>;
  readonly onProgress?: (message: string) => void;
}

export interface FalseAlarmClip {
  readonly name: string;
  /**
   * `film`: the recording's own sound; `speech`: Debian's spoken words over its pictures;
   * `camera`: a real camera with real music under it; `trailer`: a film trailer's own mix;
   * `animation`: cartoon cut-scenes with their own effects and music.
   */
  readonly content: Content;
  readonly profile: BroadcastProfileName;
  readonly seconds: number;
  readonly programme: CleanProgramme;
  readonly incidents: { readonly type: string; readonly start: number; readonly end: number | null }[];
}

export interface FalseAlarmResult {
  readonly clips: FalseAlarmClip[];
  readonly seconds: number;
  /** Incidents per type over every clip. */
  readonly counts: Record<string, number>;
  /** The true-peak limit the content is compared with, dBTP (EBU R128's -1). */
  readonly truePeakLimit: number;
}

const TRUE_PEAK_LIMIT = -1;

type Content = "film" | "speech" | "camera" | "trailer" | "animation";

interface Job {
  readonly content: Content;
  readonly profile: BroadcastProfileName;
  readonly base: string;
  /** Each copy's length, seconds (the recording's own length at most). */
  readonly segment: number;
  readonly voice: string | null;
}

/** The encodes the camera, the trailer and the animation are carried in. */
const EXTRA_PROFILES: readonly BroadcastProfileName[] = ["h264-aac-2m", "mpeg2-mp2-1500k"];

function clipName(job: Job, seconds: number): string {
  const prefix = job.content === "film" ? "clean" : job.content;
  return `${prefix}-${job.profile}-${seconds}s`;
}

async function programme(
  opts: FalseAlarmOptions,
  job: Job,
  seconds: number,
): Promise<{ path: string; programme: CleanProgramme }> {
  const { profile, voice } = job;
  const path = join(opts.dir, `${clipName(job, seconds)}.ts`);
  // Reused only when made the same way (clean-programme.ts: the recipe).
  const p = await cachedCleanProgramme(path, {
    base: job.base,
    segment: job.segment,
    seconds,
    profile,
    ffmpegPath: opts.ffmpegPath,
    ...(voice ? { voice } : {}),
  });
  return { path, programme: p };
}

/** The spoken words joined into one 48 kHz mono track in `dir`, or null when absent. */
async function speechTrack(opts: FalseAlarmOptions): Promise<string | null> {
  if (!SPEECH_FILES.every((f) => existsSync(f))) return null;
  const out = join(opts.dir, "speech-alsa.wav");
  if (existsSync(out)) return out;
  const inputs = SPEECH_FILES.flatMap((f) => ["-i", f]);
  const chain = SPEECH_FILES.map((_, k) => `[${k}:a:0]aresample=48000,aformat=channel_layouts=mono[s${k}]`);
  const joined = SPEECH_FILES.map((_, k) => `[s${k}]`).join("");
  await runFfmpeg(opts.ffmpegPath, [
    "-nostdin",
    ...inputs,
    "-filter_complex",
    `${chain.join(";")};${joined}concat=n=${SPEECH_FILES.length}:v=0:a=1[out]`,
    "-map",
    "[out]",
    out,
  ]);
  return out;
}

export async function runFalseAlarms(opts: FalseAlarmOptions): Promise<FalseAlarmResult> {
  const minutes = opts.minutes ?? 10;
  const seconds = Math.ceil((minutes * 60) / BROADCAST_PROFILE_NAMES.length);
  await mkdir(opts.dir, { recursive: true });
  const voice = await speechTrack(opts);
  if (voice === null)
    opts.onProgress?.(
      `speech skipped: ${SPEECH_DIR} is absent (Debian's alsa-utils; scripts/setup.sh installs it)`,
    );
  const film = (content: Content, profile: BroadcastProfileName, v: string | null): Job => ({
    content,
    profile,
    base: opts.realMedia,
    segment: 59.5,
    voice: v,
  });
  const extra = opts.extraMedia ?? null;
  if (extra === null) opts.onProgress?.(`camera and trailer skipped: ${EXTRA_MEDIA_HINT}`);
  const jobs: Job[] = [
    ...BROADCAST_PROFILE_NAMES.map((profile) => film("film", profile, null)),
    ...(voice ? SPEECH_PROFILES.map((profile) => film("speech", profile, voice)) : []),
    ...(extra
      ? EXTRA_PROFILES.flatMap((profile): Job[] => [
          { content: "camera", profile, base: extra.camera, segment: 79, voice: extra.music },
          { content: "trailer", profile, base: extra.trailer, segment: 11.2, voice: null },
          ...(extra.animation
            ? [{ content: "animation" as const, profile, base: extra.animation, segment: 126.9, voice: null }]
            : []),
        ])
      : []),
  ];
  const clips = await pool(jobs, opts.jobs ?? 2, async (job): Promise<FalseAlarmClip> => {
    const { profile, content } = job;
    const { path, programme: prog } = await programme(opts, job, seconds);
    const res = await analyzeInput(path, {
      ffmpegPath: opts.ffmpegPath,
      threads: 1,
      ...(opts.decodePolicy ? { decodePolicy: opts.decodePolicy } : {}),
      ...(opts.detectors ? { detectors: opts.detectors } : {}),
    });
    const incidents = res.incidents.map((i) => ({ type: i.type, start: i.start, end: i.end }));
    opts.onProgress?.(`${content} ${profile} (${seconds} s): ${incidents.length} incidents`);
    return {
      name: clipName(job, seconds),
      content,
      profile,
      seconds,
      programme: prog,
      incidents,
    };
  });
  const counts: Record<string, number> = {};
  for (const c of clips) for (const i of c.incidents) counts[i.type] = (counts[i.type] ?? 0) + 1;
  return { clips, seconds: seconds * clips.length, counts, truePeakLimit: TRUE_PEAK_LIMIT };
}

/** The markdown report: incidents per hour by type, then per clip with the content's levels. */
export function renderFalseAlarms(r: FalseAlarmResult): string {
  const hours = r.seconds / 3600;
  const lines: string[] = [];
  lines.push(
    `Clean real content: ${(r.seconds / 60).toFixed(1)} minutes in ${r.clips.length} encodes ` +
      `(${r.clips.map((c) => `${c.content} ${c.profile}`).join(", ")}), default profile.\n`,
  );
  lines.push("| type | incidents | per hour |\n| --- | ---: | ---: |");
  const types = Object.keys(r.counts).sort();
  if (types.length === 0) lines.push("| (none) | 0 | 0 |");
  for (const t of types) lines.push(`| ${t} | ${r.counts[t]} | ${((r.counts[t] ?? 0) / hours).toFixed(1)} |`);
  lines.push("");
  lines.push(
    "| clip | seconds | gain (dB) | integrated (LUFS) | LRA (LU) | true peak (dBTP) | incidents |\n" +
      "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
  );
  for (const c of r.clips) {
    const by = new Map<string, number>();
    for (const i of c.incidents) by.set(i.type, (by.get(i.type) ?? 0) + 1);
    const m = c.programme.measured;
    lines.push(
      `| ${c.name} | ${c.seconds} | ${c.programme.gainDb.toFixed(2)} | ${m.integrated.toFixed(1)} | ${m.range.toFixed(
        1,
      )} | ${m.truePeak.toFixed(1)} | ${by.size === 0 ? "none" : [...by].map(([t, n]) => `${t} ×${n}`).join(", ")} |`,
    );
  }
  lines.push("");
  const over = r.clips.filter((c) => c.programme.measured.truePeak > r.truePeakLimit);
  lines.push(
    over.length === 0
      ? `No encode peaks over ${r.truePeakLimit} dBTP: any audio.true-peak incident above is a false alarm.`
      : `The content really exceeds ${r.truePeakLimit} dBTP in ${over
          .map((c) => `${c.name} (${c.programme.measured.truePeak.toFixed(1)} dBTP)`)
          .join(", ")}: audio.true-peak incidents there are true, not false alarms.`,
  );
  return `${lines.join("\n")}\n`;
}
