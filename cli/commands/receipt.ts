/**
 * `ferry receipt apply`: tell the export side what the far side now holds, so later bundles
 * list those blobs as required instead of shipping them again. The export side is the
 * embedded one (`--config export.yaml`) or the serverless one (`--table`, the export stack's
 * DynamoDB state table).
 */
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadExportConfig } from '../../shared/config/export-config.ts';
import { loadConfiguredPublicKeys, loadPublicKeyOr } from '../../shared/config/keys.ts';
import { applyFarSideDocument, type ReceiptLedger } from '../../shared/core/receipts/apply.ts';
import { decodeFarSideDocument } from '../../shared/core/receipts/codec.ts';
import { requireFiles } from '../files.ts';
import { makeOutput, type Output } from '../output.ts';
import { UsageError } from '../usage.ts';

export interface ReceiptApplyOptions {
  config?: string;
  table?: string;
  sourceId?: string;
  region?: string;
  publicKey?: string[];
}


/** The export side's ledger, its source id and the keys receipts must be signed by. */
interface Side {
  sourceId: string;
  state: ReceiptLedger;
  trusted: KeyObject[];
  close(): void;
}

async function embeddedSide(configFile: string): Promise<Side> {
  const config = await loadExportConfig(configFile);
  const trusted = await loadConfiguredPublicKeys(config.configFile, 'receipts.trustedPublicKeyFiles', config.receipts.trustedPublicKeyFiles);
  const { openDatabase, SqliteExportState } = await import('../../shared/adapters/embedded/index.ts');
  const db = openDatabase(path.join(config.workDir, 'state.db'));
  return { sourceId: config.sourceId, state: new SqliteExportState(db), trusted, close: () => db.isOpen && db.close() };
}

async function serverlessSide(options: ReceiptApplyOptions): Promise<Side> {
  if (options.sourceId === undefined) throw new UsageError('receipt apply --table needs --source-id (the export stack\'s sourceId)');
  const trusted = await Promise.all((options.publicKey ?? []).map((f) => loadPublicKeyOr(path.resolve(f), publicKeyOptionProblem)));
  const [{ DynamoDBClient }, { DynamoDBDocumentClient }, { DynamoExportState }] = await Promise.all([
    import('@aws-sdk/client-dynamodb'),
    import('@aws-sdk/lib-dynamodb'),
    import('../../shared/adapters/aws/dynamo-export-state.ts'),
  ]);
  // The endpoint comes from the SDK's own AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL when set.
  const dynamo = new DynamoDBClient(options.region ? { region: options.region } : {});
  const client = DynamoDBDocumentClient.from(dynamo);
  return { sourceId: options.sourceId, state: new DynamoExportState({ client, table: options.table!, sourceId: options.sourceId }), trusted, close: () => dynamo.destroy() };
}

const publicKeyOptionProblem = (problem: string, cause: Error) => new UsageError(`--public-key: ${problem}`, { cause });

export async function receiptApplyCommand(files: string[], options: ReceiptApplyOptions): Promise<void> {
  if ((options.config === undefined) === (options.table === undefined)) {
    throw new UsageError('receipt apply needs exactly one of --config <export.yaml> (embedded) or --table <state table> (serverless)');
  }
  if (options.config !== undefined && (options.sourceId !== undefined || (options.publicKey ?? []).length > 0)) {
    throw new UsageError('--source-id and --public-key go with --table; with --config they come from the configuration');
  }
  await requireFiles(files, 'receipt');
  const side = options.config !== undefined ? await embeddedSide(options.config) : await serverlessSide(options);
  try {
    await applyReceipts(side, files, makeOutput());
  } finally {
    side.close();
  }
}

async function applyReceipts(side: Side, files: string[], out: Output): Promise<void> {
  if (side.trusted.length === 0) out.log.warn('no trusted receipt keys (receipts.trustedPublicKeyFiles or --public-key): receipt signatures are not checked');
  for (const file of files) {
    const where = path.basename(file);
    const document = decodeFarSideDocument(await readFile(file, 'utf8'), where, side.trusted.length > 0 ? side.trusted : undefined);
    const outcome = await applyFarSideDocument(side.state, side.sourceId, document, where);
    if (outcome.kind === 'resend-request') {
      out.line(`${where}: bundle ${outcome.sequence} could not be imported for want of ${outcome.requested} blob(s); the next bundle carries them again`);
      continue;
    }
    if (outcome.ignored.length > 0) {
      out.log.warn(
        `${where}: ignored ${outcome.ignored.length} blob(s) the receipt says the far side holds but this chain never shipped up to bundle ${outcome.sequence}: ` +
          `${outcome.ignored.slice(0, 3).join(', ')}${outcome.ignored.length > 3 ? ', …' : ''}`,
      );
    }
    out.line(`${where}: bundle ${outcome.sequence} imported at ${outcome.importedAt}; the far side holds ${outcome.held} blobs (${outcome.recorded} not known here before)`);
  }
}
