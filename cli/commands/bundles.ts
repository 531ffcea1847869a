/**
 * `ferry bundles list|download`: ops commands for the serverless deployment, where sealed
 * bundles land in S3 (`s3://<bucket>/bundles/`) and people copy them onto media.
 *
 * A download is resumable and verified: bytes go to `<out>/<name>.part` (with the object's
 * ETag beside it in `<name>.part.etag`); a re-run continues with a Range request guarded by
 * `If-Match`, hashes the kept bytes and the new ones as one stream, and renames `.part` to the
 * final name only when the sha256 matches the object's `x-amz-meta-sha256` metadata or, failing
 * that, its full-object SHA-256 checksum. With neither, the digest is printed, marked unverified.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, HeadObjectCommand, paginateListObjectsV2, S3Client, type HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { StateError } from '../../shared/core/ports/errors.ts';
import { ChecksumMismatchError, HashingStream, SizeMismatchError } from '../../shared/digest.ts';
import { makeOutput, type Output } from '../output.ts';
import { formatBytes } from '../units.ts';
import { UsageError } from '../usage.ts';
import { writeFileStream } from '../../shared/file-streams.ts';

// ───────────────────────────── errors ─────────────────────────────
// StateErrors: the bundles bucket is the export side's object store (its outbox).

/** An S3 call failed; names the operation and the `s3://` location, never credentials. */
export class BundleStoreError extends StateError {
  override readonly name = 'BundleStoreError';
  constructor(operation: string, location: string, options?: { cause?: unknown }) {
    const cause = options?.cause as { name?: string; message?: string } | undefined;
    super(`${operation} ${location} failed${cause?.name ? `: ${cause.name}${cause.message && cause.message !== cause.name ? ` (${cause.message})` : ''}` : ''}`, options);
  }
}

/** The downloaded bytes are not the bytes S3 says the object holds. Nothing was renamed. */
export class BundleVerificationError extends StateError {
  override readonly name = 'BundleVerificationError';
}

/** The object changed (new ETag) while it was being downloaded. */
export class BundleChangedError extends StateError {
  override readonly name = 'BundleChangedError';
}

interface CommonOptions {
  bucket: string;
  prefix: string;
  region?: string;
}

function s3Client(options: CommonOptions): S3Client {
  // The endpoint comes from the SDK's own AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL when set.
  return new S3Client({ ...(options.region ? { region: options.region } : {}), followRegionRedirects: true });
}

/** The SDK resolves the region lazily; turn its "missing region" into a usage error. */
async function call<T>(operation: string, location: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    if (error instanceof Error && /region is missing/i.test(error.message)) {
      throw new UsageError('no AWS region: pass --region or set AWS_REGION', { cause: error });
    }
    throw new BundleStoreError(operation, location, { cause: error });
  }
}

// ───────────────────────────── what S3 knows about a bundle ─────────────────────────────

interface Expected {
  /** Lowercase hex, or undefined when S3 has no whole-object sha256 for it. */
  sha256: string | undefined;
  source: 'x-amz-meta-sha256' | 'ChecksumSHA256' | undefined;
}

/** The sha256 S3 vouches for: the metadata Ferry writes, else a full-object SHA-256 checksum. */
function expectedDigest(head: Pick<HeadObjectCommandOutput, 'Metadata' | 'ChecksumSHA256' | 'ChecksumType'>): Expected {
  const meta = head.Metadata?.sha256?.trim().toLowerCase();
  if (meta !== undefined && /^[0-9a-f]{64}$/.test(meta)) return { sha256: meta, source: 'x-amz-meta-sha256' };
  // A composite (multipart) checksum is a checksum of part checksums: not comparable.
  const checksum = head.ChecksumSHA256;
  if (checksum !== undefined && !checksum.includes('-') && head.ChecksumType !== 'COMPOSITE') {
    const hex = Buffer.from(checksum, 'base64').toString('hex');
    if (hex.length === 64) return { sha256: hex, source: 'ChecksumSHA256' };
  }
  return { sha256: undefined, source: undefined };
}

function isNotFound(error: unknown): boolean {
  const e = (error as { cause?: unknown }).cause as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

function isPreconditionFailed(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'PreconditionFailed' || e?.$metadata?.httpStatusCode === 412;
}

// ───────────────────────────── list ─────────────────────────────

export interface BundleListing {
  name: string;
  key: string;
  size: number;
  lastModified: string | null;
  etag: string | null;
  sha256: string | null;
  sha256Source: Expected['source'] | null;
}

export async function bundlesListCommand(options: CommonOptions & { json?: boolean }): Promise<void> {
  const out = makeOutput();
  const client = s3Client(options);
  const root = `s3://${options.bucket}/${options.prefix}`;
  try {
    const objects: { key: string; size: number; lastModified: Date | undefined; etag: string | undefined }[] = [];
    await call('ListObjectsV2', root, async () => {
      for await (const page of paginateListObjectsV2({ client }, { Bucket: options.bucket, Prefix: options.prefix })) {
        for (const o of page.Contents ?? []) {
          if (o.Key !== undefined && !o.Key.endsWith('/')) objects.push({ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified, etag: o.ETag });
        }
      }
    });
    // ListObjectsV2 returns neither metadata nor checksum values: one HEAD each, a few at a time.
    const listings = await mapLimit(objects, 8, async (o): Promise<BundleListing> => {
      const head = await call('HeadObject', `s3://${options.bucket}/${o.key}`, () => client.send(new HeadObjectCommand({ Bucket: options.bucket, Key: o.key, ChecksumMode: 'ENABLED' })));
      const expected = expectedDigest(head);
      return {
        name: o.key.slice(options.prefix.length),
        key: o.key,
        size: o.size,
        lastModified: o.lastModified?.toISOString() ?? null,
        etag: o.etag ?? null,
        sha256: expected.sha256 ?? null,
        sha256Source: expected.source ?? null,
      };
    });
    listings.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (options.json) {
      out.line(JSON.stringify(listings, null, 2));
      return;
    }
    if (listings.length === 0) {
      out.line(`no bundles under ${root}`);
      return;
    }
    const width = Math.max(4, ...listings.map((l) => l.name.length));
    out.line(`${'NAME'.padEnd(width)}  ${'SIZE'.padStart(10)}  ${'LAST MODIFIED'.padEnd(24)}  SHA256`);
    for (const l of listings) {
      out.line(`${l.name.padEnd(width)}  ${formatBytes(l.size).padStart(10)}  ${(l.lastModified ?? '-').padEnd(24)}  ${l.sha256 ?? '-'}`);
    }
  } finally {
    client.destroy();
  }
}

// ───────────────────────────── download ─────────────────────────────

export interface DownloadOptions extends CommonOptions {
  out?: string;
  presign?: boolean;
  expires: string;
}

export async function bundlesDownloadCommand(names: string[], options: DownloadOptions): Promise<void> {
  const expires = Number(options.expires);
  if (!Number.isInteger(expires) || expires < 1 || expires > 604_800) throw new UsageError(`--expires: expected whole seconds from 1 to 604800, got ${JSON.stringify(options.expires)}`);
  for (const name of names) checkName(name);
  const outDir = options.out;
  if (outDir === undefined && !options.presign) throw new UsageError('download needs --out <dir> (or --presign to print URLs instead)');
  const out = makeOutput();
  const client = s3Client(options);
  const failures: string[] = [];
  try {
    if (outDir !== undefined && !options.presign) await mkdir(outDir, { recursive: true });
    for (const name of names) {
      const key = `${options.prefix}${name}`;
      const location = `s3://${options.bucket}/${key}`;
      try {
        const head = await call('HeadObject', location, () => client.send(new HeadObjectCommand({ Bucket: options.bucket, Key: key, ChecksumMode: 'ENABLED' })));
        if (options.presign) {
          const url = await call('presign GetObject', location, () => getSignedUrl(client, new GetObjectCommand({ Bucket: options.bucket, Key: key }), { expiresIn: expires }));
          out.line(url);
          continue;
        }
        await downloadOne(client, { bucket: options.bucket, key, location, head, file: path.join(outDir!, path.posix.basename(name)) }, out);
      } catch (error) {
        if (error instanceof UsageError) throw error;
        const message = isNotFound(error) ? `${location}: no such bundle` : (error as Error).message;
        out.log.error(message);
        failures.push(`${name}: ${message}`);
      }
    }
  } finally {
    client.destroy();
  }
  if (failures.length > 0) throw new Error(`${failures.length} of ${names.length} bundle(s) not downloaded`);
}

function checkName(name: string): void {
  if (name.length === 0 || name.startsWith('/') || name.split('/').some((part) => part === '..' || part === '.' || part === '')) {
    throw new UsageError(`bundle name ${JSON.stringify(name)}: expected a name as \`bundles list\` shows it (no leading /, no . or .. segments)`);
  }
}

interface Target {
  bucket: string;
  key: string;
  location: string;
  head: HeadObjectCommandOutput;
  file: string;
}

/**
 * Downloads one bundle into `<file>.part`, resuming a part whose recorded ETag still holds,
 * hashing every byte (kept and new) against the sha256 S3 knows, then renames it into place.
 */
async function downloadOne(client: S3Client, target: Target, out: Output): Promise<void> {
  const { head, file } = target;
  const size = head.ContentLength ?? 0;
  const expected = expectedDigest(head);
  const name = path.basename(file);
  const part = `${file}.part`;
  const etagFile = `${part}.etag`;
  if (await alreadyDownloaded(target, expected, out)) return;
  const offset = await resumeOffset(target, expected, part, etagFile, out);
  if (head.ETag !== undefined) await writeFile(etagFile, `${head.ETag}\n`);
  const hasher = new HashingStream({ what: target.location, expectedSize: size, ...(expected.sha256 !== undefined ? { expected: { sha256: expected.sha256 } } : {}) });
  const body = offset < size || size === 0 ? await openRemainder(client, target, offset) : undefined;
  // In bytes of the object, from where it resumes: the kept bytes (read again to hash) are not new.
  const bar = out.progress(`downloading ${name}`, size, { bytes: true });
  bar.update(offset);
  let seen = 0;
  const progress = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      seen += chunk.length;
      bar.update(Math.max(seen, offset));
      callback(null, chunk);
    },
  });
  // The kept bytes and the new ones pass the hasher as one stream; only the new ones are written.
  const source = Readable.from(
    (async function* () {
      if (offset > 0) yield* createReadStream(part, { start: 0, end: offset - 1 });
      if (body !== undefined) yield* body;
    })(),
  );
  try {
    await pipeline(source, hasher, progress, skipFirst(offset), writeFileStream(part, { flags: offset > 0 ? 'r+' : 'w', start: offset }));
  } catch (error) {
    body?.destroy();
    if (error instanceof ChecksumMismatchError || error instanceof SizeMismatchError) {
      await discard(part, etagFile);
      throw new BundleVerificationError(
        `${name}: refused, ${error.message}${expected.source ? ` (expected from ${expected.source})` : ''}; removed ${part}, run again to download from scratch`,
        { cause: error },
      );
    }
    if (isPreconditionFailed(error)) throw new BundleChangedError(`${target.location} changed while downloading; run again to start over`, { cause: error });
    throw new BundleStoreError('download of', target.location, { cause: error });
  } finally {
    bar.stop();
  }
  await commitPart(part, file, etagFile);
  const digest = hasher.digest.slice('sha256:'.length);
  if (expected.sha256 !== undefined) out.line(`${name}: ${formatBytes(size)} downloaded, sha256 ${digest} verified (${expected.source})`);
  else out.line(`${name}: ${formatBytes(size)} downloaded, sha256 ${digest} NOT verified (no x-amz-meta-sha256 or full-object checksum on ${target.location}); run \`ferry verify\` on it`);
}

/** True when the file is there already: verified against S3's sha256 when it has one, refused when it differs. */
async function alreadyDownloaded(target: Target, expected: Expected, out: Output): Promise<boolean> {
  const { file } = target;
  if (!(await exists(file))) return false;
  const name = path.basename(file);
  const digest = await hashFile(file);
  if (expected.sha256 === undefined) out.line(`${name}: already present, sha256 ${digest} (not verified: S3 has no sha256 for it); left as is`);
  else if (digest === expected.sha256) out.line(`${name}: already present and verified (sha256 ${digest}, ${expected.source})`);
  else throw new BundleVerificationError(`${file} exists but its sha256 ${digest} is not ${expected.sha256} (${expected.source} of ${target.location}); move it away and run again`);
  return true;
}

/** Where a download resumes: the size of the part kept, when it is still a prefix of this very object. */
async function resumeOffset(target: Target, expected: Expected, part: string, etagFile: string, out: Output): Promise<number> {
  const size = target.head.ContentLength ?? 0;
  const etag = target.head.ETag;
  const name = path.basename(target.file);
  const offset = (await stat(part).catch(() => undefined))?.size ?? 0;
  if (offset === 0) return 0;
  const recorded = await readFile(etagFile, 'utf8').then((t) => t.trim(), () => undefined);
  if (recorded !== undefined && recorded !== etag) {
    out.log.warn(`${name}: the object changed since ${part} was started (ETag ${recorded} → ${etag}); starting over`);
    return 0;
  }
  if (offset > size) {
    await discard(part, etagFile);
    throw new BundleVerificationError(`${part} holds ${offset} bytes but ${target.location} has only ${size}: not a prefix of this bundle; removed it, run again to download from scratch`);
  }
  if (recorded === undefined && expected.sha256 === undefined) {
    out.log.warn(`${name}: ${part} has no recorded ETag and S3 has no sha256 to check a resumed download against; starting over`);
    return 0;
  }
  out.log.info(`${name}: resuming at byte ${offset} of ${size}`);
  return offset;
}

/** The object's bytes from `offset` on, only while it is still the object whose ETag was seen. */
async function openRemainder(client: S3Client, target: Target, offset: number): Promise<Readable> {
  const etag = target.head.ETag;
  try {
    const got = await client.send(
      new GetObjectCommand({ Bucket: target.bucket, Key: target.key, ...(etag !== undefined ? { IfMatch: etag } : {}), ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}) }),
    );
    if (!(got.Body instanceof Readable)) throw new Error('GetObject returned no stream body');
    return got.Body;
  } catch (error) {
    if (isPreconditionFailed(error)) throw new BundleChangedError(`${target.location} changed while downloading (ETag is no longer ${etag}); run again to start over`, { cause: error });
    throw new BundleStoreError('GetObject', target.location, { cause: error });
  }
}

/** On media, a rename that survives a power cut needs the data on disk first. */
async function commitPart(part: string, file: string, etagFile: string): Promise<void> {
  const handle = await open(part, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(part, file);
  await rm(etagFile, { force: true });
}

/** Drops the first `count` bytes (already on disk), passes the rest. */
function skipFirst(count: number): Transform {
  let left = count;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      if (left >= chunk.length) {
        left -= chunk.length;
        callback();
        return;
      }
      const rest = left > 0 ? chunk.subarray(left) : chunk;
      left = 0;
      callback(null, rest);
    },
  });
}

async function hashFile(file: string): Promise<string> {
  const hasher = new HashingStream({ what: file });
  await pipeline(createReadStream(file), hasher, new Writable({ write: (_chunk, _encoding, callback) => callback() }));
  return hasher.digest.slice('sha256:'.length);
}

async function discard(...files: string[]): Promise<void> {
  await Promise.all(files.map((f) => rm(f, { force: true })));
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function mapLimit<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
