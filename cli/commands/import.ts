/** `ferry import` and `ferry verify`: the isolated side. */
import { createReadStream } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadImportConfig, type ResolvedImportConfig } from '../../shared/config/import-config.ts';
import { resolveCredentials } from '../../shared/config/credentials.ts';
import { DirObjectStore, openDatabase, SqliteImportState } from '../../shared/adapters/embedded/index.ts';
import { makeImporter, type BundleInput, type Importer } from '../../shared/core/importer.ts';
import { systemClock, type ArtifactTarget } from '../../shared/core/ports.ts';
import { encodeReceipt } from '../../shared/core/receipt.ts';
import { NexusClient } from '../../shared/nexus/index.ts';
import { loadPrivateKey, loadPublicKey, localSigner, type Signer } from '../../shared/signing.ts';
import { makeOutput, type Output } from '../output.ts';
import { RegistrySet } from '../registries.ts';
import { requireFiles } from '../files.ts';
import { UsageError } from '../usage.ts';

const bundleInput = (file: string): BundleInput => ({ name: path.basename(file), open: async () => createReadStream(file) });

/** Bundle names sort by source and zero-padded sequence, so lexical order is apply order. */
const inApplyOrder = (files: string[]) => [...files].sort((a, b) => path.basename(a).localeCompare(path.basename(b)));

async function withImporter<T>(config: ResolvedImportConfig, out: Output, work: (importer: Importer, receiptSigner: Signer | undefined) => Promise<T>): Promise<T> {
  const credentials = await resolveCredentials(config.target.credentials, process.env, (p) => path.resolve(config.configDir, p));
  const trustedKeys = await Promise.all(config.trust.publicKeyFiles.map((f) => loadPublicKey(f)));
  const receiptSigner = config.receipts.signingKeyFile ? localSigner(await loadPrivateKey(config.receipts.signingKeyFile)) : undefined;
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
        return registry && { key: config.target.registries[repository]!.url, registry };
      },
    },
    { repositoryMap: config.target.repositories, concurrency: config.concurrency },
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
    for (const file of inApplyOrder(files)) {
      const bar = out.progress(`importing ${path.basename(file)}`, 0);
      const report = await importer
        .importBundle(bundleInput(file), { allowGap: options.allowGap ?? false, onProgress: (p) => p.phase === 'apply' && bar.update(p.done, p.total) })
        .finally(() => bar.stop());
      if (report.status === 'already-imported') {
        out.line(`${report.bundle.name}: already imported (sequence ${report.bundle.sequence} of ${report.bundle.sourceId}, at ${report.importedAt}); nothing changed`);
        continue;
      }
      await mkdir(config.receiptsDir, { recursive: true });
      const receiptFile = path.join(config.receiptsDir, `${report.bundle.name.replace(/\.tar$/, '')}.receipt.json`);
      await writeFile(`${receiptFile}.tmp`, await encodeReceipt(report.receipt, receiptSigner));
      await rename(`${receiptFile}.tmp`, receiptFile);
      out.line(
        `${report.bundle.name}: imported sequence ${report.bundle.sequence} of ${report.bundle.sourceId}: ` +
          `${report.imported} uploaded, ${report.present} already present; receipt ${receiptFile}`,
      );
    }
  });
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
      for (const file of inApplyOrder(files)) {
        const report = await importer.verify(bundleInput(file), { allowGap: options.allowGap ?? false });
        out.line(
          report.chain === 'already-imported'
            ? `${path.basename(file)}: already imported (sequence ${report.bundle.sequence} of ${report.bundle.sourceId})`
            : `${path.basename(file)}: OK — sequence ${report.bundle.sequence} of ${report.bundle.sourceId}, signed by ${report.keyId}, ` +
                `${report.entries} entries, ${report.blobsIncluded} blobs verified, ${report.blobsRequired} required${report.chain === 'gap-allowed' ? ' (out of sequence)' : ''}`,
        );
      }
    });
    return;
  }
  const { verifyBundle } = await import('../../shared/bundle/index.ts');
  const trustedKeys = await Promise.all((options.publicKey ?? []).map((f) => loadPublicKey(path.resolve(f))));
  for (const file of files) {
    const result = await verifyBundle(createReadStream(file), { where: path.basename(file), trustedKeys });
    out.line(
      `${path.basename(file)}: OK — sequence ${result.manifest.sequence} of ${result.manifest.sourceId}, signed by ${result.keyId}, ` +
        `${result.manifest.entries.length} entries, ${result.manifest.blobs.included.length} blobs verified (chain not checked: no --config)`,
    );
  }
}

export type { ArtifactTarget };
