/**
 * The Nexus 3 REST client: the connected side's ArtifactSource and the isolated side's
 * ArtifactTarget. One pooled dispatcher per client (proxies from the environment, an
 * optional private CA); every call retries transient
 * failures as a whole (see retry.ts for why not undici's RetryAgent).
 */
import { bodyExcerpt, consumeVerified } from '../../http/verified-body.ts';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { makeDispatcher } from '../../http/dispatcher.ts';
import type { z } from 'zod';
import { HashingStream, type HashAlgorithm } from '../../digest.ts';
import { issueLines } from '../../errors.ts';
import type {
  ArtifactSource,
  ArtifactTarget,
  BlobSource,
  Checksums,
  SourceComponent,
  SourcePage,
  TargetRepository,
} from '../../core/ports/index.ts';
import {
  MissingChecksumError,
  NexusChecksumError,
  NexusHttpError,
  NexusNetworkError,
  NexusResponseError,
  type NexusMessage,
} from './errors.ts';
import { multipartBody } from './multipart.ts';
import {
  classifyRead,
  classifyUpload,
  defaultRetryPolicy,
  errorCode,
  parseRetryAfter,
  withRetry,
  type RetryPolicy,
} from './retry.ts';
import {
  assetPageSchema,
  assetSchema,
  componentPageSchema,
  componentSchema,
  nexusMessagesSchema,
  normalizePath,
  repositoryListSchema,
  repositorySettingsListSchema,
  type NexusAsset,
  type NexusComponent,
  type NexusRepository,
} from './schemas.ts';
import { baseUrlOf } from '../../http/base-url.ts';

export interface NexusClientOptions {
  /** e.g. `http://127.0.0.1:8081`, possibly with a path prefix such as `/nexus`. */
  baseUrl: string;
  /** Basic auth. Never logged, never part of an error message. */
  username?: string;
  password?: string;
  retry?: { maxAttempts?: number; baseDelayMs?: number; maxDelayMs?: number; maxRetryAfterMs?: number };
  /** Headers and body inactivity timeout, default 60 s. */
  requestTimeoutMs?: number;
  /** Pool size per host, default 8. */
  connections?: number;
  /** Extra CA certificates (PEM file) for a Nexus behind a private CA, besides the system's. */
  caFile?: string | undefined;
  onRetry?: (info: { attempt: number; delayMs: number; reason: string; path: string }) => void;
}

/**
 * What to verify a download against: sha256 when Nexus published it, else sha1, else md5
 * (else sha512). helm, npm and pypi assets often have only md5 + sha1.
 */
export function expectedChecksums(checksums: Checksums, what = 'asset'): Checksums {
  for (const algorithm of ['sha256', 'sha1', 'md5', 'sha512'] as const) {
    const value = checksums[algorithm];
    if (value) return { [algorithm]: value.toLowerCase() };
  }
  throw new MissingChecksumError(what);
}

export class NexusClient implements ArtifactSource, ArtifactTarget {
  readonly #agent: Dispatcher;
  readonly #origin: string;
  /** Base path prefix without trailing slash (`''` or e.g. `/nexus`). */
  readonly #prefix: string;
  readonly #authorization: string | undefined;
  /** Strings that must never leave the client in an error: the password and auth header. */
  readonly #secrets: string[];
  readonly #policy: RetryPolicy;
  readonly #onRetry: NexusClientOptions['onRetry'];

  constructor(options: NexusClientOptions) {
    const { url, username, password } = baseUrlOf('NexusClient', options.baseUrl, options);
    this.#origin = url.origin;
    this.#prefix = url.pathname.replace(/\/+$/, '');
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
    // Proxies from HTTPS_PROXY / HTTP_PROXY / NO_PROXY, like the registry client.
    this.#agent = makeDispatcher({ caFile: options.caFile, connections: options.connections ?? 8, timeoutMs: timeout });
  }

  // ───────────────────────────── listing ─────────────────────────────

  async listRepositories(): Promise<NexusRepository[]> {
    return this.#getJson(`${this.#prefix}/service/rest/v1/repositories`, repositoryListSchema);
  }

  /**
   * Every repository with what decides whether it takes a write: type, format, online and
   * write policy (`/v1/repositorySettings`). A user allowed to upload may not be allowed to
   * read settings (403), and old versions lack the endpoint (404): then the plain listing
   * answers, with `online` and `writePolicy` unknown.
   */
  async repositories(): Promise<TargetRepository[]> {
    try {
      return await this.#getJson(`${this.#prefix}/service/rest/v1/repositorySettings`, repositorySettingsListSchema);
    } catch (error) {
      if (!(error instanceof NexusHttpError) || (error.status !== 403 && error.status !== 404)) throw error;
      return (await this.listRepositories()).map(({ name, format, type }) => ({ name, format, type, online: undefined, writePolicy: undefined }));
    }
  }

  /** Pages are fetched one at a time, only when the consumer asks for the next. */
  async *componentPages(repository: string, continuationToken?: string | null): AsyncGenerator<SourcePage> {
    for await (const page of this.#pages('/service/rest/v1/components', repository, continuationToken ?? null, componentPageSchema)) {
      yield { items: page.items.map(toSourceComponent), continuationToken: page.continuationToken };
    }
  }

  assetPages(repository: string): AsyncGenerator<{ items: NexusAsset[]; continuationToken: string | null }> {
    return this.#pages('/service/rest/v1/assets', repository, null, assetPageSchema);
  }

  async getComponent(id: string): Promise<SourceComponent> {
    const component = await this.#getJson(
      `${this.#prefix}/service/rest/v1/components/${encodeURIComponent(id)}`,
      componentSchema,
    );
    return toSourceComponent(component);
  }

  /** One asset by its REST id (a webhook's `asset.assetId`), checksums and dates normalised. */
  async getAsset(id: string): Promise<NexusAsset> {
    return this.#getJson(`${this.#prefix}/service/rest/v1/assets/${encodeURIComponent(id)}`, assetSchema);
  }

  async *listAssets(repository: string): AsyncGenerator<{ path: string; checksums: Checksums }> {
    for await (const page of this.assetPages(repository)) {
      for (const asset of page.items) yield { path: asset.path, checksums: asset.checksums };
    }
  }

  // ───────────────────────────── content ─────────────────────────────

  async downloadAsset<T>(
    repository: string,
    path: string,
    expected: { checksums: Checksums; size?: number | undefined },
    consume: (body: Readable) => Promise<T>,
  ): Promise<T> {
    const assetPath = normalizePath(path);
    const what = `${repository}${assetPath}`;
    const verify = expectedChecksums(expected.checksums, what);
    const urlPath = `${this.#prefix}/repository/${encodeURIComponent(repository)}${encodePath(assetPath)}`;
    return withRetry(
      this.#policy,
      () => this.#downloadOnce(repository, assetPath, urlPath, verify, expected.size, consume),
      classifyRead,
      (info) => this.#onRetry?.({ ...info, path: urlPath }),
    );
  }

  async #downloadOnce<T>(
    repository: string,
    assetPath: string,
    urlPath: string,
    verify: Checksums,
    expectedSize: number | undefined,
    consume: (body: Readable) => Promise<T>,
  ): Promise<T> {
    const response = await this.#send('GET', urlPath);
    if (response.statusCode !== 200) throw await this.#httpError('GET', urlPath, response);
    const body = response.body;
    const hashing = new HashingStream({
      what: `${repository}${assetPath}`,
      expected: verify as Partial<Record<HashAlgorithm, string>>,
      expectedSize,
      algorithms: ['sha1', 'md5'],
    });
    return consumeVerified(body, hashing, consume, {
      what: `${repository}${assetPath}`,
      mismatch: (cause) => new NexusChecksumError(repository, assetPath, cause),
      transport: (code, cause) => new NexusNetworkError('GET', urlPath, code, cause),
    });
  }

  /**
   * Uploads one raw asset through the components API. The file part is streamed from
   * `content.open()` (re-opened for each attempt) with a known Content-Length.
   */
  async uploadRaw(repository: string, path: string, content: BlobSource): Promise<void> {
    const assetPath = normalizePath(path);
    if (/[\r\n]/.test(assetPath)) throw new TypeError(`${repository}: asset path contains a line break: ${JSON.stringify(path)}`);
    const slash = assetPath.lastIndexOf('/');
    const directory = slash === 0 ? '/' : assetPath.slice(0, slash);
    const filename = assetPath.slice(slash + 1);
    if (filename === '') throw new TypeError(`${repository}${assetPath}: path names a directory, not a file`);
    const urlPath = `${this.#prefix}/service/rest/v1/components?${new URLSearchParams({ repository })}`;
    const fields: [string, string][] = [
      ['raw.directory', directory],
      ['raw.asset1.filename', filename],
    ];
    await withRetry(
      this.#policy,
      () => this.#uploadOnce(urlPath, `${repository}${assetPath}`, fields, filename, content),
      classifyUpload,
      (info) => this.#onRetry?.({ ...info, path: urlPath }),
    );
  }

  async #uploadOnce(
    urlPath: string,
    what: string,
    fields: [string, string][],
    filename: string,
    content: BlobSource,
  ): Promise<void> {
    const source = await content.open();
    try {
      const multipart = multipartBody(what, fields, { field: 'raw.asset1', filename, size: content.size, stream: source });
      let response: Dispatcher.ResponseData;
      try {
        response = await this.#send('POST', urlPath, {
          headers: { 'content-type': multipart.contentType, 'content-length': String(multipart.contentLength) },
          body: multipart.body,
        });
      } catch (error) {
        // A failure reading our own content is not a network problem: report it as it is.
        if (multipart.sourceError !== undefined) throw multipart.sourceError;
        throw error;
      }
      if (response.statusCode !== 204) throw await this.#httpError('POST', urlPath, response);
      await response.body.dump();
    } finally {
      source.destroy();
    }
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  // ───────────────────────────── plumbing ─────────────────────────────

  async *#pages<I>(
    endpoint: string,
    repository: string,
    start: string | null,
    schema: z.ZodType<{ items: I[]; continuationToken: string | null }>,
  ): AsyncGenerator<{ items: I[]; continuationToken: string | null }> {
    let token = start;
    for (;;) {
      const query = new URLSearchParams({ repository });
      if (token !== null) query.set('continuationToken', token);
      const path = `${this.#prefix}${endpoint}?${query}`;
      const page = await this.#getJson(path, schema);
      yield page;
      if (page.continuationToken === null) return;
      if (page.continuationToken === token) {
        throw new NexusResponseError('GET', path, [`continuationToken: repeats the request's token ${JSON.stringify(token)}`]);
      }
      token = page.continuationToken;
    }
  }

  async #getJson<T>(path: string, schema: z.ZodType<T>): Promise<T> {
    return withRetry(
      this.#policy,
      async () => {
        const response = await this.#send('GET', path, { headers: { accept: 'application/json' } });
        if (response.statusCode !== 200) throw await this.#httpError('GET', path, response);
        let text: string;
        try {
          text = await response.body.text();
        } catch (error) {
          throw new NexusNetworkError('GET', path, errorCode(error) ?? 'UND_ERR_SOCKET', error);
        }
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch (error) {
          const excerpt = this.#redact(text.slice(0, 120)).replace(/\s+/g, ' ');
          throw new NexusResponseError('GET', path, [`(root): not JSON: ${JSON.stringify(excerpt)}`], { cause: error });
        }
        const parsed = schema.safeParse(json);
        if (!parsed.success) throw new NexusResponseError('GET', path, issueLines(parsed.error), { cause: parsed.error });
        return parsed.data;
      },
      classifyRead,
      (info) => this.#onRetry?.({ ...info, path }),
    );
  }

  async #send(
    method: 'GET' | 'POST',
    path: string,
    init: { headers?: Record<string, string>; body?: Readable } = {},
  ): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = { 'user-agent': 'ferry', ...init.headers };
    if (this.#authorization !== undefined) headers.authorization = this.#authorization;
    try {
      return await this.#agent.request({ origin: this.#origin, path, method, headers, body: init.body ?? null });
    } catch (error) {
      throw new NexusNetworkError(method, path, errorCode(error), error);
    }
  }

  /** Reads at most a few KiB of an unexpected response into a NexusHttpError. */
  async #httpError(method: string, path: string, response: Dispatcher.ResponseData): Promise<NexusHttpError> {
    const text = this.#redact(await bodyExcerpt(response.body, 4096));
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

  #redact(text: string): string {
    let out = text;
    for (const secret of this.#secrets) out = out.split(secret).join('***');
    return out;
  }
}

function toSourceComponent(component: NexusComponent): SourceComponent {
  return {
    id: component.id,
    repository: component.repository,
    format: component.format,
    group: component.group,
    name: component.name,
    version: component.version,
    assets: component.assets.map((asset) => ({
      path: asset.path,
      checksums: asset.checksums,
      lastModified: asset.lastModified,
      size: asset.size,
    })),
  };
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
