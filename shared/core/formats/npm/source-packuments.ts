/**
 * Source packuments for staging, read once for a burst of versions of one package: a proxy
 * repository caches many versions of popular packages, whose packuments run to megabytes,
 * and the copy stages those versions side by side. A packument is kept a short while per
 * source and package; one that does not list the version being staged (published since) is
 * read again, so a new version is checked against the packument that has it.
 */
import type { ArtifactSource } from '../../ports/index.ts';
import { readPackument, type Packument } from './packument.ts';

/** Long enough for a burst of copy tasks of one package, short enough for tags to be those of staging time. */
const KEEP_MS = 30_000;
const MAX_KEPT = 256;

interface Kept {
  until: number;
  packument: Promise<Packument | undefined>;
}

const bySource = new WeakMap<Pick<ArtifactSource, 'readContent'>, Map<string, Kept>>();

export async function sourcePackument(source: Pick<ArtifactSource, 'readContent'>, repository: string, name: string, version: string): Promise<Packument | undefined> {
  let kept = bySource.get(source);
  if (kept === undefined) bySource.set(source, (kept = new Map()));
  const key = `${repository}\n${name}`;
  const now = Date.now();
  const memo = kept.get(key);
  if (memo !== undefined && memo.until > now) {
    const packument = await memo.packument.catch(() => undefined);
    if (packument?.versions.has(version) === true) return packument;
  }
  const read = readPackument(source, repository, name);
  kept.delete(key);
  kept.set(key, { until: now + KEEP_MS, packument: read });
  // A failed read is not kept: the task's retry reads again.
  read.catch(() => {
    if (kept.get(key)?.packument === read) kept.delete(key);
  });
  for (const oldest of kept.keys()) {
    if (kept.size <= MAX_KEPT) break;
    kept.delete(oldest);
  }
  return read;
}
