/**
 * The full reconcile for deletions (`deletions: carry`): webhooks are lossy (Nexus never
 * retries a delivery, and a PURGED event names bare ids), and the normal scan only looks
 * forward from its watermark, so a deletion can go unseen. This lists the whole repository
 * and records a tombstone for every path the ledger has that the source no longer lists.
 * The ledger's paths are read before the listing starts: a path staged meanwhile is never
 * taken for gone. Only the entries of paths gone are read (`ExportState.ledgerPaths`), so the
 * ledger costs one listing of paths, not two reads per staged path. Idempotent: a tombstone
 * for the same path and content is recorded once.
 *
 * A group is carried as its members (groups.ts), so its ledger is theirs; a path is gone when
 * no member lists it any more, since the group serves a path while any member has it.
 */
import { formatOf, type ScanRepository } from '../formats/index.ts';
import type { ArtifactSource, ExportState, StagedEntry } from '../ports/index.ts';
import { leafMembers } from './groups.ts';
import { faultPoint } from '../../fault-points.ts';
import { stillServed, tombstoneFor } from './tombstones.ts';
import type { WebhookSource } from './webhook-tasks.ts';

export interface ReconcileResult {
  repository: string;
  /** Tombstones recorded now. */
  staged: number;
  /** Why nothing was compared, when nothing was. */
  skipped?: string | undefined;
}

/** What a reconcile asks of the source: the listing, and whether a path not listed is served after all. */
export type ReconcileSource = Pick<ArtifactSource, 'componentPages' | 'repositories'> & Pick<WebhookSource, 'hasPath'>;

/**
 * `source` with its repository listing fetched once for a whole reconcile run: every carried
 * repository asks it (is it a group, and of what), and one REST call answers them all. A
 * failed listing is asked again by the next repository.
 */
export function listingOnce(source: ReconcileSource): ReconcileSource {
  let listing: ReturnType<ReconcileSource['repositories']> | undefined;
  return {
    componentPages: (repository, token) => source.componentPages(repository, token),
    hasPath: (repository, path, options) => source.hasPath(repository, path, options),
    repositories: () =>
      (listing ??= source.repositories().catch((error: unknown) => {
        listing = undefined;
        throw error;
      })),
  };
}

export async function reconcileDeletions(deps: { source: ReconcileSource; state: ExportState }, repository: ScanRepository): Promise<ReconcileResult> {
  const result = (staged: number, skipped?: string): ReconcileResult => ({ repository: repository.name, staged, ...(skipped ? { skipped } : {}) });
  if (repository.carryDeletions !== true) return result(0, 'deletions are not carried');
  if (formatOf(repository.format).discoversItself?.(repository) === true) return result(0, 'not listed by Nexus (a plain registry)');
  if (deps.state.latestEntries === undefined) return result(0, 'this state store keeps no ledger lookup by path');
  const listing = new Map((await deps.source.repositories()).map((r) => [r.name, r]));
  const names = listing.get(repository.name)?.type === 'group' ? leafMembers(listing, repository.name) : [repository.name];
  const ledger = await ledgerOf(deps.state as LedgerState, names);
  const listed = new Set<string>();
  for (const name of names) {
    for await (const page of deps.source.componentPages(name, null)) {
      for (const component of page.items) for (const asset of component.assets) listed.add(asset.path);
    }
  }
  let staged = 0;
  for (const { name, path, entries } of ledger) {
    // Not listed: asked once more, so a path uploaded again since its page was listed (or
    // after the listing) never gets a tombstone for its new content.
    if (listed.has(path) || (await stillServed(deps.source, repository, repository.name, path))) continue;
    for (const entry of entries ?? (await deps.state.latestEntries!(name, path, { prefix: false }))) {
      if (await deps.state.addPendingEntry(tombstoneFor(entry))) staged += 1;
      faultPoint('reconcile:after-tombstone');
    }
  }
  return result(staged);
}

type LedgerState = ExportState & Required<Pick<ExportState, 'latestEntries'>>;

/**
 * What the ledger holds for each member, read before the listing starts: its paths only when
 * the state lists them (the entries of the few gone are read after), else every latest entry.
 */
async function ledgerOf(state: LedgerState, names: string[]): Promise<{ name: string; path: string; entries?: StagedEntry[] }[]> {
  const ledger: { name: string; path: string; entries?: StagedEntry[] }[] = [];
  for (const name of names) {
    if (state.ledgerPaths !== undefined) {
      for (const path of await state.ledgerPaths(name)) ledger.push({ name, path });
      continue;
    }
    for (const entry of await state.latestEntries(name, '/', { prefix: true })) ledger.push({ name, path: entry.path, entries: [entry] });
  }
  return ledger;
}
