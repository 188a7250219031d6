#!/usr/bin/env -S node --max-semi-space-size=2
/**
 * The streamqc command line. Every command fails with one clear line (and a documented
 * exit status) instead of a stack trace: 0 ran, 1 the input or a dependency failed,
 * 2 usage or configuration error. `streamqc --help` and `streamqc CMD --help` print usage.
 */
import { errorMessage } from "../errors.js";
import { runCommandLine } from "./command-line.js";

// A reader that goes away early (`streamqc --help | head -1`) is not an error of ours: stop
// writing quietly, as other Unix tools do, instead of dying with an unhandled EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
}

runCommandLine(process.argv.slice(2), { out: process.stdout, err: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`streamqc: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  },
);
