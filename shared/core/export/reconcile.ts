/**
 * The full reconcile for deletions (`deletions: carry`): webhooks are lossy (Nexus never
 * retries a delivery, and a PURGED event names bare ids), and the normal scan only looks
 * forward from its watermark, so a deletion can go unseen. This lists the whole repository
 * and records a tombstone for every path the ledger has that the source no longer lists.
 * The ledger is read before the listing starts: a path staged meanwhile is never taken for
 * gone. Idempotent: a tombstone for the same path and content is recorded once.
 */
import { formatOf, type ScanRepository } from '../formats/index.ts';
import type { ArtifactSource, ExportState } from '../ports/index.ts';
import { tombstoneFor } from './tombstones.ts';

export interface ReconcileResult {
  repository: string;
  /** Tombstones recorded now. */
  staged: number;
  /** Why nothing was compared, when nothing was. */
  skipped?: string | undefined;
}

export async function reconcileDeletions(deps: { source: Pick<ArtifactSource, 'componentPages'>; state: ExportState }, repository: ScanRepository): Promise<ReconcileResult> {
  const result = (staged: number, skipped?: string): ReconcileResult => ({ repository: repository.name, staged, ...(skipped ? { skipped } : {}) });
  if (repository.carryDeletions !== true) return result(0, 'deletions are not carried');
  if (formatOf(repository.format).discoversItself?.(repository) === true) return result(0, 'not listed by Nexus (a plain registry)');
  if (deps.state.latestEntries === undefined) return result(0, 'this state store keeps no ledger lookup by path');
  const ledger = await deps.state.latestEntries(repository.name, '/', { prefix: true });
  const listed = new Set<string>();
  for await (const page of deps.source.componentPages(repository.name, null)) {
    for (const component of page.items) for (const asset of component.assets) listed.add(asset.path);
  }
  let staged = 0;
  for (const entry of ledger) {
    if (!listed.has(entry.path) && (await deps.state.addPendingEntry(tombstoneFor(entry)))) staged += 1;
  }
  return result(staged);
}
