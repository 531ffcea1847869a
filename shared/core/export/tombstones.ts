/**
 * Deletions on the source, carried (`deletions: carry`): a DELETED or PURGED event becomes a
 * pending tombstone entry for each path Ferry staged there, naming the content it last
 * staged, and the next bundle carries it like any entry. What the event names is matched
 * against the export ledger only: a path Ferry never staged has nothing to delete on the far
 * side. Duplicate events collapse: a tombstone's ledger key is derived from the path and the
 * content it removes. Webhooks are unordered: a DELETED event can arrive after the path was
 * uploaded again, so each path is first asked of the source, and one it still serves gets no
 * tombstone (the reconcile, which lists the source, settles anything this leaves). A PURGED
 * event names bare ids, which nothing here maps to paths: it asks for the repository's full
 * reconcile, which the next scheduled scan (or `ferry serve`, at once) runs.
 */
import { sha256Of } from '../../digest.ts';
import type { ScanRepository } from '../formats/index.ts';
import type { TombstoneDetail } from '../formats/tombstone/index.ts';
import type { ExportState, StagedEntry } from '../ports/index.ts';
import type { WebhookDeletion, WebhookSource } from './webhook-tasks.ts';

export interface CarriedDeletion {
  /** Tombstones recorded now (a duplicate event records none). */
  staged: number;
  /** Staged paths the source still serves (uploaded again before this late event came): no tombstone. */
  stillAtSource?: number | undefined;
  /** What the event named that this side cannot resolve to paths (a PURGED event's bare ids). */
  unresolved?: string | undefined;
  /** The repository (a group, for a member's event) whose full reconcile was asked for, to find what `unresolved` named. */
  reconcileRequested?: string | undefined;
}

/** Where a deletion's content sits in the ledger: one path, or a prefix (a component's directory). */
export interface DeletedPaths {
  path: string;
  prefix: boolean;
}

/**
 * The ledger paths a deletion names, in one or more places: NuGet keeps a package at a path
 * Nexus does not document (see formats/nuget/identify.ts), so both known forms are named.
 */
export function pathsOf(repository: ScanRepository, deletion: WebhookDeletion): DeletedPaths[] | undefined {
  if (deletion.kind === 'asset') {
    if (deletion.name === undefined) return undefined;
    return [{ path: deletion.name.startsWith('/') ? deletion.name : `/${deletion.name}`, prefix: false }];
  }
  const c = deletion.component;
  if (c === undefined) return undefined;
  const one = (path: string, prefix: boolean) => [{ path, prefix }];
  switch (repository.format) {
    case 'raw':
      return one(c.name.startsWith('/') ? c.name : `/${c.name}`, false);
    case 'docker':
      return c.version ? one(`/v2/${c.name}/manifests/${c.version}`, false) : undefined;
    case 'maven2':
      return c.group && c.version ? one(`/${c.group.replaceAll('.', '/')}/${c.name}/${c.version}/`, true) : undefined;
    case 'npm':
      return c.version ? one(`/${c.group ? `@${c.group}/` : ''}${c.name}/-/${c.name}-${c.version}.tgz`, false) : undefined;
    case 'helm':
      return c.version ? one(`/${c.name}-${c.version}.tgz`, true) : undefined;
    case 'pypi':
      return c.version ? one(`/packages/${c.name}/${c.version}/`, true) : undefined;
    case 'nuget':
      // The v2 download path `<id>/<version>`, or a file under `<id>/<version>/`: never `<id>/<version>.1`.
      return c.version ? [{ path: `/${c.name}/${c.version}`, prefix: false }, { path: `/${c.name}/${c.version}/`, prefix: true }] : undefined;
    default:
      return undefined;
  }
}

/** Docker manifests are asked for in every form Ferry copies, so Nexus answers for the tag as stored. */
const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/**
 * Records a tombstone for each path the deletion names that Ferry staged (its latest
 * content) and the source no longer serves. An error asking the source rejects: the
 * delivery fails rather than carry a deletion it could not confirm. `group`: the configured
 * group `repository` is a member of, which still serves a path while any member has it.
 */
export async function carryDeletion(
  deps: { state: ExportState; source: Pick<WebhookSource, 'hasPath'> },
  repository: ScanRepository,
  deletion: WebhookDeletion,
  group?: string,
): Promise<CarriedDeletion> {
  const { state, source } = deps;
  const wheres = pathsOf(repository, deletion);
  if (wheres === undefined) {
    // Only a listing of the whole repository tells what went: the next scheduled scan runs its reconcile.
    const configured = group ?? repository.name;
    await state.requestReconcile?.(configured, new Date().toISOString());
    return { staged: 0, unresolved: `${deletion.action} ${deletion.kind} ${deletion.ids.join(', ')}: no path or coordinates to match`, reconcileRequested: configured };
  }
  if (state.latestEntries === undefined) return { staged: 0, unresolved: 'this state store keeps no ledger lookup by path' };
  let staged = 0;
  let stillAtSource = 0;
  const entries = [];
  for (const where of wheres) entries.push(...(await state.latestEntries(repository.name, where.path, { prefix: where.prefix })));
  for (const entry of entries) {
    if (await stillServed(source, repository, group ?? entry.sourceRepository, entry.path)) stillAtSource += 1;
    else if (await state.addPendingEntry(tombstoneFor(entry))) staged += 1;
  }
  return { staged, ...(stillAtSource > 0 ? { stillAtSource } : {}) };
}

/** Whether `servedBy` (the repository, or the group carrying it) serves the path now: a deletion reported or inferred late is checked against it. */
export function stillServed(source: Pick<WebhookSource, 'hasPath'>, repository: ScanRepository, servedBy: string, path: string): Promise<boolean> {
  return source.hasPath(servedBy, path, repository.format === 'docker' ? { accept: MANIFEST_TYPES } : {});
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
