/**
 * False alarms per hour on clean real content: the real recording looped into one clean
 * programme per broadcast profile (at least `minutes` in all), each run through `analyze`
 * with the default profile; every incident is counted by type. Clips are generated once into
 * the suite directory and reused (same name and options, same file).
 */
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { analyzeInput } from "../monitor/analyze.js";
import { BROADCAST_PROFILE_NAMES, type BroadcastProfileName } from "../gen/broadcast-profile.js";
import { generateCleanProgramme, type CleanProgramme } from "../gen/clean-programme.js";
import { pool } from "./eval-runner.js";

export interface FalseAlarmOptions {
  readonly dir: string;
  readonly realMedia: string;
  readonly ffmpegPath: string;
  /** Total minutes of programme, spread evenly over the profiles. Default 10. */
  readonly minutes?: number;
  readonly jobs?: number;
  readonly onProgress?: (message: string) => void;
}

export interface FalseAlarmClip {
  readonly name: string;
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

async function programme(
  opts: FalseAlarmOptions,
  profile: BroadcastProfileName,
  seconds: number,
): Promise<{ path: string; programme: CleanProgramme }> {
  const name = `clean-${profile}-${seconds}s`;
  const path = join(opts.dir, `${name}.ts`);
  const meta = `${path}.truth.json`;
  if (existsSync(path) && existsSync(meta)) {
    const cached = JSON.parse(await readFile(meta, "utf8")) as CleanProgramme;
    if (cached.seconds === seconds && cached.profile === profile) return { path, programme: cached };
  }
  const p = await generateCleanProgramme(path, {
    base: opts.realMedia,
    seconds,
    profile,
    ffmpegPath: opts.ffmpegPath,
  });
  return { path, programme: p };
}

export async function runFalseAlarms(opts: FalseAlarmOptions): Promise<FalseAlarmResult> {
  const minutes = opts.minutes ?? 10;
  const seconds = Math.ceil((minutes * 60) / BROADCAST_PROFILE_NAMES.length);
  await mkdir(opts.dir, { recursive: true });
  const clips = await pool(BROADCAST_PROFILE_NAMES, opts.jobs ?? 2, async (profile) => {
    const { path, programme: prog } = await programme(opts, profile, seconds);
    const res = await analyzeInput(path, { ffmpegPath: opts.ffmpegPath, threads: 1 });
    const incidents = res.incidents.map((i) => ({ type: i.type, start: i.start, end: i.end }));
    opts.onProgress?.(`clean ${profile} (${seconds} s): ${incidents.length} incidents`);
    return { name: `clean-${profile}-${seconds}s`, profile, seconds, programme: prog, incidents };
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
      `(${r.clips.map((c) => c.profile).join(", ")}), default profile.\n`,
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
