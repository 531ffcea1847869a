/**
 * The HTTP plumbing under the registry client: one pooled dispatcher (honouring
 * HTTP(S)_PROXY / NO_PROXY), authentication on 401, redirects, error bodies, and the
 * whole-attempt retry loop shared with the Nexus client.
 */
import { bodyExcerpt } from '../../http/verified-body.ts';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { makeDispatcher } from '../../http/dispatcher.ts';
import { RegistryAuth } from './auth.ts';
import { RegistryAuthError, RegistryHttpError, RegistryNetworkError, type RegistryErrorEntry } from './errors.ts';
import {
  TRANSIENT_CODES,
  defaultRetryPolicy,
  errorCode,
  parseRetryAfter,
  withRetry,
  type RetryPolicy,
  type RetryVerdict,
} from '../../http/retry.ts';
import { baseUrlOf } from '../../http/base-url.ts';

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export interface TransportOptions {
  baseUrl: string;
  username?: string | undefined;
  password?: string | undefined;
  caFile?: string | undefined;
  retry?: { maxAttempts?: number | undefined; baseDelayMs?: number | undefined; maxDelayMs?: number | undefined } | undefined;
  requestTimeoutMs?: number | undefined;
  onRetry?: ((info: { attempt: number; delayMs: number; reason: string; path: string }) => void) | undefined;
}

export interface SendInit {
  method: Method;
  url: URL;
  /** Token scopes the request needs (`repository:foo:pull`, …); [] for `/v2/`. */
  scopes: string[];
  headers?: Record<string, string>;
  /**
   * A Buffer is replayed after a 401. A stream cannot be: a 401 then fails the request
   * with a `staleAuth` RegistryHttpError, which the retry loop answers by running the
   * whole operation again.
   */
  body?: Buffer | Readable;
  /** GET/HEAD only: follow up to 5 redirects (blob storage behind a CDN or S3). */
  followRedirects?: boolean;
}

const MAX_REDIRECTS = 5;

/** Transient for every registry call: the network let us down, or the registry is busy. */
export function classifyRegistry(error: unknown): RetryVerdict {
  if (error instanceof RegistryHttpError) {
    const { status } = error;
    if (status >= 500 || status === 408 || status === 429) {
      return { retry: true, reason: `HTTP ${status}`, retryAfterMs: error.retryAfterMs };
    }
    if (error.staleAuth) return { retry: true, reason: 'credentials refreshed after HTTP 401' };
    return { retry: false };
  }
  if (error instanceof RegistryNetworkError && error.code !== undefined && TRANSIENT_CODES.has(error.code)) {
    return { retry: true, reason: error.code };
  }
  return { retry: false };
}

export class RegistryTransport {
  readonly dispatcher: Dispatcher;
  readonly auth: RegistryAuth;
  readonly base: URL;
  /** Base path prefix without trailing slash (`''` or e.g. `/repository/docker-hosted`). */
  readonly prefix: string;
  readonly #policy: RetryPolicy;
  readonly #onRetry: TransportOptions['onRetry'];
  readonly #secrets = new Set<string>();

  constructor(options: TransportOptions) {
    const { url, username, password } = baseUrlOf('RegistryClient', options.baseUrl, options);
    url.search = '';
    url.hash = '';
    this.base = url;
    this.prefix = url.pathname.replace(/\/+$/, '');
    this.#policy = { ...defaultRetryPolicy, ...withoutUndefined(options.retry ?? {}) };
    this.#onRetry = options.onRetry;
    const timeout = options.requestTimeoutMs ?? 60_000;
    this.dispatcher = makeDispatcher({ caFile: options.caFile, connections: 8, timeoutMs: timeout });
    this.auth = new RegistryAuth({
      username,
      password,
      dispatcher: this.dispatcher,
      onSecret: (secret) => this.#secrets.add(secret),
    });
  }

  /** `<base>/v2/<rest>` as a URL. */
  url(rest: string, query?: Record<string, string>): URL {
    const url = new URL(this.base);
    url.pathname = `${this.prefix}/v2/${rest}`;
    if (query !== undefined) url.search = new URLSearchParams(query).toString();
    return url;
  }

  /**
   * Resolves a `Location` or `Link` target. Relative references resolve against the base
   * URL; a root-relative `/v2/…` from a registry behind a path prefix gets the prefix.
   */
  resolve(reference: string, current: URL): URL {
    if (this.prefix !== '' && reference.startsWith('/v2/')) return new URL(`${this.prefix}${reference}`, this.base);
    return new URL(reference, current);
  }

  /** How a URL appears in errors: path and query without upload state or signatures. */
  describe(url: URL): string {
    const query = new URLSearchParams(url.search);
    for (const key of [...query.keys()]) {
      if (key === '_state' || /^x-amz-|^sig|signature|token|credential/i.test(key)) query.delete(key);
    }
    const search = query.size > 0 ? `?${query}` : '';
    return url.origin === this.base.origin ? `${url.pathname}${search}` : `${url.host}${url.pathname}`;
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.#secrets) out = out.split(secret).join('***');
    return out;
  }

  retry<T>(url: URL, attempt: (n: number) => Promise<T>): Promise<T> {
    const path = this.describe(url);
    return withRetry(this.#policy, attempt, classifyRegistry, (info) => this.#onRetry?.({ ...info, path }));
  }

  /** One request, with authentication (at most one renewal) and, when asked, redirects. */
  async send(init: SendInit): Promise<Dispatcher.ResponseData> {
    let url = init.url;
    let renewed = false;
    for (let redirects = 0; ; ) {
      const sameOrigin = url.origin === this.base.origin;
      const where = this.describe(url);
      const authorization = sameOrigin ? await this.auth.authorization(init.scopes, init.method, where) : undefined;
      const headers: Record<string, string> = { 'user-agent': 'ferry', ...init.headers };
      if (authorization !== undefined) headers.authorization = authorization;
      let response: Dispatcher.ResponseData;
      try {
        response = await this.dispatcher.request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: init.method,
          headers,
          body: init.body ?? null,
        });
      } catch (error) {
        throw new RegistryNetworkError(init.method, where, errorCode(error), error);
      }
      const status = response.statusCode;
      if (status === 401 && sameOrigin) {
        const challenge = response.headers['www-authenticate'];
        await response.body.dump().catch(() => undefined);
        if (renewed) {
          this.auth.forget(authorization);
          const what = authorization?.startsWith('Bearer ') ? `the token issued for ${init.scopes.join(' ') || '/v2/'}` : 'the configured credentials';
          throw new RegistryAuthError(init.method, where, `the registry refused ${what}`);
        }
        await this.auth.unauthorized(challenge, authorization, init.scopes, init.method, where);
        renewed = true;
        if (init.body !== undefined && !Buffer.isBuffer(init.body)) {
          throw new RegistryHttpError({ method: init.method, path: where, status, staleAuth: true });
        }
        continue;
      }
      const location = response.headers.location;
      if (init.followRedirects && [301, 302, 303, 307, 308].includes(status) && typeof location === 'string') {
        await response.body.dump().catch(() => undefined);
        if (++redirects > MAX_REDIRECTS) {
          throw new RegistryHttpError({ method: init.method, path: where, status, bodyExcerpt: 'too many redirects' });
        }
        url = new URL(location, url);
        continue;
      }
      return response;
    }
  }

  /** Reads a body up to `limit` bytes; undefined when it is larger (the body is then dropped). */
  async readCapped(response: Dispatcher.ResponseData, limit: number, method: Method, url: URL): Promise<Buffer | undefined> {
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      response.body.destroy();
      return undefined;
    }
    const chunks: Buffer[] = [];
    let length = 0;
    try {
      for await (const chunk of response.body) {
        length += (chunk as Buffer).length;
        if (length > limit) {
          response.body.destroy();
          return undefined;
        }
        chunks.push(chunk as Buffer);
      }
    } catch (error) {
      throw new RegistryNetworkError(method, this.describe(url), errorCode(error) ?? 'UND_ERR_SOCKET', error);
    }
    return Buffer.concat(chunks);
  }

  /** Turns an unexpected response into a RegistryHttpError, reading at most a few KiB. */
  async httpError(method: Method, url: URL, response: Dispatcher.ResponseData): Promise<RegistryHttpError> {
    const text = this.redact(method === 'HEAD' ? (response.body.destroy(), '') : await bodyExcerpt(response.body, 8192));
    let errors: RegistryErrorEntry[] = [];
    try {
      const parsed = JSON.parse(text) as { errors?: unknown };
      if (Array.isArray(parsed.errors)) {
        errors = parsed.errors
          .filter((e): e is { code?: unknown; message?: unknown } => typeof e === 'object' && e !== null)
          .map((e) => ({ code: String(e.code ?? 'UNKNOWN'), message: typeof e.message === 'string' ? e.message : '' }));
      }
    } catch {
      // Not the spec's error body: the excerpt speaks for itself.
    }
    const status = response.statusCode;
    const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(response.headers['retry-after']) : undefined;
    return new RegistryHttpError({
      method,
      path: this.describe(url),
      status,
      errors,
      bodyExcerpt: text.slice(0, 500),
      retryAfterMs,
    });
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

export function header(response: Dispatcher.ResponseData, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
