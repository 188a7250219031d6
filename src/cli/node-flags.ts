/**
 * Node's own flags for a process that monitors streams (`serve`, `worker`, and the benches'
 * service children). The streamqc command starts Node with them (its `#!` line), and so do
 * the scripts that run `node dist/cli/main.js`.
 *
 * `--max-semi-space-size=2`: V8's young generation is two semi-spaces of up to 16 MiB each
 * by default, and a monitor allocating a buffer per datagram batch, decoder read and audio
 * block fills them: 32 MiB of resident memory that only holds garbage between scavenges.
 * Measured (BENCHMARKS.md, "V8's young generation"): 16 light channels, Node's RSS 255-272 MiB
 * -> 219-230 MiB, 42.9-43.9 -> 40.6-41.4 MiB per channel; CPU not changed beyond the run-to-run
 * spread (also full mode, 4 channels).
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=2"];

/** Node arguments for a service child: `execArgv` plus SERVICE_NODE_FLAGS it does not set itself. */
export function withServiceFlags(execArgv: readonly string[]): string[] {
  const out = [...execArgv];
  for (const flag of SERVICE_NODE_FLAGS) {
    const name = flag.split("=")[0]!;
    if (!out.some((a) => a === name || a.startsWith(`${name}=`))) out.push(flag);
  }
  return out;
}
