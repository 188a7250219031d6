/**
 * `corrupt@T:D`: damage the encoded video of an MPEG-TS file the way a lossy link does, by
 * overwriting payload bytes of the video PID's TS packets whose PES (one frame) has a PTS in
 * [T, T+D). TS headers and PES headers stay intact so the timing survives and the damage is
 * judged by the decoder, not by the demuxer. The ground truth is computed from the stream:
 * from the first damaged frame to the next keyframe (random access point) after the damage.
 */
import { StreamqcError } from "../errors.js";

const TS = 188;
const PTS_HZ = 90_000;

export interface CorruptWindow {
  /** Seconds of media time (from the stream's first timestamp). */
  readonly start: number;
  readonly duration: number;
}

export interface CorruptTruth {
  readonly type: "video.blockiness";
  /** Media seconds of the earliest damaged frame (presentation time). */
  readonly start: number;
  /** Media seconds of the first keyframe after the damage: the picture is whole again. */
  readonly end: number;
  readonly damagedFrames: number;
  readonly damagedPackets: number;
}

export interface CorruptResult {
  readonly data: Uint8Array;
  readonly truths: CorruptTruth[];
  /** The raw PTS (seconds) that media time zero stands for: the earliest video or audio PTS. */
  readonly origin: number;
}

export interface Pes {
  /** Raw PTS in seconds (NaN when the PES carries none). */
  pts: number;
  key: boolean;
  /** Offsets of this PES's TS packets in the file, the first one carries the PES header. */
  packets: number[];
}

/** A small deterministic generator, so that a clip and its truth are reproducible. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x1_0000_0000;
  };
}

function payloadOffset(buf: Uint8Array, off: number): number {
  const afc = ((buf[off + 3] ?? 0) >> 4) & 3;
  if ((afc & 1) === 0) return TS; // no payload
  return afc & 2 ? off + 5 + (buf[off + 4] ?? 0) - off : 4;
}

function readPts(b: Uint8Array, p: number): number {
  const b0 = b[p] ?? 0;
  return (
    ((b0 >> 1) & 7) * 2 ** 30 +
    (b[p + 1] ?? 0) * 2 ** 22 +
    ((b[p + 2] ?? 0) >> 1) * 2 ** 15 +
    (b[p + 3] ?? 0) * 2 ** 7 +
    ((b[p + 4] ?? 0) >> 1)
  );
}

const VIDEO_STREAM_TYPES = new Set([0x01, 0x02, 0x1b, 0x24]);
const AUDIO_STREAM_TYPES = new Set([0x03, 0x04, 0x0f, 0x11, 0x81]);

export interface TsScan {
  /** The video PID's PES units (frames), in file (decode) order. */
  video: Pes[];
  /** The first audio PID's PES units, in file order. */
  audio: Pes[];
  audioFirst: number | null;
  pesHeaderEnd: Map<number, number>;
}

/** Splits a TS into the video PID's PES units (frames) and the first audio PID's, in file order. */
export function scanTransportStream(buf: Uint8Array): TsScan {
  if (buf.length % TS !== 0 || buf[0] !== 0x47) {
    throw new StreamqcError("SQM_ERR_INPUT_UNREADABLE", "not an MPEG-TS file of 188-byte packets");
  }
  let pmtPid = -1;
  let videoPid = -1;
  const audioPids = new Set<number>();
  let audioFirst: number | null = null;
  const video: Pes[] = [];
  const audio: Pes[] = [];
  let firstAudioPid = -1;
  const pesHeaderEnd = new Map<number, number>();
  for (let off = 0; off + TS <= buf.length; off += TS) {
    const b1 = buf[off + 1] ?? 0;
    const pid = ((b1 & 0x1f) << 8) | (buf[off + 2] ?? 0);
    const pusi = (b1 & 0x40) !== 0;
    const po = payloadOffset(buf, off);
    if (po >= TS) continue;
    const p = off + po;
    if (pid === 0 && pusi && pmtPid < 0) {
      const s = p + 1 + (buf[p] ?? 0);
      // First program of the PAT: program_number(2) then PID(13 bits).
      pmtPid = (((buf[s + 10] ?? 0) & 0x1f) << 8) | (buf[s + 11] ?? 0);
    } else if (pid === pmtPid && pusi && videoPid < 0) {
      const s = p + 1 + (buf[p] ?? 0);
      const sectionLength = (((buf[s + 1] ?? 0) & 0x0f) << 8) | (buf[s + 2] ?? 0);
      const progInfo = (((buf[s + 10] ?? 0) & 0x0f) << 8) | (buf[s + 11] ?? 0);
      let e = s + 12 + progInfo;
      const end = s + 3 + sectionLength - 4;
      while (e + 5 <= end) {
        const type = buf[e] ?? 0;
        const epid = (((buf[e + 1] ?? 0) & 0x1f) << 8) | (buf[e + 2] ?? 0);
        const esInfo = (((buf[e + 3] ?? 0) & 0x0f) << 8) | (buf[e + 4] ?? 0);
        if (VIDEO_STREAM_TYPES.has(type) && videoPid < 0) videoPid = epid;
        else if (AUDIO_STREAM_TYPES.has(type)) audioPids.add(epid);
        e += 5 + esInfo;
      }
    } else if (pid === videoPid || audioPids.has(pid)) {
      if (pusi) {
        if (buf[p] !== 0 || buf[p + 1] !== 0 || buf[p + 2] !== 1) continue;
        const hasPts = ((buf[p + 7] ?? 0) & 0x80) !== 0;
        const pts = hasPts ? readPts(buf, p + 9) / PTS_HZ : NaN;
        if (pid === videoPid) {
          const afc = ((buf[off + 3] ?? 0) >> 4) & 3;
          const rai = (afc & 2) !== 0 && (buf[off + 4] ?? 0) > 0 && ((buf[off + 5] ?? 0) & 0x40) !== 0;
          video.push({ pts, key: rai, packets: [off] });
          pesHeaderEnd.set(off, p + 9 + (buf[p + 8] ?? 0));
        } else {
          if (hasPts && (audioFirst === null || pts < audioFirst)) audioFirst = pts;
          if (firstAudioPid < 0) firstAudioPid = pid;
          if (pid === firstAudioPid) audio.push({ pts, key: true, packets: [off] });
        }
      } else if (pid === videoPid) {
        video[video.length - 1]?.packets.push(off);
      } else if (pid === firstAudioPid) {
        audio[audio.length - 1]?.packets.push(off);
      }
    }
  }
  if (videoPid < 0 || video.length === 0) {
    throw new StreamqcError("SQM_ERR_INPUT_UNREADABLE", "no video stream found in the transport stream");
  }
  return { video, audio, audioFirst, pesHeaderEnd };
}

/**
 * Returns a damaged copy of `input` and the ground truth of every window. About one in seven of
 * each frame's packets (at least one) are overwritten with random bytes.
 */
export function corruptTransportStream(
  input: Uint8Array,
  windows: readonly CorruptWindow[],
  seed = 1,
): CorruptResult {
  const data = new Uint8Array(input);
  const { video, audioFirst, pesHeaderEnd } = scanTransportStream(data);
  const videoFirst = Math.min(...video.map((v) => v.pts).filter((t) => Number.isFinite(t)));
  const origin = audioFirst === null ? videoFirst : Math.min(videoFirst, audioFirst);
  const rand = seededRandom(seed);
  const truths: CorruptTruth[] = [];
  for (const w of windows) {
    let first = Infinity;
    let lastIndex = -1;
    let frames = 0;
    let packets = 0;
    video.forEach((pes, i) => {
      const t = pes.pts - origin;
      if (!(t >= w.start && t < w.start + w.duration)) return;
      const body = pes.packets.slice(1);
      const chosen = body.filter(() => rand() < 0.15);
      if (chosen.length === 0 && body.length > 0) chosen.push(body[Math.floor(rand() * body.length)] ?? 0);
      let from: number[] = chosen
        .filter((off) => payloadOffset(data, off) < TS)
        .map((off) => off + payloadOffset(data, off));
      if (body.length === 0) {
        // A frame that fits one packet: damage what follows its PES header.
        const head = pes.packets[0] ?? 0;
        from = [pesHeaderEnd.get(head) ?? head + TS];
      }
      let touched = false;
      for (const start of from) {
        const stop = Math.floor(start / TS) * TS + TS;
        for (let k = start; k < stop; k++) data[k] = Math.floor(rand() * 256);
        if (stop > start) {
          touched = true;
          packets++;
        }
      }
      if (!touched) return;
      frames++;
      first = Math.min(first, t);
      lastIndex = i;
    });
    if (lastIndex < 0) {
      throw new StreamqcError(
        "SQM_ERR_DEFECT_SPEC",
        `corrupt@${w.start}:${w.duration} covers no video frame of the clip`,
      );
    }
    // The picture is whole again at the first keyframe decoded after the last damaged frame.
    let end = Infinity;
    for (let i = lastIndex + 1; i < video.length; i++) {
      const pes = video[i];
      if (pes?.key) {
        end = pes.pts - origin;
        break;
      }
    }
    if (!Number.isFinite(end)) {
      const lastPts = Math.max(...video.map((v) => v.pts));
      end = lastPts - origin + 0.04;
    }
    truths.push({
      type: "video.blockiness",
      start: first,
      end,
      damagedFrames: frames,
      damagedPackets: packets,
    });
  }
  return { data, truths, origin };
}
