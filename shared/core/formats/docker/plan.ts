/**
 * Docker entries in the import plan: each image is done, present (its tag already names
 * this manifest and every referrer is there), or to apply — unless the target would refuse
 * it: no registry configured, a tag an `allow_once` repository would have to move, or a
 * signature/SBOM tag whose subject is neither on the target nor in the bundle. A blob or
 * manifest that is neither at hand nor on the target (nor mountable there) is missing.
 */
import type { BundleManifest, ImageBundleEntry } from '../../../bundle/index.ts';
import type { Digest } from '../../../digest.ts';
import type { FormatPlan, ImportDeps, PlannedEntry, TargetRegistry } from '../format.ts';
import { allowOnceTwice } from '../allow-once.ts';
import { referrerSubject } from './filter.ts';

export interface ImageStep {
  index: number;
  entry: ImageBundleEntry;
  repository: string;
  label: string;
  action: 'done' | 'present' | 'apply';
}

export async function planDocker(deps: ImportDeps, _manifest: BundleManifest, entries: PlannedEntry[]): Promise<FormatPlan> {
  const plan: FormatPlan = { steps: [], refusals: [], missing: [] };
  const images = entries as PlannedEntry<ImageBundleEntry>[];
  // Manifests this bundle puts on the target, per repository and name: subjects for referrer tags.
  const twice = allowOnceTwice();
  const pushed = new Set(images.flatMap(({ repository, entry }) => [entry.digest, ...entry.manifests.map((m) => m.digest)].map((d) => `${repository}\n${entry.target.name}\n${d}`)));
  for (const planned of images) {
    const { index, entry, repository, label } = planned;
    if (planned.done) {
      plan.steps.push({ index, entry, repository, label, action: 'done' } satisfies ImageStep);
      continue;
    }
    const target = deps.registryFor(repository);
    if (target === undefined) {
      plan.refusals.push({ index, entry: label, reason: `no registry is configured for target repository ${repository} (target.registries in the import config)` });
      continue;
    }
    const step = await planImage(deps, target, planned, pushed);
    const again = 'refusal' in step || step.action !== 'apply' ? undefined : twice(planned, `${repository}\n${entry.target.name}:${entry.target.tag}`, entry.digest);
    if ('refusal' in step) plan.refusals.push({ index, entry: label, reason: step.refusal });
    else if (again !== undefined) plan.refusals.push({ ...again, reason: again.reason.replace('writes other content to it', 'points the tag elsewhere') });
    else {
      plan.steps.push({ index, entry, repository, label, action: step.action } satisfies ImageStep);
      for (const digest of step.missing) plan.missing.push({ digest, index, label });
    }
  }
  return plan;
}

/** The image entry's step and the blobs nobody has, or why the target would refuse it. */
async function planImage(
  deps: ImportDeps,
  target: TargetRegistry,
  planned: PlannedEntry<ImageBundleEntry>,
  pushed: Set<string>,
): Promise<{ action: ImageStep['action']; missing: Digest[] } | { refusal: string }> {
  const { entry, repository } = planned;
  const { registry } = target;
  const name = entry.target.name;
  const tagged = await registry.headManifest(name, entry.target.tag);
  if (tagged !== undefined && tagged.digest !== entry.digest && planned.target.writePolicy === 'allow_once') {
    return { refusal: `tag ${entry.target.tag} is on the target as ${tagged.digest}, and ${repository} does not allow redeploying it (write policy allow_once)` };
  }
  const subject = referrerSubject(entry.target.tag);
  if (subject !== undefined && !pushed.has(`${repository}\n${name}\n${subject}`) && (await registry.headManifest(name, subject)) === undefined) {
    return { refusal: `its subject ${subject} is neither on the target nor in this bundle: import the image it signs or describes first` };
  }
  if (tagged?.digest === entry.digest) {
    const referrersThere = await Promise.all(entry.referrers.map((r) => registry.headManifest(name, r.digest)));
    if (referrersThere.every((r) => r !== undefined)) return { action: 'present', missing: [] };
  }
  const missing: Digest[] = [];
  const manifests = [entry.digest, ...entry.manifests.map((m) => m.digest), ...entry.referrers.map((r) => r.digest)];
  for (const digest of manifests) {
    if (!(await deps.available(digest)) && (await registry.headManifest(name, digest)) === undefined) missing.push(digest);
  }
  for (const blob of entry.blobs) {
    if (await deps.available(blob.digest)) continue;
    if ((await registry.headBlob(name, blob.digest)) !== undefined) continue;
    // Mountable from where Ferry put it before in this registry (as the apply phase would).
    const from = await deps.state.blobLocation?.(target.key, blob.digest);
    if (from !== undefined && (await registry.headBlob(from, blob.digest)) !== undefined) continue;
    missing.push(blob.digest);
  }
  return { action: 'apply', missing };
}
