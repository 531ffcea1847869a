/**
 * The import plan: everything an import will write, decided and checked before the first
 * write. A bundle is refused whole when the target would refuse any planned write — its
 * repository missing, offline, a proxy or group, of another format, read-only, or on
 * `allow_once` with the path already there with other content — or when a blob it needs
 * is neither held here, in the bundle, nor on the target. Only failures that no check can
 * foresee (the network, a target that changes meanwhile) are left for the apply phase, and
 * a re-run finishes those.
 */
import { coordinatesLabel, type BundleEntry, type BundleManifest, type ImageBundleEntry, type RawBundleEntry } from '../../bundle/index.ts';
import type { Digest } from '../../digest.ts';
import type { EntryRefusal, MissingBlob } from './errors.ts';
import type { Log } from '../log.ts';
import type { ArtifactTarget, Checksums, ImportState, TargetRepository } from '../ports/index.ts';
import type { TargetRegistry } from '../formats/docker/apply.ts';

export interface PlanDeps {
  target: ArtifactTarget;
  state: ImportState;
  log: Log;
  targetRepository(name: string): string;
  registryFor(targetRepository: string): TargetRegistry | undefined;
  /** Whether a blob is at hand for an upload: held here, or (for a verify-only run) in the bundles read. */
  available(digest: Digest): Promise<boolean>;
}

export interface RawStep {
  index: number;
  entry: RawBundleEntry;
  repository: string;
  action: 'done' | 'present' | 'upload';
}

export interface ImageStep {
  index: number;
  entry: ImageBundleEntry;
  repository: string;
  action: 'done' | 'present' | 'apply';
}

export interface ImportPlan {
  raw: RawStep[];
  images: ImageStep[];
  refusals: EntryRefusal[];
  missing: MissingBlob[];
}

/** Which Nexus format a bundle entry kind is written to. */
const FORMAT_OF: Record<BundleEntry['kind'], string> = { raw: 'raw', image: 'docker' };

/** Cosign-style and referrers-schema tags name their subject: `sha256-<hex>[.sig|.att|.sbom]`. */
const REFERRER_TAG = /^sha256-([0-9a-f]{64})(?:\.(?:sig|att|sbom))?$/;

export async function planImport(deps: PlanDeps, manifest: BundleManifest, bundleDigest: Digest): Promise<ImportPlan> {
  const plan: ImportPlan = { raw: [], images: [], refusals: [], missing: [] };
  const repositories = new Map((await deps.target.repositories()).map((r) => [r.name, r]));
  const missing = new Map<Digest, MissingBlob>();
  const shippedIn = (digest: Digest) => manifest.blobs.required.find((b) => b.digest === digest)?.shippedIn ?? manifest.sequence;
  const sizeOf = (digest: Digest) => [...manifest.blobs.included, ...manifest.blobs.required].find((b) => b.digest === digest)?.size ?? 0;
  const need = (digest: Digest, index: number, entry: string) => {
    const known = missing.get(digest) ?? { digest, size: sizeOf(digest), shippedIn: shippedIn(digest), neededBy: [] };
    known.neededBy.push({ index, entry });
    missing.set(digest, known);
  };
  const assets = await indexTargetAssets(deps, manifest, repositories);
  /** Image manifests this bundle puts on the target, per repository and name: subjects for referrer tags. */
  const pushed = new Set<string>();
  const unknownPolicy = new Set<string>();
  /** Path or tag → digest of the first write to it in this bundle: allow_once takes one write only. */
  const written = new Map<string, Digest>();
  const writtenTwice = (repo: TargetRepository, key: string, digest: Digest) => {
    const first = written.get(key);
    if (first === undefined) written.set(key, digest);
    return repo.writePolicy === 'allow_once' && first !== undefined && first !== digest;
  };

  for (const [index, entry] of manifest.entries.entries()) {
    const repository = deps.targetRepository(entry.target.repository);
    const label = coordinatesLabel({ ...entry.target, repository } as BundleEntry['target']);
    const done = (await deps.state.entryOutcome(bundleDigest, index)) !== undefined;
    if (entry.kind === 'image') for (const d of [entry.digest, ...entry.manifests.map((m) => m.digest)]) pushed.add(`${repository}\n${entry.target.name}\n${d}`);
    if (done) {
      if (entry.kind === 'raw') plan.raw.push({ index, entry, repository, action: 'done' });
      else plan.images.push({ index, entry, repository, action: 'done' });
      continue;
    }
    const repo = repositories.get(repository);
    const refused = repositoryRefusal(repository, repo, FORMAT_OF[entry.kind]);
    if (refused !== undefined) {
      plan.refusals.push({ index, entry: label, reason: refused });
      continue;
    }
    if (repo!.writePolicy === undefined && !unknownPolicy.has(repository)) {
      unknownPolicy.add(repository);
      deps.log.warn(`the write policy of ${repository} is unknown (the target user may not read /v1/repositorySettings): a write it refuses is found only at upload`, { repository });
    }
    if (entry.kind === 'raw') {
      const step = planRaw(entry, repository, repo!, assets.get(repository)?.get(entry.target.path));
      if (typeof step === 'object') plan.refusals.push({ index, entry: label, reason: step.refusal });
      else if (step === 'upload' && writtenTwice(repo!, `${repository}\n${entry.target.path}`, entry.digest)) {
        plan.refusals.push({ index, entry: label, reason: `an earlier entry of this bundle writes other content to it, and ${repository} does not allow redeploying it (write policy allow_once)` });
      } else {
        plan.raw.push({ index, entry, repository, action: step });
        if (step === 'upload' && !(await deps.available(entry.digest))) need(entry.digest, index, label);
      }
      continue;
    }
    const step = await planImage(deps, entry, repository, repo!, pushed);
    if ('refusal' in step) plan.refusals.push({ index, entry: label, reason: step.refusal });
    else if (step.action === 'apply' && writtenTwice(repo!, `${repository}\n${entry.target.name}:${entry.target.tag}`, entry.digest)) {
      plan.refusals.push({ index, entry: label, reason: `an earlier entry of this bundle points the tag elsewhere, and ${repository} does not allow redeploying it (write policy allow_once)` });
    } else {
      plan.images.push({ index, entry, repository, action: step.action });
      for (const digest of step.missing) need(digest, index, label);
    }
  }
  plan.missing = [...missing.values()];
  return plan;
}

/** Why a repository takes no write of this format, or undefined when it does (as far as the target says). */
function repositoryRefusal(name: string, repo: TargetRepository | undefined, format: string): string | undefined {
  if (repo === undefined) return `target repository ${name} does not exist on the target Nexus`;
  if (repo.type !== 'hosted') {
    return `target repository ${name} is a ${repo.type} repository, which takes no uploads; map the bundle's repository to a hosted one (target.repositories)`;
  }
  if (repo.format !== format) return `target repository ${name} is a ${repo.format} repository, not ${format}`;
  if (repo.online === false) return `target repository ${name} is offline`;
  if (repo.writePolicy === 'deny') return `target repository ${name} is read-only (write policy deny)`;
  return undefined;
}

/** path → checksums of every asset in the target repositories the raw entries write. */
async function indexTargetAssets(deps: PlanDeps, manifest: BundleManifest, repositories: Map<string, TargetRepository>): Promise<Map<string, Map<string, Checksums>>> {
  const index = new Map<string, Map<string, Checksums>>();
  for (const entry of manifest.entries) {
    if (entry.kind !== 'raw') continue;
    const repository = deps.targetRepository(entry.target.repository);
    if (index.has(repository) || repositoryRefusal(repository, repositories.get(repository), 'raw') !== undefined) continue;
    const assets = new Map<string, Checksums>();
    for await (const asset of deps.target.listAssets(repository)) assets.set(asset.path, asset.checksums);
    index.set(repository, assets);
  }
  return index;
}

const hasSameContent = (have: Checksums, entry: RawBundleEntry) =>
  have.sha256 ? have.sha256 === entry.digest.slice(7) : entry.checksums.sha1 !== undefined && have.sha1 === entry.checksums.sha1;

/** The raw entry's step, or why the target would refuse its upload. */
function planRaw(entry: RawBundleEntry, repository: string, repo: TargetRepository, there: Checksums | undefined): RawStep['action'] | { refusal: string } {
  if (there === undefined) return 'upload';
  if (hasSameContent(there, entry)) return 'present';
  if (repo.writePolicy === 'allow_once') {
    return { refusal: `${repository}${entry.target.path} is on the target with other content, and ${repository} does not allow redeploying it (write policy allow_once)` };
  }
  return 'upload';
}

/** The image entry's step and the blobs nobody has, or why the target would refuse it. */
async function planImage(
  deps: PlanDeps,
  entry: ImageBundleEntry,
  repository: string,
  repo: TargetRepository,
  pushed: Set<string>,
): Promise<{ action: ImageStep['action']; missing: Digest[] } | { refusal: string }> {
  const target = deps.registryFor(repository);
  if (target === undefined) return { refusal: `no registry is configured for target repository ${repository} (target.registries in the import config)` };
  const { registry } = target;
  const name = entry.target.name;
  const tagged = await registry.headManifest(name, entry.target.tag);
  if (tagged !== undefined && tagged.digest !== entry.digest && repo.writePolicy === 'allow_once') {
    return { refusal: `tag ${entry.target.tag} is on the target as ${tagged.digest}, and ${repository} does not allow redeploying it (write policy allow_once)` };
  }
  const subject = REFERRER_TAG.exec(entry.target.tag)?.[1];
  if (subject !== undefined && !pushed.has(`${repository}\n${name}\nsha256:${subject}`) && (await registry.headManifest(name, `sha256:${subject}`)) === undefined) {
    return { refusal: `its subject sha256:${subject} is neither on the target nor in this bundle: import the image it signs or describes first` };
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
