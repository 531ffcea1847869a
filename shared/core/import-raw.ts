/**
 * Applying raw entries: each is done already (the importer's own record), present on the
 * target with the same content, or uploaded from the held blobs. Whether every needed blob
 * is at hand is settled before the first upload, so a bundle is never half-applied for
 * want of a blob.
 */
import type { BundleManifest, RawBundleEntry } from '../bundle/index.ts';
import type { Digest } from '../digest.ts';
import { MissingBlobError } from './errors.ts';
import { forEachLimited } from './exporter.ts';
import type { Log } from './log.ts';
import type { ArtifactTarget, Checksums, ImportState, ObjectStore } from './ports.ts';

export interface RawImportDeps {
  target: ArtifactTarget;
  held: ObjectStore;
  state: ImportState;
  log: Log;
  targetRepository(name: string): string;
}

export interface RawStep {
  index: number;
  entry: RawBundleEntry;
  repository: string;
  action: 'done' | 'present' | 'upload';
}

const rawEntries = (manifest: BundleManifest) =>
  manifest.entries.flatMap((entry, index) => (entry.kind === 'raw' ? [{ entry, index }] : []));

/** path → checksums of every asset in the target repositories the raw entries touch. */
async function indexTarget(deps: RawImportDeps, manifest: BundleManifest): Promise<Map<string, Map<string, Checksums>>> {
  const index = new Map<string, Map<string, Checksums>>();
  for (const { entry } of rawEntries(manifest)) {
    const repository = deps.targetRepository(entry.target.repository);
    if (index.has(repository)) continue;
    const assets = new Map<string, Checksums>();
    for await (const asset of deps.target.listAssets(repository)) assets.set(asset.path, asset.checksums);
    index.set(repository, assets);
  }
  return index;
}

const hasSameContent = (have: Checksums | undefined, digest: Digest, sha1: string | undefined) =>
  have !== undefined && (have.sha256 ? have.sha256 === digest.slice(7) : sha1 !== undefined && have.sha1 === sha1);

/**
 * Decides every raw entry's step; refuses (MissingBlobError) when a blob to upload is
 * neither held nor in `inBundle` (blobs a verify-only pass saw but did not keep).
 */
export async function planRawEntries(
  deps: RawImportDeps,
  where: string,
  manifest: BundleManifest,
  bundleDigest: Digest,
  inBundle: ReadonlySet<Digest> = new Set(),
): Promise<RawStep[]> {
  const index = await indexTarget(deps, manifest);
  const plan: RawStep[] = [];
  const missing: { digest: Digest; shippedIn: number; needs: string }[] = [];
  for (const { entry, index: i } of rawEntries(manifest)) {
    const repository = deps.targetRepository(entry.target.repository);
    if ((await deps.state.entryOutcome(bundleDigest, i)) !== undefined) {
      plan.push({ index: i, entry, repository, action: 'done' });
    } else if (hasSameContent(index.get(repository)?.get(entry.target.path), entry.digest, entry.checksums.sha1)) {
      plan.push({ index: i, entry, repository, action: 'present' });
    } else {
      if (!inBundle.has(entry.digest) && (await deps.held.statBlob(entry.digest)) === undefined) {
        const required = manifest.blobs.required.find((b) => b.digest === entry.digest);
        missing.push({ digest: entry.digest, shippedIn: required?.shippedIn ?? manifest.sequence, needs: `${repository}${entry.target.path}` });
      }
      plan.push({ index: i, entry, repository, action: 'upload' });
    }
  }
  if (missing.length > 0) throw new MissingBlobError(missing, where);
  return plan;
}

/** Entries for the same target path keep their order; distinct paths go in parallel. */
export async function applyRawSteps(deps: RawImportDeps, bundleDigest: Digest, plan: RawStep[], concurrency: number, progress: () => void): Promise<void> {
  const byPath = new Map<string, RawStep[]>();
  for (const step of plan) {
    const key = `${step.repository}\n${step.entry.target.path}`;
    byPath.set(key, [...(byPath.get(key) ?? []), step]);
  }
  await forEachLimited([...byPath.values()], concurrency, async (steps) => {
    for (const step of steps) {
      if (step.action === 'upload') {
        await deps.target.uploadRaw(step.repository, step.entry.target.path, await deps.held.getBlob(step.entry.digest));
        deps.log.debug(`imported ${step.repository}${step.entry.target.path}`, { digest: step.entry.digest, size: step.entry.size });
      }
      if (step.action !== 'done') await deps.state.recordEntryOutcome(bundleDigest, step.index, step.action === 'upload' ? 'imported' : 'present');
      progress();
    }
  });
}
