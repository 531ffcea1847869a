/**
 * Streaming digests. Every byte Ferry moves passes through one of these so that a
 * checksum is known (or refused) the moment the last byte has gone by, without a
 * second read and without buffering the content.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { FerryError } from './errors.ts';

export type HashAlgorithm = 'sha256' | 'sha1' | 'md5' | 'sha512';

/** A content digest in OCI form: `sha256:<64 lowercase hex>`. */
export type Digest = `sha256:${string}`;

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function isDigest(value: string): value is Digest {
  return value.startsWith('sha256:') && SHA256_HEX.test(value.slice(7));
}

export function digestHex(digest: Digest): string {
  return digest.slice(7);
}

export function toDigest(hex: string): Digest {
  if (!SHA256_HEX.test(hex)) throw new TypeError(`not a sha256 hex digest: ${JSON.stringify(hex)}`);
  return `sha256:${hex}`;
}

export function sha256Of(data: string | Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * The base of the verifying stream's errors: content that is not what its publisher
 * announced. The clients wrap them in their own (NexusChecksumError, BlobDigestError, …).
 */
export class ContentMismatchError extends FerryError {
  override readonly name: string = 'ContentMismatchError';
}

/** Thrown (as a stream error) when content does not match what its publisher announced. */
export class ChecksumMismatchError extends ContentMismatchError {
  override readonly name = 'ChecksumMismatchError';
  readonly algorithm: HashAlgorithm;
  readonly expected: string;
  readonly actual: string;
  constructor(what: string, algorithm: HashAlgorithm, expected: string, actual: string) {
    super(`${what}: ${algorithm} mismatch (expected ${expected}, got ${actual})`);
    this.algorithm = algorithm;
    this.expected = expected;
    this.actual = actual;
  }
}

/** Thrown (as a stream error) when content is shorter or longer than announced. */
export class SizeMismatchError extends ContentMismatchError {
  override readonly name = 'SizeMismatchError';
  constructor(what: string, expected: number, actual: number) {
    super(`${what}: size mismatch (expected ${expected} bytes, got ${actual})`);
  }
}

export interface HashingStreamOptions {
  /** Algorithms to compute; sha256 is always computed since it is Ferry's content address. */
  algorithms?: HashAlgorithm[];
  /** Expected lowercase hex digests; any mismatch fails the stream before it ends. */
  expected?: Partial<Record<HashAlgorithm, string>>;
  expectedSize?: number;
  /** Names the content in error messages (a URL path, a tar member, a digest). */
  what: string;
}

/**
 * The mismatch, if any, between content hashed by hand and what it should be: the size
 * first, then the sha256, worded as {@link HashingStream} words them. For loops that hash
 * as they copy, with no stream in between.
 */
export function contentMismatch(what: string, expected: { digest: Digest; size: number }, got: { sha256: string; size: number }): ContentMismatchError | undefined {
  if (got.size !== expected.size) return new SizeMismatchError(what, expected.size, got.size);
  if (got.sha256 !== digestHex(expected.digest)) return new ChecksumMismatchError(what, 'sha256', digestHex(expected.digest), got.sha256);
  return undefined;
}

const VERIFIED_UPSTREAM = Symbol('ferry.verifiedUpstream');

/**
 * Marks `stream`, a pass-through of `source`'s bytes (a progress counter), as carrying
 * whatever verifier `source` is or carries, so a store can still skip hashing them again.
 * Only for streams that hand on every byte unchanged and end with an error when `source`
 * does: the verifier's verdict must reach the consumer before the end.
 */
export function carriesVerifierOf<T extends Readable>(stream: T, source: Readable): T {
  const verifier = verifierOf(source);
  if (verifier !== undefined) (stream as T & { [VERIFIED_UPSTREAM]?: HashingStream })[VERIFIED_UPSTREAM] = verifier;
  return stream;
}

/** The {@link HashingStream} `content` is, or passes on unchanged; undefined when none. */
export function verifierOf(content: Readable): HashingStream | undefined {
  if (content instanceof HashingStream) return content;
  return (content as Readable & { [VERIFIED_UPSTREAM]?: HashingStream })[VERIFIED_UPSTREAM];
}

/**
 * A pass-through that hashes what flows and, when expectations are given, turns a
 * mismatch into a stream error raised *before* the final end event. A consumer that
 * commits only on a clean end (a rename, a multipart complete) therefore never commits
 * bad content.
 */
export class HashingStream extends Transform {
  readonly #hashes = new Map<HashAlgorithm, Hash>();
  readonly #options: HashingStreamOptions;
  #size = 0;
  #digests: Partial<Record<HashAlgorithm, string>> | undefined;

  constructor(options: HashingStreamOptions) {
    super();
    this.#options = options;
    const algorithms = new Set<HashAlgorithm>(['sha256', ...(options.algorithms ?? [])]);
    for (const algorithm of Object.keys(options.expected ?? {}) as HashAlgorithm[]) algorithms.add(algorithm);
    for (const algorithm of algorithms) this.#hashes.set(algorithm, createHash(algorithm));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#size += chunk.length;
    for (const hash of this.#hashes.values()) hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const digests: Partial<Record<HashAlgorithm, string>> = {};
    for (const [algorithm, hash] of this.#hashes) digests[algorithm] = hash.digest('hex');
    this.#digests = digests;
    const { expected, expectedSize, what } = this.#options;
    if (expectedSize !== undefined && expectedSize !== this.#size) {
      callback(new SizeMismatchError(what, expectedSize, this.#size));
      return;
    }
    for (const [algorithm, want] of Object.entries(expected ?? {}) as [HashAlgorithm, string | undefined][]) {
      if (want === undefined) continue;
      const got = digests[algorithm];
      if (got !== want.toLowerCase()) {
        callback(new ChecksumMismatchError(what, algorithm, want.toLowerCase(), got ?? '(none)'));
        return;
      }
    }
    callback();
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.#size;
  }

  /**
   * Whether this stream errors before its end unless its content is exactly `digest` (and
   * `size`, when given): a consumer that would check the same may trust it instead of
   * hashing every byte a second time.
   */
  verifies(digest: Digest, size?: number): boolean {
    const { expected, expectedSize } = this.#options;
    return expected?.sha256?.toLowerCase() === digestHex(digest) && (size === undefined || expectedSize === size);
  }

  /** The sha256 content address; only valid after the stream has ended cleanly. */
  get digest(): Digest {
    const hex = this.#digests?.sha256;
    if (hex === undefined) throw new Error(`${this.#options.what}: digest read before the stream ended`);
    return `sha256:${hex}`;
  }

  /** All computed digests (lowercase hex); only valid after the stream has ended cleanly. */
  get digests(): Partial<Record<HashAlgorithm, string>> {
    if (this.#digests === undefined) throw new Error(`${this.#options.what}: digests read before the stream ended`);
    return this.#digests;
  }
}
