/**
 * The listener of `ferry serve` (node:http): `POST /webhook` for Nexus, `GET /healthz` for a
 * supervisor, `GET /metrics` for Prometheus. Stopping closes the port first, answers
 * requests still arriving on open connections with 503, and waits for those in flight.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ListenAddress } from '../../shared/config/serve-config.ts';
import type { Log } from '../../shared/core/log.ts';
import { ListenError } from './errors.ts';
import type { ServeMetrics } from './metrics.ts';
import { WEBHOOK_MAX_BYTES, type Reply, type WebhookEndpoint } from './webhook-endpoint.ts';

export interface Health {
  ok: boolean;
  detail: Record<string, unknown>;
}

export interface ServeHttpDeps {
  webhook: WebhookEndpoint;
  metrics: ServeMetrics;
  health(): Health;
  log: Log;
}

export class ServeHttp {
  readonly #server: Server;
  readonly #deps: ServeHttpDeps;
  #stopping = false;
  readonly #inFlight = new Set<Promise<void>>();

  private constructor(server: Server, deps: ServeHttpDeps) {
    this.#server = server;
    this.#deps = deps;
  }

  /** Binds `address` (port 0: any free port) and starts answering. */
  static async listen(address: ListenAddress, deps: ServeHttpDeps): Promise<ServeHttp> {
    const server = createServer();
    const http = new ServeHttp(server, deps);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const handled = http.#handle(req, res).catch((error: unknown) => {
        deps.log.error(`${req.method} ${req.url}: ${(error as Error).message}`);
        if (!res.headersSent) send(res, { status: 500, body: { message: 'internal error' } });
        else res.destroy();
      });
      http.#inFlight.add(handled);
      void handled.finally(() => http.#inFlight.delete(handled));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (cause) => reject(new ListenError(address.host, address.port, { cause })));
      server.listen(address.port, address.host, () => resolve());
    });
    return http;
  }

  /** `http://host:port` as bound (the real port when 0 was asked for). */
  get url(): string {
    const { address, port, family } = this.#server.address() as AddressInfo;
    return `http://${family === 'IPv6' ? `[${address}]` : address}:${port}`;
  }

  /** Stops accepting connections; requests on connections already open get 503 from now on. */
  stopAccepting(): void {
    this.#stopping = true;
    this.#server.close();
    this.#server.closeIdleConnections();
  }

  /** Resolves once the requests in flight are answered (those still open after `graceMs` are cut). */
  async closed(graceMs = 5_000): Promise<void> {
    if (!this.#stopping) this.stopAccepting();
    const settled = Promise.allSettled([...this.#inFlight]);
    // An unref'd timer: once the requests are answered, it must not hold the process up.
    await Promise.race([settled, sleep(graceMs, undefined, { ref: false })]);
    this.#server.closeAllConnections();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const route = new URL(req.url ?? '/', 'http://ferry.invalid').pathname;
    if (route === '/webhook') {
      if (req.method !== 'POST') return send(res, { status: 405, body: { message: 'POST only' } }, { allow: 'POST' });
      if (this.#stopping) {
        this.#deps.metrics.delivery('unavailable');
        return send(res, { status: 503, body: { message: 'shutting down' } }, { connection: 'close' });
      }
      return this.#webhook(req, res);
    }
    if (route === '/healthz' || route === '/metrics') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, { status: 405, body: { message: 'GET only' } }, { allow: 'GET, HEAD' });
      if (route === '/healthz') {
        const health = this.#deps.health();
        return send(res, { status: health.ok ? 200 : 503, body: { status: health.ok ? 'ok' : 'failing', ...health.detail } });
      }
      const metrics = await this.#deps.metrics.text();
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(req.method === 'HEAD' ? undefined : metrics.body);
      return;
    }
    send(res, { status: 404, body: { message: `no ${route} here: POST /webhook, GET /healthz, GET /metrics` } });
  }

  async #webhook(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req, WEBHOOK_MAX_BYTES);
    if (raw === undefined) {
      this.#deps.metrics.delivery('too_large');
      this.#deps.log.warn(`webhook body too large (over ${WEBHOOK_MAX_BYTES} bytes)`, { remote: req.socket.remoteAddress });
      return send(res, { status: 413, body: { message: `body exceeds ${WEBHOOK_MAX_BYTES} bytes` } }, { connection: 'close' });
    }
    send(res, await this.#deps.webhook(raw, req.headers, req.socket.remoteAddress));
  }
}

/** The whole body, or undefined as soon as it is known to exceed `maxBytes` (the rest is not read). */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      req.off('data', onData);
      req.pause();
      resolve(undefined);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function send(res: ServerResponse, reply: Reply, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(reply.body);
  res.writeHead(reply.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}
