/** The rules every ObjectStore applies the same way: how content is verified, which bundle names are refused. */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { digestHex, HashingStream, isDigest, verifierOf, type Digest } from '../../digest.ts';
import { InvalidBundleNameError, InvalidDigestError } from './errors.ts';

/**
 * The verifier every ObjectStore's `putBlob` streams content through: it hashes, and errors
 * before its end when the content is not the expected digest or size, so a store that
 * commits on a clean end commits nothing wrong. An expected digest that is not one is
 * refused ({@link InvalidDigestError}) and the content destroyed, before anything is read.
 */
export function blobVerifier(content: Readable, options: { expectedDigest?: Digest; expectedSize?: number }): BlobVerifier {
  const { expectedDigest, expectedSize } = options;
  if (expectedDigest !== undefined && !isDigest(expectedDigest)) {
    content.destroy();
    throw new InvalidDigestError('expected blob digest', expectedDigest);
  }
  // Content that already streams through a verifier of this very digest and size (a registry
  // download, a bundle member) errors before its end when wrong: hashing it again would only
  // cost a second pass over every byte.
  if (expectedDigest !== undefined && verifierOf(content)?.verifies(expectedDigest, expectedSize) === true) {
    return new VerifiedUpstream(expectedDigest);
  }
  return new HashingStream({
    what: expectedDigest ?? 'blob',
    ...(expectedDigest !== undefined ? { expected: { sha256: digestHex(expectedDigest) } } : {}),
    ...(expectedSize !== undefined ? { expectedSize } : {}),
  });
}

/** What a store streams content through before committing it under `digest`. */
export type BlobVerifier = Transform & { readonly digest: Digest; readonly size: number };

/** Counts the bytes of content its upstream verifier vouches for (see {@link blobVerifier}). */
class VerifiedUpstream extends Transform {
  readonly digest: Digest;
  size = 0;
  constructor(digest: Digest) {
    super();
    this.digest = digest;
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    callback(null, chunk);
  }
}

/**
 * Refuses a bundle name that could leave the bundles folder or prefix, or is otherwise no
 * file name ({@link InvalidBundleNameError}); every ObjectStore checks names with it.
 */
export function checkBundleName(name: string): string {
  if (name.length === 0) throw new InvalidBundleNameError(name, 'empty');
  if (/[/\\]/.test(name)) throw new InvalidBundleNameError(name, 'contains a path separator');
  if (name.includes('..')) throw new InvalidBundleNameError(name, "contains '..'");
  if (name.startsWith('.')) throw new InvalidBundleNameError(name, "starts with '.'");
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(name)) throw new InvalidBundleNameError(name, 'contains a control character');
  return name;
}
