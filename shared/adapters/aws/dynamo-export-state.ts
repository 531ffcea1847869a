/**
 * The export side's durable state in ONE DynamoDB table (single-table design, string keys
 * `pk` / `sk`, on-demand billing). `<sid>` is a source id, `<seq>` a zero-padded
 * 16-digit number so keys sort numerically.
 *
 * | pk                                   | sk                               | attributes                                         |
 * |--------------------------------------|----------------------------------|----------------------------------------------------|
 * | `SOURCE#<sid>`                       | `WATERMARK#<repository>`         | value (normalised ISO instant)                     |
 * | `SOURCE#<sid>`                       | `CHECKPOINT#<repository>`        | startedAt, since, continuationToken                |
 * | `SOURCE#<sid>`                       | `COUNTER#ENTRY`                  | last: the last entry seq handed out                |
 * | `SOURCE#<sid>`                       | `COUNTER#BUNDLE`                 | last: the sequence of the chain's last bundle      |
 * | `SOURCE#<sid>`                       | `BUNDLE#<seq>`                   | the BundleRecord (published: false until in bundles/) |
 * | `SOURCE#<sid>`                       | `ROLLFORWARD#<seq>`              | digest, parts: a committed seal's unapplied tail   |
 * | `SOURCE#<sid>`                       | `JOURNAL#<seq>#<digest>#<part>`  | entrySeqs, blobs: one chunk of a large seal        |
 * | `ENTRY#<sid>#<seq>`                  | `#`                              | the entry, state pending/sealed, bundleSequence;   |
 * |                                      |                                  | gsi1pk `PENDING#<sid>` + gsi1sk `<seq>` while pending |
 * | `ASSET#<sid>#<sha256(repo, path)>`   | `DIGEST#<digest>`                | seq, kind, sha1: the latest entry of this content  |
 * |                                      |                                  | (or tombstone) at (sourceRepository, path)         |
 * | `PATHS#<sid>#<sha256(repo)>`         | `PATH#<path>`                    | path: a path with entries (a long path's key is its|
 * |                                      |                                  | first 900 bytes and its hash)                      |
 * | `SHIPPED#<sid>#<digest>`             | `#`                              | bundleSequence, via (bundle/receipt)               |
 * | `SOURCE#<sid>`                       | `RESEND#<digest>`                | size, from, requestedAt: a blob the far side lacks |
 * | `SOURCE#<sid>`                       | `MIGRATION#PATHS`                | cursor, or done: the PATH items' one-time backfill |
 * | `SOURCE#<sid>`                       | `RECONCILE#<repository>`         | requestedAt: its full reconcile was asked for      |
 *
 * GSI `pending` (gsi1pk, gsi1sk; keys only) is sparse: only pending entries carry its
 * keys, so listing them does not read the sealed history. GSIs are eventually
 * consistent, so the listed keys are re-read with consistent reads and only entries still
 * pending are returned; an entry added a moment ago may be missed and is sealed next time.
 *
 * Content at a path counts as known only while its ASSET item holds the path's latest seq;
 * staged again after something else, its ASSET item moves to the new entry's seq
 * (dynamo-asset-ledger.ts).
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Digest } from '../../digest.ts';
import type { BundleRecord, Checksums, EntryAt, ExportState, PendingEntry, ResendRequest, ScanCheckpoint, StagedEntry } from '../../core/ports/index.ts';
import { EntryNotPendingError } from '../../core/ports/errors.ts';
import { sealTail, type SealContext } from './dynamo-seal.ts';
import { forEachLimited } from '../../concurrency.ts';
import { cancellationCodes, keys, pad, type Item, type Key } from './dynamo-keys.ts';
import { DynamoTable, stateTableInput, wrap } from './dynamo-table.ts';
import { entryAtRecords, latestEntriesAt, latestRecord, pathsUnder, recordsAt, toPendingEntry, type AssetRecord } from './dynamo-asset-ledger.ts';
import { normaliseInstant } from '../../core/ports/instants.ts';
import { backfillPathItems, type PathBackfillResult } from './dynamo-path-backfill.ts';
import { clearReconcileRequest, reconcileRequests, requestReconcile } from './dynamo-reconcile-requests.ts';

export const PENDING_INDEX = 'pending';
/** Bundles are numbered from 1, as in the embedded state. */
export const FIRST_BUNDLE_SEQUENCE = 1;
/** DynamoDB's limit of items in one TransactWriteItems call. */
export const MAX_TRANSACTION_ITEMS = 100;

export interface DynamoExportStateOptions {
  client: DynamoDBDocumentClient;
  table: string;
  /** Namespaces this exporter's watermarks, entries and ledgers within the table. */
  sourceId: string;
}

/** The CreateTable input for the state table, shared by tests and the CDK stack. */
export function createTableInput(table: string): CreateTableCommandInput {
  return stateTableInput(table, [{ name: PENDING_INDEX, attribute: 'gsi1' }]);
}

export class DynamoExportState implements ExportState {
  readonly client: DynamoDBDocumentClient;
  readonly table: string;
  readonly sourceId: string;
  readonly #seal: SealContext;
  readonly #t: DynamoTable;

  constructor(options: DynamoExportStateOptions) {
    this.client = options.client;
    this.table = options.table;
    this.sourceId = options.sourceId;
    this.#t = new DynamoTable(this.client, this.table);
    this.#seal = {
      client: this.client,
      table: this.table,
      sourceId: this.sourceId,
      send: (operation, key, run) => this.#t.call(operation, key, run),
      transact: (operation, key, items) => this.#t.transact(operation, key, items),
      batchGet: (list) => this.#t.batchGet(list),
    };
  }

  async getWatermark(repository: string): Promise<string | undefined> {
    const item = await this.#t.get(keys.watermark(this.sourceId, repository));
    return typeof item?.value === 'string' ? item.value : undefined;
  }

  /**
   * One conditional write: created only if absent, or moved only from exactly `expected`
   * to a later instant. Of two scanners holding the same `expected`, DynamoDB lets exactly
   * one condition pass; the other gets false, as does any move backwards.
   */
  async advanceWatermark(repository: string, expected: string | undefined, to: string): Promise<boolean> {
    const next = normaliseInstant(`watermark for ${repository}`, to);
    const key = keys.watermark(this.sourceId, repository);
    if (expected === undefined) {
      return this.#t.conditional('PutItem', key, () =>
        this.client.send(
          new PutCommand({ TableName: this.table, Item: { ...key, value: next }, ConditionExpression: 'attribute_not_exists(pk)' }),
        ),
      );
    }
    const previous = normaliseInstant(`expected watermark for ${repository}`, expected);
    if (!(next > previous)) return false;
    return this.#t.conditional('UpdateItem', key, () =>
      this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: 'SET #value = :next',
          ConditionExpression: '#value = :previous AND #value < :next',
          ExpressionAttributeNames: { '#value': 'value' },
          ExpressionAttributeValues: { ':next': next, ':previous': previous },
        }),
      ),
    );
  }

  async getScanCheckpoint(repository: string): Promise<ScanCheckpoint | undefined> {
    const item = await this.#t.get(keys.checkpoint(this.sourceId, repository));
    if (item === undefined) return undefined;
    return {
      startedAt: String(item.startedAt),
      since: typeof item.since === 'string' ? item.since : null,
      continuationToken: typeof item.continuationToken === 'string' ? item.continuationToken : null,
    };
  }

  /** `undefined` clears the checkpoint (the scan completed). */
  async putScanCheckpoint(repository: string, checkpoint: ScanCheckpoint | undefined): Promise<void> {
    const key = keys.checkpoint(this.sourceId, repository);
    if (checkpoint === undefined) {
      await this.#t.call('DeleteItem', `${key.pk} ${key.sk}`, () => this.client.send(new DeleteCommand({ TableName: this.table, Key: key })));
      return;
    }
    const item = { ...key, startedAt: checkpoint.startedAt, since: checkpoint.since, continuationToken: checkpoint.continuationToken };
    await this.#t.call('PutItem', `${key.pk} ${key.sk}`, () => this.client.send(new PutCommand({ TableName: this.table, Item: item })));
  }

  /** Content matches as in `entryAtRecords` (dynamo-asset-ledger.ts): the path's latest entry only. */
  async hasEntry(sourceRepository: string, path: string, checksums: Checksums): Promise<boolean> {
    return (await this.entryAt(sourceRepository, path, checksums)).known;
  }

  /** One consistent query of the path's ASSET items. */
  async entryAt(sourceRepository: string, path: string, checksums: Checksums): Promise<EntryAt> {
    return entryAtRecords(await this.#recordsAt(sourceRepository, path), checksums);
  }

  /**
   * A duplicate (the same content, or tombstone, still the path's latest entry) changes
   * nothing. Otherwise the ASSET item and the entry are written in one transaction, the
   * ASSET item only if it is still as read: of concurrent writers of the same content
   * exactly one succeeds. A `seq` is drawn from the counter first, so a duplicate that races
   * past the first check leaves a gap in seqs; seqs only need to be increasing.
   */
  async addPendingEntry(entry: StagedEntry): Promise<boolean> {
    const records = await this.#recordsAt(entry.sourceRepository, entry.path);
    if (latestRecord(records)?.digest === entry.digest) return false;
    const previous = records.find((r) => r.digest === entry.digest);
    const asset = keys.asset(this.sourceId, entry.sourceRepository, entry.path, entry.digest);
    const seq = await this.#nextEntrySeq();
    const key = keys.entry(this.sourceId, seq);
    const sha1 = entry.checksums.sha1?.toLowerCase();
    const item: Item = {
      ...key,
      kind: entry.kind,
      seq,
      sourceRepository: entry.sourceRepository,
      path: entry.path,
      targetRepository: entry.targetRepository,
      digest: entry.digest,
      size: entry.size,
      state: 'pending',
      gsi1pk: keys.pendingPk(this.sourceId),
      gsi1sk: pad(seq),
      // What the format keeps besides digest and size (an image's manifests, blobs, referrers), as JSON
      // well under the 400 KB item limit.
      ...(entry.detail !== undefined ? { detailJson: JSON.stringify(entry.detail) } : {}),
    };
    for (const algorithm of ['sha256', 'sha1', 'md5', 'sha512'] as const) {
      const value = entry.checksums[algorithm];
      if (value !== undefined) item[algorithm] = value.toLowerCase();
    }
    const unchanged = previous === undefined
      ? { ConditionExpression: 'attribute_not_exists(pk)' }
      : { ConditionExpression: 'seq = :previous', ExpressionAttributeValues: { ':previous': previous.seq } };
    try {
      await this.#t.transact('TransactWriteItems', `${asset.pk} ${asset.sk}`, [
        { Put: { TableName: this.table, Item: { ...asset, seq, kind: entry.kind, ...(sha1 !== undefined ? { sha1 } : {}) }, ...unchanged } },
        { Put: { TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
        { Put: { TableName: this.table, Item: { ...keys.path(this.sourceId, entry.sourceRepository, entry.path), path: entry.path } } },
      ]);
      return true;
    } catch (error) {
      if (cancellationCodes(error)[0] === 'ConditionalCheckFailed') return false;
      throw wrap(this.table, 'TransactWriteItems', `${asset.pk} ${asset.sk}`, error);
    }
  }

  /** From the ASSET items of each path, listed by PATH items for a prefix (dynamo-asset-ledger.ts). */
  async latestEntries(sourceRepository: string, path: string, options: { prefix: boolean }): Promise<StagedEntry[]> {
    return latestEntriesAt(this.#t, this.table, this.sourceId, sourceRepository, path, options.prefix);
  }

  /** One Query over the repository's PATH items (paths only): no ASSET or ENTRY item is read. */
  ledgerPaths(sourceRepository: string): Promise<string[]> {
    return pathsUnder(this.#t, this.table, this.sourceId, sourceRepository, '/');
  }

  /** PATH items for entries older than them: see dynamo-path-backfill.ts. */
  completePathIndex(shouldStop: () => boolean): Promise<PathBackfillResult> {
    return backfillPathItems(this.#t, this.sourceId, shouldStop);
  }

  requestReconcile(repository: string, requestedAt: string): Promise<void> {
    return requestReconcile(this.#t, this.sourceId, repository, requestedAt);
  }

  reconcileRequests(): Promise<{ repository: string; requestedAt: string }[]> {
    return reconcileRequests(this.#t, this.sourceId);
  }

  clearReconcileRequest(repository: string, requestedAt: string): Promise<void> {
    return clearReconcileRequest(this.#t, this.sourceId, repository, requestedAt);
  }

  #recordsAt(sourceRepository: string, path: string): Promise<AssetRecord[]> {
    return recordsAt(this.#t, this.table, this.sourceId, sourceRepository, path);
  }

  /** Pending entries in staging order (`seq` ascending), after finishing any committed seal. */
  async listPendingEntries(): Promise<PendingEntry[]> {
    await sealTail.rollForward(this.#seal, this.sourceId);
    const listed: Key[] = [];
    const items = this.#t.query({
      TableName: this.table,
      IndexName: PENDING_INDEX,
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.pendingPk(this.sourceId) },
    });
    for await (const item of items) listed.push({ pk: String(item.pk), sk: String(item.sk) });
    const entries = (await this.#t.batchGet(listed)).filter((item) => item.state === 'pending').map(toPendingEntry);
    return entries.sort((a, b) => a.seq - b.seq);
  }

  async shippedIn(digest: Digest): Promise<number | undefined> {
    const item = await this.#t.get(keys.shipped(this.sourceId, digest));
    return typeof item?.bundleSequence === 'number' ? item.bundleSequence : undefined;
  }

  /** Blobs already in the ledger keep their original record (the earliest proof wins). */
  async recordHeldBlobs(digests: Digest[], receiptSequence: number): Promise<void> {
    await forEachLimited([...new Set(digests)], 16, (digest) =>
      sealTail.recordShipped(this.#seal, digest, receiptSequence, 'receipt'),
    );
  }

  /**
   * Per blob, one transaction: the resend item appears exactly when the ledger record goes.
   * A request still waiting is left as it is (it keeps its place, oldest first); one that
   * was satisfied (the blob is back in the ledger) is replaced by a new request.
   */
  async requestResend(blobs: ResendRequest[]): Promise<void> {
    const requestedAt = new Date().toISOString();
    await forEachLimited(blobs, 16, async (blob) => {
      const resend = keys.resend(this.sourceId, blob.digest);
      const request = (condition: string | undefined) =>
        this.#t.transact('TransactWriteItems', `${resend.pk} ${resend.sk}`, [
          {
            Put: {
              TableName: this.table,
              Item: { ...resend, digest: blob.digest, size: blob.size, requestedAt, ...(blob.from !== undefined ? { from: JSON.stringify(blob.from) } : {}) },
              ...(condition !== undefined ? { ConditionExpression: condition } : {}),
            },
          },
          { Delete: { TableName: this.table, Key: keys.shipped(this.sourceId, blob.digest) } },
        ]);
      try {
        await request('attribute_not_exists(pk)');
      } catch (error) {
        if (cancellationCodes(error)[0] !== 'ConditionalCheckFailed') throw wrap(this.table, 'TransactWriteItems', `${resend.pk} ${resend.sk}`, error);
        if ((await this.shippedIn(blob.digest)) === undefined) return;
        await request(undefined);
      }
    });
  }

  /** Satisfied requests (the blob is back in the ledger) are removed as they are found. */
  async listResends(): Promise<ResendRequest[]> {
    const waiting: (ResendRequest & { requestedAt: string })[] = [];
    const items = this.#t.query({
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :resend)',
      ExpressionAttributeValues: { ':pk': keys.source(this.sourceId), ':resend': 'RESEND#' },
      ConsistentRead: true,
    });
    for await (const item of items) {
      const digest = String(item.digest) as Digest;
      if ((await this.shippedIn(digest)) !== undefined) {
        const key = { pk: String(item.pk), sk: String(item.sk) };
        await this.#t.call('DeleteItem', `${key.pk} ${key.sk}`, () => this.client.send(new DeleteCommand({ TableName: this.table, Key: key })));
        continue;
      }
      const from = typeof item.from === 'string' ? (JSON.parse(item.from) as ResendRequest['from']) : undefined;
      waiting.push({ digest, size: Number(item.size), requestedAt: String(item.requestedAt), ...(from !== undefined ? { from } : {}) });
    }
    waiting.sort((a, b) => (a.requestedAt < b.requestedAt ? -1 : a.requestedAt > b.requestedAt ? 1 : a.digest < b.digest ? -1 : 1));
    return waiting.map(({ requestedAt: _, ...request }) => request);
  }

  async getLastBundle(sourceId: string): Promise<BundleRecord | undefined> {
    const key = keys.source(sourceId);
    const result = await this.#t.call('Query', `${key} BUNDLE#`, () =>
      this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :bundle)',
          ExpressionAttributeValues: { ':pk': key, ':bundle': 'BUNDLE#' },
          ScanIndexForward: false,
          Limit: 1,
          ConsistentRead: true,
        }),
      ),
    );
    const item = result.Items?.[0];
    if (item === undefined) return undefined;
    return {
      sourceId: String(item.sourceId),
      sequence: Number(item.sequence),
      digest: String(item.digest) as Digest,
      name: String(item.name),
      size: Number(item.size),
      sealedAt: String(item.sealedAt),
      // Items written before the flag existed are bundles that were published.
      published: item.published !== false,
    };
  }

  /** See `dynamo-seal.ts` for how seals of any size stay atomic in effect. */
  async recordSeal(bundle: BundleRecord, entrySeqs: number[], includedBlobs: Digest[]): Promise<void> {
    const seen = new Set<number>();
    const duplicates = entrySeqs.filter((seq) => seen.has(seq) || !seen.add(seq));
    if (duplicates.length > 0) throw new EntryNotPendingError(bundle.sequence, duplicates);
    await sealTail.recordSeal(this.#seal, bundle, entrySeqs, [...new Set(includedBlobs)]);
  }

  async markBundlePublished(sourceId: string, sequence: number): Promise<void> {
    const key = keys.bundle(sourceId, sequence);
    await this.#t.call('UpdateItem', `${key.pk} ${key.sk}`, () =>
      this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: 'SET published = :true',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':true': true },
        }),
      ),
    );
  }

  async #nextEntrySeq(): Promise<number> {
    const key = keys.entryCounter(this.sourceId);
    const result = await this.#t.call('UpdateItem', `${key.pk} ${key.sk}`, () =>
      this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: 'ADD #last :one',
          ExpressionAttributeNames: { '#last': 'last' },
          ExpressionAttributeValues: { ':one': 1 },
          ReturnValues: 'UPDATED_NEW',
        }),
      ),
    );
    return Number(result.Attributes?.last);
  }
}

