/**
 * Split blobs on the import side. Each part, verified against its own digest by the
 * bundle verifier, is kept in the held store under that digest, so parts of earlier
 * bundles (this batch's or an earlier import's) survive until the blob is complete. In the
 * bundle carrying a blob's last part the blob is put together from the held parts into
 * the held store, verified against the blob's digest and size — all before any write to
 * the target. `ferry verify` (which holds nothing) instead hashes the parts in order as
 * they stream past, reading earlier ones from the held store.
 */
import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { assembledBlobs, bundleFileName, type BundleManifest, type BundlePart } from '../../bundle/index.ts';
import { ContentMismatchError, type Digest } from '../../digest.ts';
import { faultPoint } from '../../fault-points.ts';
import type { ObjectStore } from '../ports/index.ts';
import { AssembledBlobMismatchError, MissingPartError } from './errors.ts';

export class SplitBlobs {
  readonly #held: ObjectStore;
  readonly #hold: boolean;
  /** `ferry verify` only: the running sha256 of each blob and how far it got. */
  readonly #running = new Map<Digest, { hash: Hash; next: number }>();

  constructor(held: ObjectStore, hold: boolean) {
    this.#held = held;
    this.#hold = hold;
  }

  /** One verified part streaming past: held (import) or hashed into its blob (verify). */
  async onPart(where: string, manifest: BundleManifest, part: BundlePart, content: Readable): Promise<void> {
    if (this.#hold) {
      await this.#held.putBlob(content, { expectedDigest: part.digest, expectedSize: part.length });
      return;
    }
    const state = await this.#catchUp(where, manifest, part.blob, part.offset);
    for await (const chunk of content) state.hash.update(chunk as Buffer);
    state.next += part.length;
  }

  /** After a bundle verified: every blob it completes has all its parts, and they put together into it. */
  async complete(where: string, manifest: BundleManifest): Promise<void> {
    for (const blob of assembledBlobs(manifest.blobs.parts)) {
      if (this.#hold) await this.#assemble(where, manifest, blob);
      else this.#check(where, blob);
    }
  }

  async #assemble(where: string, manifest: BundleManifest, blob: { digest: Digest; size: number; parts: BundlePart[] }): Promise<void> {
    // Held already (content-addressed, verified when it was put): nothing to put together.
    if ((await this.#held.statBlob(blob.digest)) !== undefined) return;
    for (const part of blob.parts) {
      if ((await this.#held.statBlob(part.digest)) === undefined) throw missing(where, manifest, part);
    }
    const held = this.#held;
    async function* concatenated(): AsyncGenerator<Buffer> {
      for (const [i, part] of blob.parts.entries()) {
        if (i > 0) faultPoint('import:mid-assembly');
        yield* (await (await held.getBlob(part.digest)).open()) as AsyncIterable<Buffer>;
      }
    }
    try {
      await held.putBlob(Readable.from(concatenated()), { expectedDigest: blob.digest, expectedSize: blob.size });
    } catch (error) {
      if (!(error instanceof ContentMismatchError)) throw error;
      throw new AssembledBlobMismatchError(where, blob.digest, error.message, { cause: error });
    }
  }

  #check(where: string, blob: { digest: Digest; size: number; parts: BundlePart[] }): void {
    const state = this.#running.get(blob.digest);
    this.#running.delete(blob.digest);
    if (state === undefined || state.next !== blob.size) {
      throw new AssembledBlobMismatchError(where, blob.digest, `parts cover ${state?.next ?? 0} of ${blob.size} bytes`);
    }
    const actual = `sha256:${state.hash.digest('hex')}`;
    if (actual !== blob.digest) throw new AssembledBlobMismatchError(where, blob.digest, `sha256 mismatch (got ${actual})`);
  }

  /** The running hash of `blob` brought up to `offset`, from parts held by earlier imports. */
  async #catchUp(where: string, manifest: BundleManifest, blob: Digest, offset: number): Promise<{ hash: Hash; next: number }> {
    let state = this.#running.get(blob);
    if (state === undefined) {
      state = { hash: createHash('sha256'), next: 0 };
      this.#running.set(blob, state);
    }
    for (const part of (manifest.blobs.parts ?? []).filter((p) => p.blob === blob && p.offset >= state.next && p.offset < offset)) {
      if ((await this.#held.statBlob(part.digest)) === undefined) throw missing(where, manifest, part);
      for await (const chunk of await (await this.#held.getBlob(part.digest)).open()) state.hash.update(chunk as Buffer);
      state.next += part.length;
    }
    return state;
  }
}

function missing(where: string, manifest: BundleManifest, part: BundlePart): MissingPartError {
  return new MissingPartError(where, part, bundleFileName(manifest.sourceId, part.shippedIn));
}
