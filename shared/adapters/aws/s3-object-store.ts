/**
 * The object store in S3.
 *
 * ```
 * <prefix>blobs/sha256/<hex>   content-addressed blobs (metadata x-amz-meta-sha256 = <hex>)
 * <prefix>bundles/<name>       published bundles (the outbox ops download from)
 * <prefix>bundles/<stem>.html  each one's report (derived; x-amz-meta-sha256 too, so `ferry bundles download` checks it)
 * <prefix>sealed/<name>.<hex>  sealed bundles not yet published (<hex>: the manifest digest)
 * <prefix>staging/<uuid>       writes in progress
 * ```
 *
 * A blob's address is known only once its last byte has gone by, so writes stream into a
 * staging key (multipart, bounded parts: memory stays flat) through a {@link HashingStream}
 * and are copied to their final key only after a clean, verified end. Readers therefore
 * see a complete object or none. A staging object left by a crashed process is inert; a
 * lifecycle rule on `<prefix>staging/` (and on incomplete multipart uploads) reclaims it.
 * Sealed bundles are not under `staging/`: a recorded, unpublished bundle must outlive any
 * expiry until the next seal publishes it.
 */
import { randomUUID } from 'node:crypto';
import { PassThrough, Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  PutObjectCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { HashingStream, digestHex, isDigest, sha256Of, type Digest } from '../../digest.ts';
import type { BlobSource, ObjectStore } from '../../core/ports/index.ts';
import { BlobNotFoundError, BundleNotFoundError, BundleNotStagedError, InvalidDigestError } from '../../core/ports/errors.ts';
import { isReportFileName, reportFileName } from '../../bundle/report/name.ts';
import { ObjectStoreError } from './errors.ts';
import { blobVerifier, checkBundleName } from '../../core/ports/object-store-rules.ts';

export interface S3ObjectStoreOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix for everything this store writes, e.g. `ferry/`; empty by default. */
  prefix?: string;
  /** Multipart part size in bytes (at least 5 MiB). Default 8 MiB: 10,000 parts cover 80 GiB. */
  partSize?: number;
  /** Parts in flight per upload; memory is about `queueSize × partSize`. Default 4. */
  queueSize?: number;
}

/** S3's limit for a single CopyObject; larger objects are copied part by part. */
const MAX_SINGLE_COPY = 5 * 1024 ** 3;
const COPY_PART_SIZE = 512 * 1024 ** 2;

export class S3ObjectStore implements ObjectStore {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  readonly #partSize: number;
  readonly #queueSize: number;

  constructor(options: S3ObjectStoreOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
    this.#partSize = Math.max(options.partSize ?? 8 * 1024 ** 2, 5 * 1024 ** 2);
    this.#queueSize = Math.max(options.queueSize ?? 4, 1);
  }

  /** The key a blob is (or would be) stored at. */
  blobKey(digest: Digest): string {
    if (!isDigest(digest)) throw new InvalidDigestError('blob digest', digest);
    return `${this.prefix}blobs/sha256/${digestHex(digest)}`;
  }

  /** `s3://bucket/key`, the form locations are reported in. */
  location(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  async statBlob(digest: Digest): Promise<{ size: number } | undefined> {
    return this.#head(this.blobKey(digest));
  }

  async putBlob(
    content: Readable,
    options: { expectedDigest?: Digest; expectedSize?: number } = {},
  ): Promise<{ digest: Digest; size: number; existed: boolean }> {
    const { expectedDigest } = options;
    const hasher = blobVerifier(content, options);
    if (expectedDigest !== undefined && (await this.#head(this.blobKey(expectedDigest))) !== undefined) {
      // Already stored: read the input through the verifier without uploading it. Draining
      // (not destroying) keeps the caller's stream semantics, e.g. a tar entry must be read
      // to its end before the next one, and a verifying source still reports its errors.
      await pipeline(content, hasher, discard());
      return { digest: hasher.digest, size: hasher.size, existed: true };
    }
    const staging = this.#stagingKey();
    try {
      await this.#upload(staging, (body) => pipeline(content, hasher, body));
      const digest = hasher.digest;
      const key = this.blobKey(digest);
      if ((await this.#head(key)) !== undefined) return { digest, size: hasher.size, existed: true };
      // Two writers of the same content may both copy; the bytes are identical, so the
      // second copy merely replaces an equal object.
      await this.#copy(staging, key, hasher.size, { sha256: digestHex(digest) });
      return { digest, size: hasher.size, existed: false };
    } finally {
      await this.#delete(staging).catch(() => undefined);
    }
  }

  async getBlob(digest: Digest): Promise<BlobSource & { openRange(start: number, end: number): Promise<Readable> }> {
    const key = this.blobKey(digest);
    const head = await this.#head(key);
    if (head === undefined) throw new BlobNotFoundError(digest, this.location(key));
    return {
      size: head.size,
      open: () => this.#get(digest, key),
      openRange: (start, end) => this.#get(digest, key, { start, end }),
    };
  }

  /** Streams bytes `start` to `end` (both inclusive, as in an HTTP Range) of a blob. */
  async openRange(digest: Digest, start: number, end: number): Promise<Readable> {
    return this.#get(digest, this.blobKey(digest), { start, end });
  }

  /** Streams straight to `sealed/<name>.<hex>`: a multipart upload is invisible until completed. */
  async stageBundle(name: string, digest: Digest, write: (out: Writable) => Promise<void>): Promise<{ size: number }> {
    const key = this.#sealedKey(name, digest);
    const out = new PassThrough();
    let size = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
        size += chunk.length;
        callback(null, chunk);
      },
    });
    await this.#upload(key, async (body) => {
      const piping = pipeline(out, counter, body);
      try {
        await write(out);
        if (!out.writableEnded) out.end();
      } catch (error) {
        out.destroy(error as Error);
        await piping.catch(() => undefined);
        throw error;
      }
      await piping;
    });
    return { size };
  }

  async publishBundle(name: string, digest: Digest): Promise<{ size: number; location: string }> {
    const key = this.#bundleKey(name);
    const sealed = this.#sealedKey(name, digest);
    const staged = await this.#head(sealed);
    if (staged !== undefined) await this.#copy(sealed, key, staged.size, {});
    const published = await this.#head(key);
    if (published === undefined) throw new BundleNotStagedError(name, digest, `${this.location(sealed)} and ${this.location(key)}`);
    // This one and copies of this name from seals that crashed before they were recorded.
    // Only `<name>.<hex>`: another bundle's name may begin with this one's.
    const copies = `${this.prefix}sealed/${name}.`;
    for await (const object of this.#list(copies)) {
      if (isDigest(`sha256:${object.key.slice(copies.length)}`)) await this.#delete(object.key);
    }
    return { size: published.size, location: this.location(key) };
  }

  async deleteBlob(digest: Digest): Promise<void> {
    await this.#delete(this.blobKey(digest));
  }

  async deleteBundle(name: string): Promise<void> {
    await this.#delete(this.#bundleKey(name));
  }

  async putBundleReport(name: string, html: string): Promise<{ location: string }> {
    const key = this.#bundleKey(reportFileName(checkBundleName(name)));
    const body = Buffer.from(html, 'utf8');
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'text/html; charset=utf-8', Metadata: { sha256: digestHex(sha256Of(body)) } }),
      );
    } catch (error) {
      throw new ObjectStoreError('PutObject', this.location(key), { cause: error });
    }
    return { location: this.location(key) };
  }

  async openBundle(name: string): Promise<Readable> {
    const key = this.#bundleKey(name);
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!(response.Body instanceof Readable)) throw new Error('GetObject returned no stream body');
      return response.Body;
    } catch (error) {
      if (isNotFound(error)) throw new BundleNotFoundError(name, this.location(key), { cause: error });
      throw new ObjectStoreError('GetObject', this.location(key), { cause: error });
    }
  }

  async listBundles(): Promise<{ name: string; size: number; location: string }[]> {
    const root = `${this.prefix}bundles/`;
    const bundles: { name: string; size: number; location: string }[] = [];
    for await (const object of this.#list(root)) {
      const name = object.key.slice(root.length);
      if (name.length === 0 || name.includes('/') || isReportFileName(name)) continue;
      bundles.push({ name, size: object.size, location: this.location(object.key) });
    }
    return bundles.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Every committed blob, in digest order (staging lives elsewhere, so never half-written ones). */
  async *listBlobs(): AsyncIterable<{ digest: Digest; size: number }> {
    const root = `${this.prefix}blobs/sha256/`;
    for await (const object of this.#list(root)) {
      const digest = `sha256:${object.key.slice(root.length)}`;
      if (isDigest(digest)) yield { digest, size: object.size };
    }
  }

  /**
   * Uploads whatever `fill` pipes into the body stream it is given to `key`, multipart,
   * and completes the upload only if `fill` resolves. An upload failure stops `fill`
   * (its pipeline is destroyed), so nothing waits on a stream nobody reads.
   */
  async #upload(key: string, fill: (body: Writable) => Promise<void>): Promise<void> {
    const body = new PassThrough();
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body },
      partSize: this.#partSize,
      queueSize: this.#queueSize,
      leavePartsOnError: false,
    });
    const filling = fill(body);
    const uploading = upload.done().catch((error: unknown) => {
      body.destroy(error as Error);
      throw error;
    });
    const [filled, uploaded] = await Promise.allSettled([filling, uploading]);
    if (filled.status === 'rejected') await upload.abort().catch(() => undefined);
    // An S3 failure is reported as such; otherwise the input's own error (a checksum
    // mismatch, a writer failure) explains more than the upload's echo of it.
    if (uploaded.status === 'rejected' && isServiceError(uploaded.reason)) {
      throw new ObjectStoreError('upload', this.location(key), { cause: uploaded.reason });
    }
    if (filled.status === 'rejected') throw filled.reason;
    if (uploaded.status === 'rejected') {
      throw new ObjectStoreError('upload', this.location(key), { cause: uploaded.reason });
    }
  }

  async #get(digest: Digest, key: string, range?: { start: number; end: number }): Promise<Readable> {
    try {
      const response = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
      );
      if (!(response.Body instanceof Readable)) throw new Error('GetObject returned no stream body');
      return response.Body;
    } catch (error) {
      if (isNotFound(error)) throw new BlobNotFoundError(digest, this.location(key), { cause: error });
      throw new ObjectStoreError('GetObject', this.location(key), { cause: error });
    }
  }

  async #head(key: string): Promise<{ size: number } | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: head.ContentLength ?? 0 };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw new ObjectStoreError('HeadObject', this.location(key), { cause: error });
    }
  }

  async #delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (isNotFound(error)) return;
      throw new ObjectStoreError('DeleteObject', this.location(key), { cause: error });
    }
  }

  /** Server-side copy; part by part above S3's 5 GiB single-copy limit. */
  async #copy(from: string, to: string, size: number, metadata: Record<string, string>): Promise<void> {
    const source = `${this.bucket}/${encodeKey(from)}`;
    try {
      if (size <= MAX_SINGLE_COPY) {
        await this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: to,
            CopySource: source,
            MetadataDirective: 'REPLACE',
            Metadata: metadata,
            ContentType: 'application/octet-stream',
          }),
        );
        return;
      }
      await this.#multipartCopy(source, to, size, metadata);
    } catch (error) {
      throw new ObjectStoreError('copy to', this.location(to), { cause: error });
    }
  }

  async #multipartCopy(source: string, to: string, size: number, metadata: Record<string, string>): Promise<void> {
    const created = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: to, Metadata: metadata, ContentType: 'application/octet-stream' }),
    );
    const uploadId = created.UploadId;
    try {
      const parts: { ETag: string; PartNumber: number }[] = [];
      for (let start = 0, part = 1; start < size; start += COPY_PART_SIZE, part++) {
        const end = Math.min(start + COPY_PART_SIZE, size) - 1;
        const copied = await this.client.send(
          new UploadPartCopyCommand({
            Bucket: this.bucket,
            Key: to,
            UploadId: uploadId,
            PartNumber: part,
            CopySource: source,
            CopySourceRange: `bytes=${start}-${end}`,
          }),
        );
        parts.push({ ETag: copied.CopyPartResult?.ETag ?? '', PartNumber: part });
      }
      await this.client.send(
        new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: to, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
      );
    } catch (error) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: to, UploadId: uploadId }))
        .catch(() => undefined);
      throw error;
    }
  }

  async *#list(root: string): AsyncIterable<{ key: string; size: number }> {
    try {
      for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, Prefix: root })) {
        for (const object of page.Contents ?? []) {
          if (object.Key !== undefined) yield { key: object.Key, size: object.Size ?? 0 };
        }
      }
    } catch (error) {
      throw new ObjectStoreError('ListObjectsV2', this.location(root), { cause: error });
    }
  }

  #bundleKey(name: string): string {
    return `${this.prefix}bundles/${checkBundleName(name)}`;
  }

  #sealedKey(name: string, digest: Digest): string {
    this.#bundleKey(name); // the same name rules
    if (!isDigest(digest)) throw new InvalidDigestError('bundle digest', digest);
    return `${this.prefix}sealed/${name}.${digestHex(digest)}`;
  }

  #stagingKey(): string {
    return `${this.prefix}staging/${randomUUID()}`;
  }
}

function discard(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

function isServiceError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && '$metadata' in error;
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}
