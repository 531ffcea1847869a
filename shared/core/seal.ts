/**
 * Seal: turn pending entries into the next signed, chained bundles. Only blobs the far
 * side has never been sent are included; the rest are listed as required with the bundle
 * that shipped them. A size cap (the media) spills entries into the next bundle, in
 * staging order, so the importer applies changes in the order they were seen.
 */
import type { Signer } from '../signing.ts';
import { BUNDLE_FORMAT, bundleFileName, writeBundle, type BundleManifest } from '../bundle/index.ts';
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
    const shipped = plannedIn.get(entry.digest) ?? (await shippedIn(entry.digest));
    const needsBlob = shipped === undefined;
    const cost = MANIFEST_BYTES_PER_ENTRY + (needsBlob ? tarMemberBytes(entry.size) : 0);
    if (TAR_FIXED_OVERHEAD + cost > maxBytes) {
      oversized.push(entry);
      continue;
    }
    if (current === undefined || current.bytes + cost > maxBytes) {
      if (current !== undefined) bundles.push(current);
      current = open();
    }
    const sequence = firstSequence + bundles.length;
    if (needsBlob) {
      current.included.push({ digest: entry.digest, size: entry.size });
      plannedIn.set(entry.digest, sequence);
    } else if (shipped !== sequence) {
      current.required.set(entry.digest, { size: entry.size, shippedIn: shipped });
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
      entries: planned.entries.map((e) => ({
        kind: 'raw' as const,
        source: { repository: e.sourceRepository, path: e.path },
        target: { repository: e.targetRepository, path: e.path },
        digest: e.digest,
        size: e.size,
        checksums: withoutUndefined({ sha1: e.checksums.sha1, md5: e.checksums.md5 }),
      })),
      blobs: {
        included: planned.included,
        required: [...planned.required].map(([digest, r]) => ({ digest, size: r.size, shippedIn: r.shippedIn })),
      },
    };
    const name = bundleFileName(sourceId, sequence);
    let manifestDigest: Digest | undefined;
    const written = await store.putBundle(name, async (out) => {
      const w = await writeBundle(out, { manifest, blobs: (digest) => store.getBlob(digest), signer });
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

function withoutUndefined<T extends Record<string, string | undefined>>(value: T): Record<string, string> {
  return Object.fromEntries(Object.entries(value).filter((kv): kv is [string, string] => kv[1] !== undefined));
}
