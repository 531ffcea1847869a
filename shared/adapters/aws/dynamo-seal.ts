/**
 * Recording a seal in DynamoDB, where one transaction holds at most 100 items.
 *
 * A seal that fits (bundle counter + bundle record + its entries + its blobs ≤ 100) is
 * ONE TransactWriteItems: the counter moves from `sequence - 1` to `sequence` only under
 * that condition (no gap, no duplicate), every entry flips pending → sealed only if it is
 * still pending, and every included blob enters the shipped ledger. All or nothing.
 *
 * A larger seal is committed by a single final transaction too, but its entries and
 * blobs are applied after it ("roll forward"):
 *
 * 1. Check the counter and, with consistent reads, that every entry is pending (the same
 *    refusals as the small path: SequenceConflictError, EntryNotPendingError).
 * 2. Write the entry seqs and blob digests as journal items keyed by the bundle's
 *    sequence and digest. They are inert: nothing reads a journal without a marker.
 * 3. The final transaction: counter `sequence - 1` → `sequence`, the bundle record, and a
 *    ROLLFORWARD marker naming the journal. This is the commit point.
 * 4. Flip each entry (only if still pending) and record each blob (first record wins),
 *    then delete the marker and the journal.
 *
 * Why this is safe: before step 3 nothing the core can observe has changed, so a crash
 * or a lost race (SequenceConflictError) leaves at most orphan journal items. After step
 * 3 the bundle is committed and the marker durably names its remaining work; every step
 * of step 4 is idempotent, and `listPendingEntries` and `recordSeal` first roll forward
 * any marker they find. So no reader sees a sealed entry as pending, no later bundle
 * takes a sequence before the previous one's ledger is complete, and a crash in step 4
 * is finished by the next caller. The one thing the final transaction cannot re-check
 * is step 1: two sealers sealing the *same* entries concurrently could both commit
 * (ship an entry twice, never lose one); sealers run one at a time per source.
 */
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Digest } from '../../digest.ts';
import type { BundleRecord } from '../../core/ports/index.ts';
import { EntryNotPendingError, SequenceConflictError } from '../../core/ports/errors.ts';
import { MalformedStateItemError, StateStoreError } from './errors.ts';
import { forEachLimited } from '../../concurrency.ts';
import { cancellationCodes, keys, type Item, type Key } from './dynamo-keys.ts';

type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

/** What the seal logic needs from the state store it belongs to. */
export interface SealContext {
  client: DynamoDBDocumentClient;
  table: string;
  /** Owner of the entries and the shipped ledger. */
  sourceId: string;
  send<T>(operation: string, key: string, run: () => Promise<T>): Promise<T>;
  transact(operation: string, key: string, items: TransactItems): Promise<void>;
  batchGet(list: Key[]): Promise<Item[]>;
}

const MAX_TRANSACTION_ITEMS = 100;
/** Entry seqs and blob digests per journal item: ~80 KB at most, well under 400 KB. */
const JOURNAL_CHUNK = 1000;
const PARALLEL_WRITES = 16;

async function recordSeal(ctx: SealContext, bundle: BundleRecord, entrySeqs: number[], blobs: Digest[]): Promise<void> {
  const sourceId = bundle.sourceId;
  const sequence = bundle.sequence;
  await rollForward(ctx, sourceId);
  if (!Number.isSafeInteger(sequence) || sequence < 1) {
    throw new SequenceConflictError(sourceId, (await lastSequence(ctx, sourceId)) + 1, sequence);
  }
  const counterKey = keys.bundleCounter(sourceId);
  const counter: TransactItems[number] = {
    Update: {
      TableName: ctx.table,
      Key: counterKey,
      UpdateExpression: 'SET #last = :sequence',
      ConditionExpression: sequence === 1 ? 'attribute_not_exists(pk)' : '#last = :previous',
      ExpressionAttributeNames: { '#last': 'last' },
      ExpressionAttributeValues: { ':sequence': sequence, ...(sequence === 1 ? {} : { ':previous': sequence - 1 }) },
    },
  };
  const record: TransactItems[number] = {
    Put: {
      TableName: ctx.table,
      Item: { ...keys.bundle(sourceId, sequence), ...bundle },
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  };
  const where = `${counterKey.pk} bundle ${sequence}`;

  if (2 + entrySeqs.length + blobs.length <= MAX_TRANSACTION_ITEMS) {
    const items: TransactItems = [
      counter,
      record,
      ...entrySeqs.map((seq) => ({ Update: sealEntryUpdate(ctx, seq, sequence) })),
      ...blobs.map((digest) => ({ Update: shippedUpdate(ctx, digest, sequence, 'bundle') })),
    ];
    try {
      await ctx.transact('TransactWriteItems', where, items);
    } catch (error) {
      throw await sealError(ctx, bundle, entrySeqs, error);
    }
    return;
  }

  // Large seal: step 1, the refusals the final transaction cannot check for every item.
  const last = await lastSequence(ctx, sourceId);
  if (sequence !== last + 1) throw new SequenceConflictError(sourceId, last + 1, sequence);
  const found = await ctx.batchGet(entrySeqs.map((seq) => keys.entry(ctx.sourceId, seq)));
  const pending = new Set(found.filter((item) => item.state === 'pending').map((item) => Number(item.seq)));
  const notPending = entrySeqs.filter((seq) => !pending.has(seq));
  if (notPending.length > 0) throw new EntryNotPendingError(sequence, notPending);

  // Step 2: the journal.
  const parts = Math.max(Math.ceil(entrySeqs.length / JOURNAL_CHUNK), Math.ceil(blobs.length / JOURNAL_CHUNK));
  const journal = Array.from({ length: parts }, (_, part) => keys.journal(sourceId, sequence, bundle.digest, part));
  await forEachLimited(
    journal.map((key, part) => ({ key, part })),
    PARALLEL_WRITES,
    async ({ key, part }) => {
      const item = {
        ...key,
        entrySeqs: entrySeqs.slice(part * JOURNAL_CHUNK, (part + 1) * JOURNAL_CHUNK),
        blobs: blobs.slice(part * JOURNAL_CHUNK, (part + 1) * JOURNAL_CHUNK),
      };
      await ctx.send('PutItem', `${key.pk} ${key.sk}`, () => ctx.client.send(new PutCommand({ TableName: ctx.table, Item: item })));
    },
  );

  // Step 3: commit.
  const marker = { ...keys.rollForward(sourceId, sequence), sequence, digest: bundle.digest, parts };
  try {
    await ctx.transact('TransactWriteItems', where, [
      counter,
      record,
      { Put: { TableName: ctx.table, Item: marker, ConditionExpression: 'attribute_not_exists(pk)' } },
    ]);
  } catch (error) {
    await forEachLimited(journal, PARALLEL_WRITES, (key) => deleteItem(ctx, key)).catch(() => undefined);
    throw await sealError(ctx, bundle, [], error);
  }

  // Step 4.
  await rollForward(ctx, sourceId);
}

/** Applies the remaining work of every committed seal of `sourceId` that still has some. */
async function rollForward(ctx: SealContext, sourceId: string): Promise<void> {
  const pk = keys.source(sourceId);
  const result = await ctx.send('Query', `${pk} ROLLFORWARD#`, () =>
    ctx.client.send(
      new QueryCommand({
        TableName: ctx.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :marker)',
        ExpressionAttributeValues: { ':pk': pk, ':marker': 'ROLLFORWARD#' },
        ConsistentRead: true,
      }),
    ),
  );
  for (const marker of result.Items ?? []) {
    const sequence = Number(marker.sequence);
    const digest = String(marker.digest);
    const journal = Array.from({ length: Number(marker.parts) }, (_, part) => keys.journal(sourceId, sequence, digest, part));
    for (const key of journal) {
      const part = await ctx.send('GetItem', `${key.pk} ${key.sk}`, () =>
        ctx.client.send(new GetCommand({ TableName: ctx.table, Key: key, ConsistentRead: true })),
      );
      const entrySeqs = part.Item?.entrySeqs;
      const blobs = part.Item?.blobs;
      if (!Array.isArray(entrySeqs) || !Array.isArray(blobs)) {
        throw new MalformedStateItemError(ctx.table, `${key.pk} ${key.sk}`, 'entrySeqs/blobs');
      }
      await forEachLimited(entrySeqs as number[], PARALLEL_WRITES, (seq) => sealEntry(ctx, seq, sequence));
      await forEachLimited(blobs as Digest[], PARALLEL_WRITES, (blob) => recordShipped(ctx, blob, sequence, 'bundle'));
    }
    // The marker goes first: a journal without a marker is inert, a marker without its journal is not.
    await deleteItem(ctx, { pk: String(marker.pk), sk: String(marker.sk) });
    await forEachLimited(journal, PARALLEL_WRITES, (key) => deleteItem(ctx, key));
  }
}

/** Adds a blob to the shipped ledger unless it is there already (the earliest record wins). */
async function recordShipped(ctx: SealContext, digest: Digest, sequence: number, via: 'bundle' | 'receipt'): Promise<void> {
  const update = shippedUpdate(ctx, digest, sequence, via);
  await ctx.send('UpdateItem', `${update.Key.pk} ${update.Key.sk}`, () => ctx.client.send(new UpdateCommand(update)));
}

/** Flips one entry to sealed; an entry no longer pending (already flipped) is left alone. */
async function sealEntry(ctx: SealContext, seq: number, sequence: number): Promise<void> {
  const update = sealEntryUpdate(ctx, seq, sequence);
  try {
    await ctx.send('UpdateItem', `${update.Key.pk} ${update.Key.sk}`, () => ctx.client.send(new UpdateCommand(update)));
  } catch (error) {
    if ((error as Error | undefined)?.name !== 'ConditionalCheckFailedException') throw error;
  }
}

function sealEntryUpdate(ctx: SealContext, seq: number, sequence: number) {
  return {
    TableName: ctx.table,
    Key: keys.entry(ctx.sourceId, seq),
    UpdateExpression: 'SET #state = :sealed, bundleSequence = :sequence REMOVE gsi1pk, gsi1sk',
    ConditionExpression: '#state = :pending',
    ExpressionAttributeNames: { '#state': 'state' },
    ExpressionAttributeValues: { ':sealed': 'sealed', ':pending': 'pending', ':sequence': sequence },
  };
}

/**
 * An unconditional upsert that keeps an existing record: inside a seal transaction a
 * blob already in the ledger (say, from a receipt imported meanwhile) must not cancel
 * the seal, exactly as the embedded ledger's `ON CONFLICT DO NOTHING`.
 */
function shippedUpdate(ctx: SealContext, digest: Digest, sequence: number, via: 'bundle' | 'receipt') {
  return {
    TableName: ctx.table,
    Key: keys.shipped(ctx.sourceId, digest),
    UpdateExpression: 'SET bundleSequence = if_not_exists(bundleSequence, :sequence), via = if_not_exists(via, :via)',
    ExpressionAttributeValues: { ':sequence': sequence, ':via': via },
  };
}

async function lastSequence(ctx: SealContext, sourceId: string): Promise<number> {
  const key = keys.bundleCounter(sourceId);
  const result = await ctx.send('GetItem', `${key.pk} ${key.sk}`, () =>
    ctx.client.send(new GetCommand({ TableName: ctx.table, Key: key, ConsistentRead: true })),
  );
  return typeof result.Item?.last === 'number' ? result.Item.last : 0;
}

/** Maps a cancelled seal transaction to the domain error (sequence first, as the embedded state). */
async function sealError(ctx: SealContext, bundle: BundleRecord, entrySeqs: number[], error: unknown): Promise<Error> {
  const codes = cancellationCodes(error);
  if (codes[0] === 'ConditionalCheckFailed' || codes[1] === 'ConditionalCheckFailed') {
    return new SequenceConflictError(bundle.sourceId, (await lastSequence(ctx, bundle.sourceId)) + 1, bundle.sequence);
  }
  const notPending = entrySeqs.filter((_, index) => codes[2 + index] === 'ConditionalCheckFailed');
  if (notPending.length > 0) return new EntryNotPendingError(bundle.sequence, notPending);
  if (error instanceof StateStoreError) return error;
  return new StateStoreError(ctx.table, 'TransactWriteItems', `bundle ${bundle.sequence}`, { cause: error });
}

async function deleteItem(ctx: SealContext, key: Key): Promise<void> {
  await ctx.send('DeleteItem', `${key.pk} ${key.sk}`, () => ctx.client.send(new DeleteCommand({ TableName: ctx.table, Key: key })));
}

export const sealTail = { recordSeal, rollForward, recordShipped };
