/**
 * The import plan: everything an import will write, decided and checked before the first
 * write. A bundle is refused whole when the target would refuse any planned write — its
 * repository missing, offline, a proxy or group, of another format, read-only — or when an
 * entry's format finds a write the target would refuse (an `allow_once` path or tag already
 * there with other content, a referrer without its subject), or when a blob it needs is
 * neither held here, in the bundle, nor on the target. Only failures that no check can
 * foresee (the network, a target that changes meanwhile) are left for the apply phase, and
 * a re-run finishes those.
 */
import { coordinatesLabel, type BundleEntry, type BundleManifest } from '../../bundle/index.ts';
import type { Digest } from '../../digest.ts';
import { formatOfEntry, type FormatModule, type ImportDeps, type PlannedEntry } from '../formats/index.ts';
import type { TargetRepository } from '../ports/index.ts';
import type { EntryRefusal, MissingBlob } from './errors.ts';

export interface PlanDeps extends ImportDeps {
  targetRepository(name: string): string;
}

export interface ImportPlan {
  /** Each format's steps, in the order formats apply. */
  steps: { format: FormatModule; steps: unknown[] }[];
  refusals: EntryRefusal[];
  missing: MissingBlob[];
}

export async function planImport(deps: PlanDeps, manifest: BundleManifest, bundleDigest: Digest): Promise<ImportPlan> {
  const repositories = new Map((await deps.target.repositories()).map((r) => [r.name, r]));
  const refusals: EntryRefusal[] = [];
  const byFormat = new Map<FormatModule, PlannedEntry[]>();
  const unknownPolicy = new Set<string>();
  for (const [index, entry] of manifest.entries.entries()) {
    const format = formatOfEntry(entry);
    const repository = deps.targetRepository(entry.target.repository);
    const label = coordinatesLabel({ ...entry.target, repository } as BundleEntry['target']);
    const done = (await deps.state.entryOutcome(bundleDigest, index)) !== undefined;
    const target = repositories.get(repository);
    // An entry done in an earlier run writes nothing more: the target's state now is no reason to refuse it.
    // A tombstone writes nothing: a read-only repository keeps what it removes (tombstone/import.ts), never refuses the bundle.
    const refused = done ? undefined : repositoryRefusal(repository, target, format.targetFormat?.(entry) ?? format.format, entry.kind !== 'tombstone');
    if (refused !== undefined) {
      refusals.push({ index, entry: label, reason: refused });
      continue;
    }
    if (!done && target!.writePolicy === undefined && !unknownPolicy.has(repository)) {
      unknownPolicy.add(repository);
      deps.log.warn(`the write policy of ${repository} is unknown (the target user may not read /v1/repositorySettings): a write it refuses is found only at upload`, { repository });
    }
    const planned: PlannedEntry = { index, entry, repository, label, target: target ?? unknownRepository(repository, format), done };
    byFormat.set(format, [...(byFormat.get(format) ?? []), planned]);
  }

  const plan: ImportPlan = { steps: [], refusals, missing: [] };
  const missing = new Map<Digest, MissingBlob>();
  const shippedIn = (digest: Digest) => manifest.blobs.required.find((b) => b.digest === digest)?.shippedIn ?? manifest.sequence;
  const sizeOf = (digest: Digest) => [...manifest.blobs.included, ...manifest.blobs.required].find((b) => b.digest === digest)?.size ?? 0;
  for (const [format, entries] of byFormat) {
    const planned = await format.plan(deps, manifest, entries, bundleDigest);
    plan.steps.push({ format, steps: planned.steps });
    plan.refusals.push(...planned.refusals);
    for (const { digest, index, label } of planned.missing) {
      const known = missing.get(digest) ?? { digest, size: sizeOf(digest), shippedIn: shippedIn(digest), neededBy: [] };
      known.neededBy.push({ index, entry: label });
      missing.set(digest, known);
    }
  }
  plan.refusals.sort((a, b) => a.index - b.index);
  plan.missing = [...missing.values()];
  return plan;
}

/** Why a repository takes no write of this format, or undefined when it does (as far as the target says). */
function repositoryRefusal(name: string, repo: TargetRepository | undefined, format: string, writes: boolean): string | undefined {
  if (repo === undefined) return `target repository ${name} does not exist on the target Nexus`;
  if (repo.type !== 'hosted') {
    return `target repository ${name} is a ${repo.type} repository, which takes no uploads; map the bundle's repository to a hosted one (target.repositories)`;
  }
  if (repo.format !== format) return `target repository ${name} is a ${repo.format} repository, not ${format}`;
  if (repo.online === false) return `target repository ${name} is offline`;
  if (writes && repo.writePolicy === 'deny') return `target repository ${name} is read-only (write policy deny)`;
  return undefined;
}

/** For an entry done before whose repository has since gone: nothing will be written to it. */
function unknownRepository(name: string, format: FormatModule): TargetRepository {
  return { name, format: format.format, type: 'hosted', online: undefined, writePolicy: undefined };
}
