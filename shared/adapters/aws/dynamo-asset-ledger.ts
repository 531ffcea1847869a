/**
 * The ASSET items of the export state table (layout in `dynamo-export-state.ts`): per source
 * repository and path, one item per content (or tombstone) recorded there, naming the seq
 * of the latest entry that recorded it. What a path holds is read in one consistent query;
 * the eras of deletions carried (`addPendingEntry`) are computed from it.
 */
import type { Digest } from '../../digest.ts';
import { keys } from './dynamo-keys.ts';
import type { DynamoTable } from './dynamo-table.ts';

export interface AssetRecord {
  digest: Digest;
  /** The seq of the latest entry that recorded this content (or tombstone) at the path. */
  seq: number;
  sha1?: string | undefined;
  tombstone: boolean;
}

/**
 * Everything recorded at one path. Items written before they carried `kind` are told apart
 * by their entry (a tombstone's entry says so).
 */
export async function recordsAt(t: DynamoTable, table: string, sourceId: string, repository: string, path: string): Promise<AssetRecord[]> {
  const records: AssetRecord[] = [];
  const items = t.query({
    TableName: table,
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': keys.assetPk(sourceId, repository, path) },
    ConsistentRead: true,
  });
  for await (const item of items) {
    if (typeof item.seq !== 'number') continue;
    const kind = typeof item.kind === 'string' ? item.kind : (await t.get(keys.entry(sourceId, item.seq)))?.kind;
    records.push({
      digest: String(item.sk).slice('DIGEST#'.length) as Digest,
      seq: item.seq,
      sha1: typeof item.sha1 === 'string' ? item.sha1 : undefined,
      tombstone: kind === 'tombstone',
    });
  }
  return records;
}

/** The seq of the latest tombstone (or, with `tombstone` false, content) among the records, 0 if none. */
export function latestSeq(records: readonly AssetRecord[], tombstone: boolean): number {
  return Math.max(0, ...records.filter((r) => r.tombstone === tombstone).map((r) => r.seq));
}
