/**
 * Package repositories on the import side. The plan is raw's (each entry done, present with
 * the same content, or to write; `allow_once` conflicts refused) plus the format's own
 * refusals of a write; the apply writes groups (a Maven component in one upload), records each entry as
 * it lands, then lets the format finish (dist-tags, metadata) and check what clients read.
 */
import { entryBlobs, type BundleManifest, type PackageBundleEntry } from '../../../bundle/index.ts';
import { forEachLimited } from '../../../concurrency.ts';
import type { Digest } from '../../../digest.ts';
import { EntryUploadError } from '../../import/errors.ts';
import type { Checksums } from '../../ports/index.ts';
import { allowOnceTwice } from '../allow-once.ts';
import type { FormatPlan, ImportDeps, PlannedEntry } from '../format.ts';
import type { PackageItem, PackageSpec } from './spec.ts';

interface PackageStep extends PackageItem {
  action: 'done' | 'present' | 'write';
}

const hasSameContent = (have: Checksums, entry: PackageBundleEntry) =>
  have.sha256 ? have.sha256 === entry.digest.slice(7) : entry.checksums.sha1 !== undefined && have.sha1 === entry.checksums.sha1;

/** Every entry's step against the target, and what is refused or missing, before any write. */
export async function planPackages(spec: PackageSpec, deps: ImportDeps, _manifest: BundleManifest, entries: PlannedEntry[]): Promise<FormatPlan> {
  const plan: FormatPlan = { steps: [], refusals: [], missing: [] };
  const assets = new Map<string, Map<string, Checksums>>();
  const twice = allowOnceTwice();
  for (const planned of entries as PlannedEntry<PackageBundleEntry>[]) {
    const { index, entry, repository, label, target } = planned;
    const item: PackageItem = { index, entry, label, repository, target };
    if (planned.done) {
      plan.steps.push({ ...item, action: 'done' } satisfies PackageStep);
      continue;
    }
    if (!assets.has(repository)) {
      const listed = new Map<string, Checksums>();
      for await (const asset of deps.target.listAssets(repository)) listed.set(asset.path, asset.checksums);
      assets.set(repository, listed);
    }
    const there = assets.get(repository)!.get(entry.target.path);
    if (there !== undefined && hasSameContent(there, entry)) {
      plan.steps.push({ ...item, action: 'present' } satisfies PackageStep);
      continue;
    }
    if (there !== undefined && target.writePolicy === 'allow_once') {
      plan.refusals.push({ index, entry: label, reason: `${label} is on the target with other content, and ${repository} does not allow redeploying it (write policy allow_once)` });
      continue;
    }
    const again = twice(planned, `${repository}\n${entry.target.path}`, entry.digest);
    if (again !== undefined) {
      plan.refusals.push(again);
      continue;
    }
    const refused = await spec.refuse?.(item, deps);
    if (refused !== undefined) {
      plan.refusals.push({ index, entry: label, reason: refused });
      continue;
    }
    plan.steps.push({ ...item, action: 'write' } satisfies PackageStep);
    for (const blob of entryBlobs(entry)) {
      if (!(await deps.available(blob.digest))) plan.missing.push({ digest: blob.digest, index, label });
    }
  }
  return plan;
}

/**
 * Splits a group's writes into rounds in which no path repeats (the same path twice in one
 * bundle: written in bundle order, one upload each), so an upload never names one file twice.
 */
function rounds(steps: PackageStep[]): PackageStep[][] {
  const out: PackageStep[][] = [];
  const lastRoundOf = new Map<string, number>();
  for (const step of steps) {
    const path = step.entry.target.path;
    const at = (lastRoundOf.get(path) ?? -1) + 1;
    (out[at] ??= []).push(step);
    lastRoundOf.set(path, at);
  }
  return out;
}

export async function applyPackages(
  spec: PackageSpec,
  deps: ImportDeps,
  _manifest: BundleManifest,
  bundleDigest: Digest,
  steps: unknown[],
  options: { concurrency: number; progress: (index: number) => void },
): Promise<{ index: number; entry: string; reason: string }[]> {
  const all = steps as PackageStep[];
  const groups = new Map<string, PackageStep[]>();
  for (const step of all) {
    if (step.action !== 'write') continue;
    const key = `${step.repository}\n${spec.groupKey?.(step.entry) ?? step.entry.target.path}`;
    groups.set(key, [...(groups.get(key) ?? []), step]);
  }
  for (const step of all) {
    if (step.action === 'write') continue;
    if (step.action === 'present') await deps.state.recordEntryOutcome(bundleDigest, step.index, 'present');
    options.progress(step.index);
  }
  const blob = (digest: Digest) => deps.held.getBlob(digest);
  await forEachLimited([...groups.values()], options.concurrency, async (group) => {
    for (const round of rounds(group)) {
      try {
        await spec.write(deps, round, blob);
      } catch (cause) {
        const first = round[0]!;
        throw new EntryUploadError(first.index, round.length === 1 ? first.label : `${first.label} and ${round.length - 1} more of its component`, { cause });
      }
      for (const step of round) {
        deps.log.debug(`imported ${step.label}`, { digest: step.entry.digest, size: step.entry.size });
        await deps.state.recordEntryOutcome(bundleDigest, step.index, 'imported');
        options.progress(step.index);
      }
    }
  });
  return spec.finish === undefined ? [] : spec.finish(deps, all);
}
