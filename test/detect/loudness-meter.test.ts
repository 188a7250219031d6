import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LoudnessMeter, kWeightingFilters } from "../../src/detect/loudness/loudness-meter.js";
import { decodePcm, ffmpegEbur128, runFfmpeg } from "../helpers/ffmpeg-audio.js";

const BBB = resolve("../shared/media/big-buck-bunny-60s-360p.mp4");
const dir = mkdtempSync(join(tmpdir(), "sqm-loudness-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Measures a file with our meter, fed in odd-sized chunks to exercise the incremental path. */
async function measure(file: string, sampleRate: number, channels: number): Promise<LoudnessMeter> {
  const pcm = await decodePcm(["-i", file], sampleRate, channels);
  const meter = new LoudnessMeter({ sampleRate, channels });
  const chunk = 1021 * channels;
  for (let i = 0; i < pcm.length; i += chunk) meter.push(pcm.subarray(i, Math.min(pcm.length, i + chunk)));
  return meter;
}

async function generate(name: string, lavfi: string, sampleRate: number, channels: number): Promise<string> {
  const file = join(dir, `${name}.wav`);
  await runFfmpeg([
    "-f",
    "lavfi",
    "-i",
    lavfi,
    "-ac",
    String(channels),
    "-ar",
    String(sampleRate),
    "-c:a",
    "pcm_f32le",
    "-y",
    file,
  ]);
  return file;
}

const SIGNALS: readonly { name: string; lavfi: string; rate: number; channels: number }[] = [
  {
    name: "sine-1k-48k-stereo",
    lavfi: "sine=frequency=1000:sample_rate=48000:duration=20",
    rate: 48000,
    channels: 2,
  },
  {
    name: "pink-noise-44k1-stereo",
    lavfi: "anoisesrc=color=pink:amplitude=0.3:sample_rate=44100:duration=20:seed=7",
    rate: 44100,
    channels: 2,
  },
  {
    name: "quiet-loud-quiet-48k",
    lavfi:
      "sine=frequency=440:sample_rate=48000:duration=30,volume='if(lt(t,10),0.05,if(lt(t,20),0.6,0.01))':eval=frame",
    rate: 48000,
    channels: 2,
  },
  {
    // Noise only in LFE and one surround: wrong channel weights would move I by 1.5 LU.
    name: "noise-lfe-surround-5.1-48k",
    lavfi: "anoisesrc=color=white:amplitude=0.2:sample_rate=48000:duration=15:seed=3,pan=5.1|c3=c0|c4=c0",
    rate: 48000,
    channels: 6,
  },
  {
    name: "sine-3k-32k-mono",
    lavfi: "sine=frequency=3000:sample_rate=32000:duration=15",
    rate: 32000,
    channels: 1,
  },
  {
    name: "sine-997-burst-88k2",
    lavfi: "sine=frequency=997:sample_rate=88200:duration=12,volume='if(between(t,4,8),1.0,0.1)':eval=frame",
    rate: 88200,
    channels: 2,
  },
];

describe("LoudnessMeter against FFmpeg ebur128", () => {
  for (const s of SIGNALS) {
    it(`${s.name}: I within 0.3 LU, LRA within 0.3 LU, true peak within 0.5 dB`, async () => {
      const file = await generate(s.name, s.lavfi, s.rate, s.channels);
      const [meter, ref] = await Promise.all([
        measure(file, s.rate, s.channels),
        ffmpegEbur128(["-i", file]),
      ]);
      expect(Math.abs(meter.integrated - ref.integrated)).toBeLessThanOrEqual(0.3);
      expect(Math.abs(meter.loudnessRange - ref.lra)).toBeLessThanOrEqual(0.3);
      expect(Math.abs(meter.truePeak - ref.truePeak)).toBeLessThanOrEqual(0.5);
    });
  }

  it.skipIf(!existsSync(BBB))("big-buck-bunny audio (skipped when ../shared/media is absent)", async () => {
    const [meter, ref] = await Promise.all([measure(BBB, 44100, 2), ffmpegEbur128(["-i", BBB])]);
    expect(Math.abs(meter.integrated - ref.integrated)).toBeLessThanOrEqual(0.3);
    expect(Math.abs(meter.loudnessRange - ref.lra)).toBeLessThanOrEqual(0.3);
    expect(Math.abs(meter.truePeak - ref.truePeak)).toBeLessThanOrEqual(0.5);
    // README of the media: about -25.9 LUFS.
    expect(meter.integrated).toBeCloseTo(-25.9, 0);
  });
  if (!existsSync(BBB)) console.warn(`skipping big-buck-bunny loudness test: ${BBB} is absent`);
});

describe("LoudnessMeter basics", () => {
  it("derives the BS.1770 48 kHz K-weighting coefficients", () => {
    const { shelf, highPass } = kWeightingFilters(48000);
    // BS.1770-4 Table 1 and Table 2.
    expect(shelf.b0).toBeCloseTo(1.53512485958697, 10);
    expect(shelf.b1).toBeCloseTo(-2.69169618940638, 10);
    expect(shelf.b2).toBeCloseTo(1.19839281085285, 10);
    expect(shelf.a1).toBeCloseTo(-1.69065929318241, 10);
    expect(shelf.a2).toBeCloseTo(0.73248077421585, 10);
    expect(highPass.a1).toBeCloseTo(-1.99004745483398, 10);
    expect(highPass.a2).toBeCloseTo(0.99007225036621, 10);
  });

  it("reports -Infinity integrated loudness for digital silence", () => {
    const meter = new LoudnessMeter({ sampleRate: 48000, channels: 2 });
    meter.push(new Float32Array(48000 * 2 * 5));
    expect(meter.integrated).toBe(-Infinity);
    expect(meter.loudnessRange).toBe(0);
  });

  it("measures a 997 Hz full-scale-minus-18 dB sine at -18 LUFS-ish per BS.1770 (stereo: +3 dB)", () => {
    const rate = 48000;
    const pcm = new Float32Array(rate * 10 * 2);
    const amp = Math.pow(10, -18 / 20);
    for (let i = 0; i < rate * 10; i++) {
      const v = amp * Math.sin((2 * Math.PI * 997 * i) / rate);
      pcm[2 * i] = v;
      pcm[2 * i + 1] = v;
    }
    const meter = new LoudnessMeter({ sampleRate: rate, channels: 2 });
    meter.push(pcm);
    // A -18 dBFS peak sine is -21 dB RMS; two channels add 3 dB; K-weighting at 1 kHz ~ +0.69 dB, offset -0.691.
    expect(meter.integrated).toBeCloseTo(-18.0, 1);
    expect(meter.truePeak).toBeCloseTo(-18.0, 1);
  });
});
