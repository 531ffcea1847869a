/**
 * npm after the uploads: what an `npm.asset` upload does not settle, then a check of what npm
 * clients read. Nexus moves `latest` to whatever version was uploaded (an older one carried
 * after a newer one too) and writes only `dist.shasum` into the packument, never
 * `dist.integrity`. So, per package, from its entry staged last (for tags whose version is on
 * the target): each tag other than `latest` through the npm dist-tag API; `latest` and each
 * carried version's `dist.integrity` through one publish snippet without `_rev`
 * (`PUT /<name>`), which Nexus overlays on the packument — its dist-tag API refuses `latest`
 * ("Unable to update latest tag"). Then the packument must list every carried version with
 * the carried tarball's sha1 and sha512, and the tags as carried.
 */
import { Readable } from 'node:stream';
import type { NpmBundleEntry } from '../../../bundle/index.ts';
import { forEachLimited } from '../../../concurrency.ts';
import type { EntryRefusal } from '../../import/errors.ts';
import type { BlobSource } from '../../ports/index.ts';
import type { ImportDeps } from '../format.ts';
import type { PackageItem } from '../package/index.ts';
import { distTagPath, integrityOf, packageName, packumentPath, tarballFilename } from './names.ts';
import { readPackument, type Packument } from './packument.ts';

type NpmItem = PackageItem<NpmBundleEntry>;

/** Packages settled at once: each has its own packument, so they do not interfere. */
const PACKAGE_CONCURRENCY = 4;

/** One carried tarball as the target's packument must show it. */
interface Carried {
  item: NpmItem;
  version: string;
  /** `sha512-<base64>`; undefined for an entry without a sha512 (nothing to set or check). */
  integrity: string | undefined;
  sha1: string | undefined;
  filename: string;
}

interface Changes {
  /** Tags other than `latest`, for the dist-tag API. */
  tags: [string, string][];
  latest: string | undefined;
  integrity: [string, string][];
}

const json = (value: unknown): BlobSource => {
  const bytes = Buffer.from(JSON.stringify(value), 'utf8');
  return { size: bytes.length, open: async () => Readable.from([bytes]) };
};

const refusal = (item: NpmItem, reason: string): EntryRefusal => ({ index: item.index, entry: item.label, reason });

/** The tarballs of one package that are on the target now: per path, the entry written last. */
function carriedOf(items: NpmItem[]): Carried[] {
  const byPath = new Map<string, NpmItem>();
  for (const item of [...items].sort((a, b) => a.index - b.index)) byPath.set(item.entry.target.path, item);
  return [...byPath.values()].map((item) => ({
    item,
    version: item.entry.component.version,
    integrity: item.entry.checksums.sha512 === undefined ? undefined : integrityOf(item.entry.checksums.sha512),
    sha1: item.entry.checksums.sha1,
    filename: tarballFilename(item.entry.target.path),
  }));
}

/** The carried tags whose version the target has: the others cannot be set (yet). */
const wantedTags = (distTags: Record<string, string>, on: Packument): [string, string][] =>
  Object.entries(distTags).filter(([, version]) => on.versions.has(version));

function changesOf(on: Packument, carried: Carried[], wanted: [string, string][]): Changes {
  const differs = wanted.filter(([tag, version]) => on.distTags[tag] !== version);
  const integrity: [string, string][] = [];
  for (const c of carried) {
    const dist = on.versions.get(c.version);
    // Only where the target holds the carried bytes (its shasum is theirs): the check reports the rest.
    if (dist === undefined || c.integrity === undefined || dist.integrity === c.integrity) continue;
    if (c.sha1 === undefined || dist.shasum === c.sha1) integrity.push([c.version, c.integrity]);
  }
  return { tags: differs.filter(([tag]) => tag !== 'latest'), latest: differs.find(([tag]) => tag === 'latest')?.[1], integrity };
}

/** Makes the changes; the first refused one in words (what, on which version), else undefined. */
async function apply(deps: ImportDeps, repository: string, name: string, changes: Changes): Promise<string | undefined> {
  const put = async (what: string, path: string, body: unknown): Promise<string | undefined> => {
    try {
      await deps.target.putContent(repository, path, json(body), 'application/json');
      return undefined;
    } catch (error) {
      return `setting ${what} on ${repository} failed: ${(error as Error).message}`;
    }
  };
  for (const [tag, version] of changes.tags) {
    const failed = await put(`dist-tag ${tag} → ${name}@${version}`, distTagPath(name, tag), version);
    if (failed !== undefined) return failed;
  }
  if (changes.latest === undefined && changes.integrity.length === 0) return undefined;
  const what = [
    ...(changes.latest !== undefined ? [`dist-tag latest → ${name}@${changes.latest}`] : []),
    ...changes.integrity.map(([version]) => `dist.integrity of ${name}@${version}`),
  ].join(', ');
  const snippet = {
    name,
    ...(changes.latest !== undefined ? { 'dist-tags': { latest: changes.latest } } : {}),
    ...(changes.integrity.length > 0 ? { versions: Object.fromEntries(changes.integrity.map(([version, integrity]) => [version, { dist: { integrity } }])) } : {}),
  };
  return put(what, packumentPath(name), snippet);
}

/** What the packument shows that it should not: one refusal per carried version and per tag. */
function check(on: Packument, repository: string, name: string, carried: Carried[], wanted: [string, string][], last: NpmItem): EntryRefusal[] {
  const problems: EntryRefusal[] = [];
  const where = `${repository}'s packument of ${name}`;
  for (const c of carried) {
    const dist = on.versions.get(c.version);
    const shown = (field: string, value: string | undefined, expected: string) => `${where} gives ${name}@${c.version} ${field} ${value ?? '(none)'}, not ${expected}`;
    if (dist === undefined) problems.push(refusal(c.item, `${where} does not list ${name}@${c.version}`));
    else if (c.sha1 !== undefined && dist.shasum !== c.sha1) problems.push(refusal(c.item, shown('dist.shasum', dist.shasum, `${c.sha1} (the carried tarball's sha1)`)));
    else if (c.integrity !== undefined && dist.integrity !== c.integrity) problems.push(refusal(c.item, shown('dist.integrity', dist.integrity, c.integrity)));
    else if (dist.tarball !== undefined && tarballFilename(dist.tarball) !== c.filename) problems.push(refusal(c.item, shown('dist.tarball', dist.tarball, `…/${c.filename}`)));
  }
  for (const [tag, version] of wanted) {
    if (on.distTags[tag] !== version) problems.push(refusal(last, `${where} has dist-tag ${tag} → ${on.distTags[tag] ?? '(none)'}, not ${name}@${version} as carried`));
  }
  return problems;
}

/** Settles and checks one package of one target repository. */
async function settlePackage(deps: ImportDeps, items: NpmItem[]): Promise<EntryRefusal[]> {
  const { repository } = items[0]!;
  const name = packageName(items[0]!.entry.component);
  const last = items.reduce((a, b) => (b.index > a.index ? b : a));
  const carried = carriedOf(items);
  try {
    const before = await readPackument(deps.target, repository, name);
    if (before === undefined) return carried.map((c) => refusal(c.item, `${repository} has no packument of ${name} after the import: npm clients do not see ${name}@${c.version}`));
    const wanted = wantedTags(last.entry.distTags, before);
    const changes = changesOf(before, carried, wanted);
    if (changes.tags.length === 0 && changes.latest === undefined && changes.integrity.length === 0) return check(before, repository, name, carried, wanted, last);
    const failed = await apply(deps, repository, name, changes);
    if (failed !== undefined) return [refusal(last, failed)];
    deps.log.debug(`settled ${repository}/${name}`, { tags: [...changes.tags, ...(changes.latest !== undefined ? [['latest', changes.latest]] : [])], integrity: changes.integrity.map(([v]) => v) });
    const after = await readPackument(deps.target, repository, name);
    if (after === undefined) return [refusal(last, `${repository}'s packument of ${name} went away while its dist-tags were set`)];
    return check(after, repository, name, carried, wanted, last);
  } catch (error) {
    return [refusal(last, `reading the packument of ${name} on ${repository} failed: ${(error as Error).message}`)];
  }
}

/** Every package of the bundle's npm entries (earlier runs' included), settled and checked. */
export async function settleNpm(deps: ImportDeps, items: NpmItem[]): Promise<EntryRefusal[]> {
  const packages = new Map<string, NpmItem[]>();
  for (const item of items) {
    const key = `${item.repository}\n${packageName(item.entry.component)}`;
    packages.set(key, [...(packages.get(key) ?? []), item]);
  }
  const problems: EntryRefusal[] = [];
  await forEachLimited([...packages.values()], PACKAGE_CONCURRENCY, async (group) => {
    problems.push(...(await settlePackage(deps, group)));
  });
  return problems.sort((a, b) => a.index - b.index);
}
