/**
 * Packet loss in an MPEG-TS file, as a lossy network gives it: 188-byte TS packets are
 * dropped (not overwritten, as ts-corruptor.ts does, and not whole frames removed with their
 * timestamps kept, as gap-defect.ts does). Two shapes:
 *
 * - `scattered`: in [T, T+D), about one in seven of each video frame's packets after its PES
 *   header is dropped (at least one per frame): a lossy link with the payload damaged, the
 *   frames still there. Truth: `video.blockiness` from the first damaged frame to the next
 *   keyframe after the last one (as for ts-corruptor's windows).
 * - `burst`: every packet of every PID from the first packet of the first video frame at or
 *   after T to the first packet of the first video frame at or after T+D: an outage.
 *   Truth: `stream.gap` per track where the presentation times that survive leave a hole of
 *   `minGap` or more, and `video.blockiness` from the first frame whose data or references
 *   were lost (a frame cut short at the loss, or the first non-key frame after it) to the
 *   next keyframe.
 *
 * Truths come from the stream itself (the PES units that survive, their PTS and keyframes),
 * never from what a detector reports.
 */
import { StreamqcError } from "../errors.js";
import { scanTransportStream, seededRandom, type Pes } from "./ts-corruptor.js";

const TS = 188;

export interface PacketLossWindow {
  readonly start: number;
  readonly duration: number;
  readonly shape: "scattered" | "burst";
}

export interface LossTruth {
  readonly type: "video.blockiness" | "stream.gap";
  readonly start: number;
  readonly end: number;
  readonly track?: "video" | "audio";
}

export interface PacketLossResult {
  readonly data: Uint8Array;
  readonly truths: LossTruth[];
  readonly droppedPackets: number;
}

/** stream.gap's documented default minimum: shorter holes are not expected to be reported. */
const MIN_GAP = 0.5;

function finitePts(list: readonly Pes[]): number[] {
  return list.map((p) => p.pts).filter((t) => Number.isFinite(t));
}

/** The largest hole between consecutive surviving presentation times near the loss. */
function hole(
  all: readonly number[],
  kept: readonly number[],
  nominal: number,
): { start: number; end: number } | null {
  const lost = all.filter((t) => !kept.includes(t));
  if (lost.length === 0) return null;
  const sorted = [...kept].sort((a, b) => a - b);
  const firstLost = Math.min(...lost);
  const lastLost = Math.max(...lost);
  const before = sorted.filter((t) => t < firstLost).pop();
  const after = sorted.find((t) => t > lastLost);
  if (before === undefined || after === undefined) return null;
  return { start: before + nominal, end: after };
}

function medianStep(pts: readonly number[]): number {
  const s = [...pts].sort((a, b) => a - b);
  const d: number[] = [];
  for (let i = 1; i < s.length; i++) d.push(s[i]! - s[i - 1]!);
  d.sort((a, b) => a - b);
  return d[d.length >> 1] ?? 0.04;
}

/** Returns a copy of `input` with the windows' packets dropped, and the truths. */
export function dropTransportPackets(
  input: Uint8Array,
  windows: readonly PacketLossWindow[],
  seed = 1,
): PacketLossResult {
  const scan = scanTransportStream(input);
  const { video, audio } = scan;
  const videoFirst = Math.min(...finitePts(video));
  const origin = scan.audioFirst === null ? videoFirst : Math.min(videoFirst, scan.audioFirst);
  const rand = seededRandom(seed);
  const drop = new Set<number>();
  const truths: LossTruth[] = [];
  const frameStep = medianStep(finitePts(video));
  const audioStep = medianStep(finitePts(audio));

  const nextKeyAfter = (index: number): number => {
    for (let i = index + 1; i < video.length; i++) if (video[i]?.key) return video[i]!.pts - origin;
    return Math.max(...finitePts(video)) - origin + frameStep;
  };

  for (const w of windows) {
    if (w.shape === "scattered") {
      let first = Infinity;
      let lastIndex = -1;
      video.forEach((pes, i) => {
        const t = pes.pts - origin;
        if (!(t >= w.start && t < w.start + w.duration)) return;
        const body = pes.packets.slice(1);
        if (body.length === 0) return;
        const chosen = body.filter(() => rand() < 0.15);
        if (chosen.length === 0) chosen.push(body[Math.floor(rand() * body.length)]!);
        for (const off of chosen) drop.add(off);
        first = Math.min(first, t);
        lastIndex = i;
      });
      if (lastIndex < 0) {
        throw new StreamqcError(
          "SQM_ERR_DEFECT_SPEC",
          `loss@${w.start}:${w.duration} covers no video frame of several packets`,
        );
      }
      truths.push({ type: "video.blockiness", start: first, end: nextKeyAfter(lastIndex) });
      continue;
    }
    // burst: a contiguous run of the file, every PID.
    const from = video.findIndex((p) => p.pts - origin >= w.start);
    const to = video.findIndex((p) => p.pts - origin >= w.start + w.duration);
    if (from < 0 || to <= from) {
      throw new StreamqcError("SQM_ERR_DEFECT_SPEC", `loss@${w.start}:${w.duration} is not inside the clip`);
    }
    const a = video[from]!.packets[0]!;
    const b = video[to]!.packets[0]!;
    for (let off = a; off < b; off += TS) drop.add(off);
    // This window's loss alone: damage from another window has its own truth.
    const inBurst = (off: number): boolean => off >= a && off < b;
    const survives = (p: Pes): boolean => !inBurst(p.packets[0]!);
    const damaged = (p: Pes): boolean => p.packets.some(inBurst);
    for (const [track, list, step] of [
      ["video", video, frameStep],
      ["audio", audio, audioStep],
    ] as const) {
      const h = hole(finitePts(list), finitePts(list.filter(survives)), step);
      if (h !== null && h.end - h.start + 1e-6 >= MIN_GAP) {
        truths.push({ type: "stream.gap", track, start: h.start - origin, end: h.end - origin });
      }
    }
    // Picture damage: frames cut short by the loss, and every frame decoded after it that
    // needs a reference it lost, up to the next keyframe.
    let first = Infinity;
    let lastDamaged = -1;
    for (let i = 0; i < video.length; i++) {
      const p = video[i]!;
      if (!survives(p)) continue;
      const cut = damaged(p);
      const afterLoss = p.packets[0]! >= b;
      if (cut) {
        first = Math.min(first, p.pts - origin);
        lastDamaged = i;
      } else if (afterLoss) {
        if (p.key) break;
        first = Math.min(first, p.pts - origin);
        lastDamaged = i;
      }
    }
    if (lastDamaged >= 0) {
      truths.push({ type: "video.blockiness", start: first, end: nextKeyAfter(lastDamaged) });
    }
  }
  const kept: Uint8Array[] = [];
  for (let off = 0; off + TS <= input.length; off += TS) {
    if (!drop.has(off)) kept.push(input.subarray(off, off + TS));
  }
  const data = new Uint8Array(kept.length * TS);
  kept.forEach((p, i) => data.set(p, i * TS));
  truths.sort((x, y) => x.start - y.start);
  return { data, truths, droppedPackets: drop.size };
}
