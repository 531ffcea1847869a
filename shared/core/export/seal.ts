/**
 * Seal: turn pending entries into the next signed, chained bundles. Only blobs the far
 * side has never been sent are included; the rest are listed as required with the bundle
 * that shipped them. A size cap (the media) spills entries into the next bundle, in
 * staging order, so the importer applies changes in the order they were seen.
 */
import type { Signer } from '../../signing.ts';
import { assembledBlobs, bundleFileName, carriedParts, bundleFormatFor, EMPTY_OCI_INDEX, prepareBundle, type BundleEntry, type BundleManifest, type BundlePart } from '../../bundle/index.ts';
import { formatOfEntry } from '../formats/index.ts';
import { faultPoint } from '../../fault-points.ts';
import type { Digest } from '../../digest.ts';
import { OversizedEntryError, StagedPartError } from './errors.ts';
import { writeSealReport } from './seal-report.ts';
import { readBundleHead } from '../../bundle/report/read.ts';
import type { BlobSource, BundleRecord, Clock, ExportState, ObjectStore, PendingEntry } from '../ports/index.ts';
import type { Log } from '../log.ts';
import {
  MANIFEST_BYTES_PER_ENTRY,
  manifestParts,
  openBundle,
  partDigests,
  placeSplitEntry,
  TAR_FIXED_OVERHEAD,
  tarMemberBytes,
  type PlanCursor,
  type PlannedBundle,
  type PlannedPart,
} from './split.ts';

export interface SealDeps {
  store: ObjectStore;
  state: ExportState;
  clock: Clock;
  log: Log;
  sourceId: string;
  signer: Signer;
}

export type SealedBundle = BundleRecord & {
  /** Where ops find it: a path in the outbox directory, or `s3://bucket/bundles/<name>`. */
  location: string;
  /** Its HTML report beside it, when the store keeps reports and writing it worked. */
  report: string | undefined;
  entries: number;
  blobsIncluded: number;
  blobsRequired: number;
  /** Parts of blobs bigger than the media this bundle carries (bytes counted in `bytesIncluded`). */
  partsIncluded: number;
  bytesIncluded: number;
};

export interface SealResult {
  bundles: SealedBundle[];
  /** Entries left pending because the cap leaves no room for their data (blobs bigger than one bundle are split). */
  oversized: OversizedEntryError[];
  /** A bundle an earlier, interrupted seal recorded and this one published. */
  republished: (BundleRecord & { location: string; report: string | undefined })[];
  /** Blobs the far side asked for again whose bytes are not staged yet. */
  resendsWaiting: Digest[];
}

export type { PlannedBundle } from './split.ts';

/**
 * Splits the pending entries into bundles under `maxBytes`. `shippedIn` says which blobs
 * the far side already has (or will, from an earlier bundle of this same plan). Blobs the
 * far side asked for again (`resend`) go first, needed by no entry of the bundle. An entry
 * whose new blobs exceed one bundle has them split into parts (split.ts); a split an earlier
 * seal left unfinished (`continued`: its parts already published) goes on from there.
 */
export async function planBundles(
  pending: PendingEntry[],
  shippedIn: (digest: Digest) => Promise<number | undefined>,
  firstSequence: number,
  maxBytes: number,
  resend: { digest: Digest; size: number }[] = [],
  continued: ReadonlyMap<Digest, readonly BundlePart[]> = new Map(),
): Promise<{ bundles: PlannedBundle[]; oversized: PendingEntry[]; oversizedResends: { digest: Digest; size: number }[]; earlier: BundlePart[] }> {
  const bundles: PlannedBundle[] = [];
  const oversized: PendingEntry[] = [];
  const oversizedResends: { digest: Digest; size: number }[] = [];
  const plannedIn = new Map<Digest, number>();
  const earlier: BundlePart[] = [];
  let current: PlannedBundle | undefined;
  const open = openBundle;
  for (const blob of resend) {
    if (plannedIn.has(blob.digest)) continue;
    const cost = tarMemberBytes(blob.size);
    if (TAR_FIXED_OVERHEAD + cost > maxBytes) {
      const cursor: PlanCursor = { bundles, current, firstSequence, maxBytes, plannedIn, continued, earlier };
      if (placeSplitEntry(cursor, undefined, new Map([[blob.digest, { size: blob.size, shipped: undefined }]]))) current = cursor.current;
      else oversizedResends.push(blob);
      continue;
    }
    if (current === undefined || current.bytes + cost > maxBytes) {
      if (current !== undefined) bundles.push(current);
      current = open();
    }
    current.included.push(blob);
    current.bytes += cost;
    plannedIn.set(blob.digest, firstSequence + bundles.length);
  }
  for (const entry of pending) {
    // Where each blob the entry needs stands: shipped before (a sequence) or new.
    const needs = new Map<Digest, { size: number; shipped: number | undefined }>();
    for (const blob of blobsOf(entry)) {
      if (!needs.has(blob.digest)) needs.set(blob.digest, { size: blob.size, shipped: plannedIn.get(blob.digest) ?? (await shippedIn(blob.digest)) });
    }
    const newBytes = [...needs.values()].reduce((n, b) => n + (b.shipped === undefined ? tarMemberBytes(b.size) : 0), 0);
    const cost = MANIFEST_BYTES_PER_ENTRY * (1 + Math.floor(needs.size / 8)) + newBytes;
    if (TAR_FIXED_OVERHEAD + cost > maxBytes) {
      const cursor: PlanCursor = { bundles, current, firstSequence, maxBytes, plannedIn, continued, earlier };
      if (placeSplitEntry(cursor, entry, needs)) current = cursor.current;
      else oversized.push(entry);
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
  if (current !== undefined && (current.entries.length > 0 || current.included.length > 0 || current.parts.length > 0)) bundles.push(current);
  return { bundles, oversized, oversizedResends, earlier };
}

/** The crash points of a seal, in order (see shared/fault-points.ts). */
export const SEAL_FAULT_POINTS = ['seal:before-stage', 'seal:mid-stage', 'seal:after-stage', 'seal:after-record', 'seal:after-publish', 'seal:after-mark'] as const;

export async function sealPending(deps: SealDeps, options: { maxBytes: number }): Promise<SealResult> {
  const { state, log, sourceId } = deps;
  const result: SealResult = { bundles: [], oversized: [], republished: [], resendsWaiting: [] };
  // Finish what was recorded: a seal killed after its record publishes those bytes, and only those.
  let last = await state.getLastBundle(sourceId);
  if (last !== undefined && !last.published) {
    const published = await publish(deps, last);
    log.warn(`published ${last.name}, sealed and recorded by an earlier run that stopped before publishing it`, { bundle: last.name, digest: last.digest });
    result.republished.push({ ...last, location: published.location, report: published.report, published: true });
    last = { ...last, published: true };
  }
  const pending = await state.listPendingEntries();
  const resend = await stagedResends(deps, result);
  if (pending.length === 0 && resend.length === 0) return result;
  const continued = await unfinishedSplits(deps, last, pending, options.maxBytes, resend);
  const plan = await planBundles(pending, (d) => state.shippedIn(d), (last?.sequence ?? 0) + 1, options.maxBytes, resend, continued);
  result.oversized = [
    ...plan.oversized.map((e) => new OversizedEntryError(e.sourceRepository, e.path, e.size, options.maxBytes)),
    ...plan.oversizedResends.map((b) => new OversizedEntryError('resend of', ` ${b.digest}`, b.size, options.maxBytes)),
  ];
  for (const error of result.oversized) log.error(error.message, { repository: error.repository, path: error.path });

  for (const blob of new Set(plan.earlier.map((p) => p.blob))) {
    log.info(`${blob}: its split goes on from where a seal that stopped left it (parts up to bundle ${last!.sequence} are not shipped again)`, { digest: blob });
  }
  const digests = await splitDigests(deps.store, plan.bundles, plan.earlier);
  for (const planned of plan.bundles) {
    const sequence = (last?.sequence ?? 0) + 1;
    const parts = manifestParts(planned, sequence, plan.bundles, plan.earlier).map((p) => ({ ...p, digest: digestOfPart(digests, p) }));
    const sealed = await sealOne(deps, planned, last, parts);
    result.bundles.push(sealed);
    log.info(
      `sealed ${sealed.name}: ${sealed.entries} entries, ${sealed.blobsIncluded} blobs${sealed.partsIncluded > 0 ? ` and ${sealed.partsIncluded} part(s) of larger ones` : ''} (${sealed.bytesIncluded} bytes), ${sealed.blobsRequired} required from earlier bundles`,
      { bundle: sealed.name, sequence: sealed.sequence, digest: sealed.digest, location: sealed.location, report: sealed.report },
    );
    last = sealed;
  }
  return result;
}

/** Resend requests whose bytes are staged; the others wait for a fetch task (see scan). */
async function stagedResends(deps: SealDeps, result: SealResult): Promise<{ digest: Digest; size: number }[]> {
  const staged: { digest: Digest; size: number }[] = [];
  for (const request of await deps.state.listResends()) {
    if ((await deps.store.statBlob(request.digest)) !== undefined) staged.push({ digest: request.digest, size: request.size });
    else result.resendsWaiting.push(request.digest);
  }
  if (result.resendsWaiting.length > 0) {
    deps.log.warn(`${result.resendsWaiting.length} blob(s) the far side asked for again are not staged yet; the next scan fetches them from the source`);
  }
  return staged;
}

/**
 * One bundle: sign, stage, record, publish. The record is the commit point: before it the
 * staged file is an orphan the next attempt replaces; after it the sequence names this
 * digest forever and only these bytes are ever published under its name.
 */
async function sealOne(deps: SealDeps, planned: PlannedBundle, last: BundleRecord | undefined, parts: BundlePart[]): Promise<SealedBundle> {
  const { store, state, clock, sourceId, signer } = deps;
  const sequence = (last?.sequence ?? 0) + 1;
  const createdAt = clock.now().toISOString();
  const entries = planned.entries.map(bundleEntryOf);
  const prepared = await prepareBundle({
    manifest: {
      format: bundleFormatFor(entries, parts),
      sourceId,
      sequence,
      previous: last?.digest ?? null,
      createdAt,
      entries,
      blobs: {
        included: planned.included,
        required: [...planned.required].map(([digest, r]) => ({ digest, size: r.size, shippedIn: r.shippedIn })),
        ...(parts.length > 0 ? { parts } : {}),
      },
    },
    ociIndex: ociIndexOf(entries),
    blobs: stagedBlobs(store),
    signer,
  });
  const name = bundleFileName(sourceId, sequence);
  faultPoint('seal:before-stage');
  const staged = await store.stageBundle(name, prepared.manifestDigest, (out) => prepared.write(out).then(() => undefined));
  faultPoint('seal:after-stage');
  const record: BundleRecord = { sourceId, sequence, digest: prepared.manifestDigest, name, size: staged.size, sealedAt: createdAt, published: false };
  // A split blob ships in the bundle carrying its last part: the ledger records it there.
  // Each part ships where it is carried: the far side holds parts under their own digests
  // and its receipts list them, which this chain can then confirm instead of ignoring.
  const shipped = [...planned.included, ...carriedParts(parts, sequence), ...assembledBlobs(parts)].map((b) => b.digest);
  await state.recordSeal(record, planned.entries.map((e) => e.seq), shipped);
  faultPoint('seal:after-record');
  const published = await publish(deps, record, prepared.manifestBytes);
  return {
    ...record,
    published: true,
    location: published.location,
    report: published.report,
    entries: planned.entries.length,
    blobsIncluded: planned.included.length,
    blobsRequired: planned.required.size,
    partsIncluded: planned.parts.length,
    bytesIncluded: planned.included.reduce((n, b) => n + b.size, 0) + planned.parts.reduce((n, p) => n + p.length, 0),
  };
}

/** The digest of every planned part, one pass over each split blob; those of earlier bundles as their manifest signed them. */
async function splitDigests(store: ObjectStore, bundles: PlannedBundle[], earlier: readonly BundlePart[]): Promise<Map<Digest, Map<number, Digest>>> {
  const byBlob = new Map<Digest, PlannedPart[]>();
  for (const part of bundles.flatMap((b) => b.parts)) byBlob.set(part.blob, [...(byBlob.get(part.blob) ?? []), part]);
  const digests = new Map<Digest, Map<number, Digest>>();
  for (const [blob, parts] of byBlob) digests.set(blob, await partDigests(store, blob, parts));
  for (const part of earlier) digests.get(part.blob)?.set(part.offset, part.digest);
  return digests;
}

/**
 * The splits the last bundle left unfinished (it lists parts of a blob that no bundle
 * completed yet): a seal stopped between the bundles of one split. Read from the published
 * bundle's signed manifest, so what goes on is exactly what ops may have carried. A blob the
 * far side asked for again starts over instead.
 */
async function unfinishedSplits(deps: SealDeps, last: BundleRecord | undefined, pending: PendingEntry[], maxBytes: number, resend: { digest: Digest }[]): Promise<Map<Digest, BundlePart[]>> {
  const unfinished = new Map<Digest, BundlePart[]>();
  // Only a blob over half the cap is ever split (split.ts): otherwise there is nothing to go on with.
  const splits = pending.some((entry) => blobsOf(entry).some((blob) => blob.size > maxBytes / 2));
  if (last === undefined || deps.store.openBundle === undefined || !splits) return unfinished;
  let manifest: BundleManifest;
  try {
    const input = await deps.store.openBundle(last.name);
    const head = await readBundleHead(input, last.name).finally(() => input.destroy());
    if (head.manifestDigest !== last.digest) throw new Error(`its manifest is not the one recorded (${head.manifestDigest}, recorded ${last.digest})`);
    manifest = head.manifest;
  } catch (error) {
    // Only an optimisation: without it, an unfinished split ships again from its first byte.
    deps.log.warn(`${last.name}: could not read it back to go on with a split it began (${(error as Error).message}); such a blob is split again from the start`, { bundle: last.name });
    return unfinished;
  }
  const complete = new Set(assembledBlobs(manifest.blobs.parts).map((b) => b.digest));
  const again = new Set(resend.map((r) => r.digest));
  for (const part of manifest.blobs.parts ?? []) {
    if (!complete.has(part.blob) && !again.has(part.blob)) unfinished.set(part.blob, [...(unfinished.get(part.blob) ?? []), part]);
  }
  return unfinished;
}

function digestOfPart(digests: Map<Digest, Map<number, Digest>>, part: PlannedPart): Digest {
  const digest = digests.get(part.blob)?.get(part.offset);
  if (digest === undefined) throw new StagedPartError(part.blob, part.offset, part.size);
  return digest;
}

/**
 * Publishes a recorded bundle, writes its report, then marks it published. The report comes
 * after the crash point: a seal killed there leaves the bundle unmarked, and the next run,
 * publishing it again, writes the report (from `manifestBytes`, or read back from the bundle).
 */
async function publish(deps: SealDeps, record: BundleRecord, manifestBytes?: Buffer): Promise<{ location: string; report: string | undefined }> {
  const published = await deps.store.publishBundle(record.name, record.digest);
  faultPoint('seal:after-publish');
  const report = await writeSealReport(deps, record, manifestBytes);
  await deps.state.markBundlePublished(record.sourceId, record.sequence);
  faultPoint('seal:after-mark');
  return { location: published.location, report };
}

/** Opens staged blobs for the writer; the second one opened is the mid-stage crash point. */
function stagedBlobs(store: ObjectStore): (digest: Digest) => Promise<BlobSource> {
  let opened = 0;
  return async (digest) => {
    if (++opened === 2) faultPoint('seal:mid-stage');
    return store.getBlob(digest);
  };
}

/** Every blob an entry needs, its own first (its format knows the rest). */
export function blobsOf(entry: PendingEntry): { digest: Digest; size: number }[] {
  return formatOfEntry(entry).blobsOf(entry);
}

function bundleEntryOf(e: PendingEntry): BundleEntry {
  return formatOfEntry(e).bundleEntry(e);
}

/** The bundle's OCI index: what each entry's format lists there (images, by `<name>:<tag>`). */
export function ociIndexOf(entries: BundleEntry[]): object {
  return { ...EMPTY_OCI_INDEX, manifests: entries.flatMap((e) => formatOfEntry(e).indexDescriptors?.(e) ?? []) };
}
