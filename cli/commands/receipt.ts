/**
 * `ferry receipt apply`: tell the export side what the far side now holds, so later bundles
 * list those blobs as required instead of shipping them again.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { openDatabase, SqliteExportState } from '../../shared/adapters/embedded/index.ts';
import { loadExportConfig } from '../../shared/config/export-config.ts';
import { decodeReceipt } from '../../shared/core/receipt.ts';
import { loadPublicKey } from '../../shared/signing.ts';
import { requireFiles } from '../files.ts';
import { makeOutput } from '../output.ts';

export async function receiptApplyCommand(files: string[], options: { config: string }): Promise<void> {
  const config = await loadExportConfig(options.config);
  await requireFiles(files, 'receipt');
  const out = makeOutput();
  const trusted = await Promise.all(config.receipts.trustedPublicKeyFiles.map((f) => loadPublicKey(f)));
  if (trusted.length === 0) out.log.warn('receipts.trustedPublicKeyFiles is empty: receipt signatures are not checked');
  const db = openDatabase(path.join(config.workDir, 'state.db'));
  try {
    const state = new SqliteExportState(db);
    for (const file of files) {
      const where = path.basename(file);
      const receipt = decodeReceipt(await readFile(file, 'utf8'), where, trusted.length > 0 ? trusted : undefined);
      // Blobs are content-addressed: what the far side holds counts whichever chain brought
      // it. Only a receipt of this chain can name the bundle; others record 0 ("held").
      const ownChain = receipt.sourceId === config.sourceId;
      const digests = receipt.blobsHeld.map((b) => b.digest);
      const before = await Promise.all(digests.map((d) => state.shippedIn(d)));
      await state.recordHeldBlobs(digests, ownChain ? receipt.bundle.sequence : 0);
      const added = before.filter((b) => b === undefined).length;
      out.line(`${where}: bundle ${receipt.bundle.sequence} imported at ${receipt.importedAt}; the far side holds ${digests.length} blobs (${added} not known here before)`);
    }
  } finally {
    if (db.isOpen) db.close();
  }
}
