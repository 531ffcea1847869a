/**
 * Scan: find what changed in a source repository since its watermark and queue one copy
 * task per artifact. Nexus has no "changed since" filter, so every page is read and each
 * asset's lastModified compared with the watermark less an overlap window. The watermark
 * moves only after every task of the scan is durably queued; a crash resumes from the
 * checkpointed page, and the entry ledger plus idempotent task ids make re-reading harmless.
 * The next page is read while the current one is recorded (read-ahead.ts), so a slow
 * listing costs its round trips and little more.
 */
import { formatOf, type ExportDeps, type ScanRepository } from '../formats/index.ts';
import type { CopyTask, ExportState, SourceAsset, SourceComponent } from '../ports/index.ts';
import { readAhead } from './read-ahead.ts';
import { afterLatestEntry } from './task-ids.ts';

export type { ScanRepository } from '../formats/index.ts';

/** What a scan uses of the export side's ports. */
export type ScanDeps = Pick<ExportDeps, 'source' | 'queue' | 'state' | 'clock' | 'log' | 'registryFor'>;

export interface ScanResult {
  repository: string;
  /** The configured group this repository was scanned as a member of. */
  via?: string | undefined;
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

/**
 * The task for one listed asset, or undefined when the repository does not carry it (a
 * docker blob, a manifest by digest, a tag the filters leave out). Shared by the scan and
 * the webhook, so both produce the same task ids.
 */
export function taskForAsset(repository: ScanRepository, asset: SourceAsset, component?: SourceComponent): CopyTask | undefined {
  return formatOf(repository.format).taskForAsset(repository, asset, component);
}

/** Tasks for one page of components, skipping what the entry ledger already has (and what an earlier group member holds). */
async function tasksForPage(state: ExportState, repository: ScanRepository, items: SourceComponent[], since: string | null, shadowed?: Set<string>): Promise<CopyTask[]> {
  const tasks = new Map<string, CopyTask>();
  for (const component of items) {
    for (const asset of component.assets) {
      if (shadowed !== undefined) {
        if (shadowed.has(asset.path)) continue;
        shadowed.add(asset.path);
      }
      if (!changedSince(asset, since)) continue;
      const at = await state.entryAt(repository.name, asset.path, asset.checksums);
      if (at.known) continue;
      const task = taskForAsset(repository, asset, component);
      if (task === undefined) continue;
      const queued = afterLatestEntry(task, at);
      tasks.set(queued.id, queued);
    }
  }
  return [...tasks.values()];
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
  /**
   * Paths earlier members of the same group hold (filled as members are read): an asset at
   * one of them is not carried, as the group would serve the earlier member's.
   */
  shadowed?: Set<string>;
}

/**
 * A group, scanned as its members in resolution order (export/groups.ts): each member with
 * its own watermark and checkpoint, its tasks going to the group's target.
 */
export async function scanGroup(deps: ScanDeps, group: ScanRepository, members: readonly string[], options: ScanOptions): Promise<ScanResult[]> {
  const results: ScanResult[] = [];
  const shadowed = new Set<string>();
  for (const member of members) {
    const result = await scanRepository(deps, { ...group, name: member }, { ...options, shadowed });
    results.push({ ...result, via: group.name });
    if (!result.complete) break; // paused: the next run resumes this member
  }
  return results;
}

export async function scanRepository(deps: ScanDeps, repository: ScanRepository, options: ScanOptions): Promise<ScanResult> {
  const { source, queue, state, clock, log } = deps;
  const format = formatOf(repository.format);
  if (format.discover !== undefined && format.discoversItself?.(repository) === true) {
    // The format discovers this repository itself (a plain registry: its catalog, no dates).
    const startedAt = clock.now().toISOString();
    const watermarkBefore = await state.getWatermark(repository.name);
    const { components, queued } = await format.discover(deps, repository);
    await state.advanceWatermark(repository.name, watermarkBefore, startedAt);
    log.info(`scanned ${repository.name} (its own discovery): ${components} items, ${queued} new tasks`, { repository: repository.name });
    return { repository: repository.name, pages: 0, components, queued, resumed: false, complete: true, watermark: startedAt };
  }
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
  // A page read ahead is not counted until its turn: a pause or a failure before then leaves
  // it to the next run, which reads it again from the checkpoint. A scan told to stop reads
  // no page ahead: it would only be read twice.
  const pageList = source.componentPages(repository.name, checkpoint.continuationToken);
  for await (const page of readAhead(pageList, () => options.shouldStop?.() !== true)) {
    pages += 1;
    components += page.items.length;
    const tasks = await tasksForPage(state, repository, page.items, checkpoint.since, options.shadowed);
    if (tasks.length > 0) await queue.enqueue(tasks);
    queued += tasks.length;
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
