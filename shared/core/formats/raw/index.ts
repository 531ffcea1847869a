/** The raw format: one asset, one blob, uploaded through the components API. */
import type { BundleEntry, RawBundleEntry } from '../../../bundle/index.ts';
import type { BlobCopyTask, CopyTask, RawCopyTask, StagedEntry } from '../../ports/index.ts';
import type { FormatModule } from '../format.ts';
import type { RawRepository } from '../repositories.ts';
import { copyRawTask, fetchRawBlob, rawBundleEntry, rawTaskFor } from './export.ts';
import { applyRaw, planRaw } from './import.ts';

export const rawFormat: FormatModule = {
  format: 'raw',
  entryKind: 'raw',
  taskKinds: ['raw'],
  taskForAsset: (repository, asset) => rawTaskFor(repository as RawRepository, asset),
  copy: (deps, task: CopyTask) => copyRawTask(deps, task as RawCopyTask),
  fetchBlob: (deps, task: BlobCopyTask, consume) => fetchRawBlob(deps, task, consume),
  blobsOf: (entry: StagedEntry) => [{ digest: entry.digest, size: entry.size }],
  bundleEntry: rawBundleEntry,
  plan: planRaw,
  apply: applyRaw,
  receiptPath: (entry: BundleEntry) => (entry as RawBundleEntry).target.path,
  resendSource: (entry: BundleEntry) => ({ repository: entry.source.repository, path: (entry as RawBundleEntry).source.path }),
  coordinates: (entry: BundleEntry) => (entry as RawBundleEntry).source.path,
};
