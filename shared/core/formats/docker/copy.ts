/**
 * Copy one image tag: stage its manifest (or index and the chosen children), configs,
 * layers and referrers, content-addressed, and record one pending image entry. A blob
 * already staged, already shipped or named in a receipt is neither fetched nor stored
 * again: the seal lists it as required. Manifests are staged as the exact bytes the
 * registry serves, so their digests on the far side equal the source's.
 */
import { Readable } from 'node:stream';
import { sha256Of, type Digest } from '../../../digest.ts';
import { isIndex, parseImageIndex, parseImageManifest, platformOf, type OciDescriptor } from '../../../oci/media-types.ts';
import { ExportError } from '../../export/errors.ts';
import type { ImageCopyTask, ImageRegistry } from '../../ports/index.ts';
import type { CopyOutcome, ExportDeps } from '../format.ts';
import type { DockerRepository } from '../repositories.ts';
import type { ImageDetail } from './detail.ts';
import { platformSelected, referrerSubject, referrerTagsFor } from './filter.ts';
import { imageEntryPath } from './scan.ts';

/** Raised when an image cannot be carried whole; the task fails rather than ship part of it. */
export class ImageCopyError extends ExportError {
  override readonly name = 'ImageCopyError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The docker repository a task comes from, and the registry serving it. */
function sourceOf(deps: ExportDeps, repositoryName: string): { repository: DockerRepository; registry: ImageRegistry } {
  const repository = deps.repositories.find((r): r is DockerRepository => r.name === repositoryName && r.format === 'docker');
  if (repository === undefined || deps.registryFor === undefined) throw new Error(`${repositoryName}: image task but no docker repository of that name is configured`);
  return { repository, registry: deps.registryFor(repositoryName) };
}

export async function copyImageTask(deps: ExportDeps, task: ImageCopyTask): Promise<CopyOutcome> {
  const { store, state, log } = deps;
  const { repository: settings, registry } = sourceOf(deps, task.sourceRepository);
  const what = `${task.sourceRepository}/${task.name}:${task.tag}`;
  const path = imageEntryPath(task.name, task.tag);

  const top = await registry.getManifest(task.name, task.tag);
  const subject = referrerSubject(task.tag);
  const chosen = chooseManifests(top, settings, subject !== undefined, what);
  // Known by what it ships as: a platform-filtered index by its rewritten digest, not the source's.
  if (await state.hasEntry(task.sourceRepository, path, { sha256: chosen.tagged.digest.slice(7) })) return { status: 'known' };
  const carried = async (digest: Digest) => (await state.shippedIn(digest)) !== undefined || (await store.statBlob(digest)) !== undefined;
  // A signature / attestation / SBOM tag travels with its subject. Alone only when it came
  // after its subject was carried (push, export, then sign), and only for a subject carried.
  if (subject !== undefined && (!(await carried(subject)) || (await carried(top.digest)))) {
    log.debug(`${what}: travels with its subject ${subject}`, { image: what });
    return { status: 'known' };
  }

  const stager = makeStager(deps, registry, task.name);
  const { tagged, children } = chosen;
  const manifests: ImageDetail['manifests'] = [];
  if (tagged.digest !== top.digest) {
    log.warn(`${what}: index rewritten to platforms ${children.map((c) => platformOf(c) ?? '?').join(', ')}; its digest on the far side is ${tagged.digest}, not the source's ${top.digest}`, {
      image: what,
    });
  }
  if (isIndex(top.mediaType)) {
    for (const child of children) {
      const fetched = await registry.getManifest(task.name, child.digest).catch((cause: unknown) => {
        throw new ImageCopyError(`${what}: child manifest ${child.digest} (${platformOf(child) ?? 'no platform'}) cannot be fetched; refusing to ship a partial index`, { cause });
      });
      if (isIndex(fetched.mediaType)) throw new ImageCopyError(`${what}: nested index ${child.digest} is not supported`);
      await stager.image(fetched.bytes, fetched.mediaType, `${what}@${child.digest}`);
      await stager.manifest(fetched.bytes, fetched.digest);
      manifests.push({ mediaType: fetched.mediaType, digest: fetched.digest, size: fetched.bytes.length });
    }
  } else {
    await stager.image(top.bytes, top.mediaType, what);
  }
  await stager.manifest(tagged.bytes, tagged.digest);
  const referrers = settings.referrers && subject === undefined ? await stageReferrers(stager, registry, task.name, top.digest, what) : [];

  const added = await state.addPendingEntry({
    kind: 'image',
    sourceRepository: task.sourceRepository,
    path,
    targetRepository: task.targetRepository,
    digest: tagged.digest,
    size: tagged.bytes.length,
    checksums: { sha256: tagged.digest.slice(7) },
    detail: {
      name: task.name,
      tag: task.tag,
      targetName: task.name,
      mediaType: tagged.mediaType,
      manifests,
      blobs: [...stager.blobs].map(([digest, size]) => ({ digest, size })),
      referrers,
    } satisfies ImageDetail,
  });
  if (!added) return { status: 'known' };
  log.debug(`staged ${what}`, { digest: tagged.digest, bytesStaged: stager.bytesStaged, bytesKnown: stager.bytesKnown });
  return stager.bytesStaged > 0 ? { status: 'staged', bytes: stager.bytesStaged } : { status: 'deduplicated', bytes: stager.bytesKnown };
}

/**
 * What a tag ships as: the manifest itself, or an index and the children kept. The platform
 * filter keeps the children it selects, and an index that loses one is rewritten (so its
 * digest changes). A referrers index (`referrers`) lists artifacts, not platforms: all travel.
 */
function chooseManifests(
  top: { mediaType: string; digest: Digest; bytes: Buffer },
  settings: DockerRepository,
  referrers: boolean,
  what: string,
): { tagged: { mediaType: string; digest: Digest; bytes: Buffer }; children: OciDescriptor[] } {
  if (!isIndex(top.mediaType)) return { tagged: top, children: [] };
  const index = parseImageIndex(top.bytes, top.mediaType, what);
  const kept = referrers ? index.manifests : index.manifests.filter((child) => platformSelected(platformOf(child), settings.filter.platforms));
  if (kept.length === 0) throw new ImageCopyError(`${what}: no manifest of the index matches platforms ${settings.filter.platforms?.join(', ')}`);
  if (kept.length === index.manifests.length) return { tagged: top, children: kept };
  const rewritten = Buffer.from(JSON.stringify({ ...JSON.parse(top.bytes.toString('utf8')), manifests: kept }));
  return { tagged: { mediaType: top.mediaType, digest: sha256Of(rewritten), bytes: rewritten }, children: kept };
}

interface Stager {
  /** Every config and layer the entry needs, with its size. */
  readonly blobs: Map<Digest, number>;
  readonly bytesStaged: number;
  readonly bytesKnown: number;
  /** An image manifest's config and layers; non-distributable layers stay behind. */
  image(bytes: Buffer, mediaType: string, where: string): Promise<void>;
  /** Manifests are staged as the exact bytes the registry serves, so digests stay equal. */
  manifest(bytes: Buffer, digest: Digest): Promise<void>;
}

/** Stages blobs of one image entry, fetching only what the far side lacks and this side does not hold. */
function makeStager(deps: ExportDeps, registry: ImageRegistry, name: string): Stager {
  const { store, state, log } = deps;
  const stager = {
    blobs: new Map<Digest, number>(),
    bytesStaged: 0,
    bytesKnown: 0,
    async image(bytes: Buffer, mediaType: string, where: string) {
      const manifest = parseImageManifest(bytes, mediaType, where);
      await blob(manifest.config);
      for (const layer of manifest.layers) {
        if (layer.urls !== undefined && layer.urls.length > 0) {
          log.warn(`${where}: layer ${layer.digest} is non-distributable (foreign URLs); it is not carried`, { digest: layer.digest });
          continue;
        }
        await blob(layer);
      }
    },
    async manifest(bytes: Buffer, digest: Digest) {
      await store.putBlob(Readable.from([bytes]), { expectedDigest: digest, expectedSize: bytes.length });
    },
  };
  const blob = async (descriptor: OciDescriptor) => {
    if (stager.blobs.has(descriptor.digest)) return;
    stager.blobs.set(descriptor.digest, descriptor.size);
    if ((await state.shippedIn(descriptor.digest)) !== undefined || (await store.statBlob(descriptor.digest)) !== undefined) {
      stager.bytesKnown += descriptor.size;
      return;
    }
    const stored = await registry.getBlob(name, descriptor.digest, (body) => store.putBlob(body, { expectedDigest: descriptor.digest, expectedSize: descriptor.size }), descriptor.size);
    if (stored.existed) stager.bytesKnown += stored.size;
    else stager.bytesStaged += stored.size;
  };
  return stager;
}

/** Stages the referrers of a subject (see findReferrers); each one's manifest and blobs. */
async function stageReferrers(stager: Stager, registry: ImageRegistry, name: string, subject: Digest, what: string): Promise<ImageDetail['referrers']> {
  const referrers: ImageDetail['referrers'] = [];
  for (const referrer of await findReferrers(registry, name, subject)) {
    if (referrers.some((r) => r.digest === referrer.digest)) continue;
    const fetched = await registry.getManifest(name, referrer.digest);
    if (isIndex(fetched.mediaType)) {
      // The referrers tag schema: an index listing referrers, each carried as well.
      for (const listed of parseImageIndex(fetched.bytes, fetched.mediaType, `${what} referrers`).manifests) {
        const child = await registry.getManifest(name, listed.digest);
        await stager.image(child.bytes, child.mediaType, `${what} referrer ${listed.digest}`);
        await stager.manifest(child.bytes, child.digest);
        referrers.push({ mediaType: child.mediaType, digest: child.digest, size: child.bytes.length });
      }
    } else {
      await stager.image(fetched.bytes, fetched.mediaType, `${what} referrer ${referrer.digest}`);
    }
    await stager.manifest(fetched.bytes, fetched.digest);
    referrers.push({ mediaType: fetched.mediaType, digest: fetched.digest, size: fetched.bytes.length, ...(referrer.tag ? { tag: referrer.tag } : {}) });
  }
  return referrers;
}

/** Cosign-style tags and OCI 1.1 referrers (API, else the referrers tag schema). */
async function findReferrers(registry: ImageRegistry, name: string, subject: Digest): Promise<{ digest: Digest; tag?: string }[]> {
  const found: { digest: Digest; tag?: string }[] = [];
  for (const tag of referrerTagsFor(subject)) {
    const head = await registry.headManifest(name, tag);
    if (head) found.push({ digest: head.digest, tag });
  }
  const viaApi = await registry.referrers(name, subject);
  if (viaApi !== undefined) {
    for (const descriptor of viaApi) found.push({ digest: descriptor.digest });
  } else {
    const fallbackTag = `sha256-${subject.slice(7)}`;
    const head = await registry.headManifest(name, fallbackTag);
    if (head) found.push({ digest: head.digest, tag: fallbackTag });
  }
  return found;
}
