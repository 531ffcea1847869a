/**
 * Scan: find what changed in a source repository since its watermark and queue one copy
 * task per artifact. Nexus has no "changed since" filter, so every page is read and each
 * asset's lastModified compared with the watermark less an overlap window. The watermark
 * moves only after every task of the scan is durably queued; a crash resumes from the
 * checkpointed page, and the entry ledger plus idempotent task ids make re-reading harmless.
 */
import { createHash } from 'node:crypto';
import type { ArtifactSource, Checksums, Clock, CopyTask, ExportState, SourceAsset, TaskQueue } from './ports.ts';
import type { Log } from './log.ts';

export interface ScanRepository {
  name: string;
  format: 'raw';
  target: string;
}

export interface ScanDeps {
  source: ArtifactSource;
  queue: TaskQueue;
  state: ExportState;
  clock: Clock;
  log: Log;
}

export interface ScanResult {
  repository: string;
  pages: number;
  components: number;
  queued: number;
  /** True when this run continued a checkpointed scan rather than starting afresh. */
  resumed: boolean;
  /** False when `shouldStop` cut the scan short: the checkpoint holds the next page. */
  complete: boolean;
  /** The watermark now in force (unchanged when the scan is not complete). */
  watermark: string | undefined;
}

/** Same asset content → same id, so a re-scan or a webhook for the same change collapses. */
export function rawTaskId(repository: string, path: string, checksums: Checksums, lastModified: string | null | undefined): string {
  const content = checksums.sha256 ?? checksums.sha1 ?? checksums.md5 ?? `lastModified:${lastModified ?? ''}`;
  return createHash('sha256').update(`raw\n${repository}\n${path}\n${content}`).digest('hex').slice(0, 40);
}

export function rawTaskFor(repository: ScanRepository, asset: SourceAsset): CopyTask {
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

/** Is this asset possibly changed since `since`? Unknown dates count as changed: the ledger dedupes. */
export function changedSince(asset: SourceAsset, since: string | null): boolean {
  if (since === null || asset.lastModified === null) return true;
  return Date.parse(asset.lastModified) >= Date.parse(since);
}

export interface ScanOptions {
  overlapMs: number;
  /**
   * Asked after each durable page: true stops the scan there (a Lambda near its timeout).
   * The checkpoint then names the next page, and the next call continues from it.
   */
  shouldStop?: () => boolean;
}

export async function scanRepository(deps: ScanDeps, repository: ScanRepository, options: ScanOptions): Promise<ScanResult> {
  const { source, queue, state, clock, log } = deps;
  let checkpoint = await state.getScanCheckpoint(repository.name);
  const resumed = checkpoint !== undefined;
  const watermarkAtStart = await state.getWatermark(repository.name);
  if (checkpoint === undefined) {
    const since = watermarkAtStart === undefined ? null : new Date(Date.parse(watermarkAtStart) - options.overlapMs).toISOString();
    checkpoint = { startedAt: clock.now().toISOString(), since, continuationToken: null };
    await state.putScanCheckpoint(repository.name, checkpoint);
  } else {
    log.info(`resuming the scan of ${repository.name} started at ${checkpoint.startedAt}`, { repository: repository.name });
  }

  let pages = 0;
  let components = 0;
  let queued = 0;
  for await (const page of source.componentPages(repository.name, checkpoint.continuationToken)) {
    pages += 1;
    components += page.items.length;
    const tasks = new Map<string, CopyTask>();
    for (const component of page.items) {
      for (const asset of component.assets) {
        if (!changedSince(asset, checkpoint.since)) continue;
        if (await state.hasEntry(repository.name, asset.path, asset.checksums)) continue;
        const task = rawTaskFor(repository, asset);
        tasks.set(task.id, task);
      }
    }
    if (tasks.size > 0) await queue.enqueue([...tasks.values()]);
    queued += tasks.size;
    // The checkpoint names the page to read next; only once this page's tasks are durable.
    if (page.continuationToken !== null) {
      checkpoint = { ...checkpoint, continuationToken: page.continuationToken };
      await state.putScanCheckpoint(repository.name, checkpoint);
      if (options.shouldStop?.()) {
        log.info(`scan of ${repository.name} paused after ${pages} pages; it continues from the checkpoint`, { repository: repository.name });
        return { repository: repository.name, pages, components, queued, resumed, complete: false, watermark: watermarkAtStart };
      }
    }
  }

  const advanced = await state.advanceWatermark(repository.name, watermarkAtStart, checkpoint.startedAt);
  if (!advanced) log.warn(`watermark of ${repository.name} not moved: another scan moved it first`, { repository: repository.name });
  await state.putScanCheckpoint(repository.name, undefined);
  log.info(`scanned ${repository.name}: ${components} components on ${pages} pages, ${queued} new tasks`, {
    repository: repository.name,
    pages,
    components,
    queued,
  });
  return { repository: repository.name, pages, components, queued, resumed, complete: true, watermark: checkpoint.startedAt };
}
