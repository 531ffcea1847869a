/**
 * Copy: one task, one artifact. Streams the asset from the source through its published
 * checksum into the content-addressed store and records a pending entry. Running a task
 * twice changes nothing: the entry ledger and the store both dedupe by content.
 */
import { copyImageTask, type ImageCopyDeps } from '../formats/docker/copy.ts';
import type { Readable } from 'node:stream';
import { assetPathProblems } from '../../bundle/index.ts';
import { UncarriablePathError } from './errors.ts';
import type { ArtifactSource, BlobCopyTask, CopyTask, ExportState, ObjectStore, RawCopyTask } from '../ports/index.ts';
import type { Log } from '../log.ts';

export interface CopyDeps {
  source: ArtifactSource;
  store: ObjectStore;
  state: ExportState;
  log: Log;
  /** Registries for docker repositories; absent when none is configured. */
  images?: Pick<ImageCopyDeps, 'registryFor' | 'settingsFor'> | undefined;
}

export type CopyOutcome =
  /** New bytes were stored and a pending entry recorded. */
  | { status: 'staged'; bytes: number }
  /** The bytes were already in the store (another repository or path had them); entry recorded. */
  | { status: 'deduplicated'; bytes: number }
  /** This exact content of this asset is already pending or sealed: nothing to do. */
  | { status: 'known' };

export async function copyTask(deps: CopyDeps, task: CopyTask): Promise<CopyOutcome> {
  if (task.kind === 'raw') return copyRawTask(deps, task);
  if (task.kind === 'blob') return copyBlobTask(deps, task);
  if (deps.images === undefined) throw new Error(`${task.sourceRepository}: image task ${task.id} but no docker repository is configured`);
  return copyImageTask({ ...deps.images, store: deps.store, state: deps.state, log: deps.log }, task);
}

/** A human name for a task in logs and errors. */
export function taskLabel(task: CopyTask): string {
  if (task.kind === 'raw') return `${task.sourceRepository}${task.path}`;
  if (task.kind === 'blob') return `${task.sourceRepository}${task.path ?? `/${task.name}`}@${task.digest} (resend)`;
  return `${task.sourceRepository}/${task.name}:${task.tag}`;
}

/** The tasks that fetch blobs the far side asked for again and this side does not stage. */
export async function resendFetchTasks(state: ExportState, store: ObjectStore): Promise<BlobCopyTask[]> {
  const tasks: BlobCopyTask[] = [];
  for (const request of await state.listResends()) {
    if (request.from === undefined || (await store.statBlob(request.digest)) !== undefined) continue;
    const where = 'path' in request.from ? { path: request.from.path } : { name: request.from.name };
    tasks.push({ kind: 'blob', id: `resend-${request.digest.slice(7, 47)}`, sourceRepository: request.from.repository, digest: request.digest, size: request.size, ...where });
  }
  return tasks;
}

/** Fetches one blob again for a resend request, verified against its digest. */
async function copyBlobTask(deps: CopyDeps, task: BlobCopyTask): Promise<CopyOutcome> {
  if ((await deps.store.statBlob(task.digest)) !== undefined) return { status: 'known' };
  const put = (body: Readable) => deps.store.putBlob(body, { expectedDigest: task.digest, expectedSize: task.size });
  let stored: { size: number };
  if (task.path !== undefined) {
    stored = await deps.source.downloadAsset(task.sourceRepository, task.path, { checksums: { sha256: task.digest.slice(7) }, size: task.size }, put);
  } else if (task.name !== undefined && deps.images !== undefined) {
    stored = await deps.images.registryFor(task.sourceRepository).getBlob(task.name, task.digest, put, task.size);
  } else {
    throw new Error(`${taskLabel(task)}: no source to fetch it from`);
  }
  deps.log.info(`fetched ${task.digest} again for a resend request`, { repository: task.sourceRepository, size: stored.size });
  return { status: 'staged', bytes: stored.size };
}

async function copyRawTask(deps: CopyDeps, task: RawCopyTask): Promise<CopyOutcome> {
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
