/**
 * The importer's side of carried deletions: the record of what Ferry itself imported where
 * (the only things a tombstone may delete), and each tombstone's fate for the receipt and for
 * `ferry verify`.
 */
import type { BundleManifest } from '../../bundle/index.ts';
import type { Digest } from '../../digest.ts';
import { formatOfEntry, type DeletionDecision } from '../formats/index.ts';
import type { ImportState } from '../ports/index.ts';
import type { ReceiptDeletion } from '../receipts/codec.ts';
import type { ImportPlan } from './plan.ts';

/** Every entry of the bundle this import wrote (outcome `imported`), by target place and content. */
export async function recordImportedLocations(state: ImportState, manifest: BundleManifest, bundleDigest: Digest, targetRepository: (name: string) => string): Promise<void> {
  if (state.recordImportedAt === undefined) return;
  for (const [index, entry] of manifest.entries.entries()) {
    if (entry.kind === 'tombstone' || (await state.entryOutcome(bundleDigest, index)) !== 'imported') continue;
    await state.recordImportedAt(targetRepository(entry.target.repository), formatOfEntry(entry).receiptPath(entry), entry.digest);
  }
}

/** What the plan decided for each tombstone of the bundle. */
export function deletionDecisions(plan: ImportPlan): DeletionDecision[] {
  return plan.steps.flatMap(({ format, steps }) => format.decisions?.(steps) ?? []).sort((a, b) => a.index - b.index);
}

/** The receipt's `deletions`: each tombstone deleted or kept, with why it was kept. */
export async function receiptDeletions(
  state: ImportState,
  manifest: BundleManifest,
  bundleDigest: Digest,
  decisions: readonly DeletionDecision[],
  targetRepository: (name: string) => string,
): Promise<ReceiptDeletion[]> {
  const reasons = new Map(decisions.map((d) => [d.index, d.reason]));
  const deletions: ReceiptDeletion[] = [];
  for (const [index, entry] of manifest.entries.entries()) {
    if (entry.kind !== 'tombstone') continue;
    const deleted = (await state.entryOutcome(bundleDigest, index)) === 'imported';
    const reason = deleted ? undefined : (reasons.get(index) ?? 'kept by an earlier run of this import');
    deletions.push({
      index,
      repository: targetRepository(entry.target.repository),
      path: formatOfEntry(entry).receiptPath(entry),
      digest: entry.digest,
      outcome: deleted ? 'deleted' : 'kept',
      ...(reason !== undefined ? { reason } : {}),
    });
  }
  return deletions;
}
