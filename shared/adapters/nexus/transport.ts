/**
 * The plumbing under the Nexus client: one pooled dispatcher (proxies from the environment,
 * an optional private CA), basic auth, JSON reads checked by a schema, streamed multipart
 * writes, and errors with credentials redacted. Every call retries transient failures as
 * a whole (see retry.ts for why not undici's RetryAgent).
 */
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { z } from 'zod';
import type { UploadForm } from '../../core/ports/index.ts';
import { issueLines } from '../../issues.ts';
import { baseUrlOf } from '../../http/base-url.ts';
import { makeDispatcher } from '../../http/dispatcher.ts';
import { bodyExcerpt } from '../../http/verified-body.ts';
import { NexusHttpError, NexusNetworkError, NexusResponseError, type NexusMessage } from './errors.ts';
import { multipartBody } from './multipart.ts';
import { classifyRead, classifyUpload, defaultRetryPolicy, errorCode, parseRetryAfter, withRetry, type RetryPolicy } from './retry.ts';
import { nexusMessagesSchema } from './schemas.ts';

export interface NexusTransportOptions {
  baseUrl: string;
  username?: string | undefined;
  password?: string | undefined;
  retry?: { maxAttempts?: number; baseDelayMs?: number; maxDelayMs?: number; maxRetryAfterMs?: number } | undefined;
  requestTimeoutMs?: number | undefined;
  connections?: number | undefined;
  caFile?: string | undefined;
  onRetry?: ((info: { attempt: number; delayMs: number; reason: string; path: string }) => void) | undefined;
}

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

export class NexusTransport {
  readonly #agent: Dispatcher;
  readonly #origin: string;
  /** Base path prefix without trailing slash (`''` or e.g. `/nexus`). */
  readonly prefix: string;
  readonly #authorization: string | undefined;
  /** Strings that must never leave the client in an error: the password and auth header. */
  readonly #secrets: string[];
  readonly #policy: RetryPolicy;
  readonly #onRetry: NexusTransportOptions['onRetry'];

  constructor(options: NexusTransportOptions) {
    const { url, username, password } = baseUrlOf('NexusClient', options.baseUrl, options);
    this.#origin = url.origin;
    this.prefix = url.pathname.replace(/\/+$/, '');
    const secrets: string[] = [];
    if (username !== undefined && username !== '') {
      const token = Buffer.from(`${username}:${password ?? ''}`, 'utf8').toString('base64');
      this.#authorization = `Basic ${token}`;
      secrets.push(token);
      if (password !== undefined && password.length >= 4) secrets.push(password);
    }
    this.#secrets = secrets;
    this.#policy = { ...defaultRetryPolicy, ...withoutUndefined(options.retry ?? {}) };
    this.#onRetry = options.onRetry;
    const timeout = options.requestTimeoutMs ?? 60_000;
    this.#agent = makeDispatcher({ caFile: options.caFile, connections: options.connections ?? 8, timeoutMs: timeout });
  }

  /** Runs `attempt` under the retry policy, reads classified as reads, writes as uploads. */
  retry<T>(path: string, kind: 'read' | 'upload', attempt: () => Promise<T>): Promise<T> {
    return withRetry(this.#policy, attempt, kind === 'read' ? classifyRead : classifyUpload, (info) => this.#onRetry?.({ ...info, path }));
  }

  async getJson<T>(path: string, schema: z.ZodType<T>): Promise<T> {
    return this.retry(path, 'read', async () => {
      const response = await this.send('GET', path, { headers: { accept: 'application/json' } });
      if (response.statusCode !== 200) throw await this.httpError('GET', path, response);
      const text = await this.#text('GET', path, response);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (error) {
        const excerpt = this.redact(text.slice(0, 120)).replace(/\s+/g, ' ');
        throw new NexusResponseError('GET', path, [`(root): not JSON: ${JSON.stringify(excerpt)}`], { cause: error });
      }
      const parsed = schema.safeParse(json);
      if (!parsed.success) throw new NexusResponseError('GET', path, issueLines(parsed.error), { cause: parsed.error });
      return parsed.data;
    });
  }

  /** A document of at most `maxBytes` (refused beyond, so a wrong URL cannot fill memory); undefined on 404. */
  async getBytes(path: string, maxBytes: number): Promise<Buffer | undefined> {
    return this.retry(path, 'read', async () => {
      const response = await this.send('GET', path);
      if (response.statusCode === 404) {
        await response.body.dump();
        return undefined;
      }
      if (response.statusCode !== 200) throw await this.httpError('GET', path, response);
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const chunk of response.body) {
          size += (chunk as Buffer).length;
          if (size > maxBytes) {
            response.body.destroy();
            throw new NexusResponseError('GET', path, [`(body): larger than ${maxBytes} bytes`]);
          }
          chunks.push(chunk as Buffer);
        }
      } catch (error) {
        if (error instanceof NexusResponseError) throw error;
        throw new NexusNetworkError('GET', path, errorCode(error) ?? 'UND_ERR_SOCKET', error);
      }
      return Buffer.concat(chunks);
    });
  }

  /**
   * Sends a form (fields, then files streamed from their sources) and expects `status`.
   * Each attempt re-opens the files, so a retried upload sends the same bytes again.
   */
  async sendForm(method: 'POST' | 'PUT', path: string, what: string, form: UploadForm, status: number | number[]): Promise<void> {
    await this.retry(path, 'upload', async () => {
      const streams: Readable[] = [];
      try {
        for (const file of form.files) streams.push(await file.content.open());
        const multipart = multipartBody(
          what,
          form.fields,
          form.files.map((file, i) => ({ field: file.field, filename: file.filename, size: file.content.size, stream: streams[i]! })),
        );
        await this.#expect(method, path, status, { headers: { 'content-type': multipart.contentType, 'content-length': String(multipart.contentLength) }, body: multipart.body }, () => multipart.sourceError);
      } finally {
        for (const stream of streams) stream.destroy();
      }
    });
  }

  /** Sends a body as is (a PUT of one file) and expects one of `statuses`. */
  async sendBody(method: 'PUT', path: string, content: { size: number; open(): Promise<Readable> }, contentType: string, statuses: number[]): Promise<void> {
    await this.retry(path, 'upload', async () => {
      const stream = await content.open();
      try {
        await this.#expect(method, path, statuses, { headers: { 'content-type': contentType, 'content-length': String(content.size) }, body: stream }, () => undefined);
      } finally {
        stream.destroy();
      }
    });
  }

  async #expect(
    method: Method,
    path: string,
    status: number | number[],
    init: { headers: Record<string, string>; body: Readable },
    sourceError: () => unknown,
  ): Promise<void> {
    let response: Dispatcher.ResponseData;
    try {
      response = await this.send(method, path, init);
    } catch (error) {
      // A failure reading our own content is not a network problem: report it as it is.
      const own = sourceError();
      if (own !== undefined) throw own;
      throw error;
    }
    if (!(Array.isArray(status) ? status : [status]).includes(response.statusCode)) throw await this.httpError(method, path, response);
    await response.body.dump();
  }

  async *pages<I>(
    endpoint: string,
    repository: string,
    start: string | null,
    schema: z.ZodType<{ items: I[]; continuationToken: string | null }>,
  ): AsyncGenerator<{ items: I[]; continuationToken: string | null }> {
    let token = start;
    for (;;) {
      const query = new URLSearchParams({ repository });
      if (token !== null) query.set('continuationToken', token);
      const path = `${this.prefix}${endpoint}?${query}`;
      const page = await this.getJson(path, schema);
      yield page;
      if (page.continuationToken === null) return;
      if (page.continuationToken === token) {
        throw new NexusResponseError('GET', path, [`continuationToken: repeats the request's token ${JSON.stringify(token)}`]);
      }
      token = page.continuationToken;
    }
  }

  async send(method: Method, path: string, init: { headers?: Record<string, string>; body?: Readable } = {}): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = { 'user-agent': 'ferry', ...init.headers };
    if (this.#authorization !== undefined) headers.authorization = this.#authorization;
    try {
      return await this.#agent.request({ origin: this.#origin, path, method, headers, body: init.body ?? null });
    } catch (error) {
      throw new NexusNetworkError(method, path, errorCode(error), error);
    }
  }

  /** Reads at most a few KiB of an unexpected response into a NexusHttpError. */
  async httpError(method: string, path: string, response: Dispatcher.ResponseData): Promise<NexusHttpError> {
    const text = this.redact(await bodyExcerpt(response.body, 4096));
    let messages: NexusMessage[] = [];
    try {
      const parsed = nexusMessagesSchema.safeParse(JSON.parse(text));
      if (parsed.success) messages = parsed.data.map((m) => ({ id: m.id ?? '*', message: m.message }));
    } catch {
      // Not JSON: the excerpt speaks for itself.
    }
    const status = response.statusCode;
    const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(response.headers['retry-after']) : undefined;
    return new NexusHttpError({ method, path, status, bodyExcerpt: text.slice(0, 500), messages, retryAfterMs });
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.#secrets) out = out.split(secret).join('***');
    return out;
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  async #text(method: string, path: string, response: Dispatcher.ResponseData): Promise<string> {
    try {
      return await response.body.text();
    } catch (error) {
      throw new NexusNetworkError(method, path, errorCode(error) ?? 'UND_ERR_SOCKET', error);
    }
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
