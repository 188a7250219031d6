/**
 * Supervises one ffmpeg child process, the way mediasoup supervises its worker.
 *
 * Pipes:
 *   fd 0: stdin — ignored, or bytes a source feeds in itself (HLS segments, UDP datagrams)
 *   fd 1: stdout — the NUT stream: analysis luma, PCM, detail luma, JPEG thumbnails
 *   fd 2: stderr — ffmpeg's log, forwarded line by line (decoder errors are parsed from it)
 *
 * Both are named pipes (FIFOs) we open ourselves, not the socket pairs of `stdio: "pipe"`.
 * Each wake-up of Node costs far more than the bytes it reads (measured: about 150 µs on a
 * 2-vCPU VM), so stdout is read into one reused buffer (a socket's `onread`, no Buffer and no
 * stream machinery per read) and stderr, which carries a line per decoded frame, is not
 * watched at all: it is drained, without blocking, right before each stdout chunk is handed
 * on, and by a timer when stdout is quiet. A frame's log lines are written before its bytes
 * reach stdout, so they are always seen first. Where `mkfifo` is missing, plain pipes are used.
 * The FIFOs are made ahead of need, many at a time (fifo-pool.ts): a start waits for no mkfifo.
 *
 * A crash of ffmpeg costs one stream a restart, never the service: nothing here throws
 * after spawn; every end is reported once through `exited`. No ffmpeg outlives us: on
 * Linux the child gets SIGKILL when our process dies (setpriv --pdeathsig), and children
 * still alive at a normal exit are killed then.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, readSync } from "node:fs";
import { Socket } from "node:net";
import type { Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { takeFifos } from "./fifo-pool.js";

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
  /** Working directory of the child (relative output names resolve there). Default: ours. */
  readonly cwd?: string;
  /** A view of a reused buffer, valid only during the call. */
  onStdout(chunk: Buffer): void;
  onStderrLine?(line: string): void;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
let pdeathsig: boolean | undefined;
/** One buffer for every process's stderr: it is drained synchronously, never shared in flight. */
const stderrBuffer = Buffer.allocUnsafe(64 * 1024);

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
/** How often stderr is drained when stdout brings nothing (a stalled or starting decoder). */
const STDERR_POLL_MS = 100;
/**
 * One read of the decoder's stdout FIFO. A pipe holds 64 KiB (Linux's default; we never
 * resize it), so no read returns more: a larger buffer (256 KiB before) only held memory,
 * per decoder, that no read could fill.
 */
const STDOUT_BUFFER_BYTES = 64 * 1024;

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
  private stderrFd: number | null = null;
  private stderrTimer: NodeJS.Timeout | null = null;
  private readonly decoder = new StringDecoder("utf8");
  private partial = "";

  constructor(private readonly options: FfmpegProcessOptions) {
    installExitHook();
    const [cmd, args] = hasPdeathsig()
      ? ["setpriv", ["--pdeathsig", "KILL", "--", options.ffmpegPath, ...options.args]]
      : [options.ffmpegPath, [...options.args]];
    const fifos = takeFifos();
    this.child = spawn(cmd, args, {
      stdio: [
        options.stdin ? "pipe" : "ignore",
        fifos ? fifos.stdout.write : "pipe",
        fifos ? fifos.stderr.write : "pipe",
      ],
      windowsHide: true,
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    });
    if (fifos) {
      // The child has its own copies; ours would keep the pipes open after it exits.
      closeSync(fifos.stdout.write);
      closeSync(fifos.stderr.write);
    }
    live.add(this.child);
    let stdoutDone: () => void = () => undefined;
    const stdoutClosed = new Promise<void>((resolve) => (stdoutDone = resolve));
    this.exited = new Promise<FfmpegExit>((resolve) => {
      let spawnError: Error | undefined;
      this.child.once("error", (err) => {
        spawnError = err;
        // 'close' does not always follow a failed spawn.
        if (this.child.pid === undefined) void stdoutClosed.then(() => finish(null, null));
      });
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        live.delete(this.child);
        this.stopStderr();
        if (spawnError) this.lines.push(spawnError.message);
        resolve({
          code,
          signal,
          beforeOutput: !this.sawOutput,
          lastLines: [...this.lines],
          requested: this.requested,
        });
      };
      // Every byte of stdout is handed on before the exit is reported.
      this.child.once("close", (code, signal) => void stdoutClosed.then(() => finish(code, signal)));
    });
    const onChunk = (chunk: Buffer): void => {
      this.sawOutput = true;
      this.lastOutputAt = performance.now();
      this.outputBytes += chunk.length;
      this.options.onStdout(chunk);
    };
    if (fifos) {
      const buffer = Buffer.allocUnsafe(STDOUT_BUFFER_BYTES);
      const stdout = new Socket({
        fd: fifos.stdout.read,
        readable: true,
        writable: false,
        onread: {
          buffer,
          callback: (n: number, buf: Uint8Array): void => {
            this.drainStderr();
            onChunk(Buffer.from(buf.buffer, buf.byteOffset, n));
          },
        },
      } as ConstructorParameters<typeof Socket>[0]);
      stdout.once("error", () => stdout.destroy());
      stdout.once("close", () => stdoutDone());
      this.stderrFd = fifos.stderr.read;
      // Only when stdout is quiet: each stdout chunk drains stderr first anyway, and a poll
      // of an empty FIFO costs a failed read (an exception in Node, about 8 µs).
      this.stderrTimer = setInterval(() => {
        if (performance.now() - this.lastOutputAt >= STDERR_POLL_MS) this.drainStderr();
      }, STDERR_POLL_MS);
      this.stderrTimer.unref();
    } else {
      this.child.stdout?.on("data", onChunk);
      this.child.stdout?.once("close", () => stdoutDone());
      if (!this.child.stdout) stdoutDone();
      this.child.stderr?.setEncoding("utf8");
      this.child.stderr?.on("data", (text: string) => this.stderrText(text));
      this.child.stderr?.on("end", () => this.stderrText("", true));
    }
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

  /** Reads whatever stderr holds now, without waiting; at its end, the last partial line too. */
  private drainStderr(): void {
    const fd = this.stderrFd;
    if (fd === null) return;
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, stderrBuffer, 0, stderrBuffer.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EAGAIN") return;
        n = 0;
      }
      if (n === 0) {
        // Every writer is gone: ffmpeg has exited.
        this.stderrFd = null;
        closeSync(fd);
        this.stderrText(this.decoder.end(), true);
        return;
      }
      this.stderrText(this.decoder.write(stderrBuffer.subarray(0, n)));
    }
  }

  /** After the exit: the log's last lines, then no more polling. */
  private stopStderr(): void {
    if (this.stderrTimer) clearInterval(this.stderrTimer);
    this.stderrTimer = null;
    this.drainStderr();
    if (this.stderrFd !== null) {
      // A writer still holds it (nothing of ours should): stop reading anyway.
      closeSync(this.stderrFd);
      this.stderrFd = null;
      this.stderrText("", true);
    }
  }

  private stderrText(text: string, end = false): void {
    const parts = (this.partial + text).split(/\r?\n|\r/);
    this.partial = parts.pop() ?? "";
    for (const line of parts) this.line(line);
    if (end && this.partial) {
      this.line(this.partial);
      this.partial = "";
    }
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

/** ffmpeg's start-up banner (version, build, library versions): never a reason for a failure. */
const BANNER_LINE = /^\s*(ffmpeg version |built with |configuration: |lib(av|sw|post)\w*\s+\d+\.\s*\d+\.)/;

/** A one-line reason from ffmpeg's last log lines, for "could not read the input" messages. */
export function describeFailure(exit: FfmpegExit): string {
  const last = exit.lastLines
    // `[info]`, `[mpegts @ 0x…]`: the level and the component say nothing to a person here.
    .map((l) => l.replace(/^(\[[^\]]+\]\s*)+/, ""))
    .filter(
      (l) =>
        !BANNER_LINE.test(l) &&
        !/^\s*(Press \[q\]|Input #|Output #|Stream mapping|Conversion failed|Exiting normally)/.test(l),
    )
    .slice(-2)
    .join("; ")
    .trim();
  const how = exit.signal ? `killed by ${exit.signal}` : `exit status ${String(exit.code)}`;
  return last ? `${last} (ffmpeg ${how})` : `ffmpeg ended with ${how}`;
}
