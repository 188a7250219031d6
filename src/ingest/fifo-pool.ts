/**
 * The named pipes (FIFOs) each ffmpeg writes its stdout and stderr into (ffmpeg-process.ts),
 * made ahead of need by one `mkfifo` run for many, so that starting a decoder does not wait
 * for a process of its own.
 *
 * Node has no mkfifo call. Each decoder start used to run `spawnSync("mkfifo")`, which blocks
 * Node's thread for a fork and the child's whole life (measured: 14 ms at 44 MiB RSS, 30 ms at
 * 650 MiB, on an idle machine); with the start's own fork that was half of each decoder's
 * start-up stall. Here one asynchronous `mkfifo` makes FIFO_BATCH pairs whenever fewer than
 * FIFO_LOW are ready; only a start that finds none ready (the process's first, or a burst
 * larger than the pool) makes its pair synchronously as before.
 *
 * A pair handed out is opened at both ends (read ends non-blocking) and unlinked at once, so
 * only the descriptors reach it. Pairs not yet handed out are removed when the process exits;
 * a process killed outright (SIGKILL, a crash) cannot, so its folder, named with its pid, is
 * removed by the next process to make one once that pid is gone (sweepStaleFifoDirs).
 */
import { spawn, spawnSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, readdirSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface FifoEnds {
  readonly read: number;
  readonly write: number;
}

export interface Fifos {
  readonly stdout: FifoEnds;
  readonly stderr: FifoEnds;
}

/** Pairs one asynchronous mkfifo makes. */
export const FIFO_BATCH = 16;
/** Fewer pairs ready than this: make another batch. */
export const FIFO_LOW = 4;

let dir: string | null = null;
let next = 0;
const ready: string[] = [];
let filling = false;
/** False once mkfifo failed: plain pipes from then on. */
let works: boolean | undefined;

/** Folder names: the pid of the process that made it, then mkdtemp's random part. */
const PREFIX = "streamqc-fifo-";
const STALE = new RegExp(`^${PREFIX}(\\d+)-`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, run by another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the FIFO folders in `parent` left by processes that are gone; returns how many.
 * Only this program's folders whose pid no longer runs (a reused pid keeps its folder).
 */
export function sweepStaleFifoDirs(parent: string = tmpdir()): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return 0;
  }
  for (const name of names) {
    const m = STALE.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || alive(pid)) continue;
    try {
      rmSync(join(parent, name), { recursive: true, force: true });
      removed++;
    } catch {
      // Another process swept it first, or it is not ours to remove.
    }
  }
  return removed;
}

function directory(): string {
  if (dir === null) {
    sweepStaleFifoDirs();
    const made = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`));
    dir = made;
    process.once("exit", () => rmSync(made, { recursive: true, force: true }));
  }
  return dir;
}

function pairPaths(base: string): [string, string] {
  return [`${base}-out`, `${base}-err`];
}

function newBase(): string {
  return join(directory(), String(next++));
}

function refill(): void {
  if (filling || works === false) return;
  filling = true;
  const bases = Array.from({ length: FIFO_BATCH }, newBase);
  const child = spawn("mkfifo", ["-m", "600", "--", ...bases.flatMap(pairPaths)], { stdio: "ignore" });
  child.once("error", () => {
    filling = false;
  });
  child.once("exit", (code) => {
    filling = false;
    if (code === 0) ready.push(...bases);
  });
}

function openEnds(path: string, opened: number[]): FifoEnds {
  // The read end first and non-blocking, so that opening the write end does not wait.
  opened.push(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK));
  opened.push(openSync(path, constants.O_WRONLY));
  return { read: opened[opened.length - 2]!, write: opened[opened.length - 1]! };
}

/**
 * A stdout and a stderr FIFO, open at both ends and already unlinked; null where FIFOs
 * cannot be made (no mkfifo, not Linux-like): the caller uses plain pipes then.
 */
export function takeFifos(): Fifos | null {
  if (works === false || process.platform === "win32") return null;
  const opened: number[] = [];
  let paths: [string, string] | null = null;
  try {
    let base = ready.shift();
    if (base === undefined) {
      base = newBase();
      const res = spawnSync("mkfifo", ["-m", "600", "--", ...pairPaths(base)]);
      if (res.error || res.status !== 0) throw new Error("mkfifo failed");
    }
    paths = pairPaths(base);
    const fifos = { stdout: openEnds(paths[0], opened), stderr: openEnds(paths[1], opened) };
    works = true;
    return fifos;
  } catch {
    for (const fd of opened) closeSync(fd);
    works = false;
    return null;
  } finally {
    if (paths) for (const p of paths) rmQuietly(p);
    if (works === true && ready.length < FIFO_LOW) refill();
  }
}

/** Pairs ready now (tests, diagnostics). */
export function fifosReady(): number {
  return ready.length;
}

function rmQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone (a failed mkfifo made only part of the pair).
  }
}
