/**
 * A slow link for tests: a TCP proxy on 127.0.0.1 that carries at most `bytesPerSecond` in
 * each direction (all connections together), so a transfer between the CLI and a server
 * lasts long enough to be watched. The bytes pass unchanged.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { pipeline, Transform, type TransformCallback } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** Bytes go out in pieces this large, each when the link has time for it. */
const PIECE = 16 * 1024;

/** One direction of the link: the time at which it is free again. */
class Link {
  #freeAt = 0;
  readonly #bytesPerSecond: number;
  constructor(bytesPerSecond: number) {
    this.#bytesPerSecond = bytesPerSecond;
  }

  /** Waits until `bytes` may pass, and books the link for them. */
  async take(bytes: number): Promise<void> {
    const now = performance.now();
    const start = Math.max(now, this.#freeAt);
    this.#freeAt = start + (bytes * 1000) / this.#bytesPerSecond;
    if (start > now) await sleep(start - now);
  }
}

function throttled(link: Link): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      void (async () => {
        for (let at = 0; at < chunk.length; at += PIECE) {
          const piece = chunk.subarray(at, at + PIECE);
          await link.take(piece.length);
          this.push(piece);
        }
      })().then(() => callback(), callback);
    },
  });
}

/** A proxy to `target` (`http://127.0.0.1:<port>`); its `url` is the same server, slowly. */
export async function startSlowLink(target: string, bytesPerSecond: number): Promise<{ url: string; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const down = new Link(bytesPerSecond);
  const up = new Link(bytesPerSecond);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    }
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    pipeline(client, throttled(up), upstream, end);
    pipeline(upstream, throttled(down), client, end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
