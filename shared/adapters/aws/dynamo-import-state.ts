/**
 * The import runner's durable progress in DynamoDB, for the import Lambda: which bundles
 * are done, where each source's chain stands, per-entry outcomes inside a bundle (so a
 * killed import resumes where it stopped) and where blobs were put on target registries.
 *
 * One table, `pk` (HASH) + `sk` (RANGE), both strings:
 *
 * ```
 * CHAIN#<sourceId>           | #                  sequence, digest          the chain head
 * BUNDLE#<digest>            | #                  sourceId, sequence, importedAt
 * BUNDLE#<digest>            | ENTRY#<index, 16>  outcome (imported | present)
 * BUNDLE#<digest>            | DELETION#<idx, 16> action (delete | keep), reason   a tombstone's decision
 * BLOB#<registry>#<digest>   | #                  name                      a mount source
 * IMPORTED#<repository>      | <path>             digest                    what Ferry put there (tombstones)
 * NEXT#<sourceId>#<seq, 16>  | <previous digest>  digest                    an imported bundle, by its link
 * PART#<part digest>         | <blob digest>                                a held part a blob not yet put together waits for
 * AWAITS#<blob digest>       | <part digest>                                the same, by blob
 * ```
 *
 * NEXT items let the chain move over bundles imported out of sequence: once the head
 * reaches sequence n with digest d, the bundle at `NEXT#<sid>#<n+1>` / `d` follows it.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Digest } from '../../digest.ts';
import { forEachLimited } from '../../concurrency.ts';
import type { ImportedBundleRecord, ImportState, RecordedDeletion } from '../../core/ports/index.ts';
import { DynamoTable, stateTableInput } from './dynamo-table.ts';
import { StateStoreError } from './errors.ts';

export interface DynamoImportStateOptions {
  client: DynamoDBDocumentClient;
  table: string;
}

/** The CreateTable input for the import state table, shared by tests and the CDK stack. */
export function createImportTableInput(table: string): CreateTableCommandInput {
  return stateTableInput(table);
}

const ONE = '#';
const keys = {
  chain: (sourceId: string) => ({ pk: `CHAIN#${sourceId}`, sk: ONE }),
  bundle: (digest: Digest) => ({ pk: `BUNDLE#${digest}`, sk: ONE }),
  entry: (digest: Digest, index: number) => ({ pk: `BUNDLE#${digest}`, sk: `ENTRY#${String(index).padStart(16, '0')}` }),
  deletion: (digest: Digest, index: number) => ({ pk: `BUNDLE#${digest}`, sk: `DELETION#${String(index).padStart(16, '0')}` }),
  blob: (registry: string, digest: Digest) => ({ pk: `BLOB#${registry}#${digest}`, sk: ONE }),
  imported: (repository: string, path: string) => ({ pk: `IMPORTED#${repository}`, sk: path }),
  awaitedBy: (part: Digest) => `PART#${part}`,
  awaited: (part: Digest, blob: Digest) => ({ pk: `PART#${part}`, sk: blob }),
  awaitsPk: (blob: Digest) => `AWAITS#${blob}`,
  awaits: (blob: Digest, part: Digest) => ({ pk: `AWAITS#${blob}`, sk: part }),
  next: (sourceId: string, sequence: number, previous: Digest | null) => ({
    pk: `NEXT#${sourceId}#${String(sequence).padStart(16, '0')}`,
    sk: previous ?? 'none',
  }),
};

export class DynamoImportState implements ImportState {
  readonly client: DynamoDBDocumentClient;
  readonly table: string;

  readonly #t: DynamoTable;

  constructor(options: DynamoImportStateOptions) {
    this.client = options.client;
    this.table = options.table;
    this.#t = new DynamoTable(this.client, this.table);
  }

  async lastImported(sourceId: string): Promise<{ sequence: number; digest: Digest } | undefined> {
    const item = await this.#t.get(keys.chain(sourceId));
    return item === undefined ? undefined : { sequence: Number(item.sequence), digest: String(item.digest) as Digest };
  }

  async importedBundle(digest: Digest): Promise<{ sequence: number; importedAt: string } | undefined> {
    const item = await this.#t.get(keys.bundle(digest));
    return item === undefined ? undefined : { sequence: Number(item.sequence), importedAt: String(item.importedAt) };
  }

  async entryOutcome(bundleDigest: Digest, index: number): Promise<'imported' | 'present' | undefined> {
    const item = await this.#t.get(keys.entry(bundleDigest, index));
    const outcome = item?.outcome;
    return outcome === 'imported' || outcome === 'present' ? outcome : undefined;
  }

  /** The latest outcome for an entry wins (a re-run may find present what it imported before). */
  async recordEntryOutcome(bundleDigest: Digest, index: number, outcome: 'imported' | 'present'): Promise<void> {
    const key = keys.entry(bundleDigest, index);
    await this.#t.call('PutItem', `${key.pk} ${key.sk}`, () => this.client.send(new PutCommand({ TableName: this.table, Item: { ...key, outcome } })));
  }

  async deletionDecision(bundleDigest: Digest, index: number): Promise<RecordedDeletion | undefined> {
    const item = await this.#t.get(keys.deletion(bundleDigest, index));
    if (item?.action !== 'delete' && item?.action !== 'keep') return undefined;
    return { index, action: item.action, ...(typeof item.reason === 'string' ? { reason: item.reason } : {}) };
  }

  /** Every decision before the import deletes anything; the first decision recorded for an entry stays. */
  async recordDeletionDecisions(bundleDigest: Digest, decisions: readonly RecordedDeletion[]): Promise<void> {
    await forEachLimited(decisions, 16, async ({ index, action, reason }) => {
      const key = keys.deletion(bundleDigest, index);
      const item = { ...key, action, ...(reason !== undefined ? { reason } : {}) };
      await this.#t.conditional('PutItem', key, () => this.client.send(new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' })));
    });
  }

  /**
   * Idempotent: re-recording a bundle keeps its first import time. The bundle, its NEXT
   * link and the chain head move in one transaction; the head goes to the end of the run
   * of already-imported successors (read first), and only if it is still below this
   * bundle's sequence: when it is not, the bundle alone is recorded, as the embedded state does.
   */
  async recordBundleImported(record: ImportedBundleRecord): Promise<void> {
    const bundleKey = keys.bundle(record.digest);
    const bundleUpdate = {
      Update: {
        TableName: this.table,
        Key: bundleKey,
        UpdateExpression: 'SET sourceId = :source, #sequence = :sequence, importedAt = if_not_exists(importedAt, :at)',
        ExpressionAttributeNames: { '#sequence': 'sequence' },
        ExpressionAttributeValues: { ':source': record.sourceId, ':sequence': record.sequence, ':at': record.importedAt },
      },
    };
    const nextKey = keys.next(record.sourceId, record.sequence, record.previous);
    const link = {
      Update: {
        TableName: this.table,
        Key: nextKey,
        UpdateExpression: 'SET digest = if_not_exists(digest, :digest)',
        ExpressionAttributeValues: { ':digest': record.digest },
      },
    };
    if (!record.advancesChain) {
      await this.#t.call('TransactWriteItems', `${bundleKey.pk} ${bundleKey.sk}`, () => this.client.send(new TransactWriteCommand({ TransactItems: [bundleUpdate, link] })));
      return;
    }
    let head = { sequence: record.sequence, digest: record.digest };
    for (;;) {
      const next = await this.#t.get(keys.next(record.sourceId, head.sequence + 1, head.digest));
      if (typeof next?.digest !== 'string') break;
      head = { sequence: head.sequence + 1, digest: next.digest as Digest };
    }
    const chainKey = keys.chain(record.sourceId);
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            bundleUpdate,
            link,
            {
              Put: {
                TableName: this.table,
                Item: { ...chainKey, sequence: head.sequence, digest: head.digest },
                ConditionExpression: 'attribute_not_exists(pk) OR #sequence < :sequence',
                ExpressionAttributeNames: { '#sequence': 'sequence' },
                ExpressionAttributeValues: { ':sequence': record.sequence },
              },
            },
          ],
        }),
      );
      return;
    } catch (error) {
      const reasons = (error as { name?: string; CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
      const chainAhead = (error as { name?: string }).name === 'TransactionCanceledException' && reasons[2]?.Code === 'ConditionalCheckFailed';
      if (!chainAhead) throw new StateStoreError(this.table, 'TransactWriteItems', `${bundleKey.pk}, ${chainKey.pk}`, { cause: error });
    }
    await this.#t.call('TransactWriteItems', `${bundleKey.pk} ${bundleKey.sk}`, () => this.client.send(new TransactWriteCommand({ TransactItems: [bundleUpdate, link] })));
  }

  async blobLocation(registry: string, digest: Digest): Promise<string | undefined> {
    const item = await this.#t.get(keys.blob(registry, digest));
    return typeof item?.name === 'string' ? item.name : undefined;
  }

  async importedAt(repository: string, path: string): Promise<Digest | undefined> {
    const item = await this.#t.get(keys.imported(repository, path));
    return typeof item?.digest === 'string' ? (item.digest as Digest) : undefined;
  }

  /** `undefined` forgets the location (a tombstone deleted it). */
  async recordImportedAt(repository: string, path: string, digest: Digest | undefined): Promise<void> {
    const key = keys.imported(repository, path);
    try {
      if (digest === undefined) await this.client.send(new DeleteCommand({ TableName: this.table, Key: key }));
      else await this.client.send(new PutCommand({ TableName: this.table, Item: { ...key, digest } }));
    } catch (error) {
      throw new StateStoreError(this.table, digest === undefined ? 'DeleteItem' : 'PutItem', key.pk, { cause: error });
    }
  }

  /** Both ways (by part, by blob); a run stopped between the two writes them again. */
  async recordAwaitedParts(blob: Digest, parts: readonly Digest[]): Promise<void> {
    await forEachLimited([...new Set(parts)], 8, async (part) => {
      for (const key of [keys.awaits(blob, part), keys.awaited(part, blob)]) {
        await this.#t.call('PutItem', `${key.pk} ${key.sk}`, () => this.client.send(new PutCommand({ TableName: this.table, Item: key })));
      }
    });
  }

  async partsAwaitedBy(blob: Digest): Promise<Digest[]> {
    const parts: Digest[] = [];
    const query = { TableName: this.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': keys.awaitsPk(blob) }, ConsistentRead: true };
    for await (const item of this.#t.query(query)) parts.push(String(item.sk) as Digest);
    return parts;
  }

  async blobsAwaiting(part: Digest): Promise<Digest[]> {
    const blobs: Digest[] = [];
    const query = { TableName: this.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': keys.awaitedBy(part) }, ConsistentRead: true };
    for await (const item of this.#t.query(query)) blobs.push(String(item.sk) as Digest);
    return blobs;
  }

  /** The by-part items first: a run stopped midway leaves by-blob items, which the next call finds. */
  async forgetAwaitedParts(blob: Digest): Promise<void> {
    const parts = await this.partsAwaitedBy(blob);
    await forEachLimited(parts, 8, async (part) => {
      for (const key of [keys.awaited(part, blob), keys.awaits(blob, part)]) {
        await this.#t.call('DeleteItem', `${key.pk} ${key.sk}`, () => this.client.send(new DeleteCommand({ TableName: this.table, Key: key })));
      }
    });
  }

  /** The first location recorded stays: any one is a valid mount source. */
  async recordBlobLocation(registry: string, digest: Digest, name: string): Promise<void> {
    const key = keys.blob(registry, digest);
    try {
      await this.client.send(new PutCommand({ TableName: this.table, Item: { ...key, name }, ConditionExpression: 'attribute_not_exists(pk)' }));
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return;
      throw new StateStoreError(this.table, 'PutItem', key.pk, { cause: error });
    }
  }
}
