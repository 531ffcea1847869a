/**
 * Reads and verifies a bundle in one streaming pass. The signed manifest comes before any
 * blob, so every blob is checked against a manifest already known to be authentic, and
 * the importer can verify the whole bundle before it writes anything to the target.
 */
import type { KeyObject } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import tar, { type Extract } from 'tar-stream';

type Entry = Extract extends AsyncIterable<infer S> ? S : never;
import { ChecksumMismatchError, HashingStream, SizeMismatchError, sha256Of, type Digest } from '../digest.ts';
import { parseSignature, SignatureError, verifyDetached, type DetachedSignature } from '../signing.ts';
import {
  BlobMismatchError,
  BundleError,
  BundleSignatureError,
  DuplicateMemberError,
  IndexMismatchError,
  InvalidLayoutError,
  InvalidManifestError,
  MalformedTarError,
  ManifestError,
  MemberOrderError,
  MemberTooLargeError,
  MissingBlobError,
  MissingMemberError,
  NonRegularMemberError,
  TarEndError,
  UnknownMemberError,
  UnlistedBlobError,
  UnsafeMemberPathError,
} from './errors.ts';
import {
  BLOB_PREFIX,
  HEAD_MEMBERS,
  INDEX_MEMBER,
  MANIFEST_MEMBER,
  MAX_INDEX_BYTES,
  MAX_OCI_LAYOUT_BYTES,
  MAX_SIGNATURE_BYTES,
  OCI_LAYOUT_MEMBER,
  SIGNATURE_MEMBER,
} from './layout.ts';
import { manifestDigest as digestOfManifest, MAX_MANIFEST_BYTES, parseManifest, type BundleManifest } from './manifest.ts';

export interface VerifyOptions {
  /** The bundle file name, used in every error message. */
  where: string;
  trustedKeys: KeyObject[];
  /** Called once the manifest's signature has checked out, before any blob is read; throw to refuse (e.g. sequence/chain checks). */
  onManifest?: (manifest: BundleManifest, manifestDigest: Digest) => void | Promise<void>;
  /** Receives each blob's bytes through a verifier that errors before its end on a digest/size mismatch; whatever it writes must commit only on a clean end. If absent the blob is hashed and discarded. */
  onBlob?: (blob: { digest: Digest; size: number }, content: Readable) => Promise<void>;
}

export interface VerifiedBundle {
  manifest: BundleManifest;
  manifestDigest: Digest;
  keyId: string;
  /** Bytes read from the input. */
  bytes: number;
}

export interface BundleSummary {
  manifest: BundleManifest;
  manifestDigest: Digest;
  members: { name: string; size: number }[];
  /** The signature document as stored; undefined when absent or malformed. Not verified. */
  signature: DetachedSignature | undefined;
}

const BLOB_NAME = /^blobs\/sha256\/[0-9a-f]{64}$/;

/**
 * Verifies a bundle while streaming it: layout, signature, manifest, then every blob's
 * size and digest. Rejects with a {@link BundleError} naming the bundle and the member at
 * fault; errors thrown by the callbacks are passed through unchanged.
 */
export async function verifyBundle(input: Readable, options: VerifyOptions): Promise<VerifiedBundle> {
  const { where } = options;
  const seen = new Set<string>();
  let head = 0;
  let indexDigest: Digest | undefined;
  let manifestBytes: Buffer | undefined;
  let verified: { manifest: BundleManifest; manifestDigest: Digest; keyId: string } | undefined;
  let included = new Map<Digest, number>();

  const bytes = await walkTar(input, where, async (name, size, entry) => {
    const isHead = (HEAD_MEMBERS as readonly string[]).includes(name);
    if (!isHead && !BLOB_NAME.test(name)) throw new UnknownMemberError(where, name);
    if (seen.has(name)) throw new DuplicateMemberError(where, name);
    seen.add(name);
    const expected = HEAD_MEMBERS[head];
    if (expected !== undefined && name !== expected) throw new MemberOrderError(where, name, expected);

    switch (name) {
      case OCI_LAYOUT_MEMBER: {
        checkOciLayout(where, await readSmall(where, name, size, MAX_OCI_LAYOUT_BYTES, entry));
        break;
      }
      case INDEX_MEMBER: {
        const content = await readSmall(where, name, size, MAX_INDEX_BYTES, entry);
        checkOciIndex(where, content);
        indexDigest = sha256Of(content);
        break;
      }
      case MANIFEST_MEMBER: {
        manifestBytes = await readSmall(where, name, size, MAX_MANIFEST_BYTES, entry);
        break;
      }
      case SIGNATURE_MEMBER: {
        const content = await readSmall(where, name, size, MAX_SIGNATURE_BYTES, entry);
        verified = checkManifest(where, manifestBytes as Buffer, content, indexDigest as Digest, options.trustedKeys);
        included = new Map(verified.manifest.blobs.included.map((blob) => [blob.digest, blob.size]));
        await options.onManifest?.(verified.manifest, verified.manifestDigest);
        break;
      }
      default: {
        const digest = `sha256:${name.slice(BLOB_PREFIX.length)}` as Digest;
        const listed = included.get(digest);
        if (listed === undefined) throw new UnlistedBlobError(where, name);
        await verifyBlob(where, name, { digest, size: listed }, size, entry, options.onBlob);
      }
    }
    if (isHead) head += 1;
  });

  const missingHead = HEAD_MEMBERS[head];
  if (missingHead !== undefined || verified === undefined) throw new MissingMemberError(where, missingHead ?? SIGNATURE_MEMBER);
  for (const blob of verified.manifest.blobs.included) {
    if (!seen.has(`${BLOB_PREFIX}${blob.digest.slice(7)}`)) throw new MissingBlobError(where, `${BLOB_PREFIX}${blob.digest.slice(7)}`);
  }
  return { ...verified, bytes };
}

/**
 * Reads what a bundle says about itself without verifying the signature or the blobs, for
 * `ferry inspect`. Member names are still checked for path safety and type.
 */
export async function readBundleSummary(input: Readable, where: string): Promise<BundleSummary> {
  const members: { name: string; size: number }[] = [];
  let manifest: { manifest: BundleManifest; manifestDigest: Digest } | undefined;
  let signature: DetachedSignature | undefined;
  const seen = new Set<string>();
  await walkTar(input, where, async (name, size, entry) => {
    members.push({ name, size });
    const duplicate = seen.has(name);
    seen.add(name);
    if (name === MANIFEST_MEMBER || name === SIGNATURE_MEMBER) {
      if (duplicate) throw new DuplicateMemberError(where, name);
      const limit = name === MANIFEST_MEMBER ? MAX_MANIFEST_BYTES : MAX_SIGNATURE_BYTES;
      const content = await readSmall(where, name, size, limit, entry);
      if (name === MANIFEST_MEMBER) manifest = { manifest: parseManifestMember(where, content), manifestDigest: digestOfManifest(content) };
      else signature = tryParseSignature(content, where);
      return;
    }
    await drain(entry);
  });
  if (manifest === undefined) throw new MissingMemberError(where, MANIFEST_MEMBER);
  return { ...manifest, members, signature };
}

// ───────────────────────────── members ─────────────────────────────

function checkOciLayout(where: string, content: Buffer): void {
  const value = parseJson(content);
  if (!isRecord(value) || value.imageLayoutVersion !== '1.0.0') {
    throw new InvalidLayoutError(where, OCI_LAYOUT_MEMBER, 'must be {"imageLayoutVersion":"1.0.0"}');
  }
}

function checkOciIndex(where: string, content: Buffer): void {
  const value = parseJson(content);
  if (!isRecord(value) || value.schemaVersion !== 2 || !Array.isArray(value.manifests)) {
    throw new InvalidLayoutError(where, INDEX_MEMBER, 'must be an OCI image index (schemaVersion 2 with a manifests array)');
  }
}

function checkManifest(
  where: string,
  manifestBytes: Buffer,
  signatureBytes: Buffer,
  indexDigest: Digest,
  trustedKeys: KeyObject[],
): { manifest: BundleManifest; manifestDigest: Digest; keyId: string } {
  let keyId: string;
  try {
    const signature = parseSignature(signatureBytes, 'signature');
    keyId = verifyDetached(manifestBytes, signature, trustedKeys).keyId;
  } catch (error) {
    if (!(error instanceof SignatureError)) throw error;
    throw new BundleSignatureError(where, SIGNATURE_MEMBER, `signature over ${MANIFEST_MEMBER} refused: ${error.message}`, {
      cause: error,
    });
  }
  const manifest = parseManifestMember(where, manifestBytes);
  if (manifest.layout.index !== indexDigest) throw new IndexMismatchError(where, manifest.layout.index, indexDigest);
  return { manifest, manifestDigest: digestOfManifest(manifestBytes), keyId };
}

function parseManifestMember(where: string, content: Buffer): BundleManifest {
  try {
    return parseManifest(content, 'manifest');
  } catch (error) {
    if (!(error instanceof ManifestError)) throw error;
    throw new InvalidManifestError(where, MANIFEST_MEMBER, error.problems.join('; '), { cause: error });
  }
}

function tryParseSignature(content: Buffer, where: string): DetachedSignature | undefined {
  try {
    return parseSignature(content, where);
  } catch {
    return undefined;
  }
}

/**
 * Streams one blob through a verifier to `onBlob` (or to nowhere). The verifier errors
 * before its end on a mismatch, so a consumer that commits on a clean end commits nothing.
 */
async function verifyBlob(
  where: string,
  name: string,
  blob: { digest: Digest; size: number },
  tarSize: number,
  entry: Entry,
  onBlob: VerifyOptions['onBlob'],
): Promise<void> {
  const what = `bundle ${where}: member ${name}`;
  if (tarSize !== blob.size) {
    throw new BlobMismatchError(where, name, `size mismatch (expected ${blob.size} bytes from the manifest, got ${tarSize})`);
  }
  const verifier = new HashingStream({ what, expected: { sha256: blob.digest.slice(7) }, expectedSize: blob.size });
  let mismatch: Error | undefined;
  verifier.on('error', (error: Error) => {
    if (error instanceof ChecksumMismatchError || error instanceof SizeMismatchError) mismatch ??= error;
  });
  const source = Readable.from(entry);
  source.on('error', (error: Error) => verifier.destroy(error));
  source.pipe(verifier);
  const asMismatch = (error: Error) => new BlobMismatchError(where, name, error.message.slice(what.length + 2), { cause: error });

  try {
    if (onBlob !== undefined) await onBlob(blob, verifier);
    if (!verifier.readableEnded) verifier.resume(); // whatever onBlob left unread is still verified
    await finished(verifier);
  } catch (error) {
    if (mismatch !== undefined) throw asMismatch(mismatch);
    throw error;
  }
  if (mismatch !== undefined) throw asMismatch(mismatch);
}

// ───────────────────────────── tar walking ─────────────────────────────

type Visit = (name: string, size: number, entry: Entry) => Promise<void>;

/**
 * Feeds `input` through tar-stream's extractor with backpressure and hands each safe,
 * regular member to `visit`, which must consume it. Returns the bytes read. The extractor
 * accepts a tar that stops at a member boundary and skips what follows a zero block, so
 * {@link TarFraming} checks the tar's end on the same bytes before they reach it.
 */
async function walkTar(input: Readable, where: string, visit: Visit): Promise<number> {
  const extract = tar.extract();
  let bytes = 0;
  let inputError: Error | undefined;
  let tarError: Error | undefined;
  extract.on('error', (error: Error) => {
    tarError ??= error;
  });

  const framing = new TarFraming(where);
  const feeding = (async () => {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      bytes += chunk.byteLength;
      if (extract.destroyed || extract.destroying) return;
      framing.feed(chunk);
      if (!extract.write(chunk)) await drained(extract as unknown as Drainable);
    }
    framing.end();
    extract.end(undefined);
  })().catch((error: unknown) => {
    if (tarError === undefined) inputError ??= error as Error;
    extract.destroy(error as Error);
  });

  const entries = extract[Symbol.asyncIterator]();
  try {
    for (;;) {
      const step = await entries.next();
      if (step.done) break;
      const entry = step.value;
      const { name, type, size } = entry.header;
      checkMemberName(where, name);
      if (type !== 'file') throw new NonRegularMemberError(where, name, describeType(type));
      await visit(name, size ?? 0, entry);
    }
  } catch (error) {
    const failure =
      error instanceof BundleError
        ? error
        : inputError !== undefined
          ? inputError
          : tarError !== undefined
            ? new MalformedTarError(where, tarError.message, { cause: tarError })
            : error;
    extract.destroy();
    input.destroy();
    await feeding;
    throw failure;
  }
  await feeding;
  if (inputError !== undefined) throw inputError;
  return bytes;
}

const BLOCK = 512;
const END_MARKER = 2 * BLOCK;
/** Extended headers are held to read their `size` record; a bundle has none, so this is generous. */
const MAX_EXTENDED_HEADER = 1024 * 1024;

/** A pax header's data being collected: `x` for the next member, `g` for all that follow. */
interface ExtendedHeader {
  type: 'x' | 'g';
  chunks: Buffer[];
  left: number;
}

/**
 * Follows a tar's block framing (512-byte headers, data padded to 512; pax and GNU extension
 * headers framed the same way, a pax `size` record overriding the next member's size as
 * tar-stream applies it) in constant memory, and refuses an end that is not the
 * end-of-archive marker: two zero blocks after the last member, then only zero bytes.
 * Anything after the first zero block is refused, as readers disagree on whether it counts.
 */
class TarFraming {
  readonly #where: string;
  readonly #block = Buffer.alloc(BLOCK);
  #offset = 0;
  #filled = 0;
  /** Data and padding of the current member still to pass. */
  #skip = 0;
  /** Where the first zero header block starts, once seen: from there on only zeros. */
  #zeroAt: number | undefined;
  #extended: ExtendedHeader | undefined;
  #globalSize: string | undefined;
  /** The `size` record for the next member, when a pax header announced one. */
  #paxSize: string | undefined;

  constructor(where: string) {
    this.#where = where;
  }

  feed(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#zeroAt !== undefined) {
        for (let index = at; index < chunk.length; index += 1) {
          if (chunk[index] !== 0) this.#refuseAfterZeros(this.#offset + index - at);
        }
        this.#offset += chunk.length - at;
        return;
      }
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - at);
        this.#collect(chunk.subarray(at, at + n));
        this.#skip -= n;
        this.#offset += n;
        at += n;
        if (this.#skip === 0 && this.#extended !== undefined) this.#endExtended();
        continue;
      }
      const n = Math.min(BLOCK - this.#filled, chunk.length - at);
      chunk.copy(this.#block, this.#filled, at, at + n);
      this.#filled += n;
      this.#offset += n;
      at += n;
      if (this.#filled === BLOCK) {
        this.#filled = 0;
        this.#header(this.#offset - BLOCK);
      }
    }
  }

  /** Called at the end of the input. */
  end(): void {
    const at = this.#offset;
    if (this.#zeroAt === undefined) {
      const inside = this.#skip > 0 ? ' inside a member' : this.#filled > 0 ? ' inside a header block' : '';
      throw new TarEndError(this.#where, at, `truncated: ends at byte ${at}${inside} without the end-of-archive marker`);
    }
    if (at - this.#zeroAt < END_MARKER) {
      throw new TarEndError(this.#where, at, `truncated: ends at byte ${at} after a single zero block; the end-of-archive marker is two`);
    }
    if (at % BLOCK !== 0) throw new TarEndError(this.#where, at, `ends at byte ${at}, inside a 512-byte block`);
  }

  #refuseAfterZeros(at: number): never {
    const zeroAt = this.#zeroAt as number;
    const detail =
      at < zeroAt + END_MARKER
        ? `data at byte ${at} after a lone zero block at byte ${zeroAt}`
        : `non-zero bytes at byte ${at} after the end-of-archive marker at byte ${zeroAt}`;
    throw new TarEndError(this.#where, at, detail);
  }

  #header(at: number): void {
    const block = this.#block;
    if (block.every((byte) => byte === 0)) {
      this.#zeroAt = at;
      return;
    }
    const type = String.fromCharCode(block[156] as number);
    let size = headerSize(block);
    if (size === undefined) throw new MalformedTarError(this.#where, `the header at byte ${at} has an invalid size field`);
    if (type === 'x' || type === 'g') {
      if (size > MAX_EXTENDED_HEADER) {
        throw new MalformedTarError(this.#where, `the extended header at byte ${at} is ${size} bytes, more than ${MAX_EXTENDED_HEADER}`);
      }
      this.#extended = { type, chunks: [], left: size };
    } else if (type !== 'L' && type !== 'K') {
      const paxSize = this.#paxSize;
      this.#paxSize = undefined;
      if (paxSize !== undefined && paxSize !== '') {
        if (!/^\d+$/.test(paxSize) || !Number.isSafeInteger(Number(paxSize))) {
          throw new MalformedTarError(this.#where, `the pax size record before the header at byte ${at} is invalid`);
        }
        size = Number(paxSize);
      }
    }
    this.#skip = Math.ceil(size / BLOCK) * BLOCK;
    if (this.#skip === 0 && this.#extended !== undefined) this.#endExtended();
  }

  #collect(data: Buffer): void {
    const extended = this.#extended;
    if (extended === undefined || extended.left === 0) return;
    const kept = data.subarray(0, extended.left);
    extended.chunks.push(Buffer.from(kept));
    extended.left -= kept.length;
  }

  #endExtended(): void {
    const { type, chunks } = this.#extended as ExtendedHeader;
    this.#extended = undefined;
    const size = paxRecords(Buffer.concat(chunks)).get('size');
    if (type === 'g') this.#globalSize = size;
    else this.#paxSize = size ?? this.#globalSize;
  }
}

/** The header's size field: octal, or base-256 when the high bit of its first byte is set. */
function headerSize(block: Buffer): number | undefined {
  const field = block.subarray(124, 136);
  if (((field[0] as number) & 0x80) !== 0) {
    if (field[0] !== 0x80) return undefined; // 0xff: negative
    let size = 0;
    for (const byte of field.subarray(1)) size = size * 256 + byte;
    return Number.isSafeInteger(size) ? size : undefined;
  }
  const text = field.toString('latin1').replace(/^[ \0]+/, '');
  const digits = /^[0-7]*/.exec(text)?.[0] ?? '';
  if (!/^[ \0]*$/.test(text.slice(digits.length))) return undefined;
  return digits === '' ? 0 : parseInt(digits, 8);
}

/** Pax extended header records (`<length> <key>=<value>\n`), read the way tar-stream reads them. */
function paxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let rest = data;
  while (rest.length > 0) {
    const space = rest.indexOf(0x20);
    const length = parseInt(rest.subarray(0, space === -1 ? rest.length : space).toString('latin1'), 10);
    if (!(length > 0)) break;
    const record = rest.subarray(space + 1, length - 1).toString('utf8');
    const equals = record.indexOf('=');
    if (equals === -1) break;
    records.set(record.slice(0, equals), record.slice(equals + 1));
    rest = rest.subarray(length);
  }
  return records;
}

function checkMemberName(where: string, name: string): void {
  if (name === '') throw new UnsafeMemberPathError(where, '(empty)', 'has an empty name');
  if (name.startsWith('/')) throw new UnsafeMemberPathError(where, name, 'is an absolute path');
  if (name.includes('\\')) throw new UnsafeMemberPathError(where, name, 'contains a backslash');
  if (name.includes('\0')) throw new UnsafeMemberPathError(where, name, 'contains NUL');
  if (name.split('/').includes('..')) throw new UnsafeMemberPathError(where, name, "contains a '..' segment");
}

function describeType(type: string | null | undefined): string {
  switch (type) {
    case 'link':
      return 'hard link';
    case 'symlink':
      return 'symbolic link';
    case undefined:
    case null:
      return 'member of unknown type';
    default:
      return type.replace(/-/g, ' ');
  }
}

async function readSmall(where: string, name: string, size: number, limit: number, entry: Entry): Promise<Buffer> {
  if (size > limit) throw new MemberTooLargeError(where, name, size, limit);
  const chunks: Buffer[] = [];
  for await (const chunk of entry) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function drain(entry: Entry): Promise<void> {
  for await (const _chunk of entry) {
    // discard
  }
}

function parseJson(content: Buffer): unknown {
  try {
    return JSON.parse(content.toString('utf8'));
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Resolves on 'drain'; rejects if the stream closes first. Works for streamx streams. */
type Drainable = EventEmitter & { destroyed: boolean };

function drained(stream: Drainable): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.destroyed) {
      reject(new Error('stream closed'));
      return;
    }
    const cleanup = () => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onClose = () => {
      cleanup();
      reject(new Error('tar extractor closed'));
    };
    stream.on('drain', onDrain);
    stream.on('close', onClose);
  });
}
