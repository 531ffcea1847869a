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
import { MissingBlobError, SequenceError } from './errors.ts';
import { forEachLimited } from './exporter.ts';
import type { Log } from './log.ts';
import type { ArtifactTarget, Checksums, Clock, ImportState, ObjectStore } from './ports.ts';
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

  /** path → checksums of every asset in the target repositories the bundle touches. */
  async function indexTarget(manifest: BundleManifest): Promise<Map<string, Map<string, Checksums>>> {
    const index = new Map<string, Map<string, Checksums>>();
    for (const entry of manifest.entries) {
      const repository = targetRepository(entry.target.repository);
      if (index.has(repository)) continue;
      const assets = new Map<string, Checksums>();
      for await (const asset of target.listAssets(repository)) assets.set(asset.path, asset.checksums);
      index.set(repository, assets);
    }
    return index;
  }

  const hasSameContent = (have: Checksums | undefined, digest: Digest, sha1: string | undefined) =>
    have !== undefined && (have.sha256 ? have.sha256 === digest.slice(7) : sha1 !== undefined && have.sha1 === sha1);

  /**
   * Every entry either is done (state), is present on the target with the same content,
   * or needs its blob from the held store. Missing blobs refuse the bundle before any write.
   */
  async function planEntries(
    where: string,
    manifest: BundleManifest,
    digest: Digest,
    index: Map<string, Map<string, Checksums>>,
    /** Blobs known to be good without being held yet (a verify-only pass does not hold them). */
    inBundle: ReadonlySet<Digest> = new Set(),
  ) {
    const plan: { index: number; action: 'done' | 'present' | 'upload'; repository: string }[] = [];
    const missing: { digest: Digest; shippedIn: number; needs: string }[] = [];
    for (const [i, entry] of manifest.entries.entries()) {
      const repository = targetRepository(entry.target.repository);
      if ((await state.entryOutcome(digest, i)) !== undefined) {
        plan.push({ index: i, action: 'done', repository });
        continue;
      }
      if (hasSameContent(index.get(repository)?.get(entry.target.path), entry.digest, entry.checksums.sha1)) {
        plan.push({ index: i, action: 'present', repository });
        continue;
      }
      if (!inBundle.has(entry.digest) && (await held.statBlob(entry.digest)) === undefined) {
        const required = manifest.blobs.required.find((b) => b.digest === entry.digest);
        missing.push({ digest: entry.digest, shippedIn: required?.shippedIn ?? manifest.sequence, needs: `${repository}${entry.target.path}` });
      }
      plan.push({ index: i, action: 'upload', repository });
    }
    if (missing.length > 0) throw new MissingBlobError(missing, where);
    return plan;
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
        const index = await indexTarget(verified.manifest);
        await planEntries(input.name, verified.manifest, verified.manifestDigest, index, new Set(verified.manifest.blobs.included.map((b) => b.digest)));
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

      const index = await indexTarget(manifest);
      const plan = await planEntries(input.name, manifest, manifestDigest, index);

      // Entries for the same target path keep their order; distinct paths go in parallel.
      const byPath = new Map<string, typeof plan>();
      for (const step of plan) {
        const entry = manifest.entries[step.index]!;
        const key = `${step.repository}\n${entry.target.path}`;
        byPath.set(key, [...(byPath.get(key) ?? []), step]);
      }
      let applied = 0;
      await forEachLimited([...byPath.values()], settings.concurrency, async (steps) => {
        for (const step of steps) {
          const entry = manifest.entries[step.index]!;
          if (step.action === 'upload') {
            await target.uploadRaw(step.repository, entry.target.path, await held.getBlob(entry.digest));
            index.get(step.repository)?.set(entry.target.path, { sha256: entry.digest.slice(7), sha1: entry.checksums.sha1 });
            log.debug(`imported ${step.repository}${entry.target.path}`, { digest: entry.digest, size: entry.size });
          }
          if (step.action !== 'done') await state.recordEntryOutcome(manifestDigest, step.index, step.action === 'upload' ? 'imported' : 'present');
          options.onProgress?.({ phase: 'apply', done: ++applied, total: plan.length });
        }
      });

      const importedAt = clock.now().toISOString();
      await state.recordBundleImported({ sourceId: manifest.sourceId, sequence: manifest.sequence, digest: manifestDigest, importedAt, advancesChain: true });
      const entries: ReceiptEntry[] = [];
      for (const [i, entry] of manifest.entries.entries()) {
        const outcome = (await state.entryOutcome(manifestDigest, i)) ?? 'present';
        entries.push({ index: i, repository: targetRepository(entry.target.repository), path: entry.target.path, digest: entry.digest, outcome });
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
