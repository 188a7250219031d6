/**
 * `streamqc gen OUT.ts --defects LIST [--duration S] [--size WxH] [--fps N] [--seed N] [--base FILE]`:
 * a test clip with injected defects and its ground truth (OUT.truth.json).
 */
import { readEnvironment } from "../config/env.js";
import { StreamqcError } from "../errors.js";
import { generateClip, truthPathFor } from "../gen/clip-generator.js";
import { parseDefectSpec } from "../gen/defect-spec.js";
import type { GenOptions, Io } from "./command-options.js";

function usage(message: string): StreamqcError {
  return new StreamqcError("SQM_ERR_USAGE", `${message} (see streamqc gen --help)`);
}

function positiveNumber(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0) throw usage(`--${name} must be a positive number, got "${text}"`);
  return v;
}

/**
 * Runs the command; returns the exit code. Usage and spec errors are thrown as
 * StreamqcError (SQM_ERR_USAGE, SQM_ERR_DEFECT_SPEC) for the CLI entry to print.
 */
export async function runGen(target: string, values: GenOptions, io: Io): Promise<number> {
  const { out } = io;
  if (values.defects === undefined)
    throw usage("--defects is required (an empty list makes a clean clip: --defects '')");
  const defects = parseDefectSpec(values.defects);

  let width: number | undefined;
  let height: number | undefined;
  if (values.size !== undefined) {
    const m = /^(\d+)x(\d+)$/.exec(values.size);
    if (m === null) throw usage(`--size must be WxH, e.g. 1920x1080, got "${values.size}"`);
    width = Number(m[1]);
    height = Number(m[2]);
  }
  const lastEnd = defects.reduce((t, d) => Math.max(t, d.start + d.duration), 0);
  const duration = positiveNumber("duration", values.duration) ?? Math.max(10, Math.ceil(lastEnd + 5));
  const fps = positiveNumber("fps", values.fps);
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && (!Number.isInteger(seed) || seed < 0)) {
    throw usage(`--seed must be an integer >= 0, got "${values.seed}"`);
  }

  const truth = await generateClip(target, {
    duration,
    defects,
    ffmpegPath: readEnvironment().ffmpegPath,
    ...(width !== undefined ? { width } : {}),
    ...(height !== undefined ? { height } : {}),
    ...(fps !== undefined ? { fps } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(values.base !== undefined ? { base: values.base } : {}),
  });
  out.write(`wrote ${target} (${truth.duration} s, ${truth.defects.length} defects)\n`);
  out.write(`wrote ${truthPathFor(target)}\n`);
  return 0;
}
