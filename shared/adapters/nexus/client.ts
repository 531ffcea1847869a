/**
 * The Nexus 3 REST client: the connected side's ArtifactSource and the isolated side's
 * ArtifactTarget — listings, verified downloads, the components upload and the repository
 * view the formats' own clients use. The plumbing (pool, auth, retries, redaction) is in
 * transport.ts.
 */
import type { Readable } from 'node:stream';
import { consumeVerified } from '../../http/verified-body.ts';
import { HashingStream, type HashAlgorithm } from '../../digest.ts';
import type {
  ArtifactSource,
  ArtifactTarget,
  BlobSource,
  Checksums,
  SourceComponent,
  SourcePage,
  TargetRepository,
  UploadForm,
} from '../../core/ports/index.ts';
import { MissingChecksumError, NexusChecksumError, NexusHttpError, NexusNetworkError } from './errors.ts';
import {
  assetPageSchema,
  assetSchema,
  componentPageSchema,
  componentSchema,
  normalizePath,
  repositoryListSchema,
  repositorySettingsListSchema,
  type NexusAsset,
  type NexusComponent,
  type NexusRepository,
} from './schemas.ts';
import { NexusTransport } from './transport.ts';

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
  readonly #http: NexusTransport;
  readonly #prefix: string;

  constructor(options: NexusClientOptions) {
    this.#http = new NexusTransport(options);
    this.#prefix = this.#http.prefix;
  }

  // ───────────────────────────── listing ─────────────────────────────

  async listRepositories(): Promise<NexusRepository[]> {
    return this.#http.getJson(`${this.#prefix}/service/rest/v1/repositories`, repositoryListSchema);
  }

  /**
   * Every repository with what decides whether it takes a write: type, format, online and
   * write policy (`/v1/repositorySettings`). A user allowed to upload may not be allowed to
   * read settings (403), and old versions lack the endpoint (404): then the plain listing
   * answers, with `online` and `writePolicy` unknown.
   */
  async repositories(): Promise<TargetRepository[]> {
    try {
      return await this.#http.getJson(`${this.#prefix}/service/rest/v1/repositorySettings`, repositorySettingsListSchema);
    } catch (error) {
      if (!(error instanceof NexusHttpError) || (error.status !== 403 && error.status !== 404)) throw error;
      return (await this.listRepositories()).map(({ name, format, type }) => ({ name, format, type, online: undefined, writePolicy: undefined }));
    }
  }

  /** Pages are fetched one at a time, only when the consumer asks for the next. */
  async *componentPages(repository: string, continuationToken?: string | null): AsyncGenerator<SourcePage> {
    for await (const page of this.#http.pages('/service/rest/v1/components', repository, continuationToken ?? null, componentPageSchema)) {
      yield { items: page.items.map(toSourceComponent), continuationToken: page.continuationToken };
    }
  }

  assetPages(repository: string): AsyncGenerator<{ items: NexusAsset[]; continuationToken: string | null }> {
    return this.#http.pages('/service/rest/v1/assets', repository, null, assetPageSchema);
  }

  async getComponent(id: string): Promise<SourceComponent> {
    const component = await this.#http.getJson(
      `${this.#prefix}/service/rest/v1/components/${encodeURIComponent(id)}`,
      componentSchema,
    );
    return toSourceComponent(component);
  }

  /** One asset by its REST id (a webhook's `asset.assetId`), checksums and dates normalised. */
  async getAsset(id: string): Promise<NexusAsset> {
    return this.#http.getJson(`${this.#prefix}/service/rest/v1/assets/${encodeURIComponent(id)}`, assetSchema);
  }

  async *listAssets(repository: string): AsyncGenerator<{ path: string; checksums: Checksums }> {
    for await (const page of this.assetPages(repository)) {
      for (const asset of page.items) yield { path: asset.path, checksums: asset.checksums };
    }
  }

  /**
   * Deletes one asset through the REST API (`DELETE /v1/assets/{id}`, 204), its id found in
   * the repository's asset listing (search is eventually consistent: not for this). False
   * when the listing does not have the path or the asset went meanwhile (404).
   */
  async deleteAsset(repository: string, path: string): Promise<boolean> {
    const wanted = normalizePath(path);
    let id: string | undefined;
    for await (const page of this.assetPages(repository)) {
      id = page.items.find((asset) => asset.path === wanted)?.id;
      if (id !== undefined) break;
    }
    if (id === undefined) return false;
    const urlPath = `${this.#prefix}/service/rest/v1/assets/${encodeURIComponent(id)}`;
    return this.#http.retry(urlPath, 'upload', async () => {
      const response = await this.#http.send('DELETE', urlPath);
      if (response.statusCode === 404) {
        await response.body.dump();
        return false;
      }
      if (response.statusCode !== 204) throw await this.#http.httpError('DELETE', urlPath, response);
      await response.body.dump();
      return true;
    });
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
    return this.#http.retry(urlPath, 'read', () => this.#downloadOnce(repository, assetPath, urlPath, verify, expected.size, consume));
  }

  async #downloadOnce<T>(
    repository: string,
    assetPath: string,
    urlPath: string,
    verify: Checksums,
    expectedSize: number | undefined,
    consume: (body: Readable) => Promise<T>,
  ): Promise<T> {
    const response = await this.#http.send('GET', urlPath);
    if (response.statusCode !== 200) throw await this.#http.httpError('GET', urlPath, response);
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

  /** Uploads one raw asset through the components API (`raw.directory` + `raw.asset1.filename`). */
  async uploadRaw(repository: string, path: string, content: BlobSource): Promise<void> {
    const assetPath = normalizePath(path);
    if (/[\r\n]/.test(assetPath)) throw new TypeError(`${repository}: asset path contains a line break: ${JSON.stringify(path)}`);
    const slash = assetPath.lastIndexOf('/');
    const directory = slash === 0 ? '/' : assetPath.slice(0, slash);
    const filename = assetPath.slice(slash + 1);
    if (filename === '') throw new TypeError(`${repository}${assetPath}: path names a directory, not a file`);
    await this.uploadComponent(
      repository,
      { fields: [['raw.directory', directory], ['raw.asset1.filename', filename]], files: [{ field: 'raw.asset1', filename, content }] },
      `${repository}${assetPath}`,
    );
  }

  /** One component through the components API; the file parts are streamed with a known Content-Length. */
  async uploadComponent(repository: string, form: UploadForm, what: string): Promise<void> {
    checkForm(form, what);
    const urlPath = `${this.#prefix}/service/rest/v1/components?${new URLSearchParams({ repository })}`;
    await this.#http.sendForm('POST', urlPath, what, form, 204);
  }

  async postForm(repository: string, path: string, form: UploadForm, what: string): Promise<void> {
    checkForm(form, what);
    await this.#http.sendForm('POST', this.#viewPath(repository, path), what, form, [200, 201, 204]);
  }

  async putContent(repository: string, path: string, content: BlobSource, contentType: string): Promise<void> {
    await this.#http.sendBody('PUT', this.#viewPath(repository, path), content, contentType, [200, 201, 204]);
  }

  /**
   * Whether the repository serves a path now (`HEAD /repository/R/<path>`): true on 200, false
   * on 404, a NexusHttpError otherwise. Asks by path, not id: content uploaded again at a
   * path gets a new asset id. `accept`: a docker manifest's media types.
   */
  async hasPath(repository: string, path: string, options: { accept?: string } = {}): Promise<boolean> {
    const urlPath = this.#viewPath(repository, path);
    return this.#http.retry(urlPath, 'read', async () => {
      const response = await this.#http.send('HEAD', urlPath, options.accept !== undefined ? { headers: { accept: options.accept } } : {});
      if (response.statusCode === 200) {
        await response.body.dump();
        return true;
      }
      if (response.statusCode === 404) {
        await response.body.dump();
        return false;
      }
      throw await this.#http.httpError('HEAD', urlPath, response);
    });
  }

  async readContent(repository: string, path: string, maxBytes: number): Promise<Buffer | undefined> {
    return this.#http.getBytes(this.#viewPath(repository, path), maxBytes);
  }

  async close(): Promise<void> {
    await this.#http.close();
  }

  #viewPath(repository: string, path: string): string {
    return `${this.#prefix}/repository/${encodeURIComponent(repository)}${encodePath(normalizePath(path))}`;
  }
}

/** Field names and values go into the multipart headers as they are: no line breaks. */
function checkForm(form: UploadForm, what: string): void {
  for (const [name, value] of form.fields) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) throw new TypeError(`${what}: form field ${JSON.stringify(name)} contains a line break`);
  }
  for (const file of form.files) {
    if (/[\r\n]/.test(file.filename)) throw new TypeError(`${what}: file name ${JSON.stringify(file.filename)} contains a line break`);
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
      attributes: asset.attributes,
    })),
  };
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}
