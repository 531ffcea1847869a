/**
 * Split blobs on the import side. Each part, verified against its own digest by the
 * bundle verifier, is kept in the held store under that digest, so parts of earlier
 * bundles (this batch's or an earlier import's) survive until the blob is complete. In the
 * bundle carrying a blob's last part the blob is put together from the held parts into
 * the held store, verified against the blob's digest and size — all before any write to
 * the target. `ferry verify` (which holds nothing) instead hashes the parts in order as
 * they stream past, reading earlier ones from the held store.
 *
 * A blob lacking a part is not refused at once: a later bundle of the same batch may carry
 * the whole blob again (the export side's answer to a resend request, split anew), and then
 * the lost part does not matter. `unfinished()`, after the batch, names what is still lacking.
 *
 * Once the batch verified whole, `dropAssembledParts()` removes the parts of each blob put
 * together (the blob, verified whole, is what later steps read; keeping both would hold every
 * split blob twice), except a part that a blob not yet held also lists: one of this batch,
 * or one an earlier import recorded as waiting for it (`ImportState.recordAwaitedParts`).
 */
import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { assembledBlobs, bundleFileName, type BundleManifest, type BundlePart } from '../../bundle/index.ts';
import { ContentMismatchError, type Digest } from '../../digest.ts';
import { faultPoint } from '../../fault-points.ts';
import type { ImportState, ObjectStore } from '../ports/index.ts';
import type { ResendRequestDocument } from '../receipts/codec.ts';
import { AssembledBlobMismatchError, MissingPartError } from './errors.ts';

type SplitBlob = { digest: Digest; size: number; parts: BundlePart[] };

/** Where an import records which parts blobs not yet put together wait for. */
export type AwaitedParts = Pick<ImportState, 'recordAwaitedParts' | 'blobsAwaiting' | 'partsAwaitedBy' | 'forgetAwaitedParts'>;

/** A blob some bundle completes whose parts are not all there: `part` is the first one lacking. */
export interface UnfinishedBlob {
  where: string;
  manifest: BundleManifest;
  blob: SplitBlob;
  part: BundlePart;
}

export class SplitBlobs {
  readonly #held: ObjectStore;
  readonly #hold: boolean;
  /** `ferry verify` only: the running sha256 of each blob and how far it got. */
  readonly #running = new Map<Digest, Running>();
  /** `ferry verify` only: blobs whose parts made them, in this batch. */
  readonly #made = new Set<Digest>();
  readonly #lacking: UnfinishedBlob[] = [];
  /** Import only: blobs held whole now, by digest, and every part the batch's manifests list. */
  readonly #assembled = new Map<Digest, SplitBlob>();
  readonly #listed: BundlePart[] = [];
  readonly #awaited: AwaitedParts;

  constructor(held: ObjectStore, hold: boolean, awaited: AwaitedParts = {}) {
    this.#held = held;
    this.#hold = hold;
    this.#awaited = awaited;
  }

  /** One verified part streaming past: held (import) or hashed into its blob (verify). */
  async onPart(manifest: BundleManifest, part: BundlePart, content: Readable): Promise<void> {
    if (this.#hold) {
      await this.#held.putBlob(content, { expectedDigest: part.digest, expectedSize: part.length });
      return;
    }
    const state = await this.#catchUp(manifest, part.blob, part.offset);
    // Drained even when an earlier part is lacking: the verifier hashes the part as it is read.
    for await (const chunk of content) if (state.lacking === undefined) state.hash.update(chunk as Buffer);
    if (state.lacking === undefined) state.next += part.length;
  }

  /** After a bundle verified: every blob it completes has all its parts, and they put together into it. */
  async complete(where: string, manifest: BundleManifest): Promise<void> {
    this.#listed.push(...(manifest.blobs.parts ?? []));
    for (const blob of assembledBlobs(manifest.blobs.parts)) {
      const lacking = this.#hold ? await this.#assemble(where, blob) : this.#check(where, blob);
      if (lacking !== undefined) this.#lacking.push({ where, manifest, blob, part: lacking });
    }
    if (this.#hold) await this.#recordAwaited(manifest);
  }

  /** Every blob this bundle lists parts of and did not put together: what its parts are held for. */
  async #recordAwaited(manifest: BundleManifest): Promise<void> {
    const byBlob = new Map<Digest, Digest[]>();
    for (const part of manifest.blobs.parts ?? []) {
      if (!this.#assembled.has(part.blob)) byBlob.set(part.blob, [...(byBlob.get(part.blob) ?? []), part.digest]);
    }
    for (const [blob, parts] of byBlob) await this.#awaited.recordAwaitedParts?.(blob, parts);
  }

  /** After the whole batch verified: the blobs still lacking a part (none held, none made by a later bundle), in bundle order. */
  async unfinished(): Promise<UnfinishedBlob[]> {
    const left: UnfinishedBlob[] = [];
    for (const u of this.#lacking) {
      // Importing, a part with the same digest may have come since (content-addressed): try again.
      const made = this.#hold ? (await this.#assemble(u.where, u.blob)) === undefined : this.#made.has(u.blob.digest) || (await this.#held.statBlob(u.blob.digest)) !== undefined;
      if (!made) left.push(u);
    }
    return left;
  }

  /**
   * After the whole batch verified: removes the parts of every blob now held whole, keeping
   * a part that a blob still unassembled (held by no one) lists too — of this batch, or
   * recorded by an earlier import. Parts of an earlier split of the same blob (held before
   * its resend) go too. Idempotent: a run stopped midway leaves parts whose blob
   * is held, which the next run removes.
   */
  async dropAssembledParts(): Promise<void> {
    const pending = new Set<Digest>();
    const heldWhole = new Map<Digest, boolean>();
    for (const part of this.#listed) {
      if (this.#assembled.has(part.blob)) continue;
      if (!heldWhole.has(part.blob)) heldWhole.set(part.blob, (await this.#held.statBlob(part.blob)) !== undefined);
      if (heldWhole.get(part.blob) === false) pending.add(part.digest);
    }
    for (const blob of this.#assembled.values()) {
      // Its parts now, and those of an earlier split of it (a resend splits a blob anew).
      const parts = new Set([...blob.parts.map((p) => p.digest), ...((await this.#awaited.partsAwaitedBy?.(blob.digest)) ?? [])]);
      for (const part of parts) {
        if (!pending.has(part) && !(await this.#awaitedElsewhere(part))) await this.#held.deleteBlob(part);
      }
    }
    for (const blob of this.#assembled.values()) await this.#awaited.forgetAwaitedParts?.(blob.digest);
  }

  /** A blob recorded as waiting for this part is not held whole yet; records of blobs held since are forgotten. */
  async #awaitedElsewhere(part: Digest): Promise<boolean> {
    for (const blob of (await this.#awaited.blobsAwaiting?.(part)) ?? []) {
      if (this.#assembled.has(blob)) continue;
      if ((await this.#held.statBlob(blob)) === undefined) return true;
      await this.#awaited.forgetAwaitedParts?.(blob);
    }
    return false;
  }

  /** Puts the blob together in the held store; returns the first part lacking instead, if any. */
  async #assemble(where: string, blob: SplitBlob): Promise<BundlePart | undefined> {
    // Held already (content-addressed, verified when it was put): nothing to put together,
    // only its parts to remove later (a run stopped after assembling, a part shipped again).
    if ((await this.#held.statBlob(blob.digest)) !== undefined) return this.#assembledNow(blob);
    for (const part of blob.parts) {
      if ((await this.#held.statBlob(part.digest)) === undefined) return part;
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
    faultPoint('import:after-assembly');
    return this.#assembledNow(blob);
  }

  #assembledNow(blob: SplitBlob): undefined {
    this.#assembled.set(blob.digest, blob);
    return undefined;
  }

  /** Checks the running hash of a blob its last part completed; returns the first part lacking instead, if any. */
  #check(where: string, blob: SplitBlob): BundlePart | undefined {
    const state = this.#running.get(blob.digest);
    this.#running.delete(blob.digest);
    if (state?.lacking !== undefined) return state.lacking;
    if (state === undefined || state.next !== blob.size) {
      throw new AssembledBlobMismatchError(where, blob.digest, `parts cover ${state?.next ?? 0} of ${blob.size} bytes`);
    }
    const actual = `sha256:${state.hash.digest('hex')}`;
    if (actual !== blob.digest) throw new AssembledBlobMismatchError(where, blob.digest, `sha256 mismatch (got ${actual})`);
    this.#made.add(blob.digest);
    return undefined;
  }

  /**
   * The running hash of `blob` brought up to `offset`, from parts held by earlier imports; it
   * stops at a part not held (`lacking`). A part at offset 0 starts the blob over: a resend split anew.
   */
  async #catchUp(manifest: BundleManifest, blob: Digest, offset: number): Promise<Running> {
    let state = this.#running.get(blob);
    if (state === undefined || offset === 0 || offset < state.next) {
      state = { hash: createHash('sha256'), next: 0 };
      this.#running.set(blob, state);
    }
    for (const part of (manifest.blobs.parts ?? []).filter((p) => p.blob === blob && p.offset >= state.next && p.offset < offset)) {
      if (state.lacking !== undefined) break;
      if ((await this.#held.statBlob(part.digest)) === undefined) {
        state.lacking = part;
        break;
      }
      for await (const chunk of await (await this.#held.getBlob(part.digest)).open()) state.hash.update(chunk as Buffer);
      state.next += part.length;
    }
    return state;
  }
}

interface Running {
  hash: Hash;
  next: number;
  lacking?: BundlePart;
}

/**
 * After every bundle of a batch applied: a split blob the target keeps (an image layer put
 * together from its parts; `kept`) leaves the held store. Its registry has it now, and later
 * imports mount it from where Ferry put it, as they do every layer that was never held;
 * receipts list it as held on the target. A kill before this only leaves it held.
 */
export async function dropLayersOnTarget(held: ObjectStore, batch: { manifest: BundleManifest; kept: Set<Digest> }[]): Promise<void> {
  for (const { manifest, kept } of batch) {
    for (const blob of assembledBlobs(manifest.blobs.parts)) {
      if (kept.has(blob.digest) && (await held.statBlob(blob.digest)) !== undefined) await held.deleteBlob(blob.digest);
    }
  }
}

/** The refusal for blobs still lacking a part, naming each and the bundle that carries it; the first is the headline. */
export function missingPart(unfinished: readonly UnfinishedBlob[], resendRequests: { bundle: string; request: ResendRequestDocument }[] = []): MissingPartError {
  const lacking = unfinished.map((u) => ({ where: u.where, part: u.part, carrier: bundleFileName(u.manifest.sourceId, u.part.shippedIn) }));
  return new MissingPartError(lacking, resendRequests);
}
