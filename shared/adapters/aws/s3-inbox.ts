/**
 * The bundle inbox in S3: ops upload bundles under `bundles/` of the inbox bucket, the
 * import function leaves receipts and resend requests under the receipts prefix.
 *
 * An opened bundle is read straight from S3, never copied to local storage: the importer
 * reads it whole once (verify) and then in parts (the verified blobs it uploads), each read
 * a ranged GetObject pinned to the ETag of the HEAD at `open` (see s3-ranged-read.ts). So a
 * bundle's size is bounded by S3, not by the function's `/tmp`.
 */
import path from 'node:path';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { BundleInbox, InboxBundle, InboxDocument } from '../../core/ports/inbox.ts';
import { ObjectStoreError } from './errors.ts';
import { readPinned, type PinnedObject } from './s3-ranged-read.ts';

/** 256 MiB: a 10 GiB bundle is 40 requests, and one response never has to last the whole read. */
export const READ_RANGE_BYTES = 256 * 2 ** 20;

export interface S3BundleInboxOptions {
  client: S3Client;
  bucket: string;
  /** Where receipts and resend requests go, e.g. `receipts/`. */
  receiptsPrefix: string;
  /** The most one GetObject of a read asks for; {@link READ_RANGE_BYTES} by default. */
  readRangeBytes?: number;
}

export class S3BundleInbox implements BundleInbox {
  readonly client: S3Client;
  readonly bucket: string;
  readonly receiptsPrefix: string;
  readonly #rangeBytes: number;

  constructor(options: S3BundleInboxOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.receiptsPrefix = options.receiptsPrefix;
    this.#rangeBytes = options.readRangeBytes ?? READ_RANGE_BYTES;
  }

  /** `s3://bucket/key`, the form locations are reported in. */
  location(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  /** Pins the bundle to its current ETag and size; every read of it then asks S3 for exactly that object. */
  async open(key: string): Promise<InboxBundle> {
    const location = this.location(key);
    const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })).catch((error: unknown) => {
      throw new ObjectStoreError('HeadObject', location, { cause: error });
    });
    if (head.ETag === undefined || head.ContentLength === undefined) {
      throw new ObjectStoreError('HeadObject', location, { cause: new Error('no ETag or Content-Length in the answer') });
    }
    const object: PinnedObject = { client: this.client, bucket: this.bucket, key, location, etag: head.ETag, size: head.ContentLength };
    return {
      name: path.posix.basename(key),
      key,
      size: object.size,
      open: () => readPinned(object, 0, object.size, this.#rangeBytes),
      openRange: (offset, length) => readPinned(object, offset, length, this.#rangeBytes),
      close: async () => undefined,
    };
  }

  async waiting(names: readonly string[], near: string): Promise<string[] | undefined> {
    const keys = names.map((name) => `${path.posix.dirname(near)}/${name}`);
    for (const key of keys) {
      // Any failure counts as "not there": the caller then reports the chain as it stands.
      const there = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })).then(
        () => true,
        () => false,
      );
      if (!there) return undefined;
    }
    return keys;
  }

  async put(name: string, text: string): Promise<InboxDocument> {
    const key = `${this.receiptsPrefix}${name}`;
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: text, ContentType: 'application/json' }));
    } catch (error) {
      throw new ObjectStoreError('PutObject', this.location(key), { cause: error });
    }
    return { key, location: this.location(key) };
  }
}
