/**
 * `ferry report`: a bundle's self-contained HTML report for the people who review what
 * crosses. With trusted keys (`--public-key`, or an import config's `trust.publicKeyFiles`)
 * the bundle is verified as `ferry verify` does it, and a bundle that fails is refused with
 * no report; without them the report says plainly that nothing was checked.
 */
import { createReadStream } from 'node:fs';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import { readUnverifiedForReport, readVerifiedForReport, renderReport, reportFileName } from '../../shared/bundle/report/index.ts';
import { loadImportConfig } from '../../shared/config/import-config.ts';
import { loadConfiguredPublicKeys, loadPublicKeyOr } from '../../shared/config/keys.ts';
import { formatOfEntry } from '../../shared/core/formats/index.ts';
import { requireFiles } from '../files.ts';
import { makeOutput } from '../output.ts';
import { UsageError } from '../usage.ts';

export interface ReportOptions {
  out?: string;
  publicKey?: string[];
  config?: string;
}

export async function reportCommand(file: string, options: ReportOptions): Promise<void> {
  const keyFiles = options.publicKey ?? [];
  if (options.config !== undefined && keyFiles.length > 0) throw new UsageError('report takes --config or --public-key, not both');
  await requireFiles([file], 'bundle');
  const out = makeOutput();
  const where = path.basename(file);
  const trust = await trustedKeys(options.config, keyFiles);
  const read =
    trust === undefined
      ? await readUnverifiedForReport(createReadStream(file), where)
      : await readVerifiedForReport(createReadStream(file), where, trust.keys, trust.by);
  const html = renderReport({
    ...read,
    bundle: { name: where, size: (await stat(file)).size },
    coordinates: (entry) => formatOfEntry(entry).coordinates(entry),
  });
  const status = read.verification.status === 'verified' ? `verified (signed by ${read.verification.keyId})` : 'NOT verified (no --public-key or --config given)';
  if (options.out === '-') {
    process.stdout.write(html);
    out.log.info(`${where}: report ${status}`);
    return;
  }
  const target = options.out ?? path.join(path.dirname(file), reportFileName(where));
  await writeAtomically(target, html);
  out.line(`${where}: report ${status} written to ${target}`);
}

async function trustedKeys(config: string | undefined, keyFiles: string[]): Promise<{ keys: KeyObject[]; by: string } | undefined> {
  if (config !== undefined) {
    const resolved = await loadImportConfig(config);
    const keys = await loadConfiguredPublicKeys(resolved.configFile, 'trust.publicKeyFiles', resolved.trust.publicKeyFiles);
    return { keys, by: `the import configuration ${path.basename(config)} (trust.publicKeyFiles)` };
  }
  if (keyFiles.length === 0) return undefined;
  const keys = await Promise.all(keyFiles.map((f) => loadPublicKeyOr(path.resolve(f), (problem, cause) => new UsageError(`--public-key: ${problem}`, { cause }))));
  return { keys, by: `--public-key ${keyFiles.map((f) => path.basename(f)).join(', ')}` };
}

/** A reader never sees half a report: written beside, then renamed over. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, text);
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}
