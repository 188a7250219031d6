/**
 * How the benchmarks time a command: wall time and the CPU time of the command and every
 * descendant it waited for, from bash's `times` builtin (RUSAGE_CHILDREN), and medians over
 * interleaved rounds. Shared by the analyze, light and cost-curve benchmarks.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";

export interface Measured {
  readonly label: string;
  readonly wall: number;
  readonly cpu: number;
  readonly nodeCpu?: number;
}

/**
 * Runs a command and returns its wall time and the CPU time of it and every descendant it
 * waited for, read with bash's `times` builtin (RUSAGE_CHILDREN). The command is passed as
 * positional arguments ("$@"), never interpolated into the script. Its stderr is kept in
 * `.bench/LABEL.err` and returned.
 */
export function measure(label: string, argv: readonly string[]): Promise<Measured & { stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const errFile = resolve(".bench", `${label.replace(/\W+/g, "-")}.err`);
    const child = spawn(
      "bash",
      ["-c", '"${@:2}" >/dev/null 2>"$1"; s=$?; cat "$1" >&2; times; exit $s', "bench", errFile, ...argv],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      const wall = (performance.now() - t0) / 1000;
      if (code !== 0) {
        reject(new Error(`${label} failed (${String(code)}): ${err.slice(-500)}`));
        return;
      }
      // `times` prints the shell's own user/sys, then its children's.
      const lines = out.trim().split("\n");
      const kids = lines[lines.length - 1] ?? "";
      const secs = [...kids.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
      const cpu = (secs[0] ?? 0) + (secs[1] ?? 0);
      resolvePromise({ label, wall, cpu, stderr: err });
    });
  });
}

export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The median of each figure over the rounds (Node's CPU with its own median). */
export function medianRun(label: string, runs: readonly Measured[]): Measured {
  const node = runs.map((r) => r.nodeCpu).filter((x): x is number => x !== undefined);
  return {
    label,
    wall: median(runs.map((r) => r.wall)),
    cpu: median(runs.map((r) => r.cpu)),
    ...(node.length > 0 ? { nodeCpu: median(node) } : {}),
  };
}
