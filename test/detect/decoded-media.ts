/**
 * A minimal decoder for tests that need real decoded media before the monitor's ingest is
 * available: ffmpeg writes 320x180 gray frames and 48 kHz stereo float PCM to stdout. It
 * keeps constant-rate timing (frame index / fps), which holds for the CFR clips we feed it.
 */
import { spawn } from "node:child_process";
import {
  ANALYSIS_FILTER,
  ANALYSIS_HEIGHT,
  ANALYSIS_WIDTH,
  AUDIO_SAMPLE_RATE,
  type AudioBlock,
  type VideoFrame,
} from "../../src/ingest/media.js";

async function pipeFrom(args: string[], onChunk: (chunk: Buffer) => void): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    // stdout: raw media; stderr: ffmpeg's errors, kept for the failure message.
    const child = spawn("ffmpeg", args, { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-2000)));
    child.stdout.on("data", onChunk);
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}: ${stderr}`)),
    );
  });
}

export async function decodeVideo(
  file: string,
  fps: number,
  onFrame: (f: VideoFrame) => void,
): Promise<number> {
  const size = ANALYSIS_WIDTH * ANALYSIS_HEIGHT;
  let pending: Buffer = Buffer.alloc(0);
  let index = 0;
  await pipeFrom(
    [
      "-hide_banner",
      "-nostdin",
      "-loglevel",
      "error",
      "-i",
      file,
      "-an",
      "-vf",
      ANALYSIS_FILTER,
      "-f",
      "rawvideo",
      "-",
    ],
    (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= size) {
        const luma = new Uint8Array(size);
        luma.set(pending.subarray(0, size));
        pending = pending.subarray(size);
        onFrame({ pts: index / fps, width: ANALYSIS_WIDTH, height: ANALYSIS_HEIGHT, luma });
        index++;
      }
    },
  );
  return index / fps;
}

export async function decodeAudio(file: string, onBlock: (b: AudioBlock) => void): Promise<number> {
  const channels = 2;
  const blockFrames = 1024;
  const blockBytes = blockFrames * channels * 4;
  let pending: Buffer = Buffer.alloc(0);
  let done = 0;
  const emit = (bytes: Buffer) => {
    const frames = bytes.length / (channels * 4);
    const samples = new Float32Array(frames * channels);
    for (let i = 0; i < samples.length; i++) samples[i] = bytes.readFloatLE(i * 4);
    onBlock({ pts: done / AUDIO_SAMPLE_RATE, sampleRate: AUDIO_SAMPLE_RATE, channels, frames, samples });
    done += frames;
  };
  await pipeFrom(
    [
      "-hide_banner",
      "-nostdin",
      "-loglevel",
      "error",
      "-i",
      file,
      "-vn",
      "-ac",
      "2",
      "-ar",
      String(AUDIO_SAMPLE_RATE),
      "-f",
      "f32le",
      "-",
    ],
    (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= blockBytes) {
        emit(pending.subarray(0, blockBytes));
        pending = pending.subarray(blockBytes);
      }
    },
  );
  if (pending.length >= channels * 4)
    emit(pending.subarray(0, pending.length - (pending.length % (channels * 4))));
  return done / AUDIO_SAMPLE_RATE;
}
