/**
 * The ASSET items of the export state table (layout in `dynamo-export-state.ts`): per source
 * repository and path, one item per content (or tombstone) recorded there, naming the seq
 * of the latest entry that recorded it. What a path holds is read in one consistent query:
 * the item with the highest seq is the path's latest entry, the only content known there
 * (v1, v2, then v1 again is new), and a duplicate (`addPendingEntry`) is an entry offered
 * again while it is still the latest.
 */
import type { Digest } from '../../digest.ts';
import type { Checksums, EntryAt } from '../../core/ports/index.ts';
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

/** The path's latest entry: the record with the highest seq. */
export function latestRecord(records: readonly AssetRecord[]): AssetRecord | undefined {
  return records.reduce<AssetRecord | undefined>((latest, r) => (latest === undefined || r.seq > latest.seq ? r : latest), undefined);
}

/**
 * As in the embedded state: content matches by sha256 when the caller knows it (the entry's
 * content address), otherwise by the sha1 the source published; with neither, nothing
 * matches. Only the path's latest entry counts.
 */
export function entryAtRecords(records: readonly AssetRecord[], checksums: Checksums): EntryAt {
  const latest = latestRecord(records);
  if (latest === undefined) return { known: false, latestSeq: undefined };
  const sha256 = checksums.sha256?.toLowerCase();
  const sha1 = checksums.sha1?.toLowerCase();
  const matches = sha256 !== undefined ? latest.digest === `sha256:${sha256}` : sha1 !== undefined && latest.sha1 === sha1;
  return { known: !latest.tombstone && matches, latestSeq: latest.seq };
}
