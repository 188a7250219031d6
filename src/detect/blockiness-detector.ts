/**
 * `video.blockiness`: block corruption (macroblocking) from damaged or lost data.
 *
 * Two signals, because neither is enough alone:
 * - The decoder's own reports (`decoder-error` events: concealed macroblocks, slice errors).
 *   They are exact about *that* frames are damaged, and they open the condition. Their `at`
 *   is approximate (the log line arrives a little before its frame), well within 0.2 s.
 * - The picture. Damage propagates through predicted frames, silently, until the next
 *   keyframe replaces the whole picture. That refresh is a spike in the analysis frames'
 *   change (mean absolute luma difference) well above the motion level before the damage
 *   and just before the spike; the first such spike after the errors stop ends the
 *   condition. Without one within `maxHold` seconds the condition ends one frame after the
 *   last error (the concealment left nothing lasting to see).
 * - Block edges on detail frames (see block-edge-measure.ts) open a condition on their own
 *   when a stream shows macroblocking without decoder reports (a damaged upstream encode):
 *   `minScore` for `minDirtyFrames` detail frames in a row, closed after `clearFrames` clean
 *   ones. This visual-only path is coarser: detail frames come at DETAIL_FPS (2 fps), so its
 *   onset and end are at 0.5 s steps plus the frames it needs to confirm.
 * - A hole in the pictures (`refGap` seconds or more without a frame: lost packets, see
 *   `stream.gap`) that resumes on a predicted frame: the frames after it are built on
 *   references that never arrived, and FFmpeg's decoders say nothing (H.264 and MPEG-2 after a
 *   1.6-1.9 s burst of lost TS packets: no "corrupt decoded frame", measured on the real-lossy
 *   eval clips). The picture is damaged from the first frame after the hole to the next
 *   keyframe; a hole that resumes on a keyframe is clean. When the sound had a hole that
 *   began with the pictures' and ended inside it, the stream came back then: the damage is
 *   dated there, not at the first picture shown (FFmpeg's H.264 decoder withholds the
 *   pictures after a frame_num gap whose order count went backwards, "no picture ooo" in its
 *   debug log: 0.6-0.8 s of received, damaged pictures never output, seen on the camera
 *   clips of the tune half).
 */
import { z } from "zod";
import { defineDetector, type ConditionSink, type Detector } from "./detector.js";
import {
  DETAIL_HEIGHT,
  DETAIL_WIDTH,
  type AudioBlock,
  type DetailFrame,
  type StreamEvent,
  type VideoFrame,
} from "../ingest/media.js";
import { DEFAULT_BLOCK_EDGE_PARAMS, blockEdgeScore } from "./block-edge-measure.js";

const FULL_LEVELS = DEFAULT_BLOCK_EDGE_PARAMS;
const LIMITED_LEVELS = { ...FULL_LEVELS, minStep: (FULL_LEVELS.minStep * 219) / 255 };

export const BlockinessOptions = z
  .object({
    /** Macroblocks concealed in one report that count as damage. Default 1: any. */
    minConcealed: z.number().int().min(1).default(1),
    /**
     * Seconds by which decoder log lines run ahead of their frames. ffmpeg logs while it
     * decodes; the frame reaches us after the filters and the NUT muxer, which holds packets
     * to interleave the sparse detail stream. Measured with analyze's ingest (detail on): 0.39
     * to 0.47 s; without detail frames about 0.16 s. Default 0.4 s.
     */
    decoderLead: z.number().min(0).default(0.4),
    /** Seconds after the last decoder error within which a keyframe refresh ends the condition. Default 4 s (two 2 s GOPs). */
    maxHold: z.number().positive().default(4),
    /** Block-edge score (share of grid segments) that makes a detail frame look corrupted. Default 0.08. */
    minScore: z.number().min(0).max(1).default(0.08),
    /** Consecutive corrupted-looking detail frames that open a visual-only condition. Default 2. */
    minDirtyFrames: z.number().int().min(1).default(2),
    /** Consecutive clean detail frames that close a visual-only condition. Default 2. */
    clearFrames: z.number().int().min(1).default(2),
    /**
     * Seconds without a picture after which a predicted (non-key) frame is damaged until the
     * next keyframe. Default 0.5 s (`stream.gap`'s minimum: a hole it reports).
     */
    refGap: z.number().positive().default(0.5),
  })
  .strict();

type Options = z.output<typeof BlockinessOptions>;

/** Decoder log lines that mean damaged picture data (not demuxer, audio or watchdog reports). */
const PICTURE_ERROR = /\bMB\b|slice|cabac|cavlc|intra mode|reference|corrupt|concealing/i;

/**
 * Seconds after the last (lead-corrected) error before a change can count as the refresh:
 * the frames right after the damage still jump as concealment catches up.
 */
const REFRESH_QUIET = 0.08;

/**
 * How near the start of the pictures' hole the sound's must begin to be the same loss (audio
 * and video packets of one moment are up to a few hundred ms apart in a multiplex).
 */
const SAME_LOSS = 0.5;
/** Seconds of pictures after a hole to wait for the sound to get there, at most. */
const AUDIO_WAIT = 2;

/** Frame changes kept for the motion baseline: about one second at 25 fps. */
const HISTORY = 25;

function median(values: Float64Array, n: number, scratch: Float64Array): number {
  if (n === 0) return 0;
  scratch.set(values.subarray(0, n));
  const s = scratch.subarray(0, n).sort();
  return s[n >> 1] ?? 0;
}

class BlockinessDetector implements Detector {
  readonly type = "video.blockiness";
  private prev: Uint8Array | null = null;
  private readonly diffs = new Float64Array(HISTORY);
  private readonly scratch = new Float64Array(HISTORY);
  private diffCount = 0;
  private diffPos = 0;
  private lastPts = 0;
  private frameDuration = 0.04;
  // Open condition.
  private openSince: number | null = null;
  private cause: "decoder" | "visual" | "missing-reference" = "decoder";
  private errors = 0;
  private concealed = 0;
  private lastErrorAt = -Infinity;
  /** Motion level before the damage: the refresh must stand out from it. */
  private baseline = 0;
  /** The largest change among damaged frames: concealment jumps, which a refresh must exceed. */
  private damageChange = 0;
  private maxScore = 0;
  private lastScore = 0;
  private dirtyRun = 0;
  private dirtyRunStart = 0;
  private cleanRun = 0;
  private keyframesSeen = false;
  /** Media time of the last keyframe event (emitted just before its frame). */
  private lastKeyAt = -Infinity;
  /** pts of the previous analysis frame, whatever path is used. */
  private prevFramePts: number | null = null;
  /** End of the last audio block (null: no sound seen), and the sound's last hole. */
  private audioEnd: number | null = null;
  private audioHole: { start: number; end: number } | null = null;
  /** A picture hole that resumed on a predicted frame, waiting for the sound to pass it. */
  private pendingHole: { before: number; at: number } | null = null;

  constructor(
    private readonly opts: Options,
    private readonly sink: ConditionSink,
  ) {}

  pushAudio(block: AudioBlock): void {
    const end = block.pts + block.frames / block.sampleRate;
    if (this.audioEnd !== null && block.pts - this.audioEnd >= this.opts.refGap)
      this.audioHole = { start: this.audioEnd, end: block.pts };
    this.audioEnd = Math.max(this.audioEnd ?? end, end);
    if (this.pendingHole && this.audioEnd >= this.pendingHole.at) this.resolveHole();
  }

  /**
   * Opens the damage after a picture hole: at the sound's return when the sound lost the same
   * stretch and came back inside the pictures' hole (the stream was back; the decoder had not
   * shown its pictures yet), else at the first picture after the hole.
   */
  private resolveHole(): void {
    const h = this.pendingHole;
    if (!h) return;
    this.pendingHole = null;
    const a = this.audioHole;
    const sameLoss =
      a !== null && Math.abs(a.start - h.before) <= SAME_LOSS && a.end > h.before && a.end < h.at;
    if (this.openSince === null) this.open(sameLoss ? a.end : h.at, "missing-reference");
  }

  pushEvent(event: StreamEvent): void {
    // What follows (a keyframe's refresh, more damage) comes after the hole's damage.
    if (this.pendingHole && (event.kind === "keyframe" || event.kind === "decoder-error")) this.resolveHole();
    if (event.kind === "keyframe") {
      // A keyframe after the last damaged frame rebuilds the whole picture: the damage ends here.
      this.keyframesSeen = true;
      this.lastKeyAt = event.at;
      if (this.openSince !== null && this.cause !== "visual" && event.at > this.lastErrorAt)
        this.close(event.at);
      return;
    }
    if (event.kind !== "decoder-error") return;
    // Where the decoder ties reports to frames (keyframes seen), reports it could not tie are
    // timed by arrival only: they would open a condition at a wrong time, so they are left out.
    if (event.frame !== true && this.keyframesSeen) return;
    // Demuxer and watchdog reports are not picture damage.
    if (event.concealed === undefined && !PICTURE_ERROR.test(event.message)) return;
    if (event.concealed !== undefined && event.concealed < this.opts.minConcealed) return;
    this.errors++;
    this.concealed += event.concealed ?? 0;
    // Reports tied to their frame are exact; others arrived ahead of the frames they concern.
    const at = event.frame === true ? event.at : event.at + this.opts.decoderLead;
    this.lastErrorAt = Math.max(this.lastErrorAt, at);
    if (this.openSince === null) {
      this.open(at, "decoder");
    } else if (this.cause === "visual") {
      this.cause = "decoder";
    }
  }

  private open(at: number, cause: "decoder" | "visual" | "missing-reference"): void {
    this.openSince = at;
    this.cause = cause;
    this.baseline = median(this.diffs, this.diffCount, this.scratch);
    this.sink({ phase: "start", condition: this.condition(null) });
  }

  private condition(end: number | null) {
    return {
      type: "video.blockiness",
      start: this.openSince ?? 0,
      end,
      details: {
        cause: this.cause,
        decoderErrors: this.errors,
        concealedMacroblocks: this.concealed,
        maxBlockScore: Math.round(this.maxScore * 1000) / 1000,
      },
    };
  }

  private close(end: number): void {
    if (this.openSince === null) return;
    this.sink({ phase: "end", condition: this.condition(Math.max(end, this.openSince)) });
    this.openSince = null;
    this.errors = 0;
    this.concealed = 0;
    this.maxScore = 0;
    this.damageChange = 0;
    this.dirtyRun = 0;
    this.cleanRun = 0;
  }

  pushVideo(frame: VideoFrame): void {
    const luma = frame.luma;
    let change = 0;
    const hasPrev = this.prev !== null && this.prev.length === luma.length;
    const before = this.prevFramePts;
    this.prevFramePts = frame.pts;
    if (
      this.keyframesSeen &&
      before !== null &&
      frame.pts - before >= this.opts.refGap &&
      Math.abs(this.lastKeyAt - frame.pts) > 1e-6 &&
      this.openSince === null
    ) {
      // Resumed after a hole on a predicted frame: damaged until the next keyframe. Without
      // sound, or with the sound already past it, that is known now; else when the sound is.
      this.lastErrorAt = frame.pts;
      this.pendingHole = { before, at: frame.pts };
      if (this.audioEnd === null || this.audioEnd >= frame.pts) this.resolveHole();
    } else if (this.pendingHole && frame.pts - this.pendingHole.at > AUDIO_WAIT) {
      this.resolveHole();
    }
    // With keyframe events the refresh is known exactly: the picture's change is not needed.
    if (this.keyframesSeen) return;
    if (this.prev && hasPrev) {
      let sum = 0;
      const prev = this.prev;
      for (let i = 0; i < luma.length; i++) sum += Math.abs((luma[i] ?? 0) - (prev[i] ?? 0));
      change = sum / luma.length;
    }
    const d = frame.pts - this.lastPts;
    if (d > 0 && d < 0.2) this.frameDuration = this.frameDuration * 0.9 + d * 0.1;
    this.lastPts = frame.pts;
    // Without keyframe events, the refresh is found in the picture itself (a spike of change).
    if (this.openSince !== null && this.cause === "decoder" && !this.keyframesSeen) {
      const quiet = frame.pts - this.lastErrorAt;
      if (quiet <= 0) {
        this.damageChange = Math.max(this.damageChange, change);
      } else if (quiet > REFRESH_QUIET) {
        const local = median(this.diffs, this.diffCount, this.scratch);
        const threshold = Math.max(
          this.baseline + 1.5,
          this.baseline * 1.5,
          local * 2,
          this.damageChange * 1.2,
        );
        if (change > threshold) {
          this.close(frame.pts);
        } else if (quiet > this.opts.maxHold) {
          this.close(this.lastErrorAt + this.frameDuration);
        }
      }
    }
    if (this.prev === null || this.prev.length !== luma.length) this.prev = new Uint8Array(luma.length);
    this.prev.set(luma);
    if (hasPrev) {
      this.diffs[this.diffPos] = change;
      this.diffPos = (this.diffPos + 1) % HISTORY;
      this.diffCount = Math.min(HISTORY, this.diffCount + 1);
    }
  }

  pushDetail(frame: DetailFrame): void {
    const w = frame.width || DETAIL_WIDTH;
    const h = frame.height || DETAIL_HEIGHT;
    const period = 16 * frame.pixelScale;
    // Steps are judged in full-range levels: a limited-range step is 219/255 of the same edge.
    const r = blockEdgeScore(
      frame.luma,
      w,
      h,
      period,
      period,
      frame.fullRange ? FULL_LEVELS : LIMITED_LEVELS,
    );
    this.lastScore = r.score;
    const dirty = r.score >= this.opts.minScore;
    if (this.openSince !== null) this.maxScore = Math.max(this.maxScore, r.score);
    if (dirty) {
      if (this.dirtyRun === 0) this.dirtyRunStart = frame.pts;
      this.dirtyRun++;
      this.cleanRun = 0;
      if (this.openSince === null && this.dirtyRun >= this.opts.minDirtyFrames) {
        this.open(this.dirtyRunStart, "visual");
        this.maxScore = r.score;
      }
    } else {
      this.dirtyRun = 0;
      if (this.cleanRun === 0) this.dirtyRunStart = frame.pts;
      this.cleanRun++;
      if (this.openSince !== null && this.cause === "visual" && this.cleanRun >= this.opts.clearFrames) {
        // The first clean detail frame is the end we can see at the detail rate.
        this.close(this.dirtyRunStart);
      }
    }
  }

  flush(endPts: number): void {
    this.resolveHole();
    this.close(Math.max(endPts, this.lastPts));
  }

  measure() {
    return {
      corrupted: this.openSince !== null,
      blockScore: Math.round(this.lastScore * 1000) / 1000,
    };
  }
}

export const blockinessDetector = defineDetector({
  type: "video.blockiness",
  description:
    "video.blockiness (macroblocking) from decoder concealment reports, keyframe refresh and block edges on detail frames",
  emits: [{ type: "video.blockiness", severity: "major" }],
  needs: { video: true, detail: true },
  options: BlockinessOptions,
  create: (options, sink) => new BlockinessDetector(options, sink),
});
