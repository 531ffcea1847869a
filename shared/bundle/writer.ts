/**
 * Writes a bundle: a reproducible, uncompressed tar holding an OCI image layout plus
 * Ferry's signed manifest. Blobs are streamed from staging through a verifier, so a blob
 * that rotted in staging fails the seal instead of shipping, and memory stays flat
 * whatever the blob sizes.
 */
import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar, { type Header, type Pack } from 'tar-stream';
import type { BlobSource } from '../core/ports/index.ts';
import { ContentMismatchError, contentMismatch, SizeMismatchError, sha256Of, type Digest } from '../digest.ts';
import { serializeSignature, type Signer } from '../signing.ts';
import { BundleWriteError, ManifestError } from './errors.ts';
import {
  blobMember,
  EMPTY_OCI_INDEX,
  FILE_MODE,
  INDEX_MEMBER,
  MANIFEST_MEMBER,
  OCI_LAYOUT_BYTES,
  OCI_LAYOUT_MEMBER,
  SIGNATURE_MEMBER,
} from './layout.ts';
import { manifestDigest, serializeManifest, validateManifest, type BundleManifest } from './manifest.ts';
import { drained, type Drainable } from './drain.ts';
import { carriedParts, partMember, sliceOf, type BundlePart } from './parts.ts';

export interface WriteBundleInput {
  /** Everything but `layout`, which the writer derives from the index it writes. */
  manifest: Omit<BundleManifest, 'layout'>;
  /** The OCI image index to store as `index.json`; an empty index when absent. */
  ociIndex?: object;
  /** Opens a staged blob by digest; called once per included blob, in manifest order, then once per carried part. */
  blobs: (digest: Digest) => Promise<BlobSource>;
  /** Signs the manifest bytes: a local key or a KMS key. */
  signer: Signer;
}

export interface WriteBundleResult {
  manifestDigest: Digest;
  manifestBytes: Buffer;
  /** Bytes written to `out`. */
  bytes: number;
}

/** A bundle whose manifest is validated, serialised and signed, ready to be streamed. */
export interface PreparedBundle {
  /** The bundle's identity, known before a byte of the tar is written. */
  manifestDigest: Digest;
  manifestBytes: Buffer;
  /**
   * Streams the tar into `out` and ends it. On any failure (a staged blob that is missing
   * or does not match its digest/size, `out` failing) the promise rejects: the caller must
   * not publish what was written.
   */
  write(out: Writable): Promise<{ bytes: number }>;
}

/**
 * Validates, serialises and signs the manifest. The seal records the digest this returns
 * before the bundle is published, so a sequence names one digest from the start.
 */
export async function prepareBundle(input: WriteBundleInput): Promise<PreparedBundle> {
  const name = displayName(input.manifest);
  const indexBytes = Buffer.from(JSON.stringify(input.ociIndex ?? EMPTY_OCI_INDEX), 'utf8');
  let manifest: BundleManifest;
  try {
    manifest = validateManifest({ ...input.manifest, layout: { index: sha256Of(indexBytes) } }, 'manifest');
  } catch (error) {
    if (!(error instanceof ManifestError)) throw error;
    throw new BundleWriteError('INVALID_MANIFEST', name, undefined, error.message, { cause: error });
  }
  const manifestBytes = serializeManifest(manifest);
  const signatureBytes = serializeSignature(await input.signer.sign(manifestBytes));
  return {
    manifestDigest: manifestDigest(manifestBytes),
    manifestBytes,
    write: (out) => writeTar(out, { name, manifest, indexBytes, manifestBytes, signatureBytes, blobs: input.blobs }),
  };
}

/**
 * Prepares and streams a bundle into `out`, ending it. On any failure `out` is destroyed
 * and the promise rejects: the caller must not publish what was written.
 */
export async function writeBundle(out: Writable, input: WriteBundleInput): Promise<WriteBundleResult> {
  let prepared: PreparedBundle;
  try {
    prepared = await prepareBundle(input);
  } catch (error) {
    out.destroy();
    throw error;
  }
  const { bytes } = await prepared.write(out);
  return { manifestDigest: prepared.manifestDigest, manifestBytes: prepared.manifestBytes, bytes };
}

async function writeTar(
  out: Writable,
  parts: { name: string; manifest: BundleManifest; indexBytes: Buffer; manifestBytes: Buffer; signatureBytes: Buffer; blobs: WriteBundleInput['blobs'] },
): Promise<{ bytes: number }> {
  const { name, manifest } = parts;
  // Whole seconds: that is all a ustar header holds, and it keeps the tar reproducible.
  const mtime = new Date(Math.floor(Date.parse(manifest.createdAt) / 1000) * 1000);
  const pack = tar.pack();
  pack.on('error', ignore); // surfaces through `consuming`
  const counter = new ByteCounter();

  const produce = async (): Promise<void> => {
    await addBuffer(pack, OCI_LAYOUT_MEMBER, OCI_LAYOUT_BYTES, mtime);
    await addBuffer(pack, INDEX_MEMBER, parts.indexBytes, mtime);
    await addBuffer(pack, MANIFEST_MEMBER, parts.manifestBytes, mtime);
    await addBuffer(pack, SIGNATURE_MEMBER, parts.signatureBytes, mtime);
    for (const blob of manifest.blobs.included) await addBlob(pack, name, blob, parts.blobs, mtime);
    for (const part of carriedParts(manifest.blobs.parts, manifest.sequence)) await addBlob(pack, name, part, parts.blobs, mtime);
    pack.finalize();
  };

  const producing = produce().catch((error: unknown) => {
    pack.destroy(error as Error);
    throw error;
  });
  // Piped as it is (tar-stream's streams pipe like Node's): Readable.from() would add a promise per chunk.
  const consuming = pipeline(pack as unknown as NodeJS.ReadableStream, counter, out);
  const [produced, consumed] = await Promise.allSettled([producing, consuming]);
  // The producer's error says why (a rotten blob); the pipeline's is often its echo.
  if (produced.status === 'rejected') throw produced.reason;
  if (consumed.status === 'rejected') throw consumed.reason;
  return { bytes: counter.bytes };
}

function displayName(manifest: Omit<BundleManifest, 'layout'>): string {
  const sequence = typeof manifest.sequence === 'number' ? String(manifest.sequence).padStart(8, '0') : '?';
  return `${String(manifest.sourceId)}-${sequence}.tar`;
}

function header(name: string, size: number, mtime: Date): Partial<Header> & { name: string } {
  return { name, size, mode: FILE_MODE, uid: 0, gid: 0, uname: '', gname: '', mtime, type: 'file' };
}

function addBuffer(pack: Pack, name: string, content: Buffer, mtime: Date): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header(name, content.byteLength, mtime), content, (error) => (error ? reject(error) : resolve()));
  });
}

/** Streams one member: a whole blob, or one part of a split blob (its bytes sliced out of the staged blob). */
async function addBlob(
  pack: Pack,
  bundle: string,
  member: { digest: Digest; size: number } | BundlePart,
  open: (digest: Digest) => Promise<BlobSource>,
  mtime: Date,
): Promise<void> {
  const part = 'blob' in member ? member : undefined;
  const blob = part === undefined ? member : { digest: part.digest, size: part.length };
  let content: Readable;
  try {
    const source = await open(part?.blob ?? blob.digest);
    const stagedSize = part?.size ?? blob.size;
    if (source.size !== stagedSize) {
      throw new SizeMismatchError(`blob ${part?.blob ?? blob.digest}`, stagedSize, source.size);
    }
    if (part === undefined) content = await source.open();
    else if (source.openRange !== undefined) content = await source.openRange(part.offset, part.offset + part.length - 1);
    else content = Readable.from(sliceOf(await source.open(), part.offset, part.length));
  } catch (error) {
    if (error instanceof SizeMismatchError) {
      throw new BundleWriteError('STAGED_BLOB_MISMATCH', bundle, blob.digest, `staged size ${errorTail(error)}`, { cause: error });
    }
    throw new BundleWriteError('STAGED_BLOB_UNAVAILABLE', bundle, blob.digest, `cannot be opened: ${(error as Error).message}`, {
      cause: error,
    });
  }

  let sink: ReturnType<Pack['entry']> | undefined;
  const stored = new Promise<void>((resolve, reject) => {
    sink = pack.entry(header(part === undefined ? blobMember(blob.digest) : partMember(part), blob.size, mtime), (error) => (error ? reject(error) : resolve()));
  });
  stored.catch(() => undefined); // awaited below, or superseded by the streaming error
  const entry = sink as ReturnType<Pack['entry']>;
  entry.on('error', ignore); // failures surface through `stored` and the pipeline below
  // Hashed in the copy loop rather than by a HashingStream in between: one stream hop less
  // per chunk of every blob sealed. The mismatch errors are the ones that stream raises.
  const what = `blob ${blob.digest}`;
  const hash = createHash('sha256');
  try {
    let written = 0;
    for await (const chunk of content as AsyncIterable<Buffer>) {
      written += chunk.byteLength;
      // Never let an overlong blob spill past its tar header's size.
      if (written > blob.size) throw new SizeMismatchError(what, blob.size, written);
      hash.update(chunk);
      if (!entry.write(chunk)) await drained(entry as unknown as Drainable, 'tar entry closed before it was complete');
    }
    const mismatch = contentMismatch(what, blob, { sha256: hash.digest('hex'), size: written });
    if (mismatch !== undefined) throw mismatch;
  } catch (error) {
    if (error instanceof BundleWriteError) throw error;
    const mismatch = error instanceof ContentMismatchError;
    throw new BundleWriteError(
      mismatch ? 'STAGED_BLOB_MISMATCH' : 'STAGED_BLOB_UNAVAILABLE',
      bundle,
      blob.digest,
      mismatch ? `staged content ${errorTail(error as Error)}` : `reading staged content failed: ${(error as Error).message}`,
      { cause: error },
    );
  }
  entry.end(undefined);
  await stored;
}

/** `sha256 mismatch (...)` out of `blob sha256:…: sha256 mismatch (...)`. */
function errorTail(error: Error): string {
  const at = error.message.lastIndexOf(': ');
  return at === -1 ? error.message : error.message.slice(at + 2);
}

function ignore(): void {}

class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.byteLength;
    callback(null, chunk);
  }
}
