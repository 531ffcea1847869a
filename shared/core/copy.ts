/**
 * Copy: one task, one artifact. Streams the asset from the source through its published
 * checksum into the content-addressed store and records a pending entry. Running a task
 * twice changes nothing: the entry ledger and the store both dedupe by content.
 */
import { copyImageTask, type ImageCopyDeps } from './image-copy.ts';
import type { ArtifactSource, CopyTask, ExportState, ObjectStore, RawCopyTask } from './ports.ts';
import type { Log } from './log.ts';

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
  if (deps.images === undefined) throw new Error(`${task.sourceRepository}: image task ${task.id} but no docker repository is configured`);
  return copyImageTask({ ...deps.images, store: deps.store, state: deps.state, log: deps.log }, task);
}

/** A human name for a task in logs and errors. */
export function taskLabel(task: CopyTask): string {
  return task.kind === 'raw' ? `${task.sourceRepository}${task.path}` : `${task.sourceRepository}/${task.name}:${task.tag}`;
}

async function copyRawTask(deps: CopyDeps, task: RawCopyTask): Promise<CopyOutcome> {
  const { source, store, state, log } = deps;
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
