/**
 * The npm package root ("packument") as Nexus keeps it: one component-less asset per package
 * at `/<name>` or `/@scope/<name>` (asset_kind PACKAGE_ROOT) holding a JSON document. An
 * upload merges a document built from the tarball's package.json into it (Nexus's
 * `createFullPackageMetadata` then `overlay`: `dist.shasum` and `dist.tarball`, never
 * `dist.integrity`, and `dist-tags.latest` = the uploaded version); the npm API edits it
 * (dist-tags, a publish snippet without `_rev`, overlaid). Clients read it with absolute
 * tarball URLs; a group merges its members' documents.
 */
import { readFileSync } from 'node:fs';
import semver from 'semver';
import { SEED_ACTOR, type Store } from '../store.ts';

export type Json = Record<string, unknown>;

/** `@scope/name` or `name`, as Nexus's NpmPackageId splits it. */
export interface NpmPackageId {
  scope: string | null;
  name: string;
  /** `@scope/name` or `name`: the packument's path without its leading `/`. */
  id: string;
}

const SEGMENT = /^[^/@\s.][^/\s]*$/;

export function parsePackageId(text: string): NpmPackageId | undefined {
  const match = /^(?:@([^/]+)\/)?([^/]+)$/.exec(text);
  if (match === null) return undefined;
  const [, scope, name = ''] = match;
  if (!SEGMENT.test(name) || (scope !== undefined && !SEGMENT.test(scope))) return undefined;
  return { scope: scope ?? null, name, id: text };
}

export const packumentPath = (id: string) => `/${id}`;
export const tarballPath = (pkg: NpmPackageId, version: string) => `/${pkg.id}/-/${pkg.name}-${version}.tgz`;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
export const child = (doc: Json, key: string): Json => (isObject(doc[key]) ? doc[key] : {});

/** Keys whose value an overlay replaces whole instead of merging (NpmMetadataUtils.isSpecialOverlayKey). */
const REPLACED_WHOLE = new Set(['dependencies', 'devDependencies', 'scripts', 'author', 'publishConfig']);

/**
 * NpmMetadataUtils.overlay: `dominant` laid over `recessive` (changed and returned). Maps
 * merge recursively; version documents too when `mergeVersions`, else they are replaced.
 */
export function overlay(recessive: Json, dominant: Json, mergeVersions: boolean): Json {
  for (const [key, value] of Object.entries(dominant)) {
    const below = recessive[key];
    if (isObject(value) && isObject(below)) {
      if (REPLACED_WHOLE.has(key)) recessive[key] = value;
      else if (mergeVersions || key !== 'versions') recessive[key] = overlay(below, value, mergeVersions);
      else Object.assign(below, value);
    } else if (typeof value === 'string' && isObject(below)) {
      continue; // versions: { "1.0.0": "latest" } of a shrunk document
    } else {
      recessive[key] = value;
    }
  }
  return recessive;
}

/** The version fields Nexus copies from package.json (FULL_VERSION_MAP_FIELDS). */
const VERSION_FIELDS = ['author', 'contributors', 'deprecated', 'dependencies', 'description', 'license', 'main', 'maintainers', 'name', 'version',
  'optionalDependencies', 'devDependencies', 'bundleDependencies', 'peerDependencies', 'bin', 'directories', 'engines', 'readme', 'readmeFilename', '_hasShrinkwrap'];
/** The fields Nexus hoists to the package root (FULL_HOISTED_FIELDS). */
const HOISTED_FIELDS = ['author', 'contributors', 'description', 'homepage', 'keywords', 'license', 'maintainers', 'name', 'readme', 'readmeFilename', 'repository'];

const pick = (from: Json, keys: string[]): Json => Object.fromEntries(keys.filter((k) => from[k] !== undefined && from[k] !== null).map((k) => [k, from[k]]));

/**
 * The document an `npm.asset` upload merges in (createFullPackageMetadata with
 * extractAlwaysPackageVersion): `latest` moves to this version, whatever it is.
 */
export function uploadedRoot(pkg: NpmPackageId, packageJson: Json, version: string, sha1: string, now: string): Json {
  return {
    ...pick(packageJson, HOISTED_FIELDS),
    _id: pkg.id,
    'dist-tags': { latest: version },
    time: { [version]: now, modified: now, created: now },
    versions: {
      [version]: {
        ...pick(packageJson, VERSION_FIELDS),
        _id: `${pkg.id}@${version}`,
        dist: { shasum: sha1, tarball: `${pkg.id}/-/${pkg.name}-${version}.tgz` },
      },
    },
  };
}

export function loadPackument(store: Store, repository: string, id: string): Json | undefined {
  const asset = store.findAsset(repository, packumentPath(id));
  if (asset === undefined) return undefined;
  const doc = JSON.parse(readFileSync(asset.blobFile, 'utf8')) as unknown;
  return isObject(doc) ? doc : undefined;
}

/**
 * Stores a package root (`_id` and a `_rev` one past the old one, as Nexus's updateRevision).
 * Written straight to the store, as Nexus writes it: a package root is metadata, which its
 * write-policy selector lets `allow_once` rewrite.
 */
export function savePackument(store: Store, repository: string, id: string, doc: Json, created: boolean): void {
  const rev = created ? 1 : Number.parseInt(String(doc['_rev'] ?? '0'), 10) + 1;
  const saved = { ...doc, _id: id, _rev: String(Number.isFinite(rev) ? rev : 1) };
  const write = {
    path: packumentPath(id),
    blob: store.stageBuffer(Buffer.from(JSON.stringify(saved), 'utf8')),
    component: null,
    attributes: { asset_kind: 'PACKAGE_ROOT' },
    contentType: 'application/json',
    checksumKeys: ['sha1', 'md5'] as const,
  };
  store.writeAsset(repository, write, SEED_ACTOR);
}

/** Reads, changes and stores a package root in one synchronous step (so two writes never interleave). */
export function updatePackument(store: Store, repository: string, id: string, change: (doc: Json) => Json): void {
  const old = loadPackument(store, repository, id);
  savePackument(store, repository, id, change(old ?? {}), old === undefined);
}

/** What a client reads: tarball URLs absolute, under the repository it asked. */
export function renderPackument(doc: Json, baseUrl: string, repository: string): Json {
  const out = structuredClone(doc);
  for (const version of Object.values(child(out, 'versions'))) {
    if (!isObject(version)) continue;
    const dist = child(version, 'dist');
    const tarball = typeof dist['tarball'] === 'string' ? dist['tarball'] : '';
    dist['tarball'] = `${baseUrl}/repository/${repository}/${String(version['name'] ?? out['name'] ?? '')}/-/${tarball.slice(tarball.lastIndexOf('/') + 1)}`;
    version['dist'] = dist;
  }
  return out;
}

const newer = (a: string, b: string) => (semver.valid(a) !== null && semver.valid(b) !== null ? semver.gt(a, b) : a > b);

/** NpmMetadataUtils.merge for a group: members in order, version documents replaced, `latest` the newest. */
export function mergeMembers(docs: Json[]): Json {
  const result: Json = {};
  let latest: string | undefined;
  for (const doc of docs) {
    const candidate = child(doc, 'dist-tags')['latest'];
    if (typeof candidate === 'string' && (latest === undefined || newer(candidate, latest))) latest = candidate;
    overlay(result, structuredClone(doc), false);
  }
  if (latest !== undefined) result['dist-tags'] = { ...child(result, 'dist-tags'), latest };
  delete result['_id'];
  delete result['_rev'];
  return result;
}
