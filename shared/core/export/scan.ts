/**
 * Scan: find what changed in a source repository since its watermark and queue one copy
 * task per artifact. Nexus has no "changed since" filter, so every page is read and each
 * asset's lastModified compared with the watermark less an overlap window. The watermark
 * moves only after every task of the scan is durably queued; a crash resumes from the
 * checkpointed page, and the entry ledger plus idempotent task ids make re-reading harmless.
 */
import { createHash } from 'node:crypto';
import { imageSelected, isReferrerTag, tagSelected, type ImageFilter } from '../formats/docker/filter.ts';
import type {
  ArtifactSource,
  Checksums,
  Clock,
  CopyTask,
  ExportState,
  ImageCopyTask,
  ImageRegistry,
  RawCopyTask,
  SourceAsset,
  SourceComponent,
  TaskQueue,
} from '../ports/index.ts';
import type { Log } from '../log.ts';
import { IMAGE_TAG_SOURCE } from '../../oci/names.ts';

export type ScanRepository =
  | { name: string; format: 'raw'; target: string }
  | {
      name: string;
      format: 'docker';
      target: string;
      /** `nexus`: the components API lists tags; `registry`: the registry's catalog and tags lists. */
      discovery: 'nexus' | 'registry';
      filter: ImageFilter;
      /**
       * Carry signatures, attestations and SBOMs: with their subject, and — when they are
       * pushed after it was carried (sign after push) — as their own tags.
       */
      referrers: boolean;
    };

export interface ScanDeps {
  source: ArtifactSource;
  queue: TaskQueue;
  state: ExportState;
  clock: Clock;
  log: Log;
  /** The registry serving a docker repository (needed for `discovery: registry`). */
  registryFor?: ((repository: string) => ImageRegistry) | undefined;
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

export function imageTaskFor(repository: ScanRepository, name: string, tag: string, digest: string | undefined, lastModified?: string | null): ImageCopyTask {
  const content = digest ?? `lastModified:${lastModified ?? ''}`;
  return {
    kind: 'image',
    id: createHash('sha256').update(`image\n${repository.name}\n${name}\n${tag}\n${content}`).digest('hex').slice(0, 40),
    sourceRepository: repository.name,
    name,
    tag,
    targetRepository: repository.target,
    digest,
  };
}

/** Nexus stores a docker tag's manifest at `/v2/<name>/manifests/<tag>`; digests are not tags. */
const MANIFEST_PATH = new RegExp(`^/v2/(.+)/manifests/(${IMAGE_TAG_SOURCE})$`);

/**
 * The task for one listed asset, or undefined when the repository does not carry it (a
 * docker blob, a manifest by digest, a tag the filters leave out). Shared by the scan and
 * the webhook, so both produce the same task ids.
 */
export function taskForAsset(repository: ScanRepository, asset: SourceAsset): CopyTask | undefined {
  if (repository.format === 'raw') return rawTaskFor(repository, asset);
  const match = MANIFEST_PATH.exec(asset.path);
  if (match === null) return undefined;
  const [, name, tag] = match as unknown as [string, string, string];
  if (!imageCarried(repository, name, tag)) return undefined;
  const digest = asset.checksums.sha256 ? `sha256:${asset.checksums.sha256.toLowerCase()}` : undefined;
  return imageTaskFor(repository, name, tag, digest, asset.lastModified);
}

/**
 * Whether a tag of a docker repository is carried: the filters select it, or it is a
 * signature / attestation / SBOM tag (`sha256-<hex>.sig`, the referrers tag `sha256-<hex>`)
 * of a selected image. Those go with their subject when it is copied; a task of their own
 * carries one pushed later, and only when its subject was carried (see image-copy.ts).
 */
function imageCarried(repository: Extract<ScanRepository, { format: 'docker' }>, name: string, tag: string): boolean {
  if (!imageSelected(name, repository.filter)) return false;
  return isReferrerTag(tag) ? repository.referrers : tagSelected(tag, repository.filter);
}

/** Tasks for one page of components, skipping what the entry ledger already has. */
async function tasksForPage(state: ExportState, repository: ScanRepository, items: SourceComponent[], since: string | null): Promise<CopyTask[]> {
  const tasks = new Map<string, CopyTask>();
  for (const component of items) {
    for (const asset of component.assets) {
      if (!changedSince(asset, since)) continue;
      if (await state.hasEntry(repository.name, asset.path, asset.checksums)) continue;
      const task = taskForAsset(repository, asset);
      if (task !== undefined) tasks.set(task.id, task);
    }
  }
  return [...tasks.values()];
}

/** A plain registry has no dates: every selected tag is HEADed, and known digests skipped. */
async function scanRegistry(deps: ScanDeps, repository: Extract<ScanRepository, { format: 'docker' }>): Promise<{ components: number; queued: number }> {
  if (deps.registryFor === undefined) throw new Error(`${repository.name}: discovery 'registry' needs a registry`);
  const registry = deps.registryFor(repository.name);
  let components = 0;
  let queued = 0;
  for await (const name of registry.catalog()) {
    if (!imageSelected(name, repository.filter)) continue;
    const tasks: CopyTask[] = [];
    for await (const tag of registry.tags(name)) {
      if (!imageCarried(repository, name, tag)) continue;
      components += 1;
      const head = await registry.headManifest(name, tag);
      if (head === undefined) continue; // deleted between the list and the HEAD
      if (await deps.state.hasEntry(repository.name, `/v2/${name}/manifests/${tag}`, { sha256: head.digest.slice(7) })) continue;
      tasks.push(imageTaskFor(repository, name, tag, head.digest));
    }
    if (tasks.length > 0) await deps.queue.enqueue(tasks);
    queued += tasks.length;
  }
  return { components, queued };
}

export function rawTaskFor(repository: ScanRepository, asset: SourceAsset): RawCopyTask {
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
  if (repository.format === 'docker' && repository.discovery === 'registry') {
    const startedAt = clock.now().toISOString();
    const watermarkBefore = await state.getWatermark(repository.name);
    const { components, queued } = await scanRegistry(deps, repository);
    await state.advanceWatermark(repository.name, watermarkBefore, startedAt);
    log.info(`scanned ${repository.name} (registry catalog): ${components} tags, ${queued} new tasks`, { repository: repository.name });
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
  for await (const page of source.componentPages(repository.name, checkpoint.continuationToken)) {
    pages += 1;
    components += page.items.length;
    const tasks = await tasksForPage(state, repository, page.items, checkpoint.since);
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
