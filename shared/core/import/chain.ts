/**
 * Where a bundle stands in its source's chain, decided from its signed manifest before
 * a blob is read. A batch of bundles is judged as it would be imported: each against the
 * head the bundles before it in the batch leave, not only against the recorded head.
 */
import { bundleFileName, type BundleManifest } from '../../bundle/index.ts';
import type { Digest } from '../../digest.ts';
import { ImportError, SequenceError } from './errors.ts';
import type { ImportState } from '../ports/index.ts';

export interface BundleIdentity {
  name: string;
  sourceId: string;
  sequence: number;
  digest: Digest;
}

/** Thrown from the manifest hook to stop reading a bundle that was imported before. */
export class AlreadyImported extends ImportError {
  override readonly name = 'AlreadyImported';
  readonly importedAt: string;
  readonly identity: BundleIdentity;
  constructor(identity: BundleIdentity, importedAt: string) {
    super(`${identity.name}: already imported at ${importedAt}`);
    this.identity = identity;
    this.importedAt = importedAt;
  }
}

type Head = { sequence: number; digest: Digest } | undefined;

/** The chain heads as the bundles verified so far in this batch leave them. */
export class ChainView {
  readonly state: ImportState;
  readonly #heads = new Map<string, Head>();
  readonly #seen = new Set<Digest>();
  constructor(state: ImportState) {
    this.state = state;
  }
  async head(sourceId: string): Promise<Head> {
    if (!this.#heads.has(sourceId)) this.#heads.set(sourceId, await this.state.lastImported(sourceId));
    return this.#heads.get(sourceId);
  }
  advance(sourceId: string, sequence: number, digest: Digest): void {
    this.#heads.set(sourceId, { sequence, digest });
  }
  /** True the first time a bundle digest is seen in this batch. */
  firstSight(digest: Digest): boolean {
    if (this.#seen.has(digest)) return false;
    this.#seen.add(digest);
    return true;
  }
}

/** Decides where a bundle stands; refuses what may not be imported now. */
export async function checkChain(
  chain: ChainView,
  where: string,
  manifest: BundleManifest,
  digest: Digest,
  allowGap: boolean,
): Promise<{ identity: BundleIdentity; gap: boolean }> {
  const identity: BundleIdentity = { name: where, sourceId: manifest.sourceId, sequence: manifest.sequence, digest };
  const done = await chain.state.importedBundle(digest);
  if (done !== undefined) throw new AlreadyImported(identity, done.importedAt);
  if (!chain.firstSight(digest)) throw new AlreadyImported(identity, 'this run (the same bundle was given twice)');
  const last = await chain.head(manifest.sourceId);
  const expected = (last?.sequence ?? 0) + 1;
  if (manifest.sequence === expected) {
    const links = manifest.previous === (last?.digest ?? null);
    if (!links && !allowGap) {
      throw new SequenceError(
        `${where}: sequence ${manifest.sequence} of ${manifest.sourceId} chains to ${manifest.previous}, ` +
          `but the bundle imported as sequence ${last?.sequence} is ${last?.digest}: refusing a bundle from another chain`,
      );
    }
    // With --allow-gap a bundle that does not link onto the head is recorded, not chained.
    if (links) chain.advance(manifest.sourceId, manifest.sequence, digest);
    return { identity, gap: !links };
  }
  if (allowGap) return { identity, gap: true };
  if (manifest.sequence > expected) {
    throw new SequenceError(
      `${where}: sequence ${manifest.sequence} of ${manifest.sourceId} needs sequence ${expected} first ` +
        `(missing sequence ${expected}: import ${bundleFileName(manifest.sourceId, expected)}, ` +
        `or use --allow-gap if every blob it requires is already on the target)`,
      expected,
    );
  }
  throw new SequenceError(
    `${where}: sequence ${manifest.sequence} of ${manifest.sourceId} was already imported from a different bundle ` +
      `(this one is ${digest}); refusing a bundle from another chain`,
  );
}
