/**
 * Deletions on the source, carried (`deletions: carry`): a DELETED or PURGED event becomes a
 * pending tombstone entry for each path Ferry staged there, naming the content it last
 * staged, and the next bundle carries it like any entry. What the event names is matched
 * against the export ledger only: a path Ferry never staged has nothing to delete on the far
 * side. Duplicate events collapse: a tombstone's ledger key is derived from the path and the
 * content it removes.
 */
import { sha256Of } from '../../digest.ts';
import type { ScanRepository } from '../formats/index.ts';
import type { TombstoneDetail } from '../formats/tombstone/index.ts';
import type { ExportState, StagedEntry } from '../ports/index.ts';
import type { WebhookDeletion } from './webhook-tasks.ts';

export interface CarriedDeletion {
  /** Tombstones recorded now (a duplicate event records none). */
  staged: number;
  /** What the event named that this side cannot resolve to paths (a PURGED event's bare ids). */
  unresolved?: string | undefined;
}

/** The ledger paths a deletion names: one path, or a prefix (a component's directory). */
export function pathsOf(repository: ScanRepository, deletion: WebhookDeletion): { path: string; prefix: boolean } | undefined {
  if (deletion.kind === 'asset') {
    if (deletion.name === undefined) return undefined;
    return { path: deletion.name.startsWith('/') ? deletion.name : `/${deletion.name}`, prefix: false };
  }
  const c = deletion.component;
  if (c === undefined) return undefined;
  switch (repository.format) {
    case 'raw':
      return { path: c.name.startsWith('/') ? c.name : `/${c.name}`, prefix: false };
    case 'docker':
      return c.version ? { path: `/v2/${c.name}/manifests/${c.version}`, prefix: false } : undefined;
    case 'maven2':
      return c.group && c.version ? { path: `/${c.group.replaceAll('.', '/')}/${c.name}/${c.version}/`, prefix: true } : undefined;
    case 'npm':
      return c.version ? { path: `/${c.group ? `@${c.group}/` : ''}${c.name}/-/${c.name}-${c.version}.tgz`, prefix: false } : undefined;
    case 'helm':
      return c.version ? { path: `/${c.name}-${c.version}.tgz`, prefix: true } : undefined;
    case 'pypi':
      return c.version ? { path: `/packages/${c.name}/${c.version}/`, prefix: true } : undefined;
    default:
      return undefined;
  }
}

/** Records a tombstone for each path the deletion names that Ferry staged (its latest content). */
export async function carryDeletion(state: ExportState, repository: ScanRepository, deletion: WebhookDeletion): Promise<CarriedDeletion> {
  const where = pathsOf(repository, deletion);
  if (where === undefined) return { staged: 0, unresolved: `${deletion.action} ${deletion.kind} ${deletion.ids.join(', ')}: no path or coordinates to match` };
  if (state.latestEntries === undefined) return { staged: 0, unresolved: 'this state store keeps no ledger lookup by path' };
  let staged = 0;
  for (const entry of await state.latestEntries(repository.name, where.path, { prefix: where.prefix })) {
    if (await state.addPendingEntry(tombstoneFor(entry))) staged += 1;
  }
  return { staged };
}

/** The pending tombstone for the content a ledger entry staged at its path. */
export function tombstoneFor(entry: StagedEntry): StagedEntry {
  const image = entry.kind === 'image' ? (entry.detail as { name: string; targetName: string; tag: string }) : undefined;
  const detail: TombstoneDetail = {
    of: entry.kind,
    digest: entry.digest,
    size: entry.size,
    checksums: entry.checksums,
    ...(image !== undefined ? { image: { name: image.name, targetName: image.targetName, tag: image.tag } } : {}),
  };
  return {
    kind: 'tombstone',
    sourceRepository: entry.sourceRepository,
    path: entry.path,
    targetRepository: entry.targetRepository,
    // Not a blob: the ledger's key for this tombstone (same path and content, same key).
    digest: sha256Of(`ferry-tombstone\n${entry.sourceRepository}\n${entry.path}\n${entry.digest}`),
    size: 0,
    checksums: {},
    detail,
  };
}
