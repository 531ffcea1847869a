/**
 * `ferry status`: where a side stands, read-only. The embedded side is read from its
 * configuration's work directory (which side: the config's `source:` or `target:`); the
 * serverless side from its DynamoDB state table (`--table`: the export side with
 * `--source-id`, else the import side), with the dead-letter queue and the import buckets
 * when named. `--json` prints {@link ExportStatus} / {@link ImportStatus} (docs in README).
 */
import path from 'node:path';
import * as z from 'zod';
import { ConfigError } from '../../shared/config/errors.ts';
import { loadExportConfig } from '../../shared/config/export-config.ts';
import { loadImportConfig } from '../../shared/config/import-config.ts';
import { loadConfigFile } from '../../shared/config/load.ts';
import { formatExportStatus, formatImportStatus } from '../../shared/core/status-format.ts';
import {
  exportStatus,
  heldTotals,
  importStatus,
  type ExportStateSnapshot,
  type ExportStatus,
  type ImportStateSnapshot,
  type ImportStatus,
  type TaskQueueStatus,
} from '../../shared/core/status.ts';
import { UsageError } from '../usage.ts';

export interface StatusOptions {
  config?: string;
  table?: string;
  side?: 'export' | 'import';
  sourceId?: string;
  region?: string;
  dlqUrl?: string;
  heldBucket?: string;
  inboxBucket?: string;
  receiptsPrefix?: string;
  json?: boolean;
}

export async function statusCommand(options: StatusOptions): Promise<void> {
  checkOptions(options);
  const status = options.config !== undefined ? await embeddedStatus(options.config, options.side) : await serverlessStatus(options);
  const lines = options.json ? [JSON.stringify(status, null, 2)] : status.side === 'export' ? formatExportStatus(status) : formatImportStatus(status);
  process.stdout.write(`${lines.join('\n')}\n`);
}

function checkOptions(options: StatusOptions): void {
  if ((options.config === undefined) === (options.table === undefined)) {
    throw new UsageError('status needs exactly one of --config <export.yaml|import.yaml> (embedded) or --table <state table> (serverless)');
  }
  const tableOnly = (['sourceId', 'region', 'dlqUrl', 'heldBucket', 'inboxBucket', 'receiptsPrefix'] as const).filter((o) => options[o] !== undefined);
  if (options.config !== undefined && tableOnly.length > 0) {
    throw new UsageError(`${tableOnly.map(flag).join(', ')}: only with --table; with --config the configuration says where the state is`);
  }
  if (options.table === undefined) return;
  const side = tableSide(options);
  if (side === 'export' && options.sourceId === undefined) throw new UsageError('status --table --side export needs --source-id (the export stack\'s sourceId)');
  const wrong = (side === 'export' ? (['heldBucket', 'inboxBucket', 'receiptsPrefix'] as const) : (['sourceId', 'dlqUrl'] as const)).filter((o) => options[o] !== undefined);
  if (wrong.length > 0) throw new UsageError(`${wrong.map(flag).join(', ')}: not for the ${side} side's table`);
}

/** `--table` with `--source-id` is the export side's table (it is kept per source); without, the import side's. */
function tableSide(options: StatusOptions): 'export' | 'import' {
  return options.side ?? (options.sourceId !== undefined ? 'export' : 'import');
}

function flag(option: string): string {
  return `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

// ───────────────────────────── embedded ─────────────────────────────

async function embeddedStatus(file: string, side: 'export' | 'import' | undefined): Promise<ExportStatus | ImportStatus> {
  return (side ?? (await configSide(file))) === 'export' ? embeddedExportStatus(file) : embeddedImportStatus(file);
}

/** An export config names its `source:`, an import config its `target:`. */
async function configSide(file: string): Promise<'export' | 'import'> {
  const { config } = await loadConfigFile(file, z.looseObject({}));
  const isExport = 'source' in config;
  const isImport = 'target' in config;
  if (isExport !== isImport) return isExport ? 'export' : 'import';
  throw new ConfigError(file, [`cannot tell which side this configuration is for: an export configuration has source:, an import configuration target:${isExport ? ' (it has both)' : ''}; or give --side`]);
}

async function embeddedExportStatus(file: string): Promise<ExportStatus> {
  const config = await loadExportConfig(file);
  const { openStateForStatus, SqliteExportStatus } = await import('../../shared/adapters/embedded/status.ts');
  const stateFile = path.join(config.workDir, 'state.db');
  const db = openStateForStatus(stateFile);
  const configured = config.source.repositories.map((r) => r.name);
  const base = { deployment: 'embedded' as const, sourceId: config.sourceId, configured };
  if (db === undefined) {
    const state = { ...emptyExportState(), notes: [`no state at ${stateFile} yet: no export has run`] };
    return exportStatus({ ...base, now: new Date(), state, tasks: { kept: 'task-queue', queued: 0, running: 0, retrying: 0, dead: 0, failed: [], note: null } });
  }
  try {
    const reader = new SqliteExportStatus(db);
    const [state, tasks] = [await reader.readExportState(config.sourceId), await reader.readTaskStatus()];
    return exportStatus({ ...base, now: new Date(), state, tasks });
  } finally {
    db.close();
  }
}

async function embeddedImportStatus(file: string): Promise<ImportStatus> {
  const config = await loadImportConfig(file);
  const { openStateForStatus, SqliteImportStatus, DirReceiptShelf } = await import('../../shared/adapters/embedded/status.ts');
  const { DirObjectStore } = await import('../../shared/adapters/embedded/object-store.ts');
  const stateFile = path.join(config.workDir, 'state.db');
  const db = openStateForStatus(stateFile);
  try {
    const state = db === undefined ? { sources: [] } : await new SqliteImportStatus(db).readImportState();
    const shelf = new DirReceiptShelf(config.receiptsDir);
    return importStatus({
      deployment: 'embedded',
      now: new Date(),
      state,
      held: await heldTotals(new DirObjectStore(path.join(config.workDir, 'objects'))),
      shelf: { location: shelf.location, files: await shelf.listFarSideFiles() },
      notes: db === undefined ? [`no state at ${stateFile} yet: no import has run`] : [],
    });
  } finally {
    db?.close();
  }
}

function emptyExportState(): ExportStateSnapshot {
  return { repositories: [], bundles: { sealed: 0, bytes: 0, last: null }, farSide: { shippedInBundles: 0, reportedByReceipts: 0 }, resendsWaiting: 0, notes: [] };
}

// ───────────────────────────── serverless ─────────────────────────────

/** The endpoints come from the SDK's own AWS_ENDPOINT_URL_<SERVICE> / AWS_ENDPOINT_URL when set. */
async function serverlessStatus(options: StatusOptions): Promise<ExportStatus | ImportStatus> {
  const [{ DynamoDBClient }, { DynamoDBDocumentClient }, { DynamoExportStatus, DynamoImportStatus }] = await Promise.all([
    import('@aws-sdk/client-dynamodb'),
    import('@aws-sdk/lib-dynamodb'),
    import('../../shared/adapters/aws/dynamo-status.ts'),
  ]);
  const clientOptions = options.region ? { region: options.region } : {};
  const dynamo = new DynamoDBClient(clientOptions);
  const client = DynamoDBDocumentClient.from(dynamo);
  const table = options.table!;
  try {
    if (tableSide(options) === 'export') {
      const state = await new DynamoExportStatus({ client, table }).readExportState(options.sourceId!);
      const tasks = await serverlessTasks(options, clientOptions);
      return exportStatus({ deployment: 'serverless', sourceId: options.sourceId!, now: new Date(), state, tasks });
    }
    const state = await new DynamoImportStatus({ client, table }).readImportState();
    return await serverlessImportStatus(options, clientOptions, state);
  } finally {
    dynamo.destroy();
  }
}

async function serverlessTasks(options: StatusOptions, clientOptions: { region?: string }): Promise<TaskQueueStatus> {
  const { deadLetterNotRead, deadLetterStatus } = await import('../../shared/adapters/aws/status-listings.ts');
  if (options.dlqUrl === undefined) return deadLetterNotRead();
  const { SQSClient } = await import('@aws-sdk/client-sqs');
  const sqs = new SQSClient(clientOptions);
  try {
    return await deadLetterStatus(sqs, options.dlqUrl);
  } finally {
    sqs.destroy();
  }
}

/** Held blobs and receipts live in the import stack's buckets, not its table: read when named. */
async function serverlessImportStatus(options: StatusOptions, clientOptions: { region?: string }, state: ImportStateSnapshot): Promise<ImportStatus> {
  const notes: string[] = [];
  if (options.heldBucket === undefined) notes.push('held blobs are in the import stack\'s HeldBlobs bucket: add --held-bucket <bucket> to count them');
  if (options.inboxBucket === undefined) notes.push('receipts are in the import stack\'s inbox bucket: add --inbox-bucket <bucket> to list them');
  if (options.heldBucket === undefined && options.inboxBucket === undefined) {
    return importStatus({ deployment: 'serverless', now: new Date(), state, held: null, shelf: null, notes });
  }
  const [{ S3Client }, { S3ObjectStore }, { S3ReceiptShelf }] = await Promise.all([
    import('@aws-sdk/client-s3'),
    import('../../shared/adapters/aws/s3-object-store.ts'),
    import('../../shared/adapters/aws/status-listings.ts'),
  ]);
  const s3 = new S3Client(clientOptions);
  try {
    const held = options.heldBucket === undefined ? null : await heldTotals(new S3ObjectStore({ client: s3, bucket: options.heldBucket }));
    const shelf = options.inboxBucket === undefined ? null : new S3ReceiptShelf({ client: s3, bucket: options.inboxBucket, prefix: options.receiptsPrefix ?? 'receipts/' });
    return importStatus({
      deployment: 'serverless',
      now: new Date(),
      state,
      held,
      shelf: shelf === null ? null : { location: shelf.location, files: await shelf.listFarSideFiles() },
      notes,
    });
  } finally {
    s3.destroy();
  }
}
