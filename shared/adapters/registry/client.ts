/**
 * An OCI distribution-spec 1.1 client (also Docker Registry HTTP API v2 and Nexus docker
 * repositories). Manifests are kept as the exact bytes the registry holds — their digest
 * is their identity — and blobs stream through a verifier, never buffered whole.
 */
import { consumeVerified } from '../../http/verified-body.ts';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { BlobSource, StagedBlob } from '../../core/ports/index.ts';
import { HashingStream, digestHex, isDigest, sha256Of, type Digest } from '../../digest.ts';
import { CATALOG_SCOPE, pullScope, pushScope } from './auth.ts';
import { BlobDigestError, ImageManifestError, RegistryNetworkError } from './errors.ts';
import { MANIFEST_MEDIA_TYPES, OCI_INDEX, parseImageIndex, type OciDescriptor } from '../../oci/media-types.ts';
import { RegistryTransport, header } from './transport.ts';
import { stageBlob, uploadBlob } from './upload.ts';
import { IMAGE_NAME, IMAGE_TAG } from '../../oci/names.ts';

export interface RegistryClientOptions {
  /** e.g. `http://127.0.0.1:5000`; a path prefix is allowed (`http://nexus/repository/docker-hosted`). */
  baseUrl: string;
  /** Never logged, never part of an error message. */
  username?: string;
  password?: string;
  /** Extra CA (PEM file) trusted for https registries, besides the system's. */
  caFile?: string;
  retry?: { maxAttempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** Headers and body inactivity timeout, default 60 s. */
  requestTimeoutMs?: number;
  onRetry?: (info: { attempt: number; delayMs: number; reason: string; path: string }) => void;
  /**
   * Largest upload request body: a bigger blob goes in PATCHes of this size. Unset, every
   * blob goes in one request. Chunks cost a round trip each and make the registry reopen the
   * upload and restore its hash state: 1 GiB in 64 MiB chunks took 6.4–6.8 s against 5.1–5.4 s
   * in one request (docker-registry 2.8, this machine). Only a proxy's body limit needs them.
   */
  uploadChunkBytes?: number;
}

/** Registries must accept manifests of at least 4 MiB; Ferry reads no larger. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export { IMAGE_NAME, IMAGE_TAG } from '../../oci/names.ts';

function checkName(repository: string): string {
  if (!IMAGE_NAME.test(repository)) throw new TypeError(`not a valid repository name: ${JSON.stringify(repository)}`);
  return repository;
}

function checkReference(reference: string): string {
  if (!isDigest(reference) && !IMAGE_TAG.test(reference)) throw new TypeError(`not a valid tag or digest: ${JSON.stringify(reference)}`);
  return reference;
}

function checkDigest(digest: string): Digest {
  if (!isDigest(digest)) throw new TypeError(`not a sha256 digest: ${JSON.stringify(digest)}`);
  return digest;
}

function mediaTypeOf(response: Dispatcher.ResponseData): string {
  return (header(response, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

/** `rel="next"` target of a `Link` header, if any. */
function nextLink(response: Dispatcher.ResponseData): string | undefined {
  const value = response.headers.link;
  for (const link of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
    for (const part of link.split(/,(?=\s*<)/)) {
      const match = /^\s*<([^>]*)>(.*)$/.exec(part);
      if (match && /;\s*rel\s*=\s*"?next"?/i.test(match[2] ?? '')) return match[1];
    }
  }
  return undefined;
}

export class RegistryClient {
  readonly #t: RegistryTransport;

  readonly #uploadChunkBytes: number;

  constructor(options: RegistryClientOptions) {
    this.#t = new RegistryTransport(options);
    this.#uploadChunkBytes = options.uploadChunkBytes ?? Number.MAX_SAFE_INTEGER;
  }

  /** Token endpoint hits so far (Bearer registries), for diagnostics and tests. */
  get tokenRequests(): number {
    return this.#t.auth.tokenRequests;
  }

  /** `GET /v2/`: reachable, speaks the API, and the credentials (if asked for) work. */
  async ping(): Promise<void> {
    const url = this.#t.url('');
    await this.#t.retry(url, async () => {
      const response = await this.#t.send({ method: 'GET', url, scopes: [] });
      if (response.statusCode !== 200) throw await this.#t.httpError('GET', url, response);
      await response.body.dump();
    });
  }

  // ───────────────────────────── manifests ─────────────────────────────

  async getManifest(repository: string, reference: string): Promise<{ mediaType: string; digest: Digest; bytes: Buffer }> {
    const url = this.#t.url(`${checkName(repository)}/manifests/${checkReference(reference)}`);
    const where = `${repository}${isDigest(reference) ? '@' : ':'}${reference}`;
    return this.#t.retry(url, async () => {
      const response = await this.#t.send({
        method: 'GET',
        url,
        scopes: [pullScope(repository)],
        headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
      });
      if (response.statusCode !== 200) throw await this.#t.httpError('GET', url, response);
      const announced = header(response, 'docker-content-digest');
      let mediaType = mediaTypeOf(response);
      const bytes = await this.#t.readCapped(response, MAX_MANIFEST_BYTES, 'GET', url);
      if (bytes === undefined) throw new ImageManifestError(where, [`(root): larger than ${MAX_MANIFEST_BYTES} bytes`]);
      const digest = sha256Of(bytes);
      if (announced !== undefined && announced !== digest) {
        throw new ImageManifestError(where, [`content digest ${digest} differs from Docker-Content-Digest ${announced}`]);
      }
      if (isDigest(reference) && reference !== digest) {
        throw new ImageManifestError(where, [`content digest ${digest} differs from the requested digest`]);
      }
      if (mediaType === '' || mediaType === 'application/json' || mediaType === 'application/octet-stream' || mediaType === 'text/plain') {
        mediaType = mediaTypeFromJson(bytes) ?? mediaType;
      }
      return { mediaType, digest, bytes };
    });
  }

  async headManifest(repository: string, reference: string): Promise<{ digest: Digest; mediaType: string; size: number } | undefined> {
    const url = this.#t.url(`${checkName(repository)}/manifests/${checkReference(reference)}`);
    const found = await this.#t.retry(url, async () => {
      const response = await this.#t.send({
        method: 'HEAD',
        url,
        scopes: [pullScope(repository)],
        headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
      });
      if (response.statusCode === 404) {
        await response.body.dump();
        return null;
      }
      if (response.statusCode !== 200) throw await this.#t.httpError('HEAD', url, response);
      await response.body.dump();
      const digest = header(response, 'docker-content-digest');
      const size = Number(header(response, 'content-length'));
      if (digest === undefined || !isDigest(digest) || !Number.isSafeInteger(size)) return undefined;
      return { digest, mediaType: mediaTypeOf(response), size };
    });
    if (found === null) return undefined;
    if (found !== undefined) return found;
    // No usable Docker-Content-Digest on HEAD (some proxies drop it): fetch and hash.
    const manifest = await this.getManifest(repository, reference);
    return { digest: manifest.digest, mediaType: manifest.mediaType, size: manifest.bytes.length };
  }

  /** Stores a manifest under a tag or its digest; returns its digest as the registry confirmed it. */
  async putManifest(repository: string, reference: string, manifest: { mediaType: string; bytes: Buffer }): Promise<Digest> {
    const url = this.#t.url(`${checkName(repository)}/manifests/${checkReference(reference)}`);
    const digest = sha256Of(manifest.bytes);
    const where = `${repository}${isDigest(reference) ? '@' : ':'}${reference}`;
    if (isDigest(reference) && reference !== digest) {
      throw new ImageManifestError(where, [`content digest ${digest} differs from the reference it is pushed under`]);
    }
    return this.#t.retry(url, async () => {
      const response = await this.#t.send({
        method: 'PUT',
        url,
        scopes: [pushScope(repository)],
        headers: { 'content-type': manifest.mediaType },
        body: manifest.bytes,
      });
      if (response.statusCode !== 201 && response.statusCode !== 200) throw await this.#t.httpError('PUT', url, response);
      await response.body.dump();
      const confirmed = header(response, 'docker-content-digest');
      if (confirmed !== undefined && confirmed !== digest) {
        throw new ImageManifestError(where, [`registry stored it as ${confirmed}, not ${digest}`]);
      }
      return digest;
    });
  }

  async deleteManifest(repository: string, digest: Digest): Promise<void> {
    const url = this.#t.url(`${checkName(repository)}/manifests/${checkDigest(digest)}`);
    await this.#t.retry(url, async (attempt) => {
      const response = await this.#t.send({ method: 'DELETE', url, scopes: [`repository:${repository}:delete`] });
      // A 404 after a retry: the earlier attempt did delete it.
      if (response.statusCode === 202 || response.statusCode === 200 || (response.statusCode === 404 && attempt > 1)) {
        await response.body.dump();
        return;
      }
      throw await this.#t.httpError('DELETE', url, response);
    });
  }

  // ───────────────────────────── listing ─────────────────────────────

  /** Tags of a repository, page by page (`n`, then the `Link` header's next page). */
  async *tags(repository: string, options: { pageSize?: number } = {}): AsyncGenerator<string> {
    const url = this.#t.url(`${checkName(repository)}/tags/list`, options.pageSize ? { n: String(options.pageSize) } : undefined);
    for await (const page of this.#pages(url, [pullScope(repository)])) {
      const tags = (page as { tags?: unknown }).tags;
      if (tags === null || tags === undefined) continue;
      if (!Array.isArray(tags)) throw new ImageManifestError(`${repository} tag list`, ['tags: expected an array']);
      for (const tag of tags) if (typeof tag === 'string') yield tag;
    }
  }

  /** Repository names the registry lists (`/v2/_catalog`), page by page. */
  async *catalog(options: { pageSize?: number } = {}): AsyncGenerator<string> {
    const url = this.#t.url('_catalog', options.pageSize ? { n: String(options.pageSize) } : undefined);
    for await (const page of this.#pages(url, [CATALOG_SCOPE])) {
      const repositories = (page as { repositories?: unknown }).repositories;
      if (repositories === null || repositories === undefined) continue;
      if (!Array.isArray(repositories)) throw new ImageManifestError('catalog', ['repositories: expected an array']);
      for (const name of repositories) if (typeof name === 'string') yield name;
    }
  }

  async *#pages(first: URL, scopes: string[]): AsyncGenerator<unknown> {
    let url: URL | undefined = first;
    const seen = new Set<string>();
    while (url !== undefined) {
      const current: URL = url;
      seen.add(current.href);
      const page: { body: unknown; next: string | undefined } = await this.#t.retry(current, async () => {
        const response = await this.#t.send({ method: 'GET', url: current, scopes, headers: { accept: 'application/json' } });
        if (response.statusCode !== 200) throw await this.#t.httpError('GET', current, response);
        const bytes = await this.#t.readCapped(response, MAX_MANIFEST_BYTES, 'GET', current);
        const where = `GET ${this.#t.describe(current)}`;
        if (bytes === undefined) throw new ImageManifestError(where, [`(root): larger than ${MAX_MANIFEST_BYTES} bytes`]);
        try {
          return { body: JSON.parse(bytes.toString('utf8')) as unknown, next: nextLink(response) };
        } catch (error) {
          throw new ImageManifestError(where, ['(root): not JSON'], { cause: error });
        }
      });
      yield page.body;
      url = page.next === undefined ? undefined : this.#t.resolve(page.next, current);
      if (url !== undefined && seen.has(url.href)) {
        throw new ImageManifestError(`GET ${this.#t.describe(current)}`, ['Link: next page repeats an earlier page']);
      }
    }
  }

  // ───────────────────────────── blobs ─────────────────────────────

  async headBlob(repository: string, digest: Digest): Promise<{ size: number } | undefined> {
    const url = this.#t.url(`${checkName(repository)}/blobs/${checkDigest(digest)}`);
    return this.#t.retry(url, async () => {
      const response = await this.#t.send({ method: 'HEAD', url, scopes: [pullScope(repository)], followRedirects: true });
      await response.body.dump().catch(() => undefined);
      if (response.statusCode === 404) return undefined;
      if (response.statusCode !== 200) throw await this.#t.httpError('HEAD', url, response);
      const size = Number(header(response, 'content-length'));
      if (!Number.isSafeInteger(size) || size < 0) {
        throw new RegistryNetworkError('HEAD', this.#t.describe(url), undefined, new Error('no Content-Length on a blob HEAD'));
      }
      return { size };
    });
  }

  /**
   * Streams a blob to `consume` through a verifier: the stream errors before its end when
   * the bytes do not hash to `digest` (or differ from `expectedSize`), and that is final.
   * Transient failures re-run the whole download, `consume` included.
   */
  async getBlob<T>(repository: string, digest: Digest, consume: (body: Readable) => Promise<T>, expectedSize?: number): Promise<T> {
    const url = this.#t.url(`${checkName(repository)}/blobs/${checkDigest(digest)}`);
    return this.#t.retry(url, () => this.#getBlobOnce(repository, digest, url, consume, expectedSize));
  }

  async #getBlobOnce<T>(
    repository: string,
    digest: Digest,
    url: URL,
    consume: (body: Readable) => Promise<T>,
    expectedSize: number | undefined,
  ): Promise<T> {
    const response = await this.#t.send({ method: 'GET', url, scopes: [pullScope(repository)], followRedirects: true });
    if (response.statusCode !== 200) throw await this.#t.httpError('GET', url, response);
    const where = this.#t.describe(url);
    const body = response.body;
    const hashing = new HashingStream({ what: `${repository}@${digest}`, expected: { sha256: digestHex(digest) }, expectedSize });
    return consumeVerified(body, hashing, consume, {
      what: `${repository}@${digest}`,
      mismatch: (cause) => new BlobDigestError(repository, digest, cause),
      transport: (code, cause) => new RegistryNetworkError('GET', where, code, cause),
    });
  }

  /**
   * Uploads a blob: one monolithic PUT up to `chunkSize` (default: the client's `uploadChunkBytes`), else chunked
   * PATCHes and a closing PUT. The source is re-opened for each attempt.
   */
  async uploadBlob(repository: string, digest: Digest, source: BlobSource, options: { chunkSize?: number } = {}): Promise<void> {
    await uploadBlob(this.#t, checkName(repository), checkDigest(digest), source, options.chunkSize ?? this.#uploadChunkBytes, (r, d) =>
      this.headBlob(r, d),
    );
  }

  /**
   * Streams `content` into a new upload session of `repository` and leaves it uncommitted
   * (see `StagedBlob`: invisible until `commit`, purged by the registry if nobody commits
   * or cancels it). `content` is read once and never retried; the registry checks its
   * digest at `commit`.
   */
  async stageBlob(repository: string, digest: Digest, size: number, content: AsyncIterable<Buffer>): Promise<StagedBlob> {
    return stageBlob(this.#t, checkName(repository), checkDigest(digest), size, content, this.#uploadChunkBytes, (r, d) => this.headBlob(r, d));
  }

  /**
   * Asks the registry to link a blob from another repository (no bytes move). False when
   * the registry declined and started an upload instead; that upload is cancelled.
   */
  async mountBlob(repository: string, digest: Digest, fromRepository: string): Promise<boolean> {
    const url = this.#t.url(`${checkName(repository)}/blobs/uploads/`, { mount: checkDigest(digest), from: checkName(fromRepository) });
    return this.#t.retry(url, async () => {
      const response = await this.#t.send({
        method: 'POST',
        url,
        scopes: [pushScope(repository), pullScope(fromRepository)],
        headers: { 'content-length': '0' },
      });
      if (response.statusCode === 201) {
        await response.body.dump();
        return true;
      }
      if (response.statusCode === 202) {
        await response.body.dump();
        const location = header(response, 'location');
        if (location !== undefined) await this.#cancelUpload(repository, this.#t.resolve(location, url));
        return false;
      }
      throw await this.#t.httpError('POST', url, response);
    });
  }

  async #cancelUpload(repository: string, location: URL): Promise<void> {
    try {
      const response = await this.#t.send({ method: 'DELETE', url: location, scopes: [pushScope(repository)] });
      await response.body.dump();
    } catch {
      // Best effort: the registry purges abandoned uploads on its own.
    }
  }

  /**
   * OCI 1.1 referrers of a manifest (signatures, SBOMs, …), following `Link` pages;
   * undefined when the registry has no referrers API.
   */
  async referrers(repository: string, digest: Digest, artifactType?: string): Promise<OciDescriptor[] | undefined> {
    const first = this.#t.url(`${checkName(repository)}/referrers/${checkDigest(digest)}`, artifactType ? { artifactType } : undefined);
    const out: OciDescriptor[] = [];
    const seen = new Set<string>();
    for (let url: URL | undefined = first; url !== undefined; ) {
      const current: URL = url;
      seen.add(current.href);
      const page = await this.#t.retry(current, async () => {
        const response = await this.#t.send({ method: 'GET', url: current, scopes: [pullScope(repository)], headers: { accept: OCI_INDEX } });
        if (response.statusCode === 404 || response.statusCode === 405) {
          await response.body.dump();
          return undefined;
        }
        if (response.statusCode !== 200) throw await this.#t.httpError('GET', current, response);
        const mediaType = mediaTypeOf(response);
        const bytes = await this.#t.readCapped(response, MAX_MANIFEST_BYTES, 'GET', current);
        if (mediaType !== OCI_INDEX || bytes === undefined) return undefined;
        const index = parseImageIndex(bytes, OCI_INDEX, `${repository}@${digest} referrers`);
        return { index, next: nextLink(response) };
      });
      if (page === undefined) return url === first ? undefined : out;
      out.push(...page.index.manifests);
      url = page.next === undefined ? undefined : this.#t.resolve(page.next, current);
      if (url !== undefined && seen.has(url.href)) url = undefined;
    }
    // Registries that ignore the filter say so by leaving out OCI-Filters-Applied: filter here.
    return artifactType === undefined ? out : out.filter((d) => d.artifactType === artifactType);
  }

  async close(): Promise<void> {
    await this.#t.close();
  }
}

function mediaTypeFromJson(bytes: Buffer): string | undefined {
  try {
    const value = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
