/**
 * Blob upload (distribution spec "pushing blobs"): POST opens an upload session; a blob
 * up to the chunk size goes in one PUT `?digest=`, a larger one in PATCHes of `chunkSize`
 * bytes (each answered with the next Location) and a closing PUT `?digest=`. The content
 * streams through a verifier on its way, so a source that does not hash to the digest
 * fails before the registry could commit it. Any failure restarts from a new session.
 * `stageBlob` splits the same steps in two for the importer: the content goes into a
 * session while the bundle is still being verified, and the closing PUT waits.
 */
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { BlobSource, StagedBlob } from '../../core/ports/index.ts';
import { ChecksumMismatchError, HashingStream, SizeMismatchError, digestHex, type Digest } from '../../digest.ts';
import { pushScope } from './auth.ts';
import { BlobDigestError, RegistryHttpError } from './errors.ts';
import { header, type RegistryTransport } from './transport.ts';

/** Pulls exact byte counts from a stream, one chunk body after another, without buffering a chunk. */
class ChunkReader {
  readonly #iterator: AsyncIterator<Buffer>;
  #rest: Buffer | undefined;

  constructor(stream: AsyncIterable<Buffer>) {
    this.#iterator = stream[Symbol.asyncIterator]();
  }

  async *take(count: number): AsyncGenerator<Buffer> {
    let left = count;
    while (left > 0) {
      let buffer = this.#rest;
      this.#rest = undefined;
      if (buffer === undefined) {
        const next = await this.#iterator.next();
        if (next.done) throw new Error(`source ended ${left} bytes before its declared size`);
        buffer = next.value;
      }
      if (buffer.length > left) {
        this.#rest = buffer.subarray(left);
        buffer = buffer.subarray(0, left);
      }
      left -= buffer.length;
      yield buffer;
    }
  }

  /** Reads to the end, so the verifier's final check runs; extra bytes are an error. */
  async finish(): Promise<void> {
    if (this.#rest !== undefined && this.#rest.length > 0) throw new Error('source is longer than its declared size');
    const next = await this.#iterator.next();
    if (!next.done) throw new Error('source is longer than its declared size');
  }
}

export async function uploadBlob(
  t: RegistryTransport,
  repository: string,
  digest: Digest,
  source: BlobSource,
  chunkSize: number,
  headBlob: (repository: string, digest: Digest) => Promise<{ size: number } | undefined>,
): Promise<void> {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new TypeError(`chunkSize must be a positive integer, got ${chunkSize}`);
  const start = t.url(`${repository}/blobs/uploads/`);
  await t.retry(start, async (attempt) => {
    // An earlier attempt may have completed before its answer was lost.
    if (attempt > 1 && (await headBlob(repository, digest)) !== undefined) return;
    await uploadOnce(t, repository, digest, source, chunkSize, start);
  });
}

async function uploadOnce(
  t: RegistryTransport,
  repository: string,
  digest: Digest,
  source: BlobSource,
  chunkSize: number,
  start: URL,
): Promise<void> {
  const scopes = [pushScope(repository)];
  let location = await openSession(t, start, scopes);

  const stream = await source.open();
  const hashing = new HashingStream({ what: `${repository}@${digest}`, expected: { sha256: digestHex(digest) }, expectedSize: source.size });
  let sourceError: unknown;
  let verifyError: Error | undefined;
  stream.on('error', (error) => {
    sourceError ??= error;
    hashing.destroy(error);
  });
  hashing.on('error', (error) => {
    if (error instanceof ChecksumMismatchError || error instanceof SizeMismatchError) verifyError ??= error;
  });
  stream.pipe(hashing);
  let committed = false;
  try {
    if (source.size <= chunkSize) {
      const final = withDigest(location, digest);
      const done = await t.send({
        method: 'PUT',
        url: final,
        scopes,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(source.size) },
        body: hashing,
      });
      if (verifyError) throw verifyError;
      await checkCommitted(t, final, done, digest);
    } else {
      location = await sendContent(t, location, scopes, hashing, source.size, chunkSize);
      if (verifyError) throw verifyError;
      await commitSession(t, location, scopes, digest);
    }
    committed = true;
  } catch (error) {
    if (!committed) await cancel(t, location, scopes);
    if (verifyError) throw new BlobDigestError(repository, digest, verifyError);
    // A failure reading our own content is not a network problem: report it as it is.
    if (sourceError !== undefined) throw sourceError;
    throw error;
  } finally {
    stream.destroy();
    hashing.destroy();
  }
}

/**
 * Opens an upload session and streams `content` (exactly `size` bytes) into it, without
 * committing. Not retried: `content` is read once, and the caller decides what a failure
 * means (the importer uploads the blob again after verifying). On failure the session is
 * cancelled and `content` may be left destroyed.
 */
export async function stageBlob(
  t: RegistryTransport,
  repository: string,
  digest: Digest,
  size: number,
  content: AsyncIterable<Buffer>,
  chunkSize: number,
  headBlob: (repository: string, digest: Digest) => Promise<{ size: number } | undefined>,
): Promise<StagedBlob> {
  const scopes = [pushScope(repository)];
  const start = t.url(`${repository}/blobs/uploads/`);
  let location = await t.retry(start, () => openSession(t, start, scopes));
  try {
    location = await sendContent(t, location, scopes, content, size, chunkSize);
  } catch (error) {
    await cancel(t, location, scopes);
    throw error;
  }
  const final = location;
  return {
    commit: async () => {
      try {
        await commitSession(t, final, scopes, digest);
      } catch (error) {
        // The answer to a commit that went through may be lost; the blob then is there.
        if ((await headBlob(repository, digest).catch(() => undefined))?.size === size) return;
        throw error;
      }
    },
    cancel: () => cancel(t, final, scopes),
  };
}

async function openSession(t: RegistryTransport, start: URL, scopes: string[]): Promise<URL> {
  const opened = await t.send({ method: 'POST', url: start, scopes, headers: { 'content-length': '0' } });
  if (opened.statusCode !== 202) throw await t.httpError('POST', start, opened);
  await opened.body.dump();
  return nextLocation(t, opened, start);
}

/** PATCHes `size` bytes of `content` into the session, `chunkSize` per request; the next Location. */
async function sendContent(t: RegistryTransport, location: URL, scopes: string[], content: AsyncIterable<Buffer>, size: number, chunkSize: number): Promise<URL> {
  const reader = new ChunkReader(content);
  for (let offset = 0; offset < size; ) {
    const length = Math.min(chunkSize, size - offset);
    const response = await t.send({
      method: 'PATCH',
      url: location,
      scopes,
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(length),
        'content-range': `${offset}-${offset + length - 1}`,
      },
      body: Readable.from(reader.take(length), { objectMode: false }),
    });
    if (response.statusCode !== 202) throw await t.httpError('PATCH', location, response);
    await response.body.dump();
    location = nextLocation(t, response, location);
    offset += length;
  }
  await reader.finish();
  return location;
}

async function commitSession(t: RegistryTransport, location: URL, scopes: string[], digest: Digest): Promise<void> {
  const final = withDigest(location, digest);
  const done = await t.send({ method: 'PUT', url: final, scopes, headers: { 'content-length': '0' } });
  await checkCommitted(t, final, done, digest);
}

async function checkCommitted(t: RegistryTransport, final: URL, done: Dispatcher.ResponseData, digest: Digest): Promise<void> {
  if (done.statusCode !== 201) throw await t.httpError('PUT', final, done);
  await done.body.dump();
  const confirmed = header(done, 'docker-content-digest');
  if (confirmed !== undefined && confirmed !== digest) {
    throw new RegistryHttpError({ method: 'PUT', path: t.describe(final), status: 201, bodyExcerpt: `registry stored the blob as ${confirmed}` });
  }
}

/** The upload's next URL; the registry's Location carries its state (`?_state=…`). */
function nextLocation(t: RegistryTransport, response: Dispatcher.ResponseData, current: URL): URL {
  const location = header(response, 'location');
  if (location === undefined || location === '') {
    throw new RegistryHttpError({ method: 'POST', path: t.describe(current), status: response.statusCode, bodyExcerpt: 'no Location header' });
  }
  return t.resolve(location, current);
}

function withDigest(location: URL, digest: Digest): URL {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url;
}

async function cancel(t: RegistryTransport, location: URL, scopes: string[]): Promise<void> {
  try {
    const response = await t.send({ method: 'DELETE', url: location, scopes });
    await response.body.dump();
  } catch {
    // Best effort: the registry purges abandoned uploads on its own.
  }
}
