/**
 * `ferry status` on the serverless side, read from the state tables (layouts in
 * `dynamo-export-state.ts` and `dynamo-import-state.ts`) with reads only: the export
 * adapter's own listings finish a committed seal or drop satisfied resend requests as they
 * go, which a status must not do. Consistent reads where DynamoDB offers them.
 *
 * Two answers need a Scan, because their items are spread over partitions by design: the
 * shipped ledger (`SHIPPED#<sid>#<digest>`, one partition per blob) and the import side's
 * bundles (`BUNDLE#<digest>`). A Scan reads the whole table, so on a large table a status
 * costs that many read units; it is an operator's occasional question, not a poll.
 */
import { ScanCommand, type DynamoDBDocumentClient, type ScanCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Digest } from '../../digest.ts';
import type { ScanCheckpoint } from '../../core/ports/index.ts';
import { summariseImports, type ExportStateSnapshot, type ExportStatusReader, type ImportStateSnapshot, type ImportStatusReader, type RepositorySnapshot } from '../../core/status.ts';
import { keys, type Item, type Key } from './dynamo-keys.ts';
import { PENDING_INDEX } from './dynamo-export-state.ts';
import { DynamoTable } from './dynamo-table.ts';

export interface DynamoStatusOptions {
  client: DynamoDBDocumentClient;
  table: string;
}

/** The serverless export side's state table, read-only. */
export class DynamoExportStatus implements ExportStatusReader {
  readonly #t: DynamoTable;

  constructor(options: DynamoStatusOptions) {
    this.#t = new DynamoTable(options.client, options.table);
  }

  async readExportState(sourceId: string): Promise<ExportStateSnapshot> {
    const snapshot: ExportStateSnapshot = {
      repositories: [],
      bundles: { sealed: 0, bytes: 0, last: null },
      farSide: { shippedInBundles: 0, reportedByReceipts: 0 },
      resendsWaiting: 0,
      notes: [],
    };
    const repositories = new Map<string, RepositorySnapshot>();
    const repository = (name: string) => {
      let r = repositories.get(name);
      if (r === undefined) repositories.set(name, (r = { repository: name, watermark: null, scan: null, pending: { entries: 0, bytes: 0 } }));
      return r;
    };
    const resends = await this.#readSourcePartition(sourceId, snapshot, repository);
    for (const entry of await this.#pendingEntries(sourceId)) {
      const pending = repository(String(entry.sourceRepository)).pending;
      pending.entries += 1;
      pending.bytes += Number(entry.size);
    }
    snapshot.repositories = [...repositories.values()];
    const ledger = await this.#shippedLedger(sourceId);
    snapshot.farSide = { shippedInBundles: ledger.bundle, reportedByReceipts: ledger.receipt };
    // A resend request is satisfied once its blob is back in the ledger.
    const back = await this.#t.batchGet(resends.map((digest) => keys.shipped(sourceId, digest)));
    snapshot.resendsWaiting = resends.length - back.length;
    return snapshot;
  }

  /** Watermarks, checkpoints, bundles and resend requests: all items of `SOURCE#<sid>`. Returns the resend digests. */
  async #readSourcePartition(sourceId: string, snapshot: ExportStateSnapshot, repository: (name: string) => RepositorySnapshot): Promise<Digest[]> {
    const resends: Digest[] = [];
    const items = this.#t.query({
      TableName: this.#t.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.source(sourceId) },
      ConsistentRead: true,
    });
    for await (const item of items) {
      const sk = String(item.sk);
      const [kind] = sk.split('#', 1);
      const rest = sk.slice((kind?.length ?? 0) + 1);
      if (kind === 'WATERMARK' && typeof item.value === 'string') repository(rest).watermark = item.value;
      else if (kind === 'CHECKPOINT') repository(rest).scan = checkpointOf(item);
      else if (kind === 'BUNDLE') countBundle(snapshot, sourceId, item);
      else if (kind === 'RESEND') resends.push(String(item.digest) as Digest);
      else if (kind === 'ROLLFORWARD') snapshot.notes.push(`bundle ${Number(rest)} is sealed and its ledger is being finished (the next seal completes it): some entries listed as pending are in it`);
    }
    return resends;
  }

  /** Entries still pending: the sparse index lists keys, consistent reads confirm each. */
  async #pendingEntries(sourceId: string): Promise<Item[]> {
    const listed: Key[] = [];
    const items = this.#t.query({
      TableName: this.#t.table,
      IndexName: PENDING_INDEX,
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.pendingPk(sourceId) },
    });
    for await (const item of items) listed.push({ pk: String(item.pk), sk: String(item.sk) });
    return (await this.#t.batchGet(listed)).filter((item) => item.state === 'pending');
  }

  async #shippedLedger(sourceId: string): Promise<{ bundle: number; receipt: number }> {
    const counts = { bundle: 0, receipt: 0 };
    const items = scan(this.#t, {
      TableName: this.#t.table,
      FilterExpression: 'begins_with(pk, :prefix)',
      ProjectionExpression: '#via',
      ExpressionAttributeNames: { '#via': 'via' },
      ExpressionAttributeValues: { ':prefix': `SHIPPED#${sourceId}#` },
      ConsistentRead: true,
    });
    for await (const item of items) {
      if (item.via === 'receipt') counts.receipt += 1;
      else counts.bundle += 1;
    }
    return counts;
  }
}

/** The serverless import side's state table, read-only: chain heads and imported bundles, every source. */
export class DynamoImportStatus implements ImportStatusReader {
  readonly #t: DynamoTable;

  constructor(options: DynamoStatusOptions) {
    this.#t = new DynamoTable(options.client, options.table);
  }

  async readImportState(): Promise<ImportStateSnapshot> {
    const heads: { sourceId: string; sequence: number; digest: Digest }[] = [];
    const imported: { sourceId: string; sequence: number; digest: Digest; importedAt: string }[] = [];
    const items = scan(this.#t, {
      TableName: this.#t.table,
      FilterExpression: 'sk = :one AND (begins_with(pk, :chain) OR begins_with(pk, :bundle))',
      ExpressionAttributeValues: { ':one': '#', ':chain': 'CHAIN#', ':bundle': 'BUNDLE#' },
      ConsistentRead: true,
    });
    for await (const item of items) {
      const pk = String(item.pk);
      if (pk.startsWith('CHAIN#')) {
        heads.push({ sourceId: pk.slice('CHAIN#'.length), sequence: Number(item.sequence), digest: String(item.digest) as Digest });
      } else {
        imported.push({ sourceId: String(item.sourceId), sequence: Number(item.sequence), digest: pk.slice('BUNDLE#'.length) as Digest, importedAt: String(item.importedAt) });
      }
    }
    return { sources: summariseImports(heads, imported) };
  }
}

async function* scan(t: DynamoTable, input: ScanCommandInput): AsyncIterable<Item> {
  let start: Record<string, unknown> | undefined;
  do {
    const page = await t.call('Scan', String(input.ExpressionAttributeValues?.[':prefix'] ?? input.FilterExpression), () =>
      t.client.send(new ScanCommand({ ...input, ...(start ? { ExclusiveStartKey: start } : {}) })),
    );
    for (const item of page.Items ?? []) yield item;
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
}

function checkpointOf(item: Item): ScanCheckpoint {
  return {
    startedAt: String(item.startedAt),
    since: typeof item.since === 'string' ? item.since : null,
    continuationToken: typeof item.continuationToken === 'string' ? item.continuationToken : null,
  };
}

function countBundle(snapshot: ExportStateSnapshot, sourceId: string, item: Item): void {
  const bundles = snapshot.bundles;
  bundles.sealed += 1;
  bundles.bytes += Number(item.size);
  // Sort keys are zero-padded sequences in ascending order: the last one read is the chain's last.
  bundles.last = {
    sourceId,
    sequence: Number(item.sequence),
    digest: String(item.digest) as Digest,
    name: String(item.name),
    size: Number(item.size),
    sealedAt: String(item.sealedAt),
    // Items written before the flag existed are bundles that were published.
    published: item.published !== false,
  };
}
