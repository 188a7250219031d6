/**
 * How broadcasters send a programme, as ffmpeg (Debian 5.1) can write it: the codec pairs and
 * bitrates of the real-content evaluation clips. Every profile is MPEG-TS with 48 kHz stereo.
 * GOPs are fixed (no scene-cut keyframes) so that damage lasts to a keyframe we can name.
 */
export const BROADCAST_PROFILES = {
  /** HD/SD H.264 distribution with AAC-LC, a typical IPTV/OTT contribution. */
  "h264-aac-2m": { video: "libx264", videoBitrate: "2000k", audio: "aac", audioBitrate: "128k", gop: 50 },
  /** A starved H.264 encode: visible coding artefacts that are not corruption. */
  "h264-aac-400k": { video: "libx264", videoBitrate: "400k", audio: "aac", audioBitrate: "96k", gop: 50 },
  /** DVB SD: MPEG-2 video with MPEG-1 Layer II audio, 12-frame GOP. */
  "mpeg2-mp2-4m": { video: "mpeg2video", videoBitrate: "4000k", audio: "mp2", audioBitrate: "192k", gop: 12 },
  /** A low-rate MPEG-2 multiplex slot. */
  "mpeg2-mp2-1500k": {
    video: "mpeg2video",
    videoBitrate: "1500k",
    audio: "mp2",
    audioBitrate: "128k",
    gop: 12,
  },
  /** ATSC-style: H.264 with AC-3 (ffmpeg's native ac3 encoder). */
  "h264-ac3": { video: "libx264", videoBitrate: "1500k", audio: "ac3", audioBitrate: "192k", gop: 25 },
} as const satisfies Record<
  string,
  { video: string; videoBitrate: string; audio: string; audioBitrate: string; gop: number }
>;

export type BroadcastProfileName = keyof typeof BROADCAST_PROFILES;

export const BROADCAST_PROFILE_NAMES = Object.keys(BROADCAST_PROFILES) as BroadcastProfileName[];

/** The encoder arguments of a profile (video then audio), ending before the output. */
export function encoderArguments(name: BroadcastProfileName): string[] {
  const p = BROADCAST_PROFILES[name];
  const rate = parseInt(p.videoBitrate, 10);
  const video =
    p.video === "libx264"
      ? ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
      : ["-c:v", "mpeg2video", "-bf", "2", "-pix_fmt", "yuv420p"];
  return [
    ...video,
    "-b:v",
    p.videoBitrate,
    "-maxrate",
    p.videoBitrate,
    // About one second of buffer: a constrained-bitrate broadcast encode.
    "-bufsize",
    `${rate}k`,
    "-g",
    String(p.gop),
    "-keyint_min",
    String(p.gop),
    "-sc_threshold",
    "0",
    "-c:a",
    p.audio,
    "-b:a",
    p.audioBitrate,
    "-ar",
    "48000",
    "-ac",
    "2",
    "-f",
    "mpegts",
  ];
}
