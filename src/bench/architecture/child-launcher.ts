/**
 * Starts the benchmark's child processes (functions, converters, the in-process service, the
 * object store) with Node's IPC channel. `command` is how to run this program's CLI with its
 * child entry (`node dist/cli/main.js bench --architecture-child`, or under tsx in tests);
 * the role is appended. Arguments are an array, never a shell line.
 */
import { spawn, type ChildProcess } from "node:child_process";

export interface ChildCommand {
  /** Node's own arguments and the CLI script, e.g. [...process.execArgv, process.argv[1], "bench", "--architecture-child"]. */
  readonly args: readonly string[];
}

export type ChildRole = "function" | "converter" | "in-process" | "object-store";

export function launchChild(command: ChildCommand, role: ChildRole, stderrTail: string[]): ChildProcess {
  const child = spawn(process.execPath, [...command.args, role], {
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderrTail.push(d);
    if (stderrTail.length > 20) stderrTail.shift();
  });
  return child;
}

/** Resolves with the first message `accept` returns a value for; rejects if the child exits first. */
export function nextMessage<T>(
  child: ChildProcess,
  accept: (m: unknown) => T | undefined,
  what: string,
  stderr: string[],
): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const onMessage = (m: unknown): void => {
      const v = accept(m);
      if (v === undefined) return;
      cleanup();
      resolvePromise(v);
    };
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup();
      reject(
        new Error(`${what}: the child exited (${String(code ?? signal)}) ${stderr.join("").slice(-800)}`),
      );
    };
    const cleanup = (): void => {
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    child.on("message", onMessage);
    child.on("exit", onExit);
  });
}

/** Waits for the child to exit (resolves at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once("exit", () => r()));
}
