/**
 * How much of the decoder's work full decoding may skip without changing a verdict.
 *
 * H.264's in-loop deblocking filter is a large part of decoding (measured on the 1080p bench
 * clip: see BENCHMARKS.md). It smooths block edges after each frame is reconstructed, and
 * reference frames are used deblocked to predict later ones, so skipping it on a reference
 * frame changes every frame predicted from it until the next keyframe. Skipping it on a
 * frame nothing references (`-skip_loop_filter noref`: the B-frames x264 and most broadcast
 * encoders do not use for prediction) changes that one frame and nothing else.
 *
 * What each view of the picture needs:
 * - Analysis frames (160x90, every frame): each pixel averages a 12x12 cell at 1080p, so a
 *   deblocking step of a few levels along block edges moves it by a fraction of a level;
 *   freeze, black and av.sync judge changes far larger than that.
 * - Detail frames (native resolution, 2 fps, block edges): deblocking is exactly what hides
 *   block edges, so a detail frame must be one that was deblocked. With `fast` they are drawn
 *   only from I and P frames, which are reference frames (deblocked) in H.264 as encoders make
 *   it; B-frames, the ones left undeblocked, are never judged for block edges.
 * - Decoder errors (concealment, corrupt frames) come from parsing and reconstruction, which
 *   still run on every frame.
 */

/** `exact`: every frame decoded as the encoder reconstructed it. `fast`: deblocking skipped where nothing depends on it. */
export type DecodePolicy = "exact" | "fast";

export const DECODE_POLICIES: readonly DecodePolicy[] = ["exact", "fast"];

/** Full decoding's default. */
export const DEFAULT_DECODE_POLICY: DecodePolicy = "fast";

/** Decoder options (before the input) for full decoding under `policy`. Video decoder only. */
export function policyDecoderOptions(policy: DecodePolicy): string[] {
  return policy === "fast" ? ["-skip_loop_filter:v", "noref"] : [];
}

/**
 * A `select` term that is 1 for frames whose picture may be judged for block edges under
 * `policy` (multiplied into the detail stream's rate selection), or null when every frame may.
 */
export function detailFrameCondition(policy: DecodePolicy): string | null {
  return policy === "fast" ? "(eq(pict_type\\,PICT_TYPE_I)+eq(pict_type\\,PICT_TYPE_P))" : null;
}
