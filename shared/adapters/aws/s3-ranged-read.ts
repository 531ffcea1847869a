/**
 * Reading part or all of one S3 object as a stream, in ranged GetObjects, each pinned to the
 * ETag the object had when it was opened (`If-Match`): bytes from different requests then
 * always come from the same object, and an object replaced or deleted meanwhile fails with
 * {@link BundleChangedError} instead of mixing two objects. A read is cut into ranges of
 * `rangeBytes` so no single response has to live for a whole 10 GiB bundle, and a
 * connection dropped mid-body resumes from the first byte not yet delivered rather than
 * failing the read (the SDK retries failed requests, not bodies that break off).
 */
import { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { BundleChangedError, ObjectStoreError } from './errors.ts';

/** One object as it was when opened. */
export interface PinnedObject {
  client: S3Client;
  bucket: string;
  key: string;
  /** `s3://bucket/key`, for errors. */
  location: string;
  etag: string;
  size: number;
}

/** Times one range may break off and be resumed before the read fails. */
export const MAX_RESUMES = 5;

/**
 * `length` bytes of `object` from `offset`. The first request is made before this returns,
 * so an object that changed or went away fails here; later ones as the stream is read.
 */
export async function readPinned(object: PinnedObject, offset: number, length: number, rangeBytes: number): Promise<Readable> {
  const end = offset + length;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || end > object.size) {
    throw new ObjectStoreError('GetObject', object.location, { cause: new RangeError(`bytes ${offset}+${length} are outside its ${object.size} bytes`) });
  }
  if (length === 0) return Readable.from([], { objectMode: false });
  const first = await getRange(object, offset, Math.min(end, offset + rangeBytes));
  return Readable.from(ranges(object, first, end, rangeBytes), { objectMode: false });
}

interface RangeBody {
  body: Readable;
  from: number;
  /** The byte after the last one asked for. */
  to: number;
}

async function* ranges(object: PinnedObject, first: RangeBody, end: number, rangeBytes: number): AsyncGenerator<Buffer> {
  let range = first;
  let at = range.from;
  let resumes = 0;
  for (;;) {
    let broke: unknown;
    let overran = false;
    try {
      for await (const chunk of range.body as AsyncIterable<Buffer>) {
        if (at + chunk.length > range.to) {
          overran = true;
          break;
        }
        at += chunk.length;
        yield chunk;
      }
    } catch (error) {
      broke = error;
    }
    if (overran) throw new ObjectStoreError('GetObject', object.location, { cause: new Error(`answered past byte ${range.to - 1}, the last one asked for`) });
    if (at < range.to) {
      // Broken off (an error, or a body that ended early): ask again from the first byte missing.
      if (++resumes > MAX_RESUMES) throw new ObjectStoreError('GetObject', object.location, { cause: broke ?? new Error(`body ended at byte ${at} of ${range.to}`) });
    } else {
      resumes = 0;
      if (at === end) return;
    }
    range.body.destroy();
    range = await getRange(object, at, at < range.to ? range.to : Math.min(end, at + rangeBytes));
  }
}

/** Bytes `from` up to (not including) `to`, if the object still has the ETag it was opened with. */
async function getRange(object: PinnedObject, from: number, to: number): Promise<RangeBody> {
  const { client, bucket, key, location, etag } = object;
  try {
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: etag, Range: `bytes=${from}-${to - 1}` }));
    if (!(got.Body instanceof Readable)) throw new Error('GetObject returned no stream body');
    return { body: got.Body, from, to };
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
    if (status === 412) throw new BundleChangedError(location, etag, 'replaced', { cause: error });
    if (status === 404) throw new BundleChangedError(location, etag, 'deleted', { cause: error });
    throw new ObjectStoreError('GetObject', location, { cause: error });
  }
}
