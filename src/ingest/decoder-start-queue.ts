/**
 * Decoder starts, one per turn of the event loop, never inside the callback that asked.
 *
 * Starting ffmpeg blocks Node's thread: `spawn` forks the whole process (measured: 6 ms at
 * 44 MiB RSS, 25 ms at 650 MiB; more on a loaded machine). A service with many UDP channels
 * gets their first datagrams in one pass of the shared drain tick (udp-drain.ts), and each
 * `connected` event used to start its decoder there and then: 32 channels blocked the event
 * loop for seconds in one piece, the sockets of the channels not yet drained overflowed, and
 * the datagrams the kernel dropped came out as real continuity and PCR errors, which promoted
 * healthy light streams to full decoding (the "32-channel promotions", BENCHMARKS.md).
 *
 * Queued here, each start runs from its own `setImmediate`: between two starts the event loop
 * goes round, so timers (the drain tick, watchdogs) and I/O run, and no socket waits for more
 * than one start.
 */

type Start = () => void;

const queue: Start[] = [];
let scheduled = false;

function runOne(): void {
  scheduled = false;
  const start = queue.shift();
  // Scheduled first: a start that throws (it should report its own failures) stops no other.
  if (queue.length > 0) schedule();
  start?.();
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(runOne);
}

/**
 * Runs `start` after the starts queued before it, one per event-loop turn. The returned
 * function takes it off the queue if it has not run yet (idempotent).
 */
export function queueDecoderStart(start: Start): () => void {
  queue.push(start);
  schedule();
  return () => {
    const i = queue.indexOf(start);
    if (i >= 0) queue.splice(i, 1);
  };
}

/** Starts waiting now (diagnostics, tests). */
export function pendingDecoderStarts(): number {
  return queue.length;
}
