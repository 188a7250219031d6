/**
 * The object store, in a process of its own so that its CPU (the provider's, not ours) is
 * measured apart: s3rver, an S3-compatible server (real HTTP, SigV4-authenticated, objects on
 * disk). MinIO is not installed on this machine; s3rver is already the tests' S3 server.
 */
import { cpuTimes, rssBytes } from "./proc-stats.js";

export type ObjectStoreReply =
  | { readonly kind: "listening"; readonly port: number }
  | { readonly kind: "bye"; readonly cpu: ReturnType<typeof cpuTimes>; readonly rssBytes: number };

interface S3rverLike {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
type S3rverClass = new (options: {
  port: number;
  address: string;
  silent: boolean;
  directory: string;
}) => S3rverLike;

export function runObjectStoreChild(): Promise<number> {
  return new Promise((resolveExit) => {
    process.once("message", (m: { kind: "start"; directory: string }) => {
      void (async () => {
        // A development dependency (`bench` runs from a development install), named by a
        // variable so that neither tsc's build nor the bundler tries to pull it into dist.
        const name = "s3rver";
        const mod = (await import(name)) as { default: S3rverClass };
        const server = new mod.default({
          port: 0,
          address: "127.0.0.1",
          silent: true,
          directory: m.directory,
        });
        const { port } = await server.run();
        process.send?.({ kind: "listening", port } satisfies ObjectStoreReply);
        process.once("message", () => {
          void server.close().then(() => {
            process.send?.({ kind: "bye", cpu: cpuTimes(), rssBytes: rssBytes() } satisfies ObjectStoreReply);
            process.disconnect?.();
            resolveExit(0);
          });
        });
      })();
    });
  });
}
