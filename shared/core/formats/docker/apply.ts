/**
 * Applying image entries to a target registry. For each image: every blob present (HEAD),
 * mounted from another repository of the target where Ferry put it before, committed from
 * the upload session it went into while the bundle verified, or uploaded from the bundle
 * (or the held blobs); then child manifests, then the tagged manifest by digest, and only then
 * the tag, so a tag never points at an image whose blobs are not all there. Referrers
 * follow their subject. An image that cannot be completed stops alone; the others proceed.
 */
import type { BundleManifest, ImageBundleEntry } from '../../../bundle/index.ts';
import { forEachLimited } from '../../../concurrency.ts';
import type { Digest } from '../../../digest.ts';
import { ImportError, shippedInWords } from '../../import/errors.ts';
import type { ImportDeps, TargetRegistry } from '../format.ts';
import type { ImageStep } from './plan.ts';

/** The parts of the import deps applying images uses. */
export type ImageImportDeps = Pick<ImportDeps, 'registryFor' | 'available' | 'blob' | 'state' | 'log' | 'commitStaged'>;

/** Manifests are small; one held as a blob is read whole (bounded). */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

async function readHeld(deps: ImageImportDeps, digest: Digest): Promise<Buffer> {
  const source = await deps.blob(digest);
  if (source.size > MAX_MANIFEST_BYTES) throw new Error(`manifest ${digest} is ${source.size} bytes, over ${MAX_MANIFEST_BYTES}`);
  const chunks: Buffer[] = [];
  for await (const chunk of await source.open()) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

class MissingImageBlob extends ImportError {
  override readonly name = 'MissingImageBlob';
}

/**
 * One writer per (registry, repository, digest) for the length of an import. Two tags of one
 * image share every blob, and a registry that is handed the same blob twice at once may
 * rewrite its link while the other tag's manifest PUT reads it (docker-registry 2.8 truncates
 * the link file, and answers DIGEST_INVALID / MANIFEST_BLOB_UNKNOWN). The second caller
 * waits for the first write instead, then finds the blob present.
 */
type SingleFlight = <T>(key: string, work: () => Promise<T>) => Promise<T>;

export function makeSingleFlight(): SingleFlight {
  const inFlight = new Map<string, Promise<unknown>>();
  return async <T>(key: string, work: () => Promise<T>): Promise<T> => {
    for (let running = inFlight.get(key); running !== undefined; running = inFlight.get(key)) {
      await running.catch(() => undefined); // its failure is its caller's to report
    }
    const mine = work();
    inFlight.set(key, mine);
    try {
      return await mine;
    } finally {
      inFlight.delete(key);
    }
  };
}

/**
 * Applies the planned image steps. Entries for the same tag keep their order; an image that
 * fails (the network, a target that changed since the plan) stops alone and is reported.
 */
export async function applyImageEntries(
  deps: ImageImportDeps,
  manifest: BundleManifest,
  bundleDigest: Digest,
  steps: unknown[],
  options: { concurrency: number; progress: (index: number) => void },
): Promise<{ index: number; entry: string; reason: string }[]> {
  const failures: { index: number; entry: string; reason: string }[] = [];
  const once = makeSingleFlight();
  const shippedIn = (digest: Digest) => manifest.blobs.required.find((b) => b.digest === digest)?.shippedIn ?? manifest.sequence;
  const byTag = new Map<string, ImageStep[]>();
  for (const step of steps as ImageStep[]) {
    const key = `${step.repository}\n${step.entry.target.name}:${step.entry.target.tag}`;
    byTag.set(key, [...(byTag.get(key) ?? []), step]);
  }

  await forEachLimited([...byTag.values()], options.concurrency, async (tagSteps) => {
    for (const { index, entry, repository, label: image, action } of tagSteps) {
      try {
        if (action !== 'done') {
          const target = deps.registryFor(repository);
          if (target === undefined) throw new Error(`no registry is configured for target repository ${repository} (target.registries in the import config)`);
          const outcome = action === 'present' ? 'present' : await applyImage(deps, target, entry, shippedIn, once);
          await deps.state.recordEntryOutcome(bundleDigest, index, outcome);
          deps.log.debug(`${outcome} ${image}`, { digest: entry.digest });
        }
      } catch (error) {
        failures.push({ index, entry: image, reason: (error as Error).message });
        deps.log.error(`${image}: not imported: ${(error as Error).message}`, { image });
        break; // later entries for the same tag must not overtake this one
      } finally {
        options.progress(index);
      }
    }
  });
  return failures;
}

async function applyImage(
  deps: ImageImportDeps,
  target: TargetRegistry,
  entry: ImageBundleEntry,
  shippedIn: (digest: Digest) => number,
  once: SingleFlight,
): Promise<'imported' | 'present'> {
  const { registry, key } = target;
  const name = entry.target.name;
  const tagged = await registry.headManifest(name, entry.target.tag);
  const referrersThere = await Promise.all(entry.referrers.map((r) => registry.headManifest(name, r.digest)));
  if (tagged?.digest === entry.digest && referrersThere.every((r) => r !== undefined)) return 'present';

  // Every write of one digest to this repository waits for any other in flight (see makeSingleFlight).
  const writing = <T>(digest: Digest, work: () => Promise<T>) => once(`${key}\n${name}\n${digest}`, work);

  // Blobs first; a missing one stops this image before any manifest is written.
  const ensureBlob = async (digest: Digest) => {
    if ((await registry.headBlob(name, digest)) !== undefined) return;
    const from = await deps.state.blobLocation?.(key, digest);
    if (from !== undefined && from !== name && (await registry.mountBlob(name, digest, from))) return;
    // Uploaded while its bundle verified (into the first image that uses it): commit, or mount from there.
    const staged = await deps.commitStaged?.(key, digest);
    if (staged === name || (staged !== undefined && (await registry.mountBlob(name, digest, staged)))) return;
    if (!(await deps.available(digest))) {
      throw new MissingImageBlob(`blob ${digest} is neither on the target nor held here; ${shippedInWords(shippedIn(digest))}`);
    }
    await registry.uploadBlob(name, digest, await deps.blob(digest));
  };
  for (const blob of entry.blobs) await writing(blob.digest, () => ensureBlob(blob.digest));
  // Every blob is now in this repository (present, mounted or uploaded): a mount source for later images.
  for (const blob of entry.blobs) await deps.state.recordBlobLocation?.(key, blob.digest, name);

  // A manifest PUT, by digest or by tag, rewrites that digest's revision link: one at a time.
  const putTag = (descriptor: { mediaType: string; digest: Digest }, tag: string) =>
    writing(descriptor.digest, async () => registry.putManifest(name, tag, { mediaType: descriptor.mediaType, bytes: await readHeld(deps, descriptor.digest) }));
  const putByDigest = (descriptor: { mediaType: string; digest: Digest }) =>
    writing(descriptor.digest, async () => {
      if ((await registry.headManifest(name, descriptor.digest)) !== undefined) return;
      if (!(await deps.available(descriptor.digest))) {
        throw new MissingImageBlob(`manifest ${descriptor.digest} is neither on the target nor held here; ${shippedInWords(shippedIn(descriptor.digest))}`);
      }
      await registry.putManifest(name, descriptor.digest, { mediaType: descriptor.mediaType, bytes: await readHeld(deps, descriptor.digest) });
    });
  for (const child of entry.manifests) await putByDigest(child);
  await putByDigest({ mediaType: entry.mediaType, digest: entry.digest });
  // The tag moves last, to a manifest whose every blob is now there.
  await putTag({ mediaType: entry.mediaType, digest: entry.digest }, entry.target.tag);
  for (const referrer of entry.referrers) {
    await putByDigest(referrer);
    if (referrer.tag !== undefined) await putTag(referrer, referrer.tag);
  }
  return 'imported';
}
