/**
 * One timer for every UDP source of the process: every UDP_DRAIN_MS it reads each source's
 * socket until the kernel has nothing more (non-blocking reads on the socket's descriptor),
 * so Node wakes 10 times a second for all channels together instead of once or more
 * per datagram and channel (a 1080p channel at 6 Mb/s is about 600 datagrams a second).
 *
 * Measured (BENCHMARKS.md, "receiving UDP"): 16 channels received by bare `dgram` sockets
 * cost 16.5-19.5 CPU s per channel-hour, drained on this tick 11.4-13.2; a `socat` relay
 * per channel writing into a pipe that this tick read cost 63-65 (socat's own select,
 * recvfrom and write per datagram), so the datagrams stay in this process.
 *
 * Node has no public call that stops a `dgram` socket's per-datagram events or reads it
 * without them; `socketDescriptor` reaches the socket's handle through Node's own state
 * symbol, checks every piece it uses, and returns null when any is missing (another Node
 * version), in which case the source stays on the per-datagram `message` events.
 */
import type { Socket } from "node:dgram";
import { readSync } from "node:fs";

/**
 * The shared tick. 100 ms of 6 Mb/s is 75 KB: one decoder write and one analyzer call per
 * tick. It was 40 ms; every tick costs each channel a decoder write (a syscall in Node and a
 * wake-up of ffmpeg) and a failed read at its end, whatever the bytes, and 100 ms is still
 * far below what the socket buffer holds (seconds) or what a person could notice.
 */
export const UDP_DRAIN_MS = 100;
/** Room for the largest datagram (65,507 bytes of IPv4 UDP payload) in one read. */
const MAX_DATAGRAM = 65_536;
/** Reads collect here and are copied out per source; a source with more waiting is cut into parts. */
const SLAB_BYTES = 1024 * 1024;

export interface DrainTarget {
  /** The socket's descriptor, non-blocking (libuv opens every socket so). */
  readonly fd: number;
  /** Bytes read this tick (a copy the target owns), `datagrams` reads. */
  received(bytes: Buffer, datagrams: number): void;
  /** A read failed with something other than "nothing waiting". */
  failed(err: Error): void;
}

interface UdpHandle {
  readonly fd?: unknown;
  recvStop?: () => number;
}

/**
 * The descriptor of a bound `dgram` socket, with its per-datagram events stopped; null when
 * this Node does not expose them as Node 20 does (the caller then keeps the events).
 */
export function socketDescriptor(socket: Socket): number | null {
  const key = Object.getOwnPropertySymbols(socket).find((s) => s.description === "state symbol");
  if (!key) return null;
  const state = (socket as unknown as Record<symbol, { handle?: UdpHandle } | undefined>)[key];
  const handle = state?.handle;
  if (!handle || typeof handle.fd !== "number" || handle.fd < 0 || typeof handle.recvStop !== "function") {
    return null;
  }
  if (handle.recvStop() !== 0) return null;
  return handle.fd;
}

const targets = new Set<DrainTarget>();
let timer: NodeJS.Timeout | null = null;
let slab: Buffer | null = null;
/** performance.now() of the last pass over every target. */
let lastPass = 0;

/**
 * Adds a source to the tick. The timer keeps the process alive while any source is on it,
 * as a receiving socket would.
 */
export function joinDrain(target: DrainTarget): void {
  targets.add(target);
  timer ??= setInterval(drainAll, UDP_DRAIN_MS);
}

export function leaveDrain(target: DrainTarget): void {
  targets.delete(target);
  if (targets.size === 0 && timer) {
    clearInterval(timer);
    timer = null;
    slab = null;
  }
}

function drainAll(): void {
  lastPass = performance.now();
  slab ??= Buffer.allocUnsafe(SLAB_BYTES);
  for (const t of targets) drainOne(t, slab);
}

/**
 * Reads one target's socket now if the tick is late: a silence check after the event loop
 * was blocked must look at what the kernel holds, not at a tick that has not run yet. While
 * the tick keeps time it reads nothing (a read off the tick splits a tick's batch in two).
 */
export function drainNow(target: DrainTarget): void {
  if (!targets.has(target) || performance.now() - lastPass < 2 * UDP_DRAIN_MS) return;
  slab ??= Buffer.allocUnsafe(SLAB_BYTES);
  drainOne(target, slab);
}

/** Exported for tests: one pass over one target. */
export function drainOne(t: DrainTarget, buf: Buffer): void {
  let used = 0;
  let count = 0;
  for (;;) {
    let n: number;
    try {
      n = readSync(t.fd, buf, used, MAX_DATAGRAM, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "EAGAIN" && code !== "EWOULDBLOCK") t.failed(err as Error);
      break;
    }
    used += n;
    count++;
    if (used > buf.length - MAX_DATAGRAM) {
      t.received(copyOut(buf, used), count);
      used = 0;
      count = 0;
    }
  }
  if (count > 0) t.received(copyOut(buf, used), count);
}

/**
 * The first `used` bytes in memory of their own. Not `Buffer.from(view)`: it goes through the
 * typed-array constructor on zeroed memory, measured 4.6x slower for a 30 KB tick (32
 * against 6 µs, Node 20), and it was the service's largest single cost in a 32-channel profile.
 */
function copyOut(buf: Buffer, used: number): Buffer {
  const out = Buffer.allocUnsafeSlow(used);
  buf.copy(out, 0, 0, used);
  return out;
}
