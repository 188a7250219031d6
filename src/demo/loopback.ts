/** Loopback live streams made by the project itself: demo channels, the service benchmark, tests. */
import { createSocket } from "node:dgram";

/** `n` distinct free UDP ports on 127.0.0.1 (all bound at once, then released). */
export async function freeUdpPorts(n: number): Promise<number[]> {
  const sockets = [];
  for (let i = 0; i < n; i++) {
    const s = createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
    sockets.push(s);
  }
  const ports = sockets.map((s) => s.address().port);
  await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

/** ffmpeg arguments that publish a clip in a loop, in real time, as MPEG-TS over UDP to a loopback port. */
export function udpLoopArgs(clip: string, port: number): string[] {
  return ["-stream_loop", "-1", ...udpOnceArgs(clip, port)];
}

/** The same, once: the publisher exits at the clip's end. */
export function udpOnceArgs(clip: string, port: number): string[] {
  return ["-re", "-i", clip, "-c", "copy", "-f", "mpegts", `udp://127.0.0.1:${port}?pkt_size=1316`];
}
