/**
 * Clean real programme for the false-alarm measurement: a real recording looped to a given
 * length (copies of the same stretch joined by ffmpeg's concat filter, each track trimmed to
 * the same length so that sound and picture never drift apart at the joins), its sound brought
 * to -23 LUFS by one linear gain from its measured integrated loudness, encoded with one of
 * the broadcast profiles. Nothing is injected: every incident on it is a false alarm, except
 * `audio.true-peak` where the content itself peaks over the limit (measured and returned).
 */
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { StreamqcError } from "../errors.js";
import { encoderArguments, type BroadcastProfileName } from "./broadcast-profile.js";
import { runFfmpeg } from "./corrupt-clip.js";
import { probeLoudness, type AudioProbe } from "./loudness-probe.js";

export interface CleanProgrammeOptions {
  readonly base: string;
  /** Length of the programme, seconds. */
  readonly seconds: number;
  /** Length of each copy of the recording, seconds (at most its own length). Default 59.5. */
  readonly segment?: number;
  readonly profile: BroadcastProfileName;
  readonly ffmpegPath?: string;
  readonly target?: number;
  /**
   * A recording of sound used instead of the base's own (looped to the length): real speech
   * over the base's pictures, so the audio detectors meet a voice, not only a film's mix.
   */
  readonly voice?: string;
}

/**
 * How a programme is made, as far as its cached copy must match: a change to how programmes
 * are made bumps `rules` (2: the voice's gain measured on the part used), so that a cached
 * programme made the old way is never reused.
 */
export interface ProgrammeRecipe {
  readonly rules: number;
  readonly base: string;
  readonly segment: number;
  readonly voice: string | null;
  readonly target: number;
}

export const PROGRAMME_RULES = 2;

const DEFAULT_SEGMENT = 59.5;
const DEFAULT_TARGET = -23;

/** The recipe `o` describes (defaults filled in). */
export function programmeRecipe(o: CleanProgrammeOptions): ProgrammeRecipe {
  return {
    rules: PROGRAMME_RULES,
    base: o.base,
    segment: o.segment ?? DEFAULT_SEGMENT,
    voice: o.voice ?? null,
    target: o.target ?? DEFAULT_TARGET,
  };
}

export interface CleanProgramme {
  readonly seconds: number;
  readonly profile: BroadcastProfileName;
  /** How it was made (absent in programmes cached before recipes were kept: made again). */
  readonly recipe?: ProgrammeRecipe;
  readonly gainDb: number;
  /** The encoded programme's own measurement (FFmpeg's ebur128). */
  readonly measured: AudioProbe;
}

/**
 * The programme at `out` when one made the same way is there (same length, encode and
 * recipe), else a new one made with generateCleanProgramme.
 */
export async function cachedCleanProgramme(out: string, o: CleanProgrammeOptions): Promise<CleanProgramme> {
  const meta = `${out}.truth.json`;
  if (existsSync(out) && existsSync(meta)) {
    const cached = JSON.parse(await readFile(meta, "utf8")) as CleanProgramme;
    if (
      cached.seconds === o.seconds &&
      cached.profile === o.profile &&
      JSON.stringify(cached.recipe) === JSON.stringify(programmeRecipe(o))
    )
      return cached;
  }
  return generateCleanProgramme(out, o);
}

export async function generateCleanProgramme(out: string, o: CleanProgrammeOptions): Promise<CleanProgramme> {
  const ffmpeg = o.ffmpegPath ?? "ffmpeg";
  const { segment, target } = programmeRecipe(o);
  if (!(o.seconds > 0) || !(segment > 0))
    throw new StreamqcError("SQM_ERR_USAGE", `programme length must be positive, got ${o.seconds}`);
  const source = o.voice
    ? await probeLoudness(ffmpeg, o.voice, `atrim=duration=${o.seconds}`)
    : await probeLoudness(ffmpeg, o.base, `atrim=duration=${segment}`);
  const gainDb = Math.round((target - source.integrated) * 100) / 100;
  const copies = Math.ceil(o.seconds / segment);
  const parts: string[] = [];
  let joined = "";
  for (let k = 0; k < copies; k++) {
    parts.push(
      `[${k}:v:0]trim=duration=${segment},setpts=PTS-STARTPTS,scale=640:360:force_original_aspect_ratio=decrease,` +
        `pad=640:360:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=25[v${k}]`,
    );
    if (!o.voice)
      parts.push(
        `[${k}:a:0]atrim=duration=${segment},asetpts=PTS-STARTPTS,aresample=48000,` +
          `aformat=sample_fmts=flt:channel_layouts=stereo[a${k}]`,
      );
    joined += o.voice ? `[v${k}]` : `[v${k}][a${k}]`;
  }
  if (o.voice) {
    // The voice is the last input, looped by the demuxer (-stream_loop) to cover the length.
    parts.push(
      `${joined}concat=n=${copies}:v=1:a=0[vc]`,
      `[${copies}:a:0]aresample=48000,aformat=sample_fmts=flt:channel_layouts=stereo[ac]`,
    );
  } else parts.push(`${joined}concat=n=${copies}:v=1:a=1[vc][ac]`);
  parts.push(
    `[vc]trim=duration=${o.seconds},format=yuv420p[vout]`,
    `[ac]atrim=duration=${o.seconds},volume=${gainDb}dB,aformat=sample_fmts=s16:sample_rates=48000[aout]`,
  );
  await runFfmpeg(ffmpeg, [
    "-nostdin",
    ...Array.from({ length: copies }, () => ["-i", o.base]).flat(),
    ...(o.voice ? ["-stream_loop", "-1", "-i", o.voice] : []),
    "-filter_complex",
    parts.join(";"),
    "-map",
    "[vout]",
    "-map",
    "[aout]",
    "-t",
    String(o.seconds),
    ...encoderArguments(o.profile),
    out,
  ]);
  const result: CleanProgramme = {
    seconds: o.seconds,
    profile: o.profile,
    recipe: programmeRecipe(o),
    gainDb,
    measured: await probeLoudness(ffmpeg, out),
  };
  await writeFile(`${out}.truth.json`, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
