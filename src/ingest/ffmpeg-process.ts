/**
 * Supervises one ffmpeg child process, the way mediasoup supervises its worker.
 *
 * Pipes:
 *   fd 0: stdin — ignored, or bytes a source feeds in itself (HLS segments, UDP datagrams)
 *   fd 1: stdout — the NUT stream: analysis luma, PCM, detail luma, JPEG thumbnails
 *   fd 2: stderr — ffmpeg's log, forwarded line by line (decoder errors are parsed from it)
 *
 * A crash of ffmpeg costs one stream a restart, never the service: nothing here throws
 * after spawn; every end is reported once through `exited`. No ffmpeg outlives us: on
 * Linux the child gets SIGKILL when our process dies (setpriv --pdeathsig), and children
 * still alive at a normal exit are killed then.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import type { Writable } from "node:stream";

export interface FfmpegExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True when it died before writing any output: the input could not be opened. */
  readonly beforeOutput: boolean;
  /** The last lines of its log, for a message a person can act on. */
  readonly lastLines: readonly string[];
  /** We asked it to stop (close() or kill()). */
  readonly requested: boolean;
}

export interface FfmpegProcessOptions {
  readonly ffmpegPath: string;
  readonly args: readonly string[];
  readonly stdin?: boolean;
  onStdout(chunk: Buffer): void;
  onStderrLine?(line: string): void;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
let pdeathsig: boolean | undefined;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const child of live) child.kill("SIGKILL");
  });
}

/** setpriv (util-linux, in every Debian) makes the kernel kill the child if we die, even by SIGKILL. */
function hasPdeathsig(): boolean {
  if (pdeathsig === undefined) {
    const res = spawnSync("setpriv", ["--help"], { encoding: "utf8" });
    pdeathsig = process.platform === "linux" && !res.error && res.stdout.includes("--pdeathsig");
  }
  return pdeathsig;
}

const KEEP_LINES = 12;

export class FfmpegProcess {
  readonly exited: Promise<FfmpegExit>;
  private readonly child: ChildProcess;
  private readonly lines: string[] = [];
  private sawOutput = false;
  private requested = false;
  private closed = false;
  /** performance.now() of the last byte on stdout: the watchdog's measure of progress. */
  lastOutputAt = performance.now();
  outputBytes = 0;

  constructor(private readonly options: FfmpegProcessOptions) {
    installExitHook();
    const [cmd, args] = hasPdeathsig()
      ? ["setpriv", ["--pdeathsig", "KILL", "--", options.ffmpegPath, ...options.args]]
      : [options.ffmpegPath, [...options.args]];
    this.child = spawn(cmd, args, {
      stdio: [options.stdin ? "pipe" : "ignore", "pipe", "pipe"],
      windowsHide: true,
    });
    live.add(this.child);
    this.exited = new Promise<FfmpegExit>((resolve) => {
      let spawnError: Error | undefined;
      this.child.once("error", (err) => {
        spawnError = err;
        // 'close' does not always follow a failed spawn.
        if (this.child.pid === undefined) finish(null, null);
      });
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        live.delete(this.child);
        if (spawnError) this.lines.push(spawnError.message);
        resolve({
          code,
          signal,
          beforeOutput: !this.sawOutput,
          lastLines: [...this.lines],
          requested: this.requested,
        });
      };
      this.child.once("close", finish);
    });
    this.child.stdout?.on("data", (chunk: Buffer) => {
      this.sawOutput = true;
      this.lastOutputAt = performance.now();
      this.outputBytes += chunk.length;
      this.options.onStdout(chunk);
    });
    let partial = "";
    this.child.stderr?.setEncoding("utf8");
    this.child.stderr?.on("data", (text: string) => {
      const parts = (partial + text).split(/\r?\n|\r/);
      partial = parts.pop() ?? "";
      for (const line of parts) this.line(line);
    });
    this.child.stderr?.on("end", () => {
      if (partial) this.line(partial);
    });
    // A source that dies while writing must not crash the service with EPIPE.
    this.child.stdin?.on("error", () => undefined);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** fd 0, for sources that feed the bytes themselves; null when ffmpeg opens the input. */
  get stdin(): Writable | null {
    return this.child.stdin;
  }

  private line(line: string): void {
    if (!line.trim()) return;
    this.lines.push(line);
    if (this.lines.length > KEEP_LINES) this.lines.shift();
    this.options.onStderrLine?.(line);
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    this.requested = true;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  /** Stops ffmpeg: SIGTERM, then SIGKILL after a grace period. Idempotent. */
  async close(graceMs = 2000): Promise<FfmpegExit> {
    if (!this.closed) {
      this.closed = true;
      this.child.stdin?.destroy();
      this.kill("SIGTERM");
      const timer = setTimeout(() => this.kill("SIGKILL"), graceMs);
      void this.exited.finally(() => clearTimeout(timer));
    }
    return this.exited;
  }
}

/** A one-line reason from ffmpeg's last log lines, for "could not read the input" messages. */
export function describeFailure(exit: FfmpegExit): string {
  const meaningful = exit.lastLines.filter(
    (l) => !/^\s*(Press \[q\]|Input #|Output #|Stream mapping|Conversion failed|Exiting normally)/.test(l),
  );
  const last = meaningful
    .slice(-2)
    .map((l) => l.replace(/^(\[[^\]]+\]\s*)+/, ""))
    .join("; ")
    .trim();
  const how = exit.signal ? `killed by ${exit.signal}` : `exit status ${String(exit.code)}`;
  return last ? `${last} (ffmpeg ${how})` : `ffmpeg ended with ${how}`;
}
