/**
 * The blobs an import can upload from: the held store, and the verified bundles of this
 * import read again by range. A blob the target keeps for later imports (an image layer)
 * is read from its bundle instead of being copied into the held store first, so on this
 * side each of its bytes is written once: to the target.
 *
 * Reading a bundle twice is safe only because the second read is checked again: every
 * upload streams through a verifier of the blob's digest (registry uploads, Nexus uploads),
 * so a bundle changed on disk since it was verified fails the upload instead of landing.
 */
import type { Readable } from 'node:stream';
import type { Digest } from '../../digest.ts';
import type { BlobSource, ObjectStore } from '../ports/index.ts';

/** What the importer reads a bundle again from: `BundleInput.openRange`. */
export interface RangeReader {
  name: string;
  openRange(offset: number, length: number): Promise<Readable>;
}

export class BlobsAtHand {
  readonly #held: ObjectStore;
  readonly #ranges = new Map<Digest, { bundle: RangeReader; offset: number; size: number }>();

  constructor(held: ObjectStore) {
    this.#held = held;
  }

  /** Records where a verified blob's bytes are in a bundle of this import. */
  addRange(digest: Digest, bundle: RangeReader, offset: number, size: number): void {
    if (!this.#ranges.has(digest)) this.#ranges.set(digest, { bundle, offset, size });
  }

  /**
   * Reads the first byte of every bundle a range points into: a bundle replaced, changed or
   * gone since it was verified (media unplugged, another upload over the S3 key) fails here,
   * before the importer writes anything of the bundle it is about to apply.
   */
  async recheck(): Promise<void> {
    const bundles = new Set([...this.#ranges.values()].map((r) => r.bundle));
    for (const bundle of bundles) for await (const _ of await bundle.openRange(0, 1));
  }

  async available(digest: Digest): Promise<boolean> {
    return this.#ranges.has(digest) || (await this.#held.statBlob(digest)) !== undefined;
  }

  async blob(digest: Digest): Promise<BlobSource> {
    const range = this.#ranges.get(digest);
    if (range === undefined) return this.#held.getBlob(digest);
    return { size: range.size, open: () => range.bundle.openRange(range.offset, range.size) };
  }
}
