/**
 * The visual half of `video.blockiness`: how much of a detail frame shows macroblock edges.
 *
 * A damaged or concealed macroblock differs from its neighbours as a whole, so its border is
 * a straight step in luma along the macroblock grid with comparatively flat picture on both
 * sides. We cut every grid line into macroblock-long segments and call a segment a block
 * edge when its step across the line is large and at least `ratio` times the gradient just
 * beside it (FFmpeg's `blockdetect` compares the same two gradients over the whole frame; we
 * judge per segment so that a few damaged blocks in a detailed picture still count).
 *
 * Clean pictures also have straight steps (cartoon outlines, graphics), but those fall on
 * the grid no more often than anywhere else. So the same count is taken on a control grid
 * shifted by half a macroblock, and the score is on-grid minus off-grid: the share of grid
 * segments that are block edges beyond what the picture's own edges explain.
 *
 * Grid geometry: detail frames are the picture's centre at native resolution, cropped on
 * the macroblock grid, so the period is 16 pixels (times `pixelScale` for a scaled detail
 * view). The step is taken across `span` = ceil(scale) pixels on each side.
 */

export interface BlockEdgeResult {
  /** Share of on-grid segments that are block edges, in [0, 1]. */
  readonly onGrid: number;
  /** The same share on the control grid shifted by half a macroblock. */
  readonly offGrid: number;
  /** onGrid - offGrid, clamped at 0: the block-edge score. */
  readonly score: number;
}

export interface BlockEdgeParams {
  /** Minimum mean luma step across a segment (8-bit levels) to call it an edge. */
  readonly minStep: number;
  /** The step must be this many times the gradient beside it. */
  readonly ratio: number;
}

export const DEFAULT_BLOCK_EDGE_PARAMS: BlockEdgeParams = { minStep: 4, ratio: 2.5 };

/**
 * Counts block-edge segments along vertical grid lines at x = offset + k*periodX (and,
 * transposed, horizontal lines at y = offset' + k*periodY). No allocation per call.
 */
function countEdges(
  luma: Uint8Array,
  width: number,
  height: number,
  periodX: number,
  periodY: number,
  offsetX: number,
  offsetY: number,
  span: number,
  p: BlockEdgeParams,
): { edges: number; segments: number } {
  let edges = 0;
  let segments = 0;
  const segY = Math.max(2, Math.round(periodY));
  const segX = Math.max(2, Math.round(periodX));
  // Vertical lines: steps along x.
  for (let k = 0; ; k++) {
    const xb = Math.round(offsetX + k * periodX);
    if (xb < 2 * span) continue;
    if (xb + 2 * span > width) break;
    for (let y0 = 0; y0 + segY <= height; y0 += segY) {
      let step = 0;
      let beside = 0;
      for (let y = y0; y < y0 + segY; y++) {
        const row = y * width;
        const a = luma[row + xb - span] ?? 0;
        const b = luma[row + xb + span - 1] ?? 0;
        const a2 = luma[row + xb - 2 * span] ?? 0;
        const b2 = luma[row + xb + 2 * span - 1] ?? 0;
        step += Math.abs(b - a);
        beside += Math.abs(a - a2) + Math.abs(b2 - b);
      }
      segments++;
      if (step >= p.minStep * segY && step >= p.ratio * (beside / 2)) edges++;
    }
  }
  // Horizontal lines: steps along y.
  for (let k = 0; ; k++) {
    const yb = Math.round(offsetY + k * periodY);
    if (yb < 2 * span) continue;
    if (yb + 2 * span > height) break;
    const ra = (yb - span) * width;
    const rb = (yb + span - 1) * width;
    const ra2 = (yb - 2 * span) * width;
    const rb2 = (yb + 2 * span - 1) * width;
    for (let x0 = 0; x0 + segX <= width; x0 += segX) {
      let step = 0;
      let beside = 0;
      for (let x = x0; x < x0 + segX; x++) {
        const a = luma[ra + x] ?? 0;
        const b = luma[rb + x] ?? 0;
        step += Math.abs(b - a);
        beside += Math.abs(a - (luma[ra2 + x] ?? 0)) + Math.abs((luma[rb2 + x] ?? 0) - b);
      }
      segments++;
      if (step >= p.minStep * segX && step >= p.ratio * (beside / 2)) edges++;
    }
  }
  return { edges, segments };
}

/**
 * Block-edge score of one frame whose macroblocks are `periodX` x `periodY` pixels of this
 * frame (16 source pixels scaled to the frame).
 */
export function blockEdgeScore(
  luma: Uint8Array,
  width: number,
  height: number,
  periodX: number,
  periodY: number,
  params: BlockEdgeParams = DEFAULT_BLOCK_EDGE_PARAMS,
): BlockEdgeResult {
  const span = Math.max(1, Math.ceil(Math.max(periodX, periodY) / 16 - 1e-9));
  const on = countEdges(luma, width, height, periodX, periodY, periodX, periodY, span, params);
  const off = countEdges(luma, width, height, periodX, periodY, periodX * 1.5, periodY * 1.5, span, params);
  const onGrid = on.segments > 0 ? on.edges / on.segments : 0;
  const offGrid = off.segments > 0 ? off.edges / off.segments : 0;
  return { onGrid, offGrid, score: Math.max(0, onGrid - offGrid) };
}
