/**
 * Docker repositories in the scan: a tag's manifest asset (`/v2/<name>/manifests/<tag>`, as
 * Nexus lists it) becomes one image task; a plain registry is discovered through its
 * catalog and tags lists instead.
 */
import { createHash } from 'node:crypto';
import { IMAGE_TAG_SOURCE } from '../../../oci/names.ts';
import type { CopyTask, ImageCopyTask, SourceAsset } from '../../ports/index.ts';
import { afterLatestEntry } from '../../export/task-ids.ts';
import type { ExportDeps } from '../format.ts';
import type { DockerRepository } from '../repositories.ts';
import { imageSelected, isReferrerTag, tagSelected } from './filter.ts';

/** Nexus's own asset path for a tag's manifest: the ledger key of an image entry. */
export const imageEntryPath = (name: string, tag: string) => `/v2/${name}/manifests/${tag}`;

/** Nexus stores a docker tag's manifest at `/v2/<name>/manifests/<tag>`; digests are not tags. */
const MANIFEST_PATH = new RegExp(`^/v2/(.+)/manifests/(${IMAGE_TAG_SOURCE})$`);

export function imageTaskFor(repository: DockerRepository, name: string, tag: string, digest: string | undefined, lastModified?: string | null): ImageCopyTask {
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

/** The task for a listed tag, or undefined for a blob, a manifest by digest, or a tag the filters leave out. */
export function imageTaskForAsset(repository: DockerRepository, asset: SourceAsset): CopyTask | undefined {
  const match = MANIFEST_PATH.exec(asset.path);
  if (match === null) return undefined;
  const [, name, tag] = match as unknown as [string, string, string];
  if (!imageCarried(repository, name, tag)) return undefined;
  const digest = asset.checksums.sha256 ? `sha256:${asset.checksums.sha256.toLowerCase()}` : undefined;
  return imageTaskFor(repository, name, tag, digest, asset.lastModified);
}

/**
 * Whether a tag is carried: the filters select it, or it is a signature / attestation /
 * SBOM tag (`sha256-<hex>.sig`, the referrers tag `sha256-<hex>`) of a selected image. Those
 * go with their subject when it is copied; a task of their own carries one pushed later,
 * and only when its subject was carried (see copy.ts).
 */
function imageCarried(repository: DockerRepository, name: string, tag: string): boolean {
  if (!imageSelected(name, repository.filter)) return false;
  return isReferrerTag(tag) ? repository.referrers : tagSelected(tag, repository.filter);
}

/** A plain registry has no dates: every selected tag is HEADed, and digests its tag's ledger path holds last skipped. */
export async function discoverRegistry(deps: Pick<ExportDeps, 'state' | 'queue' | 'registryFor'>, repository: DockerRepository): Promise<{ components: number; queued: number }> {
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
      const at = await deps.state.entryAt(repository.name, imageEntryPath(name, tag), { sha256: head.digest.slice(7) });
      if (at.known) continue;
      tasks.push(afterLatestEntry(imageTaskFor(repository, name, tag, head.digest), at));
    }
    if (tasks.length > 0) await deps.queue.enqueue(tasks);
    queued += tasks.length;
  }
  return { components, queued };
}
