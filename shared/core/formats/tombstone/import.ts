/**
 * Tombstones on the import side. The plan (before any write of the bundle) decides each one:
 * delete only when Ferry's own record says it imported exactly this content at that place
 * AND the target still has exactly that content there (an asset's sha256, a tag's manifest
 * digest); anything else is kept and reported — a foreign asset, one changed since, one
 * already gone, one in a repository made read-only (write policy deny). Docker: the tag goes
 * by deleting its manifest, which the registry API allows only by digest and which removes
 * every tag on it, so a manifest another tag still names is kept; blobs are never deleted (other images share them, and Nexus's cleanup owns them).
 * The decisions are recorded before the first deletion, and a re-run goes by them: it keeps
 * what was kept, and reports a deletion it finds done as deleted by this import.
 */
import { coordinatesLabel, type BundleManifest, type TombstoneBundleEntry } from '../../../bundle/index.ts';
import { forEachLimited } from '../../../concurrency.ts';
import type { Digest } from '../../../digest.ts';
import { faultPoint } from '../../../fault-points.ts';
import type { Checksums } from '../../ports/index.ts';
import type { DeletionDecision, FormatPlan, ImportDeps, PlannedEntry } from '../format.ts';

interface TombstoneStep extends DeletionDecision {
  entry: TombstoneBundleEntry;
  repository: string;
  /** This decision was read back from an earlier run's record (not to be recorded again). */
  recorded: boolean;
  /** An earlier run decided to delete it and it is gone: that run's deletion, to record, not to repeat. */
  gone?: boolean;
}

const GONE = 'not on the target (deleted there already)';
const DELETED_BEFORE = 'deleted on the target by an earlier run of this import';

/** Where the removed entry is on the target, as receipts and Ferry's import record name it (`/dir/x.bin`, `/team/app:1.0`). */
export function targetPathOf(entry: TombstoneBundleEntry): string {
  return 'tag' in entry.target ? `/${entry.target.name}:${entry.target.tag}` : entry.target.path;
}

const sameContent = (have: Checksums, entry: TombstoneBundleEntry) =>
  have.sha256 !== undefined ? `sha256:${have.sha256}` === entry.digest : entry.checksums.sha1 !== undefined && have.sha1 === entry.checksums.sha1;

export async function planTombstones(deps: ImportDeps, manifest: BundleManifest, entries: PlannedEntry[], bundleDigest: Digest): Promise<FormatPlan> {
  const assets = new Map<string, Map<string, Checksums>>();
  const listed = async (repository: string) => {
    if (!assets.has(repository)) {
      const found = new Map<string, Checksums>();
      for await (const asset of deps.target.listAssets(repository)) found.set(asset.path, asset.checksums);
      assets.set(repository, found);
    }
    return assets.get(repository)!;
  };
  const steps: TombstoneStep[] = [];
  for (const planned of entries as PlannedEntry<TombstoneBundleEntry>[]) {
    const { index, entry, repository, label } = planned;
    const recorded = await deps.state.deletionDecision?.(bundleDigest, index);
    const step = (action: DeletionDecision['action'], reason?: string, gone?: boolean): TombstoneStep =>
      ({ index, label, entry, repository, action, ...(reason ? { reason } : {}), recorded: recorded !== undefined, ...(gone ? { gone } : {}) });
    if (planned.done) {
      steps.push(step('done', recorded?.action === 'keep' ? recorded.reason : undefined));
      continue;
    }
    // What an earlier run decided stands: it never deletes what that run kept.
    if (recorded?.action === 'keep') {
      steps.push(step('keep', recorded.reason));
      continue;
    }
    const imported = await deps.state.importedAt?.(repository, targetPathOf(entry));
    // Ferry forgets a location only once it deleted it: that run got as far as the deletion.
    if (recorded?.action === 'delete' && imported === undefined) {
      steps.push(step('delete', DELETED_BEFORE, true));
      continue;
    }
    const [action, reason] = await decide(deps, manifest, planned, imported, listed);
    if (reason === GONE && recorded?.action === 'delete') steps.push(step('delete', DELETED_BEFORE, true));
    else steps.push(step(action, reason));
  }
  return { steps, refusals: [], missing: [] };
}

/** Delete only what Ferry imported there with this content and the target still has unchanged; else keep, and why. */
async function decide(
  deps: ImportDeps,
  manifest: BundleManifest,
  planned: PlannedEntry<TombstoneBundleEntry>,
  imported: Digest | undefined,
  listed: (repository: string) => Promise<Map<string, Checksums>>,
): Promise<['delete' | 'keep', string?]> {
  const { index, entry, repository } = planned;
  // Ops made it read-only: nothing there changes, deletions included; the bundle's other entries still import.
  if (planned.target.writePolicy === 'deny') return ['keep', `target repository ${repository} is read-only (write policy deny)`];
  // A later entry of the same bundle writing the same place wins: its write is what the source has now.
  const again = manifest.entries.findIndex((other, i) => i > index && other.kind !== 'tombstone' && other.target.repository === entry.target.repository && coordinatesLabel(other.target) === coordinatesLabel(entry.target));
  if (again >= 0) return ['keep', `written again by entries[${again}] of this bundle`];
  if (imported === undefined) return ['keep', 'Ferry did not import it on this target'];
  if (imported !== entry.digest) return ['keep', `Ferry last imported other content there (${imported}), not the deleted ${entry.digest}`];
  if ('tag' in entry.target) return imageDecision(deps, repository, entry.target, entry.digest);
  if (deps.target.deleteAsset === undefined) return ['keep', 'this target client cannot delete assets'];
  const there = (await listed(repository)).get(entry.target.path);
  if (there === undefined) return ['keep', GONE];
  if (!sameContent(there, entry)) return ['keep', `changed on the target since Ferry imported it (now ${there.sha256 ? `sha256:${there.sha256}` : `sha1 ${there.sha1}`})`];
  return ['delete'];
}

async function imageDecision(deps: ImportDeps, repository: string, target: { name: string; tag: string }, digest: Digest): Promise<['delete' | 'keep', string?]> {
  const registry = deps.registryFor(repository)?.registry;
  if (registry === undefined || registry.deleteManifest === undefined) return ['keep', `no registry that can delete is configured for ${repository}`];
  const head = await registry.headManifest(target.name, target.tag);
  if (head === undefined) return ['keep', GONE];
  if (head.digest !== digest) return ['keep', `the tag points to other content on the target since Ferry imported it (${head.digest})`];
  for await (const tag of registry.tags(target.name)) {
    if (tag === target.tag) continue;
    if ((await registry.headManifest(target.name, tag))?.digest === digest) {
      return ['keep', `tag ${tag} names the same manifest: deleting it by digest would remove that tag too`];
    }
  }
  return ['delete'];
}

/**
 * Deletes what the plan decided; every tombstone's outcome is recorded (`imported`: deleted,
 * `present`: kept). The decisions are recorded first, before any deletion: a run killed
 * between a deletion and its outcome leaves the re-run that decision to finish.
 */
export async function applyTombstones(
  deps: ImportDeps,
  _manifest: BundleManifest,
  bundleDigest: Digest,
  steps: unknown[],
  options: { concurrency: number; progress: (index: number) => void },
): Promise<{ index: number; entry: string; reason: string }[]> {
  const planned = steps as TombstoneStep[];
  const decided = planned.filter((s): s is TombstoneStep & { action: 'delete' | 'keep' } => s.action !== 'done' && !s.recorded);
  if (decided.length > 0) await deps.state.recordDeletionDecisions?.(bundleDigest, decided.map(({ index, action, reason }) => ({ index, action, ...(reason ? { reason } : {}) })));
  const failures: { index: number; entry: string; reason: string }[] = [];
  await forEachLimited(planned, options.concurrency, async (step) => {
    try {
      if (step.action === 'delete') {
        const { entry } = step;
        if (step.gone !== true) {
          if ('tag' in entry.target) await deps.registryFor(step.repository)!.registry.deleteManifest!(entry.target.name, entry.digest);
          else await deps.target.deleteAsset!(step.repository, entry.target.path);
          faultPoint('import:after-delete');
        }
        await deps.state.recordImportedAt?.(step.repository, targetPathOf(entry), undefined);
        deps.log.info(`deleted ${step.label} (deleted on the source${step.gone ? `; ${DELETED_BEFORE}` : ''})`, { digest: entry.digest });
      } else if (step.action === 'keep') {
        deps.log.warn(`kept ${step.label}: ${step.reason}`, { digest: step.entry.digest });
      }
      if (step.action !== 'done') await deps.state.recordEntryOutcome(bundleDigest, step.index, step.action === 'delete' ? 'imported' : 'present');
    } catch (cause) {
      failures.push({ index: step.index, entry: step.label, reason: `delete failed: ${(cause as Error).message}` });
    }
    options.progress(step.index);
  });
  return failures;
}

export function decisionsOf(steps: unknown[]): DeletionDecision[] {
  return (steps as TombstoneStep[]).map(({ index, label, action, reason }) => ({ index, label, action, ...(reason ? { reason } : {}) }));
}
