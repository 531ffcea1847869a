/**
 * Package repositories on the export side: one task per content asset, staged like a raw
 * asset — streamed through the checksum Nexus publishes (often only sha1 for these formats)
 * into the content-addressed store, which computes the sha256 Ferry addresses it by in the
 * same pass — and entered with its component and the format's own fields.
 */
import { createHash } from 'node:crypto';
import { assetPathProblems, type PackageBundleEntry } from '../../../bundle/index.ts';
import { HashingStream } from '../../../digest.ts';
import { UncarriablePathError } from '../../export/errors.ts';
import type { Checksums, PackageCopyTask, PendingEntry, SourceAsset, SourceComponent, StagedEntry } from '../../ports/index.ts';
import type { CopyOutcome, ExportDeps } from '../format.ts';
import type { PackageRepository } from '../repositories.ts';
import type { PackageDetail, PackageSpec } from './spec.ts';

/** Same asset content → same id, so a re-scan or a webhook for the same change collapses. */
function packageTaskId(format: string, repository: string, path: string, checksums: Checksums, lastModified: string | null | undefined): string {
  const content = checksums.sha256 ?? checksums.sha1 ?? checksums.md5 ?? `lastModified:${lastModified ?? ''}`;
  return createHash('sha256').update(`${format}\n${repository}\n${path}\n${content}`).digest('hex').slice(0, 40);
}

export function packageTaskFor(spec: PackageSpec, repository: PackageRepository, asset: SourceAsset, component: SourceComponent | undefined): PackageCopyTask | undefined {
  const identified = spec.identify(asset, component);
  if (identified === undefined) return undefined;
  return {
    kind: spec.format,
    id: packageTaskId(spec.format, repository.name, asset.path, asset.checksums, asset.lastModified),
    sourceRepository: repository.name,
    path: asset.path,
    targetRepository: repository.target,
    checksums: asset.checksums,
    size: asset.size ?? undefined,
    lastModified: asset.lastModified ?? undefined,
    component: identified.component,
    attributes: identified.attributes,
  };
}

export async function copyPackageTask(spec: PackageSpec, deps: ExportDeps, task: PackageCopyTask): Promise<CopyOutcome> {
  const { source, store, state, log } = deps;
  const problems = assetPathProblems(task.path);
  if (problems.length > 0) throw new UncarriablePathError(task.sourceRepository, task.path, problems);
  if (await state.hasEntry(task.sourceRepository, task.path, task.checksums)) return { status: 'known' };
  let sha512: string | undefined;
  const expected = task.checksums.sha256 ? { expectedDigest: `sha256:${task.checksums.sha256}` as const } : {};
  const stored = await source.downloadAsset(task.sourceRepository, task.path, { checksums: task.checksums, size: task.size }, async (body) => {
    if (spec.sha512 !== true) return store.putBlob(body, expected);
    const hashing = new HashingStream({ what: `${task.sourceRepository}${task.path}`, algorithms: ['sha512'] });
    body.on('error', (error) => hashing.destroy(error));
    const put = await store.putBlob(body.pipe(hashing), expected);
    sha512 = hashing.digests.sha512;
    return put;
  });
  const checksums: Checksums = { ...task.checksums, sha256: stored.digest.slice(7), ...(sha512 !== undefined ? { sha512 } : {}) };
  const fields = await spec.entryFields(deps, task, { digest: stored.digest, size: stored.size, checksums });
  const detail: PackageDetail = { component: task.component, fields };
  const added = await state.addPendingEntry({
    kind: spec.format,
    sourceRepository: task.sourceRepository,
    path: task.path,
    targetRepository: task.targetRepository,
    digest: stored.digest,
    size: stored.size,
    checksums,
    detail,
  });
  if (!added) return { status: 'known' };
  log.debug(`staged ${task.sourceRepository}${task.path}`, { taskId: task.id, digest: stored.digest, size: stored.size, existed: stored.existed });
  return stored.existed ? { status: 'deduplicated', bytes: stored.size } : { status: 'staged', bytes: stored.size };
}

export function packageBundleEntry(spec: PackageSpec, e: StagedEntry): PackageBundleEntry {
  const detail = e.detail as PackageDetail;
  const { sha1, md5, sha512 } = e.checksums;
  const checksums = Object.fromEntries(Object.entries({ sha1, md5, sha512 }).filter((kv): kv is [string, string] => kv[1] !== undefined));
  return {
    kind: spec.format,
    source: { repository: e.sourceRepository, path: e.path },
    target: { repository: e.targetRepository, path: spec.targetPath?.(e.path, detail.component) ?? e.path },
    digest: e.digest,
    size: e.size,
    checksums,
    component: detail.component,
    ...detail.fields,
  } as PackageBundleEntry;
}

export function packageBlobsOf(spec: PackageSpec, e: StagedEntry | PendingEntry): { digest: `sha256:${string}`; size: number }[] {
  const detail = e.detail as PackageDetail;
  return [{ digest: e.digest, size: e.size }, ...(spec.extraBlobs?.(detail.fields) ?? [])];
}
