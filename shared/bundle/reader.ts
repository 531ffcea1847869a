/**
 * Reads and verifies a bundle in one streaming pass. The signed manifest comes before any
 * blob, so every blob is checked against a manifest already known to be authentic, and
 * the importer can verify the whole bundle before it writes anything to the target.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ChecksumMismatchError, contentMismatch, HashingStream, SizeMismatchError, sha256Of, type Digest } from '../digest.ts';
import { parseSignature, SignatureError, verifyDetached, type DetachedSignature } from '../signing.ts';
import {
  BlobMismatchError,
  BundleError,
  BundleSignatureError,
  DuplicateMemberError,
  IndexMismatchError,
  InvalidLayoutError,
  InvalidManifestError,
  ManifestError,
  MemberOrderError,
  MemberTooLargeError,
  MissingBlobError,
  MissingMemberError,
  UnknownMemberError,
  UnlistedBlobError,
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
import { walkTar, type Entry } from './tar-walk.ts';
import { carriedParts, partMember, PART_MEMBER_NAME, type BundlePart } from './parts.ts';

export interface VerifyOptions {
  /** The bundle file name, used in every error message. */
  where: string;
  trustedKeys: KeyObject[];
  /** Called once the manifest's signature has checked out, before any blob is read; throw to refuse (e.g. sequence/chain checks). */
  onManifest?: (manifest: BundleManifest, manifestDigest: Digest) => void | Promise<void>;
  /**
   * Receives each blob's bytes through a verifier that errors before its end on a digest/size
   * mismatch; whatever it writes must commit only on a clean end. If absent the blob is hashed
   * and discarded. `offset` is where its bytes start in the bundle (for reading them again by range).
   */
  onBlob?: (blob: { digest: Digest; size: number; offset: number }, content: Readable) => Promise<void>;
  /**
   * Picks the blobs whose bytes nobody here needs (the importer uploads an image layer by
   * range from the bundle later): each is hashed straight off the tar, with no stream in
   * between — on a 1 GiB layer the verifier's pass was a third slower through one — and
   * then given to `onBlobVerified` instead of `onBlob`.
   */
  skipContent?: (blob: { digest: Digest; size: number }) => boolean;
  /** Each blob `skipContent` picked, once its digest and size have checked out. */
  onBlobVerified?: (blob: { digest: Digest; size: number; offset: number }) => void | Promise<void>;
  /**
   * Each blob `skipContent` picked, as the verifier reaches it (before its first byte is
   * hashed): the importer starts its upload from a ranged read then, while it is verified.
   */
  onBlobStart?: (blob: { digest: Digest; size: number; offset: number }) => void;
  /** As `onBlob`, for each part of a split blob this bundle carries (verified against the part's digest and length). */
  onPart?: (part: BundlePart, content: Readable) => Promise<void>;
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
  let carried = new Map<string, BundlePart>();

  const bytes = await walkTar(input, where, async (name, size, entry, offset) => {
    const isHead = (HEAD_MEMBERS as readonly string[]).includes(name);
    if (!isHead && !BLOB_NAME.test(name) && !PART_MEMBER_NAME.test(name)) throw new UnknownMemberError(where, name);
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
        carried = new Map(carriedParts(verified.manifest.blobs.parts, verified.manifest.sequence).map((part) => [partMember(part), part]));
        await options.onManifest?.(verified.manifest, verified.manifestDigest);
        break;
      }
      default: {
        if (PART_MEMBER_NAME.test(name)) {
          const part = carried.get(name);
          if (part === undefined) throw new UnlistedBlobError(where, name);
          await verifyBlob(where, name, { digest: part.digest, size: part.length, offset }, size, entry, options.onPart && ((_, content) => options.onPart!(part, content)));
          break;
        }
        const digest = `sha256:${name.slice(BLOB_PREFIX.length)}` as Digest;
        const listed = included.get(digest);
        if (listed === undefined) throw new UnlistedBlobError(where, name);
        const blob = { digest, size: listed, offset };
        if (options.skipContent?.(blob) === true) {
          options.onBlobStart?.(blob);
          await hashBlob(where, name, blob, size, entry);
          await options.onBlobVerified?.(blob);
        } else await verifyBlob(where, name, blob, size, entry, options.onBlob);
      }
    }
    if (isHead) head += 1;
  });

  const missingHead = HEAD_MEMBERS[head];
  if (missingHead !== undefined || verified === undefined) throw new MissingMemberError(where, missingHead ?? SIGNATURE_MEMBER);
  for (const blob of verified.manifest.blobs.included) {
    if (!seen.has(`${BLOB_PREFIX}${blob.digest.slice(7)}`)) throw new MissingBlobError(where, `${BLOB_PREFIX}${blob.digest.slice(7)}`);
  }
  for (const member of carried.keys()) if (!seen.has(member)) throw new MissingBlobError(where, member);
  return { ...verified, bytes };
}

/**
 * Reads what a bundle says about itself without verifying the signature or the blobs, for
 * `ferry inspect` and `ferry report`. Member names are still checked for path safety and
 * type. `onBlob` sees each blob member's unverified content and must consume it.
 */
export async function readBundleSummary(
  input: Readable,
  where: string,
  options: {
    onManifest?: (manifest: BundleManifest) => void;
    onBlob?: (blob: { digest: Digest; size: number }, content: AsyncIterable<unknown>) => Promise<void>;
  } = {},
): Promise<BundleSummary> {
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
      if (name === MANIFEST_MEMBER) {
        manifest = { manifest: parseManifestMember(where, content), manifestDigest: digestOfManifest(content) };
        options.onManifest?.(manifest.manifest);
      } else signature = tryParseSignature(content, where);
      return;
    }
    if (options.onBlob !== undefined && BLOB_NAME.test(name)) await options.onBlob({ digest: `sha256:${name.slice(BLOB_PREFIX.length)}` as Digest, size }, entry);
    else await drain(entry);
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
  blob: { digest: Digest; size: number; offset: number },
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

/** {@link verifyBlob} for a blob nobody reads: the member's chunks hashed as they come. */
async function hashBlob(where: string, name: string, blob: { digest: Digest; size: number }, tarSize: number, entry: Entry): Promise<void> {
  if (tarSize !== blob.size) {
    throw new BlobMismatchError(where, name, `size mismatch (expected ${blob.size} bytes from the manifest, got ${tarSize})`);
  }
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of entry) {
    size += (chunk as Buffer).byteLength;
    hash.update(chunk as Buffer);
  }
  // Errors worded and caused as verifyBlob's, so a refusal reads the same whichever path ran.
  const what = `bundle ${where}: member ${name}`;
  const mismatch = contentMismatch(what, blob, { sha256: hash.digest('hex'), size });
  if (mismatch !== undefined) throw new BlobMismatchError(where, name, mismatch.message.slice(what.length + 2), { cause: mismatch });
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
