/**
 * The docker format: one image tag (its manifest or index, configs, layers and referrers),
 * read from and written to an OCI registry with digests unchanged.
 */
import type { BundleEntry, ImageBundleEntry } from '../../../bundle/index.ts';
import type { CopyTask, ImageCopyTask, PendingEntry, StagedEntry } from '../../ports/index.ts';
import type { FormatModule } from '../format.ts';
import type { DockerRepository } from '../repositories.ts';
import { applyImageEntries } from './apply.ts';
import { copyImageTask } from './copy.ts';
import type { ImageDetail } from './detail.ts';
import { planDocker } from './plan.ts';
import { discoverRegistry, imageTaskForAsset } from './scan.ts';

const detailOf = (entry: StagedEntry): ImageDetail => {
  if (entry.detail === undefined) throw new Error(`${entry.sourceRepository}${entry.path}: image entry without its detail`);
  return entry.detail as ImageDetail;
};

export const dockerFormat: FormatModule = {
  format: 'docker',
  entryKind: 'image',
  taskKinds: ['image'],
  taskForAsset: (repository, asset) => imageTaskForAsset(repository as DockerRepository, asset),
  discoversItself: (repository) => (repository as DockerRepository).discovery === 'registry',
  discover: (deps, repository) => discoverRegistry(deps, repository as DockerRepository),
  copy: (deps, task: CopyTask) => copyImageTask(deps, task as ImageCopyTask),
  fetchBlob(deps, task, consume) {
    if (task.name === undefined || deps.registryFor === undefined) throw new Error(`${task.sourceRepository}: an image resend needs the image's name and its registry`);
    return deps.registryFor(task.sourceRepository).getBlob(task.name, task.digest, consume, task.size);
  },
  blobsOf(entry) {
    const { manifests, blobs, referrers } = detailOf(entry);
    return [{ digest: entry.digest, size: entry.size }, ...manifests, ...blobs, ...referrers].map(({ digest, size }) => ({ digest, size }));
  },
  bundleEntry(e: PendingEntry): ImageBundleEntry {
    const image = detailOf(e);
    return {
      kind: 'image',
      source: { repository: e.sourceRepository, name: image.name, tag: image.tag },
      target: { repository: e.targetRepository, name: image.targetName, tag: image.tag },
      digest: e.digest,
      size: e.size,
      mediaType: image.mediaType,
      manifests: image.manifests.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
      blobs: image.blobs.map(({ digest, size }) => ({ digest, size })),
      referrers: image.referrers.map(({ mediaType, digest, size, tag }) => ({ mediaType, digest, size, ...(tag ? { tag } : {}) })),
    };
  },
  // The bundle's OCI index names each image `<name>:<tag>`, so standard tools find it in the tar.
  indexDescriptors(entry: BundleEntry) {
    const e = entry as ImageBundleEntry;
    return [{ mediaType: e.mediaType, digest: e.digest, size: e.size, annotations: { 'org.opencontainers.image.ref.name': `${e.target.name}:${e.target.tag}` } }];
  },
  // Layers and configs stay in the target registry, mountable from where Ferry put them.
  keptByTarget: (entry) => (entry as ImageBundleEntry).blobs.map((b) => b.digest),
  plan: planDocker,
  apply: applyImageEntries,
  receiptPath: (entry) => `/${(entry as ImageBundleEntry).target.name}:${(entry as ImageBundleEntry).target.tag}`,
  resendSource: (entry) => ({ ...(entry as ImageBundleEntry).source }),
  coordinates: (entry) => `${(entry as ImageBundleEntry).source.name}:${(entry as ImageBundleEntry).source.tag}`,
};
