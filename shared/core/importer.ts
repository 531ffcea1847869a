/**
 * The import runner's core. It verifies a bundle completely (signature, chain position,
 * every blob digest) before it changes anything on the target, then applies the entries
 * in order, recording each outcome so that a killed run resumes without re-uploading.
 * Blobs are kept in the importer's own content-addressed store: later bundles list blobs
 * shipped earlier as required, and they are taken from there.
 */
import type { KeyObject } from 'node:crypto';
import type { Readable } from 'node:stream';
import { bundleFileName, verifyBundle, type BundleManifest } from '../bundle/index.ts';
import type { Digest } from '../digest.ts';
import { ImageImportError, SequenceError } from './errors.ts';
import { applyImageEntries, type TargetRegistry } from './import-image.ts';
import { applyRawSteps, planRawEntries, type RawImportDeps } from './import-raw.ts';
import type { Log } from './log.ts';
import type { ArtifactTarget, Clock, ImportState, ObjectStore } from './ports.ts';
import { RECEIPT_FORMAT, type Receipt, type ReceiptEntry } from './receipt.ts';

export interface BundleInput {
  name: string;
  open(): Promise<Readable>;
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
}

export interface ImportOptions {
  /** Accept a bundle whose predecessors are missing, provided nothing it needs is missing. */
  allowGap?: boolean;
  onProgress?: (event: { phase: 'verify' | 'apply'; done: number; total: number }) => void;
}

export type ImportReport =
  | { status: 'already-imported'; bundle: BundleIdentity; importedAt: string }
  | { status: 'imported'; bundle: BundleIdentity; imported: number; present: number; receipt: Receipt };

export interface VerifyReport {
  bundle: BundleIdentity;
  keyId: string;
  entries: number;
  blobsIncluded: number;
  blobsRequired: number;
  bytes: number;
  /** What an import would do about the chain. */
  chain: 'next' | 'already-imported' | 'gap-allowed';
}

export interface BundleIdentity {
  name: string;
  sourceId: string;
  sequence: number;
  digest: Digest;
}

/** Thrown from the manifest hook to stop reading a bundle that was imported before. */
class AlreadyImported extends Error {
  readonly importedAt: string;
  readonly identity: BundleIdentity;
  constructor(identity: BundleIdentity, importedAt: string) {
    super('already imported');
    this.identity = identity;
    this.importedAt = importedAt;
  }
}

export interface Importer {
  /** Checks everything `importBundle` checks, writes nothing. */
  verify(input: BundleInput, options?: ImportOptions): Promise<VerifyReport>;
  importBundle(input: BundleInput, options?: ImportOptions): Promise<ImportReport>;
}

export function makeImporter(ports: ImporterPorts, settings: ImporterSettings): Importer {
  const { target, held, state, clock, log, trustedKeys } = ports;
  const targetRepository = (name: string) => settings.repositoryMap[name] ?? name;
  const rawDeps: RawImportDeps = { target, held, state, log, targetRepository };

  /** Decides where a bundle stands in its chain; refuses what may not be imported now. */
  async function checkChain(where: string, manifest: BundleManifest, digest: Digest, allowGap: boolean) {
    const identity: BundleIdentity = { name: where, sourceId: manifest.sourceId, sequence: manifest.sequence, digest };
    const done = await state.importedBundle(digest);
    if (done !== undefined) throw new AlreadyImported(identity, done.importedAt);
    const last = await state.lastImported(manifest.sourceId);
    const expected = (last?.sequence ?? 0) + 1;
    if (manifest.sequence === expected) {
      if (manifest.previous !== (last?.digest ?? null) && !allowGap) {
        throw new SequenceError(
          `${where}: sequence ${manifest.sequence} of ${manifest.sourceId} chains to ${manifest.previous}, ` +
            `but the bundle imported as sequence ${last?.sequence} is ${last?.digest}: refusing a bundle from another chain`,
        );
      }
      return { identity, gap: false };
    }
    if (allowGap) return { identity, gap: true };
    if (manifest.sequence > expected) {
      throw new SequenceError(
        `${where}: sequence ${manifest.sequence} of ${manifest.sourceId} needs sequence ${expected} first ` +
          `(missing sequence ${expected}: import ${bundleFileName(manifest.sourceId, expected)}, ` +
          `or use --allow-gap if every blob it requires is already on the target)`,
        expected,
      );
    }
    throw new SequenceError(
      `${where}: sequence ${manifest.sequence} of ${manifest.sourceId} was already imported from a different bundle ` +
        `(this one is ${digest}); refusing a bundle from another chain`,
    );
  }

  async function verifyAndHold(input: BundleInput, options: ImportOptions, hold: boolean) {
    let chain: { identity: BundleIdentity; gap: boolean } | undefined;
    let blobsDone = 0;
    const verified = await verifyBundle(await input.open(), {
      where: input.name,
      trustedKeys,
      onManifest: async (manifest, digest) => {
        chain = await checkChain(input.name, manifest, digest, options.allowGap ?? false);
      },
      onBlob: async (blob, content) => {
        if (hold) await held.putBlob(content, { expectedDigest: blob.digest, expectedSize: blob.size });
        else for await (const _ of content); // the verifier hashes as it is drained
        options.onProgress?.({ phase: 'verify', done: ++blobsDone, total: 0 });
      },
    });
    if (chain === undefined) throw new Error(`${input.name}: the verifier never reached the manifest`);
    return { verified, chain };
  }

  return {
    async verify(input, options = {}) {
      try {
        const { verified, chain } = await verifyAndHold(input, options, false);
        await planRawEntries(rawDeps, input.name, verified.manifest, verified.manifestDigest, new Set(verified.manifest.blobs.included.map((b) => b.digest)));
        return {
          bundle: chain.identity,
          keyId: verified.keyId,
          entries: verified.manifest.entries.length,
          blobsIncluded: verified.manifest.blobs.included.length,
          blobsRequired: verified.manifest.blobs.required.length,
          bytes: verified.bytes,
          chain: chain.gap ? 'gap-allowed' : 'next',
        };
      } catch (error) {
        if (error instanceof AlreadyImported) {
          return { bundle: error.identity, keyId: '', entries: 0, blobsIncluded: 0, blobsRequired: 0, bytes: 0, chain: 'already-imported' };
        }
        throw error;
      }
    },

    async importBundle(input, options = {}) {
      let verifiedResult: Awaited<ReturnType<typeof verifyAndHold>>;
      try {
        verifiedResult = await verifyAndHold(input, options, true);
      } catch (error) {
        if (error instanceof AlreadyImported) {
          log.info(`${input.name}: already imported at ${error.importedAt}; nothing to do`, { bundle: input.name });
          return { status: 'already-imported', bundle: error.identity, importedAt: error.importedAt };
        }
        throw error;
      }
      const { verified, chain } = verifiedResult;
      const { manifest, manifestDigest } = verified;
      log.info(`${input.name}: verified (sequence ${manifest.sequence} of ${manifest.sourceId}, ${manifest.entries.length} entries, signed by ${verified.keyId})`, {
        bundle: input.name,
      });

      const plan = await planRawEntries(rawDeps, input.name, manifest, manifestDigest);
      const images = manifest.entries.filter((e) => e.kind === 'image').length;
      let applied = 0;
      const progress = () => options.onProgress?.({ phase: 'apply', done: ++applied, total: plan.length + images });
      await applyRawSteps(rawDeps, manifestDigest, plan, settings.concurrency, progress);
      const failures = await applyImageEntries(
        { registryFor: (repository) => ports.registries?.(repository), held, state, log, targetRepository },
        manifest,
        manifestDigest,
        settings.concurrency,
        progress,
      );
      if (failures.length > 0) throw new ImageImportError(input.name, failures);

      const importedAt = clock.now().toISOString();
      await state.recordBundleImported({ sourceId: manifest.sourceId, sequence: manifest.sequence, digest: manifestDigest, importedAt, advancesChain: true });
      const entries: ReceiptEntry[] = [];
      for (const [i, entry] of manifest.entries.entries()) {
        const outcome = (await state.entryOutcome(manifestDigest, i)) ?? 'present';
        const where = entry.kind === 'raw' ? entry.target.path : `/${entry.target.name}:${entry.target.tag}`;
        entries.push({ index: i, repository: targetRepository(entry.target.repository), path: where, digest: entry.digest, outcome });
      }
      const blobsHeld: { digest: Digest; size: number }[] = [];
      if (held.listBlobs) for await (const blob of held.listBlobs()) blobsHeld.push(blob);
      const receipt: Receipt = {
        format: RECEIPT_FORMAT,
        sourceId: manifest.sourceId,
        bundle: { name: input.name, digest: manifestDigest, sequence: manifest.sequence },
        importedAt,
        entries,
        summary: { imported: entries.filter((e) => e.outcome === 'imported').length, present: entries.filter((e) => e.outcome === 'present').length },
        blobsHeld,
      };
      if (chain.gap) log.warn(`${input.name}: imported out of sequence (--allow-gap)`, { bundle: input.name });
      return { status: 'imported', bundle: chain.identity, imported: receipt.summary.imported, present: receipt.summary.present, receipt };
    },
  };
}
