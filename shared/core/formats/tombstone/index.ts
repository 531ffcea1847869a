/**
 * Tombstones (`ferry.bundle.v3`): deletions on the source, carried when a repository says
 * `deletions: carry`. Not a Nexus format but an entry kind: scan discovers none (webhooks
 * and the ledger make them, export/tombstones.ts), it needs no blob, and the importer deletes
 * on the target only what Ferry itself imported there and that still has that content.
 */
import type { BundleEntry, TombstoneBundleEntry } from '../../../bundle/index.ts';
import type { Digest } from '../../../digest.ts';
import type { Checksums, PendingEntry } from '../../ports/index.ts';
import type { FormatModule } from '../format.ts';
import { applyTombstones, decisionsOf, planTombstones, targetPathOf } from './import.ts';

/** What a tombstone's ledger entry keeps (its `detail`); the bundle entry is made from it. */
export interface TombstoneDetail {
  /** The entry kind it removes (`raw`, `image`, `maven2`, …). */
  of: string;
  digest: Digest;
  size: number;
  checksums: Checksums;
  /** For images: the image on each side. */
  image?: { name: string; targetName: string; tag: string } | undefined;
}

function bundleEntry(e: PendingEntry): TombstoneBundleEntry {
  const detail = e.detail as TombstoneDetail;
  const { sha1, md5 } = detail.checksums;
  const checksums = Object.fromEntries(Object.entries({ sha1, md5 }).filter((kv): kv is [string, string] => kv[1] !== undefined));
  const of = detail.of as TombstoneBundleEntry['of'];
  if (detail.image !== undefined) {
    const { name, targetName, tag } = detail.image;
    return { kind: 'tombstone', of, source: { repository: e.sourceRepository, name, tag }, target: { repository: e.targetRepository, name: targetName, tag }, digest: detail.digest, size: detail.size, checksums };
  }
  return { kind: 'tombstone', of, source: { repository: e.sourceRepository, path: e.path }, target: { repository: e.targetRepository, path: e.path }, digest: detail.digest, size: detail.size, checksums };
}

const unsupported = (what: string) => () => {
  throw new Error(`tombstones have no ${what}`);
};

export const tombstoneFormat: FormatModule = {
  // Never a configured repository's format: the target repository's format is the removed entry's (targetFormat).
  format: 'tombstone',
  entryKind: 'tombstone',
  taskKinds: [],
  taskForAsset: () => undefined,
  copy: unsupported('copy task'),
  fetchBlob: unsupported('blob'),
  blobsOf: () => [],
  bundleEntry,
  targetFormat: (entry: BundleEntry) => {
    const of = (entry as TombstoneBundleEntry).of;
    return of === 'image' ? 'docker' : of;
  },
  plan: planTombstones,
  apply: applyTombstones,
  decisions: decisionsOf,
  receiptPath: (entry: BundleEntry) => targetPathOf(entry as TombstoneBundleEntry),
  resendSource: (entry: BundleEntry) => entry.source,
  coordinates: (entry: BundleEntry) => `delete ${(entry as TombstoneBundleEntry).of} ${targetPathOf(entry as TombstoneBundleEntry)}`,
};
