/**
 * A {@link FormatModule} for a package format from its {@link PackageSpec}: the export and
 * import flow every package format shares, with the format's own parts plugged in.
 */
import type { BundleEntry, PackageBundleEntry } from '../../../bundle/index.ts';
import type { CopyTask, PackageCopyTask, PendingEntry } from '../../ports/index.ts';
import type { FormatModule } from '../format.ts';
import { fetchRawBlob } from '../raw/export.ts';
import type { PackageRepository } from '../repositories.ts';
import { copyPackageTask, packageBlobsOf, packageBundleEntry, packageTaskFor } from './export.ts';
import { applyPackages, planPackages } from './import.ts';
import type { PackageSpec } from './spec.ts';

export function packageFormat<E extends PackageBundleEntry>(typed: PackageSpec<E>): FormatModule {
  const spec = typed as unknown as PackageSpec;
  const entryOf = (entry: BundleEntry) => entry as PackageBundleEntry;
  return {
    format: spec.format,
    entryKind: spec.format,
    taskKinds: [spec.format],
    taskForAsset: (repository, asset, component) => packageTaskFor(spec, repository as PackageRepository, asset, component),
    copy: (deps, task: CopyTask) => copyPackageTask(spec, deps, task as PackageCopyTask),
    // A blob of a package entry is a file at a path of the source, like a raw asset.
    fetchBlob: (deps, task, consume) => fetchRawBlob(deps, task, consume),
    blobsOf: (entry) => packageBlobsOf(spec, entry),
    bundleEntry: (entry: PendingEntry) => packageBundleEntry(spec, entry),
    plan: (deps, manifest, entries) => planPackages(spec, deps, manifest, entries),
    apply: (deps, manifest, bundleDigest, steps, options) => applyPackages(spec, deps, manifest, bundleDigest, steps, options),
    receiptPath: (entry) => entryOf(entry).target.path,
    resendSource: (entry, digest) => ({ repository: entry.source.repository, path: spec.resendPath?.(entryOf(entry), digest) ?? entryOf(entry).source.path }),
    coordinates: (entry) => spec.coordinates(entryOf(entry)),
  };
}

export type { KindFields, PackageDetail, PackageItem, PackageSpec } from './spec.ts';
