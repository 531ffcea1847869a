/** `ferry import` and `ferry verify`: the isolated side. */
import { createReadStream } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadImportConfig, type ResolvedImportConfig } from '../../shared/config/import-config.ts';
import { resolveCredentials } from '../../shared/config/credentials.ts';
import { loadConfiguredPrivateKey, loadConfiguredPublicKeys, loadPublicKeyOr } from '../../shared/config/keys.ts';
import { bundleFileInput, DirObjectStore, openDatabase, SqliteImportState } from '../../shared/adapters/embedded/index.ts';
import { BundleRefusedError, ImportError, MissingPartError, resendRequestsOf } from '../../shared/core/import/errors.ts';
import { makeImporter, type Importer } from '../../shared/core/import/importer.ts';
import { systemClock, type ArtifactTarget } from '../../shared/core/ports/index.ts';
import { encodeReceipt } from '../../shared/core/receipts/codec.ts';
import { NexusClient } from '../../shared/adapters/nexus/index.ts';
import { localSigner, type Signer } from '../../shared/signing.ts';
import { verifiedWithProgress } from '../metered.ts';
import { makeOutput, type Output } from '../output.ts';
import { RegistrySet } from '../registries.ts';
import { requireFiles } from '../files.ts';
import { UsageError } from '../usage.ts';
import { byCodeUnit } from '../../shared/units.ts';

/** Bundle names sort by source and zero-padded sequence, so lexical order is apply order. */
const inApplyOrder = (files: string[]) => [...files].sort((a, b) => byCodeUnit(path.basename(a), path.basename(b)));

async function withImporter<T>(config: ResolvedImportConfig, out: Output, work: (importer: Importer, receiptSigner: Signer | undefined) => Promise<T>): Promise<T> {
  const credentials = await resolveCredentials(config.target.credentials, process.env, (p) => path.resolve(config.configDir, p));
  const trustedKeys = await loadConfiguredPublicKeys(config.configFile, 'trust.publicKeyFiles', config.trust.publicKeyFiles);
  const receiptSigner = config.receipts.signingKeyFile ? localSigner(await loadConfiguredPrivateKey(config.configFile, 'receipts.signingKeyFile', config.receipts.signingKeyFile)) : undefined;
  const db = openDatabase(path.join(config.workDir, 'state.db'));
  const held = new DirObjectStore(path.join(config.workDir, 'objects'));
  const target = new NexusClient({
    baseUrl: config.target.url,
    ...(credentials ?? {}),
    caFile: config.target.caFile,
    onRetry: (r) => out.log.warn(`retrying ${r.path} in ${r.delayMs} ms (attempt ${r.attempt}): ${r.reason}`),
  });
  const registries = await RegistrySet.open(config.target.registries, config.configDir, out.log, config.target.credentials);
  const importer = makeImporter(
    {
      target,
      held,
      state: new SqliteImportState(db),
      clock: systemClock,
      log: out.log,
      trustedKeys,
      registries: (repository) => {
        const registry = registries.get(repository);
        const endpoint = config.target.registries[repository]!;
        return registry && { key: endpoint.url, registry, uploadWhileVerifying: endpoint.uploadWhileVerifying };
      },
    },
    { repositoryMap: config.target.repositories, concurrency: config.concurrency, indexWaitMs: config.indexWaitSeconds * 1000 },
  );
  try {
    return await work(importer, receiptSigner);
  } finally {
    await registries.close();
    await target.close();
    if (db.isOpen) db.close();
  }
}

export async function importCommand(files: string[], options: { config: string; allowGap?: boolean; verbose?: boolean }): Promise<void> {
  const config = await loadImportConfig(options.config);
  await requireFiles(files, 'bundle');
  const out = makeOutput({ verbose: options.verbose ?? false });
  await withImporter(config, out, async (importer, receiptSigner) => {
    let bar: ReturnType<Output['progress']> | undefined;
    let barFor: string | undefined;
    try {
      await importer.importBundles(inApplyOrder(files).map((file) => verifiedWithProgress(bundleFileInput(file), file, out)), {
        allowGap: options.allowGap ?? false,
        onProgress: (p) => {
          if (p.phase !== 'apply') return;
          if (barFor !== p.bundle) {
            bar?.stop();
            bar = out.progress(`importing ${p.bundle}`, p.totalBytes, { bytes: true });
            barFor = p.bundle;
          }
          bar?.update(p.bytes, p.totalBytes, `${p.done}/${p.total} entries`);
        },
        onReport: async (report) => {
          bar?.stop();
          bar = undefined;
          barFor = undefined;
          if (report.status === 'already-imported') {
            out.line(`${report.bundle.name}: already imported (sequence ${report.bundle.sequence} of ${report.bundle.sourceId}, at ${report.importedAt}); nothing changed`);
            return;
          }
          const receiptFile = await writeFarSideDocument(config, `${report.bundle.name.replace(/\.tar$/, '')}.receipt.json`, await encodeReceipt(report.receipt, receiptSigner));
          out.line(
            `${report.bundle.name}: imported sequence ${report.bundle.sequence} of ${report.bundle.sourceId}${report.gap ? ' out of sequence' : ''}: ` +
              `${report.imported} uploaded, ${report.present} already present; receipt ${receiptFile}`,
          );
          for (const d of report.receipt.deletions ?? []) out.line(`  ${d.outcome} ${d.repository}${d.path}${d.reason ? `: ${d.reason}` : ''}`);
        },
      });
    } catch (error) {
      bar?.stop();
      // Refused for want of blobs, or of parts of one (a lost part bundle): the far side asks for them again.
      const requests = error instanceof BundleRefusedError || error instanceof MissingPartError ? resendRequestsOf(error) : [];
      if (requests.length > 0) {
        const files = [];
        for (const { bundle, request } of requests) files.push(await writeFarSideDocument(config, `${bundle.replace(/\.tar$/, '')}.resend-request.json`, await encodeReceipt(request, receiptSigner)));
        const bundles = requests.map((r) => r.bundle).join(', ');
        throw new ImportStoppedError(
          `${(error as Error).message}\nwrote the resend request${files.length > 1 ? 's' : ''} ${files.join(', ')}: carry ${files.length > 1 ? 'them' : 'it'} back and run \`ferry receipt apply\` on the export side; ` +
            `its next bundle carries the missing blobs — then import ${bundles} together with that bundle`,
          { cause: error },
        );
      }
      throw error;
    }
  });
}

/** Writes a receipt or resend request atomically into the receipts directory; returns its path. */
async function writeFarSideDocument(config: ResolvedImportConfig, name: string, text: string): Promise<string> {
  await mkdir(config.receiptsDir, { recursive: true });
  const file = path.join(config.receiptsDir, name);
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
  return file;
}

/** The import stopped; the message says what to carry back. */
class ImportStoppedError extends ImportError {
  override readonly name = 'ImportStoppedError';
}

export async function verifyCommand(files: string[], options: { config?: string; publicKey?: string[]; allowGap?: boolean }): Promise<void> {
  const out = makeOutput();
  if (options.config === undefined && (options.publicKey === undefined || options.publicKey.length === 0)) {
    throw new UsageError('verify needs --config <import.yaml> or --public-key <file>');
  }
  await requireFiles(files, 'bundle');
  if (options.config !== undefined) {
    const config = await loadImportConfig(options.config);
    await withImporter(config, out, async (importer) => {
      const reports = await importer.verify(inApplyOrder(files).map(bundleFileInput), { allowGap: options.allowGap ?? false });
      for (const report of reports) {
        out.line(
          report.chain === 'already-imported'
            ? `${report.bundle.name}: already imported (sequence ${report.bundle.sequence} of ${report.bundle.sourceId})`
            : `${report.bundle.name}: OK — sequence ${report.bundle.sequence} of ${report.bundle.sourceId}, signed by ${report.keyId}, ` +
                `${report.entries} entries, ${report.blobsIncluded} blobs verified, ${report.blobsRequired} required, the target takes every write` +
                `${report.chain === 'gap-allowed' ? ' (out of sequence)' : ''}`,
        );
        // Tombstones: what an import would delete on the target, and what it would keep (and why).
        for (const d of report.deletions ?? []) {
          out.line(`  ${d.action === 'delete' ? 'would delete' : d.action === 'done' ? 'decided before' : 'would keep'} ${d.label}${d.reason ? `: ${d.reason}` : ''}`);
        }
      }
    });
    return;
  }
  const { verifyBundle } = await import('../../shared/bundle/index.ts');
  const trustedKeys = await Promise.all((options.publicKey ?? []).map((f) => loadPublicKeyOr(path.resolve(f), (problem, cause) => new UsageError(`--public-key: ${problem}`, { cause }))));
  for (const file of files) {
    const result = await verifyBundle(createReadStream(file), { where: path.basename(file), trustedKeys });
    out.line(
      `${path.basename(file)}: OK — sequence ${result.manifest.sequence} of ${result.manifest.sourceId}, signed by ${result.keyId}, ` +
        `${result.manifest.entries.length} entries, ${result.manifest.blobs.included.length} blobs verified (chain not checked: no --config)`,
    );
  }
}

export type { ArtifactTarget };
