/** Keys of the state table (layout documented in `dynamo-export-state.ts`) and small helpers. */
import { createHash } from 'node:crypto';
import type { Digest } from '../../digest.ts';

export type Item = Record<string, unknown>;
export interface Key {
  pk: string;
  sk: string;
}

/** Zero-padded to 16 digits (any safe integer) so sort keys order numerically. */
export function pad(n: number): string {
  return String(n).padStart(16, '0');
}

const ONE = '#';

export const keys = {
  source: (sourceId: string): string => `SOURCE#${sourceId}`,
  watermark: (sourceId: string, repository: string): Key => ({ pk: `SOURCE#${sourceId}`, sk: `WATERMARK#${repository}` }),
  checkpoint: (sourceId: string, repository: string): Key => ({ pk: `SOURCE#${sourceId}`, sk: `CHECKPOINT#${repository}` }),
  entryCounter: (sourceId: string): Key => ({ pk: `SOURCE#${sourceId}`, sk: 'COUNTER#ENTRY' }),
  bundleCounter: (sourceId: string): Key => ({ pk: `SOURCE#${sourceId}`, sk: 'COUNTER#BUNDLE' }),
  bundle: (sourceId: string, sequence: number): Key => ({ pk: `SOURCE#${sourceId}`, sk: `BUNDLE#${pad(sequence)}` }),
  rollForward: (sourceId: string, sequence: number): Key => ({ pk: `SOURCE#${sourceId}`, sk: `ROLLFORWARD#${pad(sequence)}` }),
  journal: (sourceId: string, sequence: number, digest: string, part: number): Key => ({
    pk: `SOURCE#${sourceId}`,
    sk: `JOURNAL#${pad(sequence)}#${digest}#${String(part).padStart(6, '0')}`,
  }),
  entry: (sourceId: string, seq: number): Key => ({ pk: `ENTRY#${sourceId}#${pad(seq)}`, sk: ONE }),
  pendingPk: (sourceId: string): string => `PENDING#${sourceId}`,
  /** Hashed, so any repository name and path fit DynamoDB's key limits and cannot collide by concatenation. */
  assetPk: (sourceId: string, repository: string, path: string): string =>
    `ASSET#${sourceId}#${createHash('sha256').update(JSON.stringify([repository, path])).digest('hex')}`,
  asset: (sourceId: string, repository: string, path: string, digest: Digest): Key => ({
    pk: keys.assetPk(sourceId, repository, path),
    sk: `DIGEST#${digest}`,
  }),
  /** One partition per source repository: its paths sort under it, so a path prefix is one Query. */
  pathsPk: (sourceId: string, repository: string): string => `PATHS#${sourceId}#${createHash('sha256').update(repository).digest('hex')}`,
  path: (sourceId: string, repository: string, path: string): Key => ({ pk: keys.pathsPk(sourceId, repository), sk: `PATH#${pathKey(path)}` }),
  shipped: (sourceId: string, digest: Digest): Key => ({ pk: `SHIPPED#${sourceId}#${digest}`, sk: ONE }),
  resend: (sourceId: string, digest: Digest): Key => ({ pk: `SOURCE#${sourceId}`, sk: `RESEND#${digest}` }),
};

/** Bytes of a path kept in a PATH sort key: with the prefix and a hash, well within DynamoDB's 1024. */
export const PATH_KEY_BYTES = 900;

/** The longest leading part of `text` (whole code points) within `bytes` UTF-8 bytes. */
export function leadingBytes(text: string, bytes: number): string {
  if (Buffer.byteLength(text) <= bytes) return text;
  let used = 0;
  let kept = '';
  for (const char of text) {
    used += Buffer.byteLength(char);
    if (used > bytes) break;
    kept += char;
  }
  return kept;
}

/**
 * A path as sort key: itself, or when longer than a key holds its leading part and its hash.
 * Either way the key begins with `leadingBytes(prefix)` of any prefix of the path.
 */
export function pathKey(path: string): string {
  const lead = leadingBytes(path, PATH_KEY_BYTES);
  return lead === path ? path : `${lead}#${createHash('sha256').update(path).digest('hex')}`;
}

/** Cancellation codes that mean contention, not a failed condition: the transaction may be retried. */
export function isTransientCancellation(code: string): boolean {
  return code === 'TransactionConflict' || code === 'ThrottlingError' || code === 'ProvisionedThroughputExceeded';
}

/** The per-item cancellation codes of a cancelled transaction, in item order ([] otherwise). */
export function cancellationCodes(error: unknown): string[] {
  const e = error as { name?: string; CancellationReasons?: { Code?: string }[] } | undefined;
  if (e?.name !== 'TransactionCanceledException') return [];
  return (e.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');
}

/** Exponential backoff with jitter, in ms, for retry `attempt` (1 for the first retry). */
export function backoff(attempt: number): number {
  const base = Math.min(25 * 2 ** attempt, 2000);
  return base / 2 + Math.random() * (base / 2);
}
