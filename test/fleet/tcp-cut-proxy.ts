/**
 * A loopback TCP proxy that cuts a worker off from PostgreSQL the two ways a network fails,
 * for the database-cut tests (docs/fleet.md):
 *
 * - `drop`: a silent partition. Nothing is forwarded in either direction and nothing is
 *   closed; new connections are accepted and then hear nothing. Bytes are held (as TCP
 *   retransmits them), so a partition healed in time delivers what was sent during it, late:
 *   exactly the write a fence must refuse. Nothing tells the client: only its own timeouts
 *   (and the lease keeper's local deadline) can notice.
 * - `reset`: every open connection is reset (RST), and new ones at once.
 * - `forward`: healed; held bytes flow again.
 */
import net from "node:net";

export type CutMode = "forward" | "drop" | "reset";

interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
}

export class TcpCutProxy {
  readonly #server: net.Server;
  readonly #target: { host: string; port: number };
  readonly #pairs = new Set<Pair>();
  #mode: CutMode = "forward";
  port = 0;

  private constructor(target: { host: string; port: number }) {
    this.#target = target;
    this.#server = net.createServer((client) => this.#accept(client));
  }

  /** Listens on 127.0.0.1 (a free port) in front of the host and port of `url`. */
  static async start(url: string): Promise<TcpCutProxy> {
    const u = new URL(url);
    const p = new TcpCutProxy({ host: u.hostname, port: Number(u.port || 5432) });
    await new Promise<void>((r) => p.#server.listen(0, "127.0.0.1", r));
    const addr = p.#server.address();
    if (!addr || typeof addr !== "object") throw new Error("proxy has no port");
    p.port = addr.port;
    return p;
  }

  /** `url` with its host and port replaced by the proxy's. */
  rewrite(url: string): string {
    const u = new URL(url);
    u.hostname = "127.0.0.1";
    u.port = String(this.port);
    return u.toString();
  }

  /** Connections open through the proxy. */
  get connections(): number {
    return this.#pairs.size;
  }

  set(mode: CutMode): void {
    this.#mode = mode;
    for (const pair of this.#pairs) this.#apply(pair);
  }

  #apply(pair: Pair): void {
    if (this.#mode === "reset") {
      pair.client.resetAndDestroy();
      pair.upstream.destroy();
    } else if (this.#mode === "drop") {
      pair.client.pause();
      pair.upstream.pause();
    } else {
      pair.client.resume();
      pair.upstream.resume();
    }
  }

  #accept(client: net.Socket): void {
    client.on("error", () => undefined);
    if (this.#mode === "reset") {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(this.#target.port, this.#target.host);
    upstream.on("error", () => undefined);
    const pair = { client, upstream };
    this.#pairs.add(pair);
    this.#apply(pair);
    client.on("data", (d: Buffer) => upstream.write(d));
    upstream.on("data", (d: Buffer) => client.write(d));
    // An end reaches the other side only when it is read, that is after a heal.
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
    const close = (): void => {
      if (!client.destroyed) client.destroy();
      if (!upstream.destroyed) upstream.destroy();
      this.#pairs.delete(pair);
    };
    client.on("close", close);
    upstream.on("close", close);
  }

  async close(): Promise<void> {
    for (const pair of this.#pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.#pairs.clear();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}
