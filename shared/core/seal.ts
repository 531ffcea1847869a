/**
 * Seal: turn pending entries into the next signed, chained bundles. Only blobs the far
 * side has never been sent are included; the rest are listed as required with the bundle
 * that shipped them. A size cap (the media) spills entries into the next bundle, in
 * staging order, so the importer applies changes in the order they were seen.
 */
import type { Signer } from '../signing.ts';
import { BUNDLE_FORMAT, bundleFileName, writeBundle, type BundleEntry, type BundleManifest } from '../bundle/index.ts';
import type { Digest } from '../digest.ts';
import { OversizedEntryError } from './errors.ts';
import type { BundleRecord, Clock, ExportState, ObjectStore, PendingEntry } from './ports.ts';
import type { Log } from './log.ts';

export interface SealDeps {
  store: ObjectStore;
  state: ExportState;
  clock: Clock;
  log: Log;
  sourceId: string;
  signer: Signer;
}

export interface SealResult {
  bundles: (BundleRecord & { entries: number; blobsIncluded: number; blobsRequired: number; bytesIncluded: number })[];
  /** Entries left pending because their blob alone exceeds the cap. */
  oversized: OversizedEntryError[];
}

/** Tar overhead: a 512-byte header per member plus padding, the small members, the end blocks. */
const TAR_FIXED_OVERHEAD = 16 * 1024;
const MANIFEST_BYTES_PER_ENTRY = 700;
const tarMemberBytes = (size: number) => 512 + Math.ceil(size / 512) * 512;

interface PlannedBundle {
  entries: PendingEntry[];
  included: { digest: Digest; size: number }[];
  required: Map<Digest, { size: number; shippedIn: number }>;
  bytes: number;
}

/**
 * Splits the pending entries into bundles under `maxBytes`. `shippedIn` says which blobs
 * the far side already has (or will, from an earlier bundle of this same plan).
 */
export async function planBundles(
  pending: PendingEntry[],
  shippedIn: (digest: Digest) => Promise<number | undefined>,
  firstSequence: number,
  maxBytes: number,
): Promise<{ bundles: PlannedBundle[]; oversized: PendingEntry[] }> {
  const bundles: PlannedBundle[] = [];
  const oversized: PendingEntry[] = [];
  const plannedIn = new Map<Digest, number>();
  let current: PlannedBundle | undefined;
  const open = (): PlannedBundle => ({ entries: [], included: [], required: new Map(), bytes: TAR_FIXED_OVERHEAD });
  for (const entry of pending) {
    // Where each blob the entry needs stands: shipped before (a sequence) or new.
    const needs = new Map<Digest, { size: number; shipped: number | undefined }>();
    for (const blob of blobsOf(entry)) {
      if (!needs.has(blob.digest)) needs.set(blob.digest, { size: blob.size, shipped: plannedIn.get(blob.digest) ?? (await shippedIn(blob.digest)) });
    }
    const newBytes = [...needs.values()].reduce((n, b) => n + (b.shipped === undefined ? tarMemberBytes(b.size) : 0), 0);
    const cost = MANIFEST_BYTES_PER_ENTRY * (1 + Math.floor(needs.size / 8)) + newBytes;
    if (TAR_FIXED_OVERHEAD + cost > maxBytes) {
      oversized.push(entry);
      continue;
    }
    if (current === undefined || current.bytes + cost > maxBytes) {
      if (current !== undefined) bundles.push(current);
      current = open();
    }
    const sequence = firstSequence + bundles.length;
    for (const [digest, blob] of needs) {
      if (blob.shipped === undefined) {
        current.included.push({ digest, size: blob.size });
        plannedIn.set(digest, sequence);
      } else if (blob.shipped !== sequence) {
        current.required.set(digest, { size: blob.size, shippedIn: blob.shipped });
      }
    }
    current.bytes += cost;
    current.entries.push(entry);
  }
  if (current !== undefined && current.entries.length > 0) bundles.push(current);
  return { bundles, oversized };
}

export async function sealPending(deps: SealDeps, options: { maxBytes: number }): Promise<SealResult> {
  const { store, state, clock, log, sourceId, signer } = deps;
  const pending = await state.listPendingEntries();
  const result: SealResult = { bundles: [], oversized: [] };
  if (pending.length === 0) return result;
  let last = await state.getLastBundle(sourceId);
  const plan = await planBundles(pending, (d) => state.shippedIn(d), (last?.sequence ?? 0) + 1, options.maxBytes);
  result.oversized = plan.oversized.map((e) => new OversizedEntryError(e.sourceRepository, e.path, e.size, options.maxBytes));
  for (const error of result.oversized) log.error(error.message, { repository: error.repository, path: error.path });

  for (const planned of plan.bundles) {
    const sequence = (last?.sequence ?? 0) + 1;
    const createdAt = clock.now().toISOString();
    const manifest: Omit<BundleManifest, 'layout'> = {
      format: BUNDLE_FORMAT,
      sourceId,
      sequence,
      previous: last?.digest ?? null,
      createdAt,
      entries: planned.entries.map(bundleEntryOf),
      blobs: {
        included: planned.included,
        required: [...planned.required].map(([digest, r]) => ({ digest, size: r.size, shippedIn: r.shippedIn })),
      },
    };
    const name = bundleFileName(sourceId, sequence);
    let manifestDigest: Digest | undefined;
    const written = await store.putBundle(name, async (out) => {
      const w = await writeBundle(out, { manifest, ociIndex: ociIndexOf(manifest.entries), blobs: (digest) => store.getBlob(digest), signer });
      manifestDigest = w.manifestDigest;
    });
    if (manifestDigest === undefined) throw new Error(`sealing ${name}: the writer returned no manifest digest`);
    const record: BundleRecord = { sourceId, sequence, digest: manifestDigest, name, size: written.size, sealedAt: createdAt };
    // A crash before this line leaves a file no state points to; the next seal rewrites it.
    await state.recordSeal(record, planned.entries.map((e) => e.seq), planned.included.map((b) => b.digest));
    const bytesIncluded = planned.included.reduce((n, b) => n + b.size, 0);
    result.bundles.push({ ...record, entries: planned.entries.length, blobsIncluded: planned.included.length, blobsRequired: planned.required.size, bytesIncluded });
    log.info(`sealed ${name}: ${planned.entries.length} entries, ${planned.included.length} blobs (${bytesIncluded} bytes), ${planned.required.size} required from earlier bundles`, {
      bundle: name,
      sequence,
      digest: manifestDigest,
    });
    last = record;
  }
  return result;
}

/** Every blob an entry needs, its own manifest first. */
export function blobsOf(entry: PendingEntry): { digest: Digest; size: number }[] {
  if (entry.image === undefined) return [{ digest: entry.digest, size: entry.size }];
  const { manifests, blobs, referrers } = entry.image;
  return [{ digest: entry.digest, size: entry.size }, ...manifests, ...blobs, ...referrers];
}

function bundleEntryOf(e: PendingEntry): BundleEntry {
  if (e.image === undefined) {
    return {
      kind: 'raw',
      source: { repository: e.sourceRepository, path: e.path },
      target: { repository: e.targetRepository, path: e.path },
      digest: e.digest,
      size: e.size,
      checksums: withoutUndefined({ sha1: e.checksums.sha1, md5: e.checksums.md5 }),
    };
  }
  const image = e.image;
  return {
    kind: 'image',
    source: { repository: e.sourceRepository, name: image.name, tag: image.tag },
    target: { repository: e.targetRepository, name: image.targetName, tag: image.tag },
    digest: e.digest,
    size: e.size,
    mediaType: image.mediaType,
    manifests: image.manifests.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
    blobs: image.blobs.map(({ digest, size }) => ({ digest, size })),
    referrers: image.referrers.map(({ mediaType, digest, size, tag }) => ({ mediaType, digest, size, ...(tag ? { tag } : {}) })),
  };
}

/**
 * The bundle's OCI index names each image as `<name>:<tag>`, so `skopeo` and friends can
 * read `oci-archive:<bundle>:<name>:<tag>` straight from the tar.
 */
export function ociIndexOf(entries: BundleEntry[]): object {
  return {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: entries.flatMap((e) =>
      e.kind === 'image'
        ? [{ mediaType: e.mediaType, digest: e.digest, size: e.size, annotations: { 'org.opencontainers.image.ref.name': `${e.target.name}:${e.target.tag}` } }]
        : [],
    ),
  };
}

function withoutUndefined<T extends Record<string, string | undefined>>(value: T): Record<string, string> {
  return Object.fromEntries(Object.entries(value).filter((kv): kv is [string, string] => kv[1] !== undefined));
}
