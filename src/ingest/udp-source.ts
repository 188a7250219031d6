/**
 * MPEG-TS over UDP (unicast or multicast), received by streamqc itself and fed to ffmpeg's
 * stdin, so that the transport (datagram gaps, and TS packet checks) is seen as sent.
 *
 * The socket is read on the process's shared drain tick (udp-drain.ts): everything waiting
 * is read every 100 ms (UDP_DRAIN_MS) and goes to the TS analyzer and the decoder in one
 * piece, so a channel costs Node 10 wake-ups a second shared with all others instead of one
 * per datagram.
 * `STREAMQC_UDP_EVENTS=1` (or a Node without the handle udp-drain.ts needs) keeps Node's
 * per-datagram `message` events, batched into 32 KB / 40 ms decoder writes.
 *
 * `udp://@239.1.2.3:5000` or `udp://239.1.2.3:5000` joins the multicast group;
 * `udp://0.0.0.0:5000`, `udp://127.0.0.1:5000` or `udp://@:5000` listens for unicast.
 * `?localaddr=IP` picks the interface for the multicast join.
 */
import { createSocket, type Socket } from "node:dgram";
import { isIPv4 } from "node:net";
import { readEnvironment } from "../config/env.js";
import { StreamqcError } from "../errors.js";
import { TsAnalyzer } from "./ts-analyzer.js";
import { drainNow, joinDrain, leaveDrain, socketDescriptor, type DrainTarget } from "./udp-drain.js";
import { registerUdpSource, type Feed, type FeedContext, type Source, type SourceEvents } from "./source.js";

/** No datagram for this long: the source is reported lost (and connected when they resume). */
export const UDP_SILENCE_MS = 2000;
/**
 * A source that has sent nothing at all since we began listening is down after this long
 * (a sender starting a little after the monitor is normal; one that never starts is not).
 */
export const UDP_NEVER_MS = 5000;
/**
 * Datagrams are handed to the decoder in batches of about this many bytes, or after
 * UDP_BATCH_MS: one pipe write per datagram (about 600 a second at 6 Mb/s) cost Node
 * 0.5 CPU s a minute of 1080p, as much again as receiving them. 32 KB is 40 ms at 6 Mb/s.
 */
export const UDP_BATCH_BYTES = 32 * 1024;
export const UDP_BATCH_MS = 40;
/** At most this long and this much is kept for the first decoder (UdpSource.early). */
const EARLY_MAX_MS = 1000;
const EARLY_MAX_BYTES = 4 * 1024 * 1024;

export class UdpSource implements Source {
  readonly kind = "udp" as const;
  readonly live = true;
  private socket: Socket | null = null;
  private ctx: FeedContext | null = null;
  private events: SourceEvents | null = null;
  private analyzer: TsAnalyzer | null = null;
  private lastDatagramAt = 0;
  private receiving = false;
  private listeningSince = 0;
  private silentReported = false;
  private timer: NodeJS.Timeout | null = null;
  private reopening = false;
  /** On the shared drain tick (null: per-datagram events). */
  private drain: DrainTarget | null = null;
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private batchTimer: NodeJS.Timeout | null = null;
  /**
   * What arrives before the first decoder listens (its start waits for the first datagrams):
   * given to it first, so that it sees the stream from the first datagram (a sender's first
   * keyframe; keyframe-gate.ts) and not from wherever it joined. Null once a decoder is fed.
   */
  private early: { readonly at: number; readonly bytes: Buffer }[] | null = [];
  private earlyBytes = 0;
  private readonly host: string;
  private readonly port: number;
  private readonly multicast: boolean;
  private readonly localAddress: string | undefined;
  datagrams = 0;
  bytes = 0;
  /** How the socket is read, for tests and diagnostics. */
  receiveMode: "drain" | "events" | "closed" = "closed";

  constructor(readonly url: string) {
    const u = new URL(url);
    const host = u.hostname.replace(/^@/, "").replace(/^\[|\]$/g, "");
    this.host = host === "" ? "0.0.0.0" : host;
    this.port = Number(u.port);
    if (!Number.isInteger(this.port) || this.port <= 0 || this.port > 65535) {
      throw new StreamqcError("SQM_ERR_INPUT_UNSUPPORTED", `UDP URL needs a port: ${url}`);
    }
    if (!isIPv4(this.host)) {
      throw new StreamqcError("SQM_ERR_INPUT_UNSUPPORTED", `UDP URL needs an IPv4 address: ${url}`);
    }
    const first = Number(this.host.split(".")[0]);
    this.multicast = first >= 224 && first <= 239;
    this.localAddress = u.searchParams.get("localaddr") ?? undefined;
  }

  inputArgs(): string[] {
    // The analysis of a decoder joined anywhere in a GOP. Probing must reach a keyframe: its
    // SPS/PPS carry the picture size, and a stream joined mid-GOP has none before it. 500 KB
    // was less than one GOP of 1080p at 6 Mb/s (1.3 s GOP): the decoder then failed with
    // "Could not find codec parameters ... unspecified size" and restarted. FFmpeg's MPEG-TS
    // demuxer reads the whole analysis on every start, so this is 5 s before the first
    // picture: the reader starts its decoders at a keyframe with 1 s instead
    // (keyframe-gate.ts), and uses this only for a stream whose keyframes it cannot find.
    return ["-f", "mpegts", "-probesize", "5000000", "-analyzeduration", "5000000", "-i", "pipe:0"];
  }

  async open(events: SourceEvents): Promise<void> {
    this.events = events;
    if (this.socket) return;
    // TR 101 290 checks on the datagrams exactly as they arrived.
    this.analyzer ??= new TsAnalyzer({ onFault: (f) => this.events?.emit({ ...f, at: this.events.now() }) });
    await this.listen();
    this.listeningSince = performance.now();
    this.timer = setInterval(() => this.checkSilence(), 250);
    this.timer.unref();
  }

  private async listen(): Promise<void> {
    const socket = createSocket({ type: "udp4", reuseAddr: true });
    this.socket = socket;
    socket.on("message", (msg) => this.onDatagram(msg));
    socket.on("error", (err) => this.socketFailed(err));
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(this.port, this.host, () => {
        socket.off("error", reject);
        resolve();
      });
    }).catch((err: unknown) => {
      this.socket = null;
      closeQuietly(socket);
      throw new StreamqcError(
        "SQM_ERR_INPUT_UNREADABLE",
        `cannot listen on ${this.url}: ${(err as Error).message}`,
        { cause: err },
      );
    });
    try {
      if (this.multicast) socket.addMembership(this.host, this.localAddress);
    } catch (err) {
      this.socket = null;
      closeQuietly(socket);
      throw new StreamqcError(
        "SQM_ERR_INPUT_UNREADABLE",
        `cannot join multicast group ${this.host}${this.localAddress ? ` on ${this.localAddress}` : ""} for ${this.url}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    // Room for over a second of 6 Mb/s (the kernel counts more than each datagram's payload)
    // when the event loop is late for the drain tick.
    socket.setRecvBufferSize(8 * 1024 * 1024);
    const fd = readEnvironment().udpEvents ? null : socketDescriptor(socket);
    if (fd === null) {
      this.receiveMode = "events";
      return;
    }
    const drain: DrainTarget = {
      fd,
      received: (bytes, datagrams) => this.onBytes(bytes, datagrams),
      failed: (err) => this.socketFailed(err),
    };
    this.drain = drain;
    this.receiveMode = "drain";
    joinDrain(drain);
  }

  /**
   * A read or the socket failed (rare on UDP: the kernel short of memory, the descriptor
   * gone): reported as a loss, and the socket is opened afresh so that the source goes on.
   */
  private socketFailed(err: Error): void {
    this.events?.emit({
      kind: "lost",
      at: this.events.now(),
      reason: `UDP socket: ${err.message}`,
      fatal: false,
    });
    this.receiving = false;
    if (this.reopening || !this.socket) return;
    this.reopening = true;
    void this.closeSocket()
      .then(() => (this.timer ? this.listen() : undefined))
      .catch((e: unknown) =>
        this.events?.emit({
          kind: "lost",
          at: this.events.now(),
          reason: `UDP socket could not be opened again: ${(e as Error).message}`,
          fatal: false,
        }),
      )
      .finally(() => {
        this.reopening = false;
      });
  }

  feed(ctx: FeedContext): Feed {
    // A batch begun for an earlier decoder run belongs to a stream position it never reached.
    this.dropBatch();
    this.ctx = ctx;
    const early = this.early;
    this.early = null;
    this.earlyBytes = 0;
    for (const e of early ?? []) if (!ctx.stdin.destroyed) ctx.stdin.write(e.bytes);
    return {
      stop: () => {
        if (this.ctx === ctx) this.ctx = null;
      },
    };
  }

  /** Per-datagram events (the fallback): batched into UDP_BATCH_BYTES / UDP_BATCH_MS writes. */
  private onDatagram(msg: Buffer): void {
    if (!this.arrived(msg, 1)) return;
    this.batch.push(msg);
    this.batchBytes += msg.length;
    if (this.batchBytes >= UDP_BATCH_BYTES) this.flushBatch();
    else this.batchTimer ??= setTimeout(() => this.flushBatch(), UDP_BATCH_MS);
  }

  /** One drain tick's bytes: already a batch. */
  private onBytes(bytes: Buffer, datagrams: number): void {
    if (this.arrived(bytes, datagrams)) this.ctx?.stdin.write(bytes);
  }

  /** Counts, reports the start of reception, analyzes; true when a decoder can take the bytes. */
  private arrived(bytes: Buffer, datagrams: number): boolean {
    this.datagrams += datagrams;
    this.bytes += bytes.length;
    this.lastDatagramAt = performance.now();
    if (!this.receiving) {
      this.receiving = true;
      this.events?.emit({ kind: "connected", at: this.events.now(), url: this.url });
    }
    this.analyzer?.push(bytes);
    const stdin = this.ctx?.stdin;
    if (!stdin && this.early) this.keepEarly(bytes);
    return !!stdin && !stdin.destroyed && stdin.writableLength < 16 * 1024 * 1024;
  }

  private keepEarly(bytes: Buffer): void {
    const early = this.early!;
    const now = performance.now();
    early.push({ at: now, bytes });
    this.earlyBytes += bytes.length;
    // A decoder normally listens within milliseconds. One started late (many channels starting
    // at once) gets the last second only, not a backlog to catch up on.
    while (early.length > 1 && (this.earlyBytes > EARLY_MAX_BYTES || early[0]!.at < now - EARLY_MAX_MS)) {
      this.earlyBytes -= early.shift()!.bytes.length;
    }
  }

  private flushBatch(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = null;
    const stdin = this.ctx?.stdin;
    const bytes = this.batch.length === 1 ? this.batch[0]! : Buffer.concat(this.batch, this.batchBytes);
    this.batch = [];
    this.batchBytes = 0;
    if (bytes.length > 0 && stdin && !stdin.destroyed) stdin.write(bytes);
  }

  private dropBatch(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = null;
    this.batch = [];
    this.batchBytes = 0;
  }

  private checkSilence(): void {
    // After the event loop was blocked (a loaded machine) this timer can run before the drain
    // tick: datagrams waiting in the socket are not silence.
    if (this.drain) drainNow(this.drain);
    if (this.datagrams === 0 && !this.silentReported) {
      const waited = performance.now() - this.listeningSince;
      if (waited > UDP_NEVER_MS) {
        // Regression: `analyze udp://… --duration 3` with no sender used to report "0 incidents".
        this.silentReported = true;
        this.events?.emit({
          kind: "lost",
          at: 0,
          reason: `no UDP datagrams received in ${Math.round(waited / 1000)} s of listening (is the sender running, and sending to this address and port?)`,
          fatal: false,
        });
      }
      return;
    }
    if (this.receiving && performance.now() - this.lastDatagramAt > UDP_SILENCE_MS) {
      this.receiving = false;
      // The loss happened when the last datagram came, not when the silence was noticed.
      this.events?.emit({
        kind: "lost",
        at: this.events.now() - (performance.now() - this.lastDatagramAt) / 1000,
        reason: `no UDP datagrams for ${UDP_SILENCE_MS / 1000} s`,
        fatal: false,
      });
    }
  }

  /** True while datagrams arrive: the reader does not restart a decoder that waits for data. */
  get idle(): boolean {
    return !this.receiving;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.dropBatch();
    this.early = null;
    this.earlyBytes = 0;
    await this.closeSocket();
  }

  private async closeSocket(): Promise<void> {
    if (this.drain) leaveDrain(this.drain);
    this.drain = null;
    this.receiveMode = "closed";
    const socket = this.socket;
    this.socket = null;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

/** A socket whose bind failed may be closed already (Node closes it on some bind errors). */
function closeQuietly(socket: Socket): void {
  try {
    socket.close();
  } catch {
    // ERR_SOCKET_DGRAM_NOT_RUNNING: nothing left to close.
  }
}

registerUdpSource((url) => new UdpSource(url.href));
