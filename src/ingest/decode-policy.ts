/**
 * How much of the decoder's work full decoding may skip without changing a verdict.
 *
 * Two cuts, both on frames nothing references (the B-frames x264 and most broadcast encoders
 * do not predict from; every B-frame of MPEG-2; HEVC's sub-layer non-reference pictures):
 * - `fast`: every frame is decoded, but H.264's in-loop deblocking (a large part of decoding)
 *   is skipped on unreferenced frames (`-skip_loop_filter noref`). Reference frames are used
 *   deblocked to predict later ones, so skipping it on one would change every frame predicted
 *   from it until the next keyframe; on an unreferenced frame it changes that frame alone.
 * - `refs`: unreferenced frames are not decoded at all (`-skip_frame noref`). Every frame that
 *   is decoded is bit-exact (nothing it depends on was skipped), so the analysis frames are the
 *   reference frames, unevenly spaced: with x264's defaults (3 B-frames, pyramid) about 3 in
 *   4 of them, at most two frame intervals apart; MPEG-2 with two B-frames per P, 1 in 3, three
 *   intervals apart; a stream without B-frames loses nothing (and saves nothing).
 *
 * What each view of the picture needs:
 * - Analysis frames (160x90): freeze and black judge runs of seconds (freeze 2 s, black 0.5 s)
 *   between frames whatever their spacing; a change or a black frame inside an unreferenced
 *   frame is seen on the next reference frame, at most a few frame intervals later (measured
 *   by `eval`: see BENCHMARKS.md). Gaps (`stream.gap`, 0.5 s) and blockiness's hole check
 *   (0.5 s) are far longer than any spacing of reference frames a real encoder makes.
 * - A/V sync pairs each sound onset with the first frame that shows the matching picture
 *   change: it needs every frame (an event seen a frame late is a 40 ms error, the size of
 *   the tolerances it judges). A profile with a detector that says `needs.everyFrame` is
 *   decoded with `fast` instead (resolveDecodePolicy) - but a file is read with `refs` until
 *   that detector asks for every frame, and from then on with `fast`, from the start of the
 *   window it judges (every-frame-upgrade.ts): A/V sync asks once sound onsets pair with
 *   picture changes (a sync pattern), which a programme without one never does. A live input
 *   streamqc feeds restarts its decoder from its kept bytes instead (live-every-frame-upgrade.ts);
 *   one ffmpeg reads itself cannot be read again, so it decodes every frame throughout.
 * - Detail frames (native resolution, 2 fps, block edges): deblocking is exactly what hides
 *   block edges, so a detail frame must be one that was deblocked: with `fast` they are drawn
 *   from I and P frames only; with `refs` every decoded frame is a deblocked reference.
 * - Decoder errors (concealment, corrupt frames) come from parsing and reconstruction: with
 *   `fast` they run on every frame; with `refs` damage inside an unreferenced frame is not
 *   seen, and it damages that frame alone (nothing is predicted from it). Damage to a
 *   reference frame, which spreads until the next keyframe, is seen as before.
 */

/**
 * `exact`: every frame decoded as the encoder reconstructed it. `fast`: every frame, deblocking
 * skipped where nothing depends on it. `refs`: reference frames only.
 */
export type DecodePolicy = "exact" | "fast" | "refs";

/** What a user or profile may ask for: a policy, or `auto` (resolveDecodePolicy). */
export type DecodeChoice = DecodePolicy | "auto";

export const DECODE_CHOICES: readonly DecodeChoice[] = ["auto", "refs", "fast", "exact"];

/** The default choice: reference frames only unless a detector needs every frame. */
export const DEFAULT_DECODE_CHOICE: DecodeChoice = "auto";

/** A MediaReader given no policy decodes every frame (it does not know what the detectors need). */
export const DEFAULT_DECODE_POLICY: DecodePolicy = "fast";

/** The policy `auto` takes when no detector needs every frame. */
export const AUTO_DECODE_POLICY: DecodePolicy = "refs";

/** A detector as a profile holds it, as far as decoding cares. */
export interface FrameNeeds {
  readonly definition: { readonly type: string; readonly needs: { readonly everyFrame?: boolean } };
}

/**
 * The policy full decoding runs under: `auto` is `refs` unless a detector of the profile needs
 * every frame (A/V sync), then `fast` (a file under `auto` then starts on `refs` and changes to
 * `fast` when the detector asks: analyze.ts, every-frame-upgrade.ts). An explicit `refs` with
 * such a detector is kept (the user chose it: that detector's timing is then coarser).
 */
export function resolveDecodePolicy(
  choice: DecodeChoice | undefined,
  detectors: readonly FrameNeeds[],
): DecodePolicy {
  if (choice !== undefined && choice !== "auto") return choice;
  return detectors.some((d) => d.definition.needs.everyFrame === true) ? "fast" : AUTO_DECODE_POLICY;
}

/** Decoder options (before the input) for full decoding under `policy`. Video decoder only. */
export function policyDecoderOptions(policy: DecodePolicy): string[] {
  if (policy === "refs") return ["-skip_frame:v", "noref"];
  return policy === "fast" ? ["-skip_loop_filter:v", "noref"] : [];
}

/**
 * A `select` term that is 1 for frames whose picture may be judged for block edges under
 * `policy` (multiplied into the detail stream's rate selection), or null when every frame may
 * (`exact`: all deblocked; `refs`: only references are decoded, all deblocked).
 */
export function detailFrameCondition(policy: DecodePolicy): string | null {
  return policy === "fast" ? "(eq(pict_type\\,PICT_TYPE_I)+eq(pict_type\\,PICT_TYPE_P))" : null;
}
