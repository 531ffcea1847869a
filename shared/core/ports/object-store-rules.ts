/** The rules every ObjectStore applies the same way: how content is verified, which bundle names are refused. */
import type { Readable } from 'node:stream';
import { digestHex, HashingStream, isDigest, type Digest } from '../../digest.ts';
import { InvalidBundleNameError, InvalidDigestError } from './errors.ts';

/**
 * The verifier every ObjectStore's `putBlob` streams content through: it hashes, and errors
 * before its end when the content is not the expected digest or size, so a store that
 * commits on a clean end commits nothing wrong. An expected digest that is not one is
 * refused ({@link InvalidDigestError}) and the content destroyed, before anything is read.
 */
export function blobVerifier(content: Readable, options: { expectedDigest?: Digest; expectedSize?: number }): HashingStream {
  const { expectedDigest, expectedSize } = options;
  if (expectedDigest !== undefined && !isDigest(expectedDigest)) {
    content.destroy();
    throw new InvalidDigestError('expected blob digest', expectedDigest);
  }
  return new HashingStream({
    what: expectedDigest ?? 'blob',
    ...(expectedDigest !== undefined ? { expected: { sha256: digestHex(expectedDigest) } } : {}),
    ...(expectedSize !== undefined ? { expectedSize } : {}),
  });
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
