/** Raw repositories on the import side: the plan against the target, and the uploads. */
import type { BundleManifest, RawBundleEntry } from '../../../bundle/index.ts';
import { forEachLimited } from '../../../concurrency.ts';
import type { Digest } from '../../../digest.ts';
import { EntryUploadError } from '../../import/errors.ts';
import type { Checksums } from '../../ports/index.ts';
import { allowOnceTwice } from '../allow-once.ts';
import type { FormatPlan, ImportDeps, PlannedEntry } from '../format.ts';

export interface RawStep {
  index: number;
  entry: RawBundleEntry;
  repository: string;
  label: string;
  action: 'done' | 'present' | 'upload';
}

const hasSameContent = (have: Checksums, entry: RawBundleEntry) =>
  have.sha256 ? have.sha256 === entry.digest.slice(7) : entry.checksums.sha1 !== undefined && have.sha1 === entry.checksums.sha1;

/**
 * Each raw entry is done (an earlier run's record), present on the target with the same
 * content, or to upload. The target's assets are listed once per repository. On
 * `allow_once`, a path already there with other content is refused.
 */
export async function planRaw(deps: ImportDeps, _manifest: BundleManifest, entries: PlannedEntry[]): Promise<FormatPlan> {
  const plan: FormatPlan = { steps: [], refusals: [], missing: [] };
  const assets = new Map<string, Map<string, Checksums>>();
  const twice = allowOnceTwice();
  for (const planned of entries as PlannedEntry<RawBundleEntry>[]) {
    const { index, entry, repository, label } = planned;
    if (planned.done) {
      plan.steps.push({ index, entry, repository, label, action: 'done' } satisfies RawStep);
      continue;
    }
    if (!assets.has(repository)) {
      const listed = new Map<string, Checksums>();
      for await (const asset of deps.target.listAssets(repository)) listed.set(asset.path, asset.checksums);
      assets.set(repository, listed);
    }
    const there = assets.get(repository)!.get(entry.target.path);
    if (there !== undefined && hasSameContent(there, entry)) {
      plan.steps.push({ index, entry, repository, label, action: 'present' } satisfies RawStep);
      continue;
    }
    if (there !== undefined && planned.target.writePolicy === 'allow_once') {
      plan.refusals.push({ index, entry: label, reason: `${label} is on the target with other content, and ${repository} does not allow redeploying it (write policy allow_once)` });
      continue;
    }
    const again = twice(planned, `${repository}\n${entry.target.path}`, entry.digest);
    if (again !== undefined) {
      plan.refusals.push(again);
      continue;
    }
    plan.steps.push({ index, entry, repository, label, action: 'upload' } satisfies RawStep);
    if (!(await deps.available(entry.digest))) plan.missing.push({ digest: entry.digest, index, label });
  }
  return plan;
}

/**
 * Applies the planned steps: uploads from the held blobs, recording every outcome as it
 * lands, so a killed run resumes without re-uploading. Entries for the same target path keep
 * their order; distinct paths go in parallel.
 */
export async function applyRaw(
  deps: ImportDeps,
  _manifest: BundleManifest,
  bundleDigest: Digest,
  steps: unknown[],
  options: { concurrency: number; progress: (index: number) => void },
): Promise<{ index: number; entry: string; reason: string }[]> {
  const byPath = new Map<string, RawStep[]>();
  for (const step of steps as RawStep[]) {
    const key = `${step.repository}\n${step.entry.target.path}`;
    byPath.set(key, [...(byPath.get(key) ?? []), step]);
  }
  await forEachLimited([...byPath.values()], options.concurrency, async (pathSteps) => {
    for (const step of pathSteps) {
      if (step.action === 'upload') {
        try {
          await deps.target.uploadRaw(step.repository, step.entry.target.path, await deps.held.getBlob(step.entry.digest));
        } catch (cause) {
          throw new EntryUploadError(step.index, step.label, { cause });
        }
        deps.log.debug(`imported ${step.label}`, { digest: step.entry.digest, size: step.entry.size });
      }
      if (step.action !== 'done') await deps.state.recordEntryOutcome(bundleDigest, step.index, step.action === 'upload' ? 'imported' : 'present');
      options.progress(step.index);
    }
  });
  return [];
}
