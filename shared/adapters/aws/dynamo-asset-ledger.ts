/**
 * The ASSET items of the export state table (layout in `dynamo-export-state.ts`): per source
 * repository and path, one item per content (or tombstone) recorded there, naming the seq
 * of the latest entry that recorded it. What a path holds is read in one consistent query:
 * the item with the highest seq is the path's latest entry, the only content known there
 * (v1, v2, then v1 again is new), and a duplicate (`addPendingEntry`) is an entry offered
 * again while it is still the latest.
 *
 * The ASSET key is a hash, so it cannot be listed by path. Each entry also writes (in the same
 * transaction) a PATH item under one partition per source repository, sorted by path: the
 * paths under a prefix are one Query (`begins_with` on the sort key), each then resolved by
 * its ASSET items as a single path is. Paths staged before PATH items existed get theirs
 * from a one-time backfill (dynamo-path-backfill.ts) that the reconcile runs first.
 */
import type { Digest } from '../../digest.ts';
import type { Checksums, EntryAt, PendingEntry, StagedEntry } from '../../core/ports/index.ts';
import { forEachLimited } from '../../concurrency.ts';
import { keys, leadingBytes, PATH_KEY_BYTES, type Item } from './dynamo-keys.ts';
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

/** Paths resolved at once while listing a prefix: each is one Query and one GetItem. */
const RESOLVE_CONCURRENCY = 16;

/**
 * The latest entry (pending or sealed, tombstones aside) of each path that is `path` or,
 * with `prefix`, starts with it; in staging order, as the embedded state answers.
 */
export async function latestEntriesAt(t: DynamoTable, table: string, sourceId: string, repository: string, path: string, prefix: boolean): Promise<StagedEntry[]> {
  const paths = prefix ? await pathsUnder(t, table, sourceId, repository, path) : [path];
  const found: PendingEntry[] = [];
  await forEachLimited(paths, RESOLVE_CONCURRENCY, async (at) => {
    const latest = await latestContentAt(t, table, sourceId, repository, at);
    if (latest !== undefined) found.push(latest);
  });
  return found.sort((a, b) => a.seq - b.seq).map(({ seq: _seq, ...entry }) => entry);
}

/** The paths of a source repository starting with `prefix`, from its PATH items (one consistent Query). */
export async function pathsUnder(t: DynamoTable, table: string, sourceId: string, repository: string, prefix: string): Promise<string[]> {
  const paths: string[] = [];
  const items = t.query({
    TableName: table,
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeNames: { '#path': 'path' },
    ExpressionAttributeValues: { ':pk': keys.pathsPk(sourceId, repository), ':prefix': `PATH#${leadingBytes(prefix, PATH_KEY_BYTES)}` },
    ProjectionExpression: '#path',
    ConsistentRead: true,
  });
  // A long prefix is matched on its leading bytes by the key, in full here.
  for await (const item of items) if (typeof item.path === 'string' && item.path.startsWith(prefix)) paths.push(item.path);
  return paths;
}

/** The path's latest content entry: its newest non-tombstone ASSET item's entry. */
async function latestContentAt(t: DynamoTable, table: string, sourceId: string, repository: string, path: string): Promise<PendingEntry | undefined> {
  const content = (await recordsAt(t, table, sourceId, repository, path)).filter((r) => !r.tombstone).sort((a, b) => b.seq - a.seq);
  for (const { seq } of content) {
    const entry = await t.get(keys.entry(sourceId, seq));
    if (entry !== undefined) return toPendingEntry(entry);
  }
  return undefined;
}

export function toPendingEntry(item: Item): PendingEntry {
  const checksums: Checksums = {};
  for (const algorithm of ['sha256', 'sha1', 'md5', 'sha512'] as const) {
    const value = item[algorithm];
    if (typeof value === 'string') checksums[algorithm] = value;
  }
  return {
    seq: Number(item.seq),
    kind: String(item.kind),
    sourceRepository: String(item.sourceRepository),
    path: String(item.path),
    targetRepository: String(item.targetRepository),
    digest: String(item.digest) as Digest,
    size: Number(item.size),
    checksums,
    // `imageJson`: the attribute's name before formats were modules.
    ...(typeof (item.detailJson ?? item.imageJson) === 'string' ? { detail: JSON.parse(String(item.detailJson ?? item.imageJson)) as unknown } : {}),
  };
}
