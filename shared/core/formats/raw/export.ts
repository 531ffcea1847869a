/**
 * Raw repositories on the export side: one task per asset, staged by streaming the asset
 * through the checksum Nexus publishes into the content-addressed store.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { assetPathProblems, type RawBundleEntry } from '../../../bundle/index.ts';
import { UncarriablePathError } from '../../export/errors.ts';
import type { BlobCopyTask, Checksums, PendingEntry, RawCopyTask, SourceAsset } from '../../ports/index.ts';
import type { CopyOutcome, ExportDeps } from '../format.ts';
import type { RawRepository } from '../repositories.ts';

/** Same asset content → same id, so a re-scan or a webhook for the same change collapses. */
export function rawTaskId(repository: string, path: string, checksums: Checksums, lastModified: string | null | undefined): string {
  const content = checksums.sha256 ?? checksums.sha1 ?? checksums.md5 ?? `lastModified:${lastModified ?? ''}`;
  return createHash('sha256').update(`raw\n${repository}\n${path}\n${content}`).digest('hex').slice(0, 40);
}

export function rawTaskFor(repository: RawRepository, asset: SourceAsset): RawCopyTask {
  return {
    kind: 'raw',
    id: rawTaskId(repository.name, asset.path, asset.checksums, asset.lastModified),
    sourceRepository: repository.name,
    path: asset.path,
    targetRepository: repository.target,
    checksums: asset.checksums,
    size: asset.size ?? undefined,
    lastModified: asset.lastModified ?? undefined,
  };
}

export async function copyRawTask(deps: ExportDeps, task: RawCopyTask): Promise<CopyOutcome> {
  const { source, store, state, log } = deps;
  const problems = assetPathProblems(task.path);
  // Staged, it would make every later seal fail on the manifest rules: refuse it here, by name.
  if (problems.length > 0) throw new UncarriablePathError(task.sourceRepository, task.path, problems);
  if (await state.hasEntry(task.sourceRepository, task.path, task.checksums)) return { status: 'known' };
  const stored = await source.downloadAsset(
    task.sourceRepository,
    task.path,
    { checksums: task.checksums, size: task.size },
    (body) => store.putBlob(body, task.checksums.sha256 ? { expectedDigest: `sha256:${task.checksums.sha256}` } : {}),
  );
  const added = await state.addPendingEntry({
    kind: 'raw',
    sourceRepository: task.sourceRepository,
    path: task.path,
    targetRepository: task.targetRepository,
    digest: stored.digest,
    size: stored.size,
    checksums: { ...task.checksums, sha256: stored.digest.slice(7) },
  });
  if (!added) return { status: 'known' };
  log.debug(`staged ${task.sourceRepository}${task.path}`, { taskId: task.id, digest: stored.digest, size: stored.size, existed: stored.existed });
  return stored.existed ? { status: 'deduplicated', bytes: stored.size } : { status: 'staged', bytes: stored.size };
}

/** The asset at the path the entry came from, if it still holds these bytes. */
export function fetchRawBlob(deps: ExportDeps, task: BlobCopyTask, consume: (body: Readable) => Promise<{ size: number }>): Promise<{ size: number }> {
  if (task.path === undefined) throw new Error(`${task.sourceRepository}: a raw resend needs the asset's path`);
  return deps.source.downloadAsset(task.sourceRepository, task.path, { checksums: { sha256: task.digest.slice(7) }, size: task.size }, consume);
}

export function rawBundleEntry(e: PendingEntry): RawBundleEntry {
  return {
    kind: 'raw',
    source: { repository: e.sourceRepository, path: e.path },
    target: { repository: e.targetRepository, path: e.path },
    digest: e.digest,
    size: e.size,
    checksums: Object.fromEntries(Object.entries({ sha1: e.checksums.sha1, md5: e.checksums.md5 }).filter((kv): kv is [string, string] => kv[1] !== undefined)),
  };
}
