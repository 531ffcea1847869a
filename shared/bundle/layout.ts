/**
 * Member names and fixed contents of the bundle tar, shared by writer and reader so the
 * two cannot drift apart. See docs/bundle-format.md.
 */
import { digestHex, type Digest } from '../digest.ts';

export const OCI_LAYOUT_MEMBER = 'oci-layout';
export const INDEX_MEMBER = 'index.json';
export const MANIFEST_MEMBER = 'ferry/manifest.json';
export const SIGNATURE_MEMBER = 'ferry/manifest.sig';
export const BLOB_PREFIX = 'blobs/sha256/';
// Parts of split blobs (`parts/sha256/<blob hex>/<offset>`) follow the blobs: see parts.ts.

/** The members that precede every blob, in this exact order. */
export const HEAD_MEMBERS = [OCI_LAYOUT_MEMBER, INDEX_MEMBER, MANIFEST_MEMBER, SIGNATURE_MEMBER] as const;

export const OCI_LAYOUT_BYTES = Buffer.from('{"imageLayoutVersion":"1.0.0"}', 'utf8');

/** The OCI index of a bundle that carries no images. */
export const EMPTY_OCI_INDEX = {
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [],
} as const;

/** Size limits on the members a reader holds in memory. */
export const MAX_OCI_LAYOUT_BYTES = 4096;
export const MAX_INDEX_BYTES = 64 * 1024 * 1024;
export const MAX_SIGNATURE_BYTES = 64 * 1024;

export const FILE_MODE = 0o644;

export function blobMember(digest: Digest): string {
  return `${BLOB_PREFIX}${digestHex(digest)}`;
}
