#!/usr/bin/env node
/**
 * The streamqc command line. Every command fails with one clear line (and a documented
 * exit status) instead of a stack trace: 0 ran, 1 the input or a dependency failed,
 * 2 usage or configuration error.
 */
import { isStreamqcError, errorMessage, type ErrorCode } from "../errors.js";
import { runAnalyze } from "./analyze-command.js";
import { runWatch } from "./watch-command.js";

const USAGE = `streamqc — live audio/video stream quality monitor

usage:
  streamqc analyze INPUT [--duration S] [--format text|json|jsonl] [--config FILE]
  streamqc watch URL [--config FILE]
  streamqc gen OUT.ts --defects freeze@10:4,black@20:3,... [--duration S] [--size WxH] [--fps N]
  streamqc serve [--config FILE] [--data DIR] [--host H] [--port P] [--demo]
  streamqc eval [--suite DIR] [--jobs N] [--real FILE]
  streamqc bench [--service] [--streams N] [--service-seconds S] [--baseline-seconds S]
  streamqc bench --architecture [--streams N] [--seconds S] [--chunk S] [--invoke warm|cold] [--format text|json]

See README.md and docs/errors.md.`;

type Command = (argv: string[], out: NodeJS.WriteStream, err: NodeJS.WriteStream) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  analyze: () => Promise.resolve(runAnalyze),
  watch: () => Promise.resolve(runWatch),
  gen: async () => (await import("./gen-command.js")).runGen,
  serve: async () => (await import("./serve-command.js")).runServe,
  bench: async () => (await import("./bench-command.js")).runBench,
  eval: async () => (await import("./eval-command.js")).runEval,
};

const USAGE_CODES: readonly ErrorCode[] = ["SQM_ERR_USAGE", "SQM_ERR_CONFIG", "SQM_ERR_DEFECT_SPEC"];

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(USAGE + "\n");
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`streamqc: unknown command "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  try {
    const command = await load();
    return await command(rest, process.stdout, process.stderr);
  } catch (err) {
    if (isStreamqcError(err)) {
      process.stderr.write(`streamqc ${name}: ${err.message} [${err.code}]\n`);
      return USAGE_CODES.includes(err.code) ? 2 : 1;
    }
    if (err instanceof TypeError && (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`streamqc ${name}: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`streamqc ${name}: unexpected error: ${errorMessage(err)}\n`);
    if (err instanceof Error && err.stack) process.stderr.write(err.stack + "\n");
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`streamqc: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  },
);
