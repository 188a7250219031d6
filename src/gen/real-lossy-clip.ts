/**
 * Real-content, lossy test clips: a stretch of a real recording re-encoded as broadcasters
 * send it (see broadcast-profile.ts), its sound brought to -23 LUFS by ONE linear gain from
 * its measured integrated loudness (its dynamics kept, unlike loudnorm's dynamic mode), with
 * defects injected in ways `gen` does not use:
 *
 * - `clip`: hard clipping before the audio encoder: a gain that takes the passage's own
 *   sample peak to +12 dBFS, then the 16-bit conversion clips; the encoder then codes the
 *   clipped sound (AAC, MP2 or AC-3 overshoot and ragged tops).
 * - `step`, `ramp`, `passage`: loudness changes as gain in steps (to the end), ramps (over
 *   `duration`, then held) and passages (for `duration`, then back), with a look-ahead limiter
 *   at -1 dBFS so that a loud section is loud, not clipped (as a broadcast chain limits it).
 * - `offset`: the whole sound `ms` late (positive) or early, on natural content.
 * - `loss`: TS packets dropped after encoding (ts-packet-loss.ts).
 * - picture defects of `gen` (`freeze`, `black`, ...) on the real pictures.
 *
 * The truth comes from the spec and from measurements made with FFmpeg's meters on the
 * result (loudness-probe.ts), never from streamqc. Loudness expectations follow the rules of
 * issue 10 (EBU R128 / ATSC A/85 programme loudness): a stretch of at least 15 s at 10 LU or
 * more above the target, one of 60 s or more at 6 LU or more off target, or a passage of 10 s
 * or more at 10 LU or more above the programme around it, gives one `audio.loudness`; a level
 * beyond A/85's ±2 dB whose deadline falls after the clip's end is optional (reporting it is
 * right, and so is not yet reporting it); otherwise that defect is a near miss.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { StreamqcError } from "../errors.js";
import { BROADCAST_PROFILES, encoderArguments, type BroadcastProfileName } from "./broadcast-profile.js";
import { injectVideoDefects } from "./clip-generator.js";
import { runFfmpeg } from "./corrupt-clip.js";
import { parseDefectSpec } from "./defect-spec.js";
import { probeFrameRate, probeLoudness, probePeak } from "./loudness-probe.js";
import { dropTransportPackets, type PacketLossWindow } from "./ts-packet-loss.js";

export type RealDefect =
  | { readonly kind: "clip"; readonly start: number; readonly duration: number }
  | { readonly kind: "step"; readonly start: number; readonly gainDb: number }
  | { readonly kind: "ramp"; readonly start: number; readonly duration: number; readonly gainDb: number }
  | { readonly kind: "passage"; readonly start: number; readonly duration: number; readonly gainDb: number }
  | { readonly kind: "offset"; readonly ms: number }
  | {
      readonly kind: "loss";
      readonly start: number;
      readonly duration: number;
      readonly shape: "scattered" | "burst";
    }
  /** A `gen` picture defect list, e.g. `freeze@5:3,black@12:2.5`. */
  | { readonly kind: "picture"; readonly defects: string };

export interface RealLossyOptions {
  readonly base: string;
  /** Seconds into the base recording where the clip starts. */
  readonly baseStart: number;
  /**
   * The sound's recording when it is not the base's own (pictures and sound of different real
   * recordings: a camera without sound, music), and where in it the clip's sound starts.
   */
  readonly sound?: { readonly path: string; readonly start: number };
  readonly duration: number;
  readonly profile: BroadcastProfileName;
  readonly defects: readonly RealDefect[];
  readonly seed?: number;
  readonly ffmpegPath?: string;
  /** Programme loudness target, LUFS. Default -23 (EBU R128). */
  readonly target?: number;
}

export interface RealTruth {
  readonly type: string;
  readonly start: number;
  readonly end: number;
  /** The onset may lie anywhere in [start, start + onsetSlack] (a ramp has no single onset). */
  readonly onsetSlack?: number;
  /** Reporting it and not reporting it within the clip are both right (match-scorer.ts). */
  readonly optional?: boolean;
}

export interface RealNearMiss {
  readonly defect: string;
  readonly why: string;
}

export interface RealLossyTruth {
  readonly duration: number;
  readonly profile: BroadcastProfileName;
  /** The linear gain applied to reach the target, dB, and what was measured before. */
  readonly gainDb: number;
  readonly sourceLufs: number;
  readonly sourceRangeLu: number;
  readonly truths: RealTruth[];
  readonly nearMisses: RealNearMiss[];
  readonly droppedPackets: number;
}

/** av.sync's default tolerance (ITU-R BT.1359): audio may lead 45 ms, lag 125 ms. */
const SYNC_MAX_LEAD_MS = 45;
const SYNC_MAX_LAG_MS = 125;
/** Issue 10's rules for audio.loudness (see the module comment). */
const LOUD_LU = 10;
const LOUD_SUSTAIN_S = 15;
/**
 * Issue 10: a channel 10 LU or more above target gives an incident within 15 s. On real
 * programme the moment it "becomes" too loud is the content's (a step into a quiet scene is
 * not loud until the scene is), so a sustained excursion's onset may lie anywhere from the
 * gain change to this long after it reached full gain.
 */
const LOUD_LATENCY_S = 15;
const PASSAGE_MIN_S = 10;
/** Issue 10: a channel 6 LU or more off target either way, sustained, gives one within 60 s. */
const OFF_LU = 6;
const OFF_LATENCY_S = 60;
/**
 * ATSC A/85's tolerance around the target (±2 dB): a level inside it is at target, and a
 * loudness incident there is false. Between it and the rules above, either is right.
 */
const TOLERANCE_LU = 2;
/** Clipping bursts of 0.3 s or more are to be reported (issue 10, item 3). */
const CLIP_MIN_S = 0.3;
const CLIP_PEAK_DBFS = 12;
const WIDTH = 640;
const HEIGHT = 360;
const FPS = 25;

function num(v: number): string {
  return Number(v.toFixed(6)).toString();
}

function soundPath(o: RealLossyOptions): string {
  return o.sound?.path ?? o.base;
}

function soundStart(o: RealLossyOptions): number {
  return o.sound?.start ?? o.baseStart;
}

function sourceAudio(o: RealLossyOptions, extraStart: number): string {
  return (
    `atrim=start=${num(soundStart(o) + extraStart)}:duration=${num(o.duration)},asetpts=PTS-STARTPTS,` +
    `aresample=48000,aformat=sample_fmts=flt:channel_layouts=stereo`
  );
}

function loudnessFilters(defects: readonly RealDefect[]): string[] {
  const out: string[] = [];
  for (const d of defects) {
    const g = `pow(10,${num(("gainDb" in d ? d.gainDb : 0) / 20)})`;
    if (d.kind === "step") out.push(`volume=volume='if(gte(t,${num(d.start)}),${g},1)':eval=frame`);
    else if (d.kind === "ramp")
      out.push(
        `volume=volume='if(lt(t,${num(d.start)}),1,pow(10,${num(d.gainDb / 20)}*min(1,(t-${num(d.start)})/${num(
          d.duration,
        )})))':eval=frame`,
      );
    else if (d.kind === "passage")
      out.push(
        `volume=volume=${num(d.gainDb)}dB:enable='gte(t,${num(d.start)})*lt(t,${num(d.start + d.duration)})'`,
      );
  }
  return out;
}

async function loudnessTruths(
  ffmpeg: string,
  out: string,
  o: RealLossyOptions,
  target: number,
): Promise<{ truths: RealTruth[]; nearMisses: RealNearMiss[] }> {
  const truths: RealTruth[] = [];
  const nearMisses: RealNearMiss[] = [];
  const at = (from: number, to: number): Promise<number> =>
    probeLoudness(ffmpeg, out, `atrim=start=${num(from)}:end=${num(to)}`).then((p) => p.integrated);
  for (const d of o.defects) {
    if (d.kind === "step" || d.kind === "ramp") {
      const full = d.kind === "ramp" ? d.start + d.duration : d.start;
      const held = o.duration - full;
      const lufs = await at(full, o.duration);
      const over = lufs - target;
      const name = `${d.kind}@${d.start}:${d.gainDb}dB`;
      const span = o.duration - d.start;
      if (over >= LOUD_LU && held >= LOUD_SUSTAIN_S) {
        truths.push({
          type: "audio.loudness",
          start: d.start,
          end: o.duration,
          onsetSlack: Math.min(span, full - d.start + LOUD_LATENCY_S),
        });
      } else if (Math.abs(over) >= OFF_LU && held >= OFF_LATENCY_S) {
        truths.push({
          type: "audio.loudness",
          start: d.start,
          end: o.duration,
          onsetSlack: Math.min(span, full - d.start + OFF_LATENCY_S),
        });
      } else if (Math.abs(over) >= TOLERANCE_LU) {
        // Off target beyond A/85's tolerance, but the issue's deadline for it (15 s at +10 LU,
        // 60 s at 6 LU) falls after the clip's end: reporting it and not yet reporting it are
        // both right.
        truths.push({
          type: "audio.loudness",
          start: d.start,
          end: o.duration,
          onsetSlack: span,
          optional: true,
        });
        nearMisses.push({
          defect: name,
          why: `${lufs.toFixed(1)} LUFS for ${held.toFixed(1)} s: may be reported (optional truth)`,
        });
      } else {
        nearMisses.push({ defect: name, why: `${lufs.toFixed(1)} LUFS for ${held.toFixed(1)} s` });
      }
    } else if (d.kind === "passage") {
      const end = d.start + d.duration;
      const inside = await at(d.start, end);
      // The programme around it: the clip without the passage (ebur128 over both sides).
      const around = await probeLoudness(
        ffmpeg,
        out,
        `aselect='not(between(t,${num(d.start)},${num(end)}))',asetpts=N/SR/TB`,
      );
      const name = `passage@${d.start}:${d.duration}:${d.gainDb}dB`;
      const above = inside - around.integrated;
      if (d.duration >= PASSAGE_MIN_S && above >= LOUD_LU) {
        // Loud from wherever the programme inside it is loud: its onset may be anywhere in it.
        truths.push({ type: "audio.loudness", start: d.start, end, onsetSlack: d.duration });
      } else if (above >= TOLERANCE_LU) {
        truths.push({ type: "audio.loudness", start: d.start, end, onsetSlack: d.duration, optional: true });
        nearMisses.push({
          defect: name,
          why: `${inside.toFixed(1)} LUFS against ${around.integrated.toFixed(1)} around it: may be reported`,
        });
      } else {
        nearMisses.push({
          defect: name,
          why: `${inside.toFixed(1)} LUFS against ${around.integrated.toFixed(1)} around it`,
        });
      }
    }
  }
  return { truths, nearMisses };
}

/** Writes the clip to `out`; returns its truth (also written to `<out>.truth.json`). */
export async function generateRealLossyClip(out: string, o: RealLossyOptions): Promise<RealLossyTruth> {
  const ffmpeg = o.ffmpegPath ?? "ffmpeg";
  const target = o.target ?? -23;
  if (!(o.duration > 0) || o.baseStart < 0 || (o.sound !== undefined && o.sound.start < 0))
    throw new StreamqcError("SQM_ERR_USAGE", `bad clip window ${o.baseStart}+${o.duration}`);
  if (!Object.hasOwn(BROADCAST_PROFILES, o.profile))
    throw new StreamqcError("SQM_ERR_USAGE", `unknown broadcast profile ${o.profile}`);

  // The pictures' trim keeps frames from the first one at or after baseStart: a start between
  // two frames would make the base's own sound start up to a frame earlier than its pictures
  // (up to 42 ms more offset than the spec at 24 fps). Both start on a frame time instead.
  if (o.sound === undefined) {
    const fps = await probeFrameRate(ffmpeg, o.base);
    if (fps !== null && fps > 0) o = { ...o, baseStart: Math.ceil(o.baseStart * fps - 1e-6) / fps };
  }
  // One linear gain for the whole clip, from the stretch's own gated integrated loudness.
  const source = await probeLoudness(ffmpeg, soundPath(o), sourceAudio(o, 0));
  const gainDb = Math.round((target - source.integrated) * 100) / 100;

  const truths: RealTruth[] = [];
  const nearMisses: RealNearMiss[] = [];
  const audio: string[] = [];
  const offset = o.defects.find((d) => d.kind === "offset");
  const ms = offset?.kind === "offset" ? offset.ms : 0;
  // Early sound: the programme's sound from `ms` later; late sound: delayed, the first `ms` silent.
  audio.push(`[1:a:0]${sourceAudio(o, ms < 0 ? -ms / 1000 : 0)}`, `volume=${num(gainDb)}dB`);
  if (ms > 0) audio.push(`adelay=delays=${Math.round(ms)}:all=1`);
  if (ms !== 0) {
    // No apad: it makes ffmpeg 5.1 wait forever beside chained freezeframes. Early sound is
    // read from further into the recording (the caller keeps baseStart + |ms| + duration
    // inside it); late sound is cut back to the clip's length.
    audio.push(`atrim=duration=${num(o.duration)}`);
    if (ms > SYNC_MAX_LAG_MS || ms < -SYNC_MAX_LEAD_MS)
      truths.push({ type: "av.sync", start: 0, end: o.duration });
    else nearMisses.push({ defect: `offset ${ms} ms`, why: "inside BT.1359's -45..+125 ms" });
  }
  const loud = loudnessFilters(o.defects);
  audio.push(...loud);
  // A broadcast chain's limiter (-1 dBFS, latency compensated): loud sections stay unclipped.
  if (loud.length > 0) audio.push(`alimiter=limit=0.891:level=0:latency=1`);
  for (const d of o.defects) {
    if (d.kind !== "clip") continue;
    const window = `atrim=start=${num(soundStart(o) + d.start)}:duration=${num(d.duration)}`;
    const peak = (await probePeak(ffmpeg, soundPath(o), window)) + gainDb;
    const boost = Math.min(40, Math.max(6, CLIP_PEAK_DBFS - peak));
    audio.push(
      `volume=volume=${num(boost)}dB:enable='gte(t,${num(d.start)})*lt(t,${num(d.start + d.duration)})'`,
    );
    if (d.duration >= CLIP_MIN_S)
      truths.push({ type: "audio.clipping", start: d.start, end: d.start + d.duration });
    else nearMisses.push({ defect: `clip@${d.start}:${d.duration}`, why: "shorter than 0.3 s" });
  }
  // Hard clipping happens here: float samples beyond full scale are clipped by the conversion.
  audio.push(`aformat=sample_fmts=s16:sample_rates=48000:channel_layouts=stereo[aout]`);

  const pictures = o.defects.flatMap((d) => (d.kind === "picture" ? parseDefectSpec(d.defects) : []));
  const video = injectVideoDefects(pictures, "v0", { fps: FPS, seed: o.seed ?? 1 });
  for (const t of video.truth) {
    if (t.expect !== null) truths.push({ type: t.expect, start: t.start, end: t.end });
    else
      nearMisses.push({ defect: `${t.type}@${t.start}:${(t.end - t.start).toFixed(2)}`, why: "near miss" });
  }
  const graph = [
    `[0:v:0]trim=start=${num(o.baseStart)}:duration=${num(o.duration)},setpts=PTS-STARTPTS,` +
      `scale=${WIDTH}:${HEIGHT}:force_original_aspect_ratio=decrease,` +
      `pad=${WIDTH}:${HEIGHT}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=${FPS}[v0]`,
    ...video.parts,
    `[${video.label}]format=yuv420p[vout]`,
    audio.join(","),
  ].join(";");

  const losses = o.defects.filter((d): d is Extract<RealDefect, { kind: "loss" }> => d.kind === "loss");
  const encoded = losses.length > 0 ? `${out}.clean.ts` : out;
  await runFfmpeg(ffmpeg, [
    "-nostdin",
    // The recording twice: pictures from input 0, sound from input 1. With one input, an
    // audio trim that starts later than the video's beside chained freezeframes leaves
    // ffmpeg 5.1 waiting for ever; two demuxers are read independently.
    "-i",
    o.base,
    "-i",
    soundPath(o),
    "-filter_complex",
    graph,
    "-map",
    "[vout]",
    "-map",
    "[aout]",
    "-t",
    num(o.duration),
    ...encoderArguments(o.profile),
    encoded,
  ]);
  let droppedPackets = 0;
  if (losses.length > 0) {
    const windows: PacketLossWindow[] = losses.map((l) => ({
      start: l.start,
      duration: l.duration,
      shape: l.shape,
    }));
    const res = dropTransportPackets(await readFile(encoded), windows, o.seed ?? 1);
    await writeFile(out, res.data);
    await rm(encoded, { force: true });
    droppedPackets = res.droppedPackets;
    for (const t of res.truths) truths.push({ type: t.type, start: t.start, end: t.end });
  }
  const loudness = await loudnessTruths(ffmpeg, out, o, target);
  truths.push(...loudness.truths);
  nearMisses.push(...loudness.nearMisses);
  truths.sort((a, b) => a.start - b.start || a.type.localeCompare(b.type));
  const truth: RealLossyTruth = {
    duration: o.duration,
    profile: o.profile,
    gainDb,
    sourceLufs: source.integrated,
    sourceRangeLu: source.range,
    truths,
    nearMisses,
    droppedPackets,
  };
  await writeFile(`${out}.truth.json`, `${JSON.stringify(truth, null, 2)}\n`);
  return truth;
}
