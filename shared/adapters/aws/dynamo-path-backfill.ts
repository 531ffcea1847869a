/**
 * PATH items for entries recorded before there were any (layout in `dynamo-export-state.ts`).
 * A deployment older than them has ENTRY items whose paths no prefix Query lists, so a
 * reconcile there would compare nothing and record no tombstone for what the source deleted.
 *
 * ENTRY keys are one partition per seq, so the only way to find them all is a Scan: done
 * once per source, in pages, each page's PATH items written before its cursor is saved in a
 * `MIGRATION#PATHS` item. A run stopped by its deadline (a Lambda's 15 minutes on a large
 * table) goes on from the saved cursor at the next run; a page written twice writes equal
 * items. Once the Scan reaches its end the item is marked done, and later runs cost one read.
 */
import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { forEachLimited } from '../../concurrency.ts';
import { faultPoint } from '../../fault-points.ts';
import { keys, type Item } from './dynamo-keys.ts';
import type { DynamoTable } from './dynamo-table.ts';

export interface PathBackfillResult {
  /** True once every entry of the source has its PATH item. */
  complete: boolean;
  /** PATH items written by this run (equal items written again count too). */
  written: number;
}

/** Items read per Scan page: small enough that a page is written well within a deadline's margin. */
const SCAN_PAGE_ITEMS = 500;
/** PATH items written at once. */
const WRITE_CONCURRENCY = 16;

const migrationKey = (sourceId: string) => ({ pk: keys.source(sourceId), sk: 'MIGRATION#PATHS' });

/**
 * Writes the PATH item of every ENTRY item of `sourceId`, page by page, until done or until
 * `shouldStop` says so between pages.
 */
export async function backfillPathItems(t: DynamoTable, sourceId: string, shouldStop: () => boolean, pageItems = SCAN_PAGE_ITEMS): Promise<PathBackfillResult> {
  const key = migrationKey(sourceId);
  const progress = await t.get(key);
  if (progress?.done === true) return { complete: true, written: 0 };
  let cursor = typeof progress?.cursor === 'string' ? (JSON.parse(progress.cursor) as Record<string, unknown>) : undefined;
  let written = 0;
  do {
    if (shouldStop()) return { complete: false, written };
    const page = await t.call('Scan', `${sourceId} ENTRY items`, () =>
      t.client.send(
        new ScanCommand({
          TableName: t.table,
          FilterExpression: 'begins_with(pk, :entries)',
          ExpressionAttributeNames: { '#path': 'path' },
          ExpressionAttributeValues: { ':entries': `ENTRY#${sourceId}#` },
          ProjectionExpression: 'sourceRepository, #path',
          Limit: pageItems,
          ConsistentRead: true,
          ...(cursor !== undefined ? { ExclusiveStartKey: cursor } : {}),
        }),
      ),
    );
    await forEachLimited(page.Items ?? [], WRITE_CONCURRENCY, async (entry: Item) => {
      if (typeof entry.sourceRepository !== 'string' || typeof entry.path !== 'string') return;
      const item = { ...keys.path(sourceId, entry.sourceRepository, entry.path), path: entry.path };
      await t.call('PutItem', `${item.pk} ${item.sk}`, () => t.client.send(new PutCommand({ TableName: t.table, Item: item })));
      written += 1;
    });
    // Killed here, the page's PATH items are written and its cursor is not: the next run
    // writes them again, equal.
    faultPoint('reconcile:backfill-page-written');
    cursor = page.LastEvaluatedKey;
    const next = cursor === undefined ? { ...key, done: true } : { ...key, cursor: JSON.stringify(cursor) };
    await t.call('PutItem', `${key.pk} ${key.sk}`, () => t.client.send(new PutCommand({ TableName: t.table, Item: next })));
    faultPoint('reconcile:backfill-cursor-saved');
  } while (cursor !== undefined);
  return { complete: true, written };
}
