/**
 * The bundle inbox in S3: ops upload bundles under `bundles/` of the inbox bucket, the
 * import function leaves receipts and resend requests under the receipts prefix.
 *
 * The importer reads a bundle twice (verify everything, then apply), so an opened bundle
 * is spooled to local storage (Lambda's ephemeral storage) first, after checking that it
 * fits; `close` deletes the spooled copy.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { BundleInbox, InboxBundle, InboxDocument } from '../../core/ports/inbox.ts';
import { StateError } from '../../core/ports/errors.ts';
import { writeFileStream } from '../../file-streams.ts';
import { ObjectStoreError } from './errors.ts';

export interface S3BundleInboxOptions {
  client: S3Client;
  bucket: string;
  /** Where receipts and resend requests go, e.g. `receipts/`. */
  receiptsPrefix: string;
  /** Where opened bundles are spooled; the system's temporary directory by default. */
  spoolDir?: string;
}

/** The bundle would not fit in the local storage it is spooled to. */
export class EphemeralStorageError extends StateError {
  override readonly name = 'EphemeralStorageError';
}

export class S3BundleInbox implements BundleInbox {
  readonly client: S3Client;
  readonly bucket: string;
  readonly receiptsPrefix: string;
  readonly #spoolDir: string;

  constructor(options: S3BundleInboxOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.receiptsPrefix = options.receiptsPrefix;
    this.#spoolDir = options.spoolDir ?? tmpdir();
  }

  /** `s3://bucket/key`, the form locations are reported in. */
  location(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  async open(key: string): Promise<InboxBundle> {
    const dir = await mkdtemp(path.join(this.#spoolDir, 'ferry-import-'));
    const close = () => rm(dir, { recursive: true, force: true });
    try {
      const file = await this.#download(key, dir);
      return { name: path.posix.basename(key), key, open: async () => createReadStream(file), close };
    } catch (error) {
      await close();
      throw error;
    }
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

  /** Streams the object to a file in `dir` after checking it fits. */
  async #download(key: string, dir: string): Promise<string> {
    const where = this.location(key);
    const got = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })).catch((error: unknown) => {
      throw new ObjectStoreError('GetObject', where, { cause: error });
    });
    const body = got.Body as Readable | undefined;
    if (body === undefined) throw new ObjectStoreError('GetObject', where, { cause: new Error('no body') });
    const free = await statfs(dir).then((s) => s.bavail * s.bsize);
    if (got.ContentLength !== undefined && got.ContentLength > free) {
      body.destroy();
      throw new EphemeralStorageError(
        `${where}: ${got.ContentLength} bytes do not fit in the ${free} bytes free in ${dir}; raise the function's ephemeral storage (10 GiB at most) or seal smaller bundles`,
      );
    }
    const file = path.join(dir, path.posix.basename(key));
    await pipeline(body, writeFileStream(file));
    return file;
  }
}
