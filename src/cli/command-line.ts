/**
 * One command line, run: commander parses it (per-command help, suggestions for mistyped
 * commands and options), the command runs, and every failure becomes one line and an exit
 * status: 0 ran, 1 the input or a dependency failed, 2 usage or configuration error.
 */
import { CommanderError } from "commander";
import { isStreamqcError, errorMessage, type ErrorCode } from "../errors.js";
import type { Io } from "./command-options.js";
import { buildProgram } from "./commands.js";

const USAGE_CODES: readonly ErrorCode[] = ["SQM_ERR_USAGE", "SQM_ERR_CONFIG", "SQM_ERR_DEFECT_SPEC"];

/** Runs one command line; returns its exit status. Errors are written to `io.err`. */
export async function runCommandLine(argv: readonly string[], io: Io): Promise<number> {
  let exit = 0;
  const program = buildProgram(io, (code) => (exit = code));
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return 2;
  }
  const name = argv[0] ?? "";
  try {
    await program.parseAsync([...argv], { from: "user" });
    return exit;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are answers, not errors; commander has already printed the rest.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (isStreamqcError(err)) {
      io.err.write(`streamqc ${name}: ${err.message} [${err.code}]\n`);
      return USAGE_CODES.includes(err.code) ? 2 : 1;
    }
    io.err.write(`streamqc ${name}: unexpected error: ${errorMessage(err)}\n`);
    if (err instanceof Error && err.stack) io.err.write(err.stack + "\n");
    return 1;
  }
}
