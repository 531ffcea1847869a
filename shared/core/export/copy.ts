/**
 * Copy: one task, one artifact (or image tag), staged by its format's module: streamed from
 * the source through the checksum or digest it publishes into the content-addressed store,
 * with a pending entry recorded. Running a task twice changes nothing: the entry ledger and
 * the store both dedupe by content. Also: blobs the far side asked for again (a resend
 * request) that this side no longer stages are fetched from where their entry came from.
 */
import { formatOf, formatOfTask, type CopyOutcome, type ExportDeps } from '../formats/index.ts';
import type { Readable } from 'node:stream';
import { fetchRawBlob } from '../formats/raw/export.ts';
import type { BlobCopyTask, CopyTask, ExportState, ObjectStore } from '../ports/index.ts';

export type { CopyOutcome } from '../formats/index.ts';

export async function copyTask(deps: ExportDeps, task: CopyTask): Promise<CopyOutcome> {
  if (task.kind === 'blob') return copyBlobTask(deps, task);
  return formatOfTask(task).copy(deps, task);
}

/** A human name for a task in logs and errors, from the coordinates it carries. */
export function taskLabel(task: CopyTask): string {
  const fields = task as Partial<Record<'path' | 'name' | 'tag' | 'digest', string>>;
  const where = fields.path ?? (fields.name !== undefined ? `/${fields.name}${fields.tag !== undefined ? `:${fields.tag}` : ''}` : '');
  return `${task.sourceRepository}${where}${task.kind === 'blob' ? `@${fields.digest} (resend)` : ''}`;
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

/** Fetches one blob again for a resend request, verified against its digest, through the format of its repository. */
async function copyBlobTask(deps: ExportDeps, task: BlobCopyTask): Promise<CopyOutcome> {
  if ((await deps.store.statBlob(task.digest)) !== undefined) return { status: 'known' };
  const put = (body: Readable) => deps.store.putBlob(body, { expectedDigest: task.digest, expectedSize: task.size });
  // A file at a path (raw and package formats) needs no configuration to fetch: its
  // repository may be a group's member, which is not configured by name.
  const repository = deps.repositories.find((r) => r.name === task.sourceRepository);
  if (repository === undefined && task.path === undefined) throw new Error(`${taskLabel(task)}: repository ${task.sourceRepository} is no longer configured here`);
  const stored = repository === undefined ? await fetchRawBlob(deps, task, put) : await formatOf(repository.format).fetchBlob(deps, task, put);
  deps.log.info(`fetched ${task.digest} again for a resend request`, { repository: task.sourceRepository, size: stored.size });
  return { status: 'staged', bytes: stored.size };
}
