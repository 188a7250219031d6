/**
 * The configuration file (JSON), validated once at start and frozen. Cross-field rules give
 * exact messages; every option documents its default.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { StreamqcError } from "../errors.js";
import { readEnvironment } from "./env.js";
import { formatZodError } from "./profile.js";

/** Reads and parses a JSON config file; a clear message names the file and the bad field. */
export function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new StreamqcError("SQM_ERR_CONFIG", `cannot read config file ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new StreamqcError(
      "SQM_ERR_CONFIG",
      `config file ${path} is not valid JSON: ${(err as Error).message}`,
    );
  }
}

export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const res = schema.safeParse(value);
  if (!res.success) throw new StreamqcError("SQM_ERR_CONFIG", `${where}: ${formatZodError(res.error)}`);
  return Object.freeze(res.data) as z.output<S>;
}

export function ffmpegPathFrom(config: { ffmpeg?: string | undefined }): string {
  return config.ffmpeg ?? readEnvironment().ffmpegPath;
}
