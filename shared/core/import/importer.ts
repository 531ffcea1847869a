/**
 * The import runner's core. For the bundles given, in order:
 *
 * 1. **Verify** each one completely (signature, chain position, every blob digest) and
 *    keep its blobs in the importer's own content-addressed store. Later bundles list
 *    blobs shipped earlier as required, and they are taken from there. Nothing is applied
 *    until every bundle given has verified. Big image layers go into uncommitted registry
 *    upload sessions meanwhile (staged-uploads.ts): invisible, and cancelled unless apply
 *    commits them.
 * 2. **Plan** each one against the target (see import-plan.ts): a bundle the target would
 *    not take whole, or that needs blobs nobody has, is refused before its first write —
 *    with a resend request for the missing blobs.
 * 3. **Apply** it, recording each outcome so that a killed run resumes without
 *    re-uploading, then record the bundle (moving the chain) and make its receipt.
 *
 * Verifying the whole batch first is also what lets the receipt loop heal: when bundle N
 * was refused for want of blobs and the export side re-sent them in N+1, importing N and
 * N+1 together holds N+1's blobs before N is planned.
 */
import type { KeyObject } from 'node:crypto';
import type { Readable } from 'node:stream';
import { assembledBlobs, carriedParts, entryBlobs, verifyBundle, type BundleManifest } from '../../bundle/index.ts';
import type { Digest } from '../../digest.ts';
import { BundleRefusedError, EntriesNotAppliedError, type MissingBlob, type MissingPartError } from './errors.ts';
import { formatOfEntry, type DeletionDecision, type TargetRegistry } from '../formats/index.ts';
import { deletionDecisions, receiptDeletions, recordImportedLocations } from './deletions.ts';
import { planImport, type ImportPlan } from './plan.ts';
import { BlobsAtHand, type RangeReader } from './at-hand.ts';
import { dropLayersOnTarget, missingPart, SplitBlobs, type UnfinishedBlob } from './split-blobs.ts';
import { StagedUploads } from './staged-uploads.ts';
import { checkChain, ChainView, AlreadyImported, type BundleIdentity } from './chain.ts';
import type { Log } from '../log.ts';
import type { ArtifactTarget, Clock, ImportState, ObjectStore } from '../ports/index.ts';
import { RECEIPT_FORMAT, RESEND_FORMAT, type Receipt, type ReceiptEntry, type ResendRequestDocument } from '../receipts/codec.ts';

export type { BundleIdentity } from './chain.ts';

export interface BundleInput {
  name: string;
  /** The whole bundle from its first byte: the verify pass reads it once, end to end. */
  open(): Promise<Readable>;
  /**
   * `length` bytes from `offset`, when the bundle can be read again in part (a file, an S3
   * object). With it the importer uploads verified blobs straight from the bundle instead of
   * copying every byte into the held store first; without it (a pipe) every blob is held.
   */
  openRange?(offset: number, length: number): Promise<Readable>;
}

export interface ImporterPorts {
  target: ArtifactTarget;
  held: ObjectStore;
  state: ImportState;
  clock: Clock;
  log: Log;
  trustedKeys: KeyObject[];
  /** The target registry serving a (mapped) target docker repository, if any is configured. */
  registries?: ((targetRepository: string) => TargetRegistry | undefined) | undefined;
}

export interface ImporterSettings {
  /** Bundle target repository → repository on this Nexus. */
  repositoryMap: Record<string, string>;
  concurrency: number;
  /** How long to wait for an index the target rebuilds after a write (helm's index.yaml) to show it; default 60 s. */
  indexWaitMs?: number | undefined;
  /** Smallest image blob uploaded while its bundle verifies (see staged-uploads.ts); default 16 MiB. */
  stageMinBytes?: number | undefined;
}

export interface ImportOptions {
  /** Accept a bundle whose predecessors are missing, provided nothing it needs is missing. */
  allowGap?: boolean;
  onProgress?: (event: ImportProgress) => void;
}

/**
 * `verify`: blobs of the bundle verified so far (`total` 0: not known before the end).
 * `apply`: entries done of `total`, and `bytes` of `totalBytes` the content those entries
 * need (already on the target or not), for a display in bytes.
 */
export type ImportProgress =
  | { phase: 'verify'; bundle: string; done: number; total: number }
  | { phase: 'apply'; bundle: string; done: number; total: number; bytes: number; totalBytes: number };

export type ImportReport =
  | { status: 'already-imported'; bundle: BundleIdentity; importedAt: string }
  | { status: 'imported'; bundle: BundleIdentity; imported: number; present: number; receipt: Receipt; gap: boolean };

export interface VerifyReport {
  bundle: BundleIdentity;
  keyId: string;
  entries: number;
  blobsIncluded: number;
  blobsRequired: number;
  bytes: number;
  /** What an import would do about the chain. */
  chain: 'next' | 'already-imported' | 'gap-allowed';
  /** The bundle's tombstones: what an import would delete, and what it would keep and why. */
  deletions?: DeletionDecision[] | undefined;
}

export interface Importer {
  /** Checks everything importing these bundles in this order checks, the target included; writes nothing. */
  verify(inputs: BundleInput[], options?: ImportOptions): Promise<VerifyReport[]>;
  /**
   * Imports the bundles in the order given (callers sort by sequence). `onReport` runs as
   * each bundle is done, before the next starts (write its receipt there). Throws on the
   * first bundle that cannot be imported; those before it stay imported.
   */
  importBundles(inputs: BundleInput[], options?: ImportOptions & { onReport?: (report: ImportReport) => Promise<void> }): Promise<ImportReport[]>;
}

interface Verified {
  input: BundleInput;
  identity: BundleIdentity;
  manifest: BundleManifest;
  keyId: string;
  bytes: number;
  gap: boolean;
}

/** What every step of an import uses: the ports, the settings, and the lookups built from them. */
interface ImportContext {
  ports: ImporterPorts;
  settings: ImporterSettings;
  targetRepository(name: string): string;
  registryFor(repository: string): TargetRegistry | undefined;
}

export function makeImporter(ports: ImporterPorts, settings: ImporterSettings): Importer {
  const ctx: ImportContext = {
    ports,
    settings,
    targetRepository: (name) => settings.repositoryMap[name] ?? name,
    registryFor: (repository) => ports.registries?.(repository),
  };
  return {
    verify: (inputs, options = {}) => verifyBatch(ctx, inputs, options),
    importBundles: (inputs, options = {}) => importBatch(ctx, inputs, options),
  };
}

/** Pass 1: every bundle verified (and, for an import, its blobs held) before anything is applied. */
/**
 * `atHand`, for an import: where this batch's blobs go — into the held store, or recorded as
 * ranges of their bundle. One per call, never per importer: a warm Lambda reuses its importer,
 * and a range must never outlive the batch whose bundles it points into.
 */
async function verifyAll(ctx: ImportContext, inputs: BundleInput[], options: ImportOptions, atHand?: BlobsAtHand, staging?: StagedUploads) {
  const hold = atHand !== undefined;
  const { held, state, trustedKeys } = ctx.ports;
  const chain = new ChainView(state);
  const verified: Verified[] = [];
  const split = new SplitBlobs(held, hold, state);
  const already: { index: number; report: Extract<ImportReport, { status: 'already-imported' }> }[] = [];
  for (const [index, input] of inputs.entries()) {
    let position: { identity: BundleIdentity; gap: boolean } | undefined;
    let blobsDone = 0;
    let rangeable = new Set<Digest>();
    let signed: BundleManifest | undefined;
    try {
      const result = await verifyBundle(await input.open(), {
        where: input.name,
        trustedKeys,
        onManifest: async (manifest, digest) => {
          position = await checkChain(chain, input.name, manifest, digest, options.allowGap ?? false);
          signed = manifest;
          if (hold && input.openRange !== undefined) {
            rangeable = keptByTarget(manifest);
            staging?.plan(manifest, ctx.targetRepository, ctx.registryFor);
          }
        },
        // A blob read again by range later (or not needed at all) is only hashed now; a big
        // image layer goes into a registry upload session as it is (staged-uploads.ts).
        skipContent: (blob) => !hold || rangeable.has(blob.digest),
        onBlobStart: (blob) => {
          if (input.openRange !== undefined) staging?.startFrom(blob, input as RangeReader);
        },
        onBlobVerified: (blob) => {
          atHand?.addRange(blob.digest, input as RangeReader, blob.offset, blob.size);
          options.onProgress?.({ phase: 'verify', bundle: input.name, done: ++blobsDone, total: 0 });
        },
        onBlob: async (blob, content) => {
          await held.putBlob(content, { expectedDigest: blob.digest, expectedSize: blob.size });
          options.onProgress?.({ phase: 'verify', bundle: input.name, done: ++blobsDone, total: 0 });
        },
        onPart: async (part, content) => {
          await split.onPart(signed!, part, content);
          options.onProgress?.({ phase: 'verify', bundle: input.name, done: ++blobsDone, total: 0 });
        },
      });
      if (position === undefined) throw new Error(`${input.name}: the verifier never reached the manifest`);
      await split.complete(input.name, result.manifest);
      verified.push({ input, identity: position.identity, manifest: result.manifest, keyId: result.keyId, bytes: result.bytes, gap: position.gap });
    } catch (error) {
      if (!(error instanceof AlreadyImported)) throw error;
      already.push({ index, report: { status: 'already-imported', bundle: error.identity, importedAt: error.importedAt } });
    }
  }
  const unfinished = await split.unfinished();
  if (unfinished.length > 0) throw partsLacking(ctx, verified, unfinished, hold);
  if (hold) await split.dropAssembledParts();
  return { verified, already };
}

/**
 * The refusal for blobs still lacking a part after the whole batch: it names every part
 * lacking. From an import it carries resend requests for the whole blobs, which ship again
 * split anew (a lost part bundle heals like a lost blob), all in one run so one trip back
 * covers every blob the lost media held parts of. Each request names the bundle whose entries
 * need its blobs — the one completing them, or, for an image whose entry waits for a later
 * layer, that later bundle — so the export side can fetch a blob it no longer stages.
 */
function partsLacking(ctx: ImportContext, verified: Verified[], unfinished: UnfinishedBlob[], hold: boolean): MissingPartError {
  const byBundle = new Map<Verified, { digest: Digest; size: number; shippedIn: number; neededBy: { index: number }[] }[]>();
  for (const u of hold ? unfinished : []) {
    const completing = verified.find((v) => v.input.name === u.where);
    if (completing === undefined) continue;
    const needing = (v: Verified) => v.manifest.entries.flatMap((entry, index) => (entryBlobs(entry).some((b) => b.digest === u.blob.digest) ? [{ index }] : []));
    const holder = [completing, ...verified].find((v) => needing(v).length > 0) ?? completing;
    const missing = { digest: u.blob.digest, size: u.blob.size, shippedIn: completing.manifest.sequence, neededBy: needing(holder) };
    byBundle.set(holder, [...(byBundle.get(holder) ?? []), missing]);
  }
  const requestedAt = ctx.ports.clock.now().toISOString();
  return missingPart(unfinished, [...byBundle].map(([v, missing]) => ({ bundle: v.input.name, request: resendRequestOf(v, missing, requestedAt) })));
}

/** Blobs the target keeps where later imports find them: read again from the bundle, never held. */
function keptByTarget(manifest: BundleManifest): Set<Digest> {
  return new Set(manifest.entries.flatMap((entry) => formatOfEntry(entry).keptByTarget?.(entry) ?? []));
}

function planFor(ctx: ImportContext, verified: Verified, atHand: BlobsAtHand, available: (digest: Digest) => Promise<boolean>): Promise<ImportPlan> {
  const { target, held, state, log } = ctx.ports;
  const blob = (digest: Digest) => atHand.blob(digest);
  return planImport({ target, held, state, log, targetRepository: ctx.targetRepository, registryFor: ctx.registryFor, available, blob }, verified.manifest, verified.identity.digest);
}

/**
 * Pass 2 for one bundle: plan (refused whole before any write), apply each format's steps,
 * record, receipt. `shippedLater`: what later bundles of its chain in the batch ship, which
 * its receipt leaves to theirs.
 */
async function apply(
  ctx: ImportContext,
  verified: Verified,
  atHand: BlobsAtHand,
  options: ImportOptions,
  shippedLater: Set<Digest>,
  staging: StagedUploads,
): Promise<Extract<ImportReport, { status: 'imported' }>> {
  const { target, held, state, clock, log } = ctx.ports;
  const { manifest, identity } = verified;
  // A bundle replaced or gone since it was verified is refused here, before any write of it.
  await atHand.recheck();
  const available = (digest: Digest) => atHand.available(digest);
  const blob = (digest: Digest) => atHand.blob(digest);
  const commitStaged = (registryKey: string, digest: Digest) => staging.commit(registryKey, digest);
  const plan = await planFor(ctx, verified, atHand, available);
  if (plan.refusals.length > 0 || plan.missing.length > 0) {
    const resend = plan.missing.length > 0 ? resendRequestOf(verified, plan.missing, clock.now().toISOString()) : undefined;
    throw new BundleRefusedError(verified.input.name, plan.refusals, plan.missing, resend);
  }
  let applied = 0;
  let bytes = 0;
  const total = plan.steps.reduce((n, f) => n + f.steps.length, 0);
  const entryBytes = manifest.entries.map((entry) => [...new Map(entryBlobs(entry).map((b) => [b.digest, b.size])).values()].reduce((n, size) => n + size, 0));
  const totalBytes = entryBytes.reduce((n, size) => n + size, 0);
  const progress = (index: number) => {
    bytes += entryBytes[index] ?? 0;
    options.onProgress?.({ phase: 'apply', bundle: verified.input.name, done: ++applied, total, bytes, totalBytes });
  };
  options.onProgress?.({ phase: 'apply', bundle: verified.input.name, done: 0, total, bytes: 0, totalBytes });
  const failures = [];
  for (const { format, steps } of plan.steps) {
    const deps = { target, held, state, log, registryFor: ctx.registryFor, available, blob, indexWaitMs: ctx.settings.indexWaitMs ?? 60_000, commitStaged };
    failures.push(...(await format.apply(deps, manifest, identity.digest, steps, { concurrency: ctx.settings.concurrency, progress })));
  }
  if (failures.length > 0) throw new EntriesNotAppliedError(verified.input.name, failures);
  await recordImportedLocations(state, manifest, identity.digest, ctx.targetRepository);

  const importedAt = clock.now().toISOString();
  await state.recordBundleImported({ sourceId: manifest.sourceId, sequence: manifest.sequence, digest: identity.digest, previous: manifest.previous, importedAt, advancesChain: !verified.gap });
  if (verified.gap) log.warn(`${verified.input.name}: imported out of sequence (--allow-gap)`, { bundle: verified.input.name });
  const receipt = await receiptOf(ctx, verified, importedAt, deletionDecisions(plan), shippedLater);
  return { status: 'imported', bundle: identity, imported: receipt.summary.imported, present: receipt.summary.present, receipt, gap: verified.gap };
}

async function receiptOf(ctx: ImportContext, verified: Verified, importedAt: string, decisions: DeletionDecision[], shippedLater: Set<Digest>): Promise<Receipt> {
  const { held, state } = ctx.ports;
  const { manifest, identity } = verified;
  const entries: ReceiptEntry[] = [];
  const deletions = await receiptDeletions(state, manifest, identity.digest, decisions, ctx.targetRepository);
  for (const [i, entry] of manifest.entries.entries()) {
    if (entry.kind === 'tombstone') continue; // in `deletions`
    const outcome = (await state.entryOutcome(identity.digest, i)) ?? 'present';
    entries.push({ index: i, repository: ctx.targetRepository(entry.target.repository), path: formatOfEntry(entry).receiptPath(entry), digest: entry.digest, outcome });
  }
  // What this side holds: the held store, and what this bundle's entries left in the target's
  // registries (never copied into the held store; later imports mount it from there).
  const sizes = new Map([...manifest.blobs.included, ...manifest.blobs.required].map((b) => [b.digest, b.size]));
  const onTarget = new Map<Digest, number>();
  for (const digest of keptByTarget(manifest)) onTarget.set(digest, sizes.get(digest) ?? 0);
  const blobsHeld: { digest: Digest; size: number }[] = [];
  if (held.listBlobs) {
    for await (const blob of held.listBlobs()) {
      onTarget.delete(blob.digest);
      blobsHeld.push(blob);
    }
  }
  for (const [digest, size] of onTarget) blobsHeld.push({ digest, size });
  return {
    format: RECEIPT_FORMAT,
    sourceId: manifest.sourceId,
    bundle: { name: verified.input.name, digest: identity.digest, sequence: manifest.sequence },
    importedAt,
    entries,
    ...(deletions.length > 0 ? { deletions } : {}),
    summary: { imported: entries.filter((e) => e.outcome === 'imported').length, present: entries.filter((e) => e.outcome === 'present').length },
    // The export side would ignore, with a warning, what this chain shipped after this bundle.
    blobsHeld: blobsHeld.filter((b) => !shippedLater.has(b.digest)),
  };
}

/**
 * Blobs and parts the later bundles of `v`'s chain in this batch ship (as the export side's
 * ledger records them: included, parts carried, blobs assembled). Verification holds every
 * bundle's blobs before the first is applied, so the held store lists them already when
 * `v`'s receipt is written.
 */
function shippedLaterInBatch(batch: Verified[], v: Verified): Set<Digest> {
  const later = batch.filter((o) => o.manifest.sourceId === v.manifest.sourceId && o.manifest.sequence > v.manifest.sequence);
  return new Set(later.flatMap(({ manifest: m }) => [...m.blobs.included, ...carriedParts(m.blobs.parts, m.sequence), ...assembledBlobs(m.blobs.parts)].map((b) => b.digest)));
}

async function verifyBatch(ctx: ImportContext, inputs: BundleInput[], options: ImportOptions): Promise<VerifyReport[]> {
  const { verified, already } = await verifyAll(ctx, inputs, options);
  const heldOnly = new BlobsAtHand(ctx.ports.held);
  const reports: { index: number; report: VerifyReport }[] = already.map(({ index, report }) => ({
    index,
    report: { bundle: report.bundle, keyId: '', entries: 0, blobsIncluded: 0, blobsRequired: 0, bytes: 0, chain: 'already-imported' },
  }));
  // Blobs of every bundle given count as at hand: an import holds them all before applying any.
  const inBatch = new Set(verified.flatMap((v) => [...v.manifest.blobs.included, ...assembledBlobs(v.manifest.blobs.parts)].map((b) => b.digest)));
  for (const v of verified) {
    const plan = await planFor(ctx, v, heldOnly, async (digest) => inBatch.has(digest) || (await ctx.ports.held.statBlob(digest)) !== undefined);
    if (plan.refusals.length > 0 || plan.missing.length > 0) throw new BundleRefusedError(v.input.name, plan.refusals, plan.missing);
    const { entries, blobs } = v.manifest;
    reports.push({
      index: inputs.indexOf(v.input),
      report: { bundle: v.identity, keyId: v.keyId, entries: entries.length, blobsIncluded: blobs.included.length, blobsRequired: blobs.required.length, bytes: v.bytes, chain: v.gap ? 'gap-allowed' : 'next', deletions: deletionDecisions(plan) },
    });
  }
  return reports.sort((a, b) => a.index - b.index).map((r) => r.report);
}

async function importBatch(ctx: ImportContext, inputs: BundleInput[], options: ImportOptions & { onReport?: (report: ImportReport) => Promise<void> }): Promise<ImportReport[]> {
  const atHand = new BlobsAtHand(ctx.ports.held);
  const staging = new StagedUploads({ log: ctx.ports.log, state: ctx.ports.state, minBytes: ctx.settings.stageMinBytes, concurrency: ctx.settings.concurrency });
  try {
    const { verified, already } = await verifyAll(ctx, inputs, options, atHand, staging);
    const reports: ImportReport[] = [];
    for (const { report } of already) {
      reports.push(report);
      await options.onReport?.(report);
    }
    for (const v of verified) {
      ctx.ports.log.info(`${v.input.name}: verified (sequence ${v.manifest.sequence} of ${v.manifest.sourceId}, ${v.manifest.entries.length} entries, signed by ${v.keyId})`, { bundle: v.input.name });
      const report = await apply(ctx, v, atHand, options, shippedLaterInBatch(verified, v), staging);
      reports.push(report);
      await options.onReport?.(report);
    }
    await dropLayersOnTarget(ctx.ports.held, verified.map((v) => ({ manifest: v.manifest, kept: keptByTarget(v.manifest) })));
    return reports;
  } finally {
    // A refusal, a failure, or entries found present: nothing staged stays behind.
    await staging.cancelUncommitted();
  }
}

/** The document to carry back when a bundle needs blobs nobody on this side has. */
function resendRequestOf(verified: Verified, missing: (Pick<MissingBlob, 'digest' | 'size' | 'shippedIn'> & { neededBy: { index: number }[] })[], requestedAt: string): ResendRequestDocument {
  const { manifest, identity } = verified;
  return {
    format: RESEND_FORMAT,
    sourceId: manifest.sourceId,
    bundle: { name: verified.input.name, digest: identity.digest, sequence: manifest.sequence },
    requestedAt,
    missing: missing.map((m) => ({
      digest: m.digest,
      size: m.size,
      shippedIn: m.shippedIn,
      neededBy: m.neededBy.map(({ index }) => {
        const entry = manifest.entries[index]!;
        return { index, source: formatOfEntry(entry).resendSource(entry, m.digest) };
      }),
    })),
  };
}
