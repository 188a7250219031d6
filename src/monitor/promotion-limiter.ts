/**
 * How many light streams of one process may decode in full at once. A network-wide fault
 * (every channel going black at the same moment) must not turn a hundred cheap streams into
 * a hundred full decoders on a machine sized for light monitoring: beyond `max`, promotions
 * wait their turn in arrival order, and the queue is visible (state, metrics, logs).
 */
export interface PromotionTicket {
  readonly stream: string;
  /** Resolves when the slot is granted; never when cancelled first. */
  readonly granted: Promise<void>;
  /** Gives the slot back, or leaves the queue if not granted yet. Idempotent. */
  release(): void;
}

interface Waiter {
  readonly stream: string;
  readonly grant: () => void;
  state: "queued" | "active" | "done";
}

export class PromotionLimiter {
  private readonly queue: Waiter[] = [];
  private activeCount = 0;
  /** Promotions granted and queued since start (for metrics). */
  readonly totals = { granted: 0, queued: 0 };

  constructor(readonly max: number) {
    if (!(Number.isInteger(max) && max >= 1))
      throw new RangeError(`promotion limit must be >= 1, got ${max}`);
  }

  get active(): number {
    return this.activeCount;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Streams waiting, oldest first. */
  waitingStreams(): string[] {
    return this.queue.map((w) => w.stream);
  }

  acquire(stream: string): PromotionTicket {
    let grant!: () => void;
    const granted = new Promise<void>((resolve) => (grant = resolve));
    const waiter: Waiter = { stream, grant, state: "queued" };
    if (this.activeCount < this.max) {
      this.start(waiter);
    } else {
      this.totals.queued++;
      this.queue.push(waiter);
    }
    return {
      stream,
      granted,
      release: () => {
        if (waiter.state === "active") {
          waiter.state = "done";
          this.activeCount--;
          const next = this.queue.shift();
          if (next) this.start(next);
        } else if (waiter.state === "queued") {
          waiter.state = "done";
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
        }
      },
    };
  }

  private start(w: Waiter): void {
    w.state = "active";
    this.activeCount++;
    this.totals.granted++;
    w.grant();
  }
}
