/**
 * npm: `npm.asset` uploads (a `.tgz`; name and version from the `package.json` one directory
 * deep inside it, as NpmPackageParser finds it), stored at `/<name>/-/<name>-<version>.tgz`
 * or `/@scope/<name>/-/<name>-<version>.tgz` and merged into the package root with
 * `latest` moved to the uploaded version; the read side npm clients use (packument, dist-tags,
 * tarballs); and the npm API's writes: `PUT`/`DELETE /-/package/<name>/dist-tags/<tag>`
 * (never `latest`: "Unable to update latest tag") and `PUT /<name>` with a publish snippet
 * without `_rev`, overlaid on the package root. Checksums: md5 and sha1 only.
 *
 * Not modelled: `npm publish` with `_attachments` (a 400 here), and Nexus's JSON error bodies
 * on the repository view (`{"success":false,"error":…}`; an error page here, same status).
 */
import { readFileSync } from 'node:fs';
import { untgz } from '../archives.ts';
import type { AssetWrite, RepositoryState, StagedBlob } from '../store.ts';
import {
  child,
  loadPackument,
  mergeMembers,
  overlay,
  parsePackageId,
  renderPackument,
  tarballPath,
  updatePackument,
  uploadedRoot,
  type Json,
  type NpmPackageId,
} from './npm-packument.ts';
import type { FormatContext, FormatResult, Generated, StandinFormat } from './types.ts';

/** The package.json each tarball write came from, for the package-root merge once it landed. */
const packageJsons = new WeakMap<AssetWrite, { pkg: NpmPackageId; packageJson: Json; version: string }>();

/** NpmPackageParser.isPackageJson: `<dir>/package.json`, exactly one directory deep; {} when absent or unreadable. */
async function readPackageJson(tarball: Buffer): Promise<Json> {
  try {
    const files = await untgz(tarball);
    const found = [...files.entries()].find(([name]) => /^[^/]+\/package\.json$/.test(name));
    const parsed = found === undefined ? undefined : (JSON.parse(found[1].toString('utf8')) as unknown);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Json) : {};
  } catch {
    return {};
  }
}

/** The asset's `npm` block as the REST API shows it (NpmFormatAttributesExtractor, text values). */
function npmAttributes(pkg: NpmPackageId, packageJson: Json, version: string): Record<string, string> {
  const text = (key: string) => (typeof packageJson[key] === 'string' ? { [key]: packageJson[key] } : {});
  const unstable = !/^[1-9]/.test(version);
  return {
    ...(pkg.scope !== null ? { scope: pkg.scope } : {}),
    name: pkg.id,
    version,
    ...text('description'),
    ...text('license'),
    tagged_is: unstable ? 'unstable' : '',
    tagged_not: unstable ? '' : 'unstable',
    asset_kind: 'TARBALL',
  };
}

async function tarballWrite(filename: string, blob: StagedBlob): Promise<AssetWrite | string> {
  if (!filename.endsWith('.tgz')) return 'Unsupported extension. Extension must be .tgz';
  const packageJson = await readPackageJson(readFileSync(blob.file));
  const { name, version } = packageJson;
  if (typeof name !== 'string') return 'Uploaded package is invalid, or is missing package.json';
  const pkg = parsePackageId(name);
  if (pkg === undefined) return `Invalid package name: ${name}`;
  if (typeof version !== 'string' || version.trim() === '') return `Uploaded package ${name} has no version in its package.json`;
  const write: AssetWrite = {
    path: tarballPath(pkg, version),
    blob,
    component: { group: pkg.scope ?? '', name: pkg.name, version },
    attributes: npmAttributes(pkg, packageJson, version),
    contentType: 'application/x-gzip',
    checksumKeys: ['sha1', 'md5'],
  };
  packageJsons.set(write, { pkg, packageJson, version });
  return write;
}

const json = (status: number, value: unknown): Generated => ({ status, contentType: 'application/json', body: Buffer.from(JSON.stringify(value), 'utf8') });
const failure = (status: number, error: string) => json(status, { success: false, error });

/** `/-/package/<name>/dist-tags[/<tag>]` (the name decoded: `@scope/name`). */
const DIST_TAGS = /^\/-\/package\/((?:@[^/]+\/)?[^/]+)\/dist-tags(?:\/([^/]+))?$/;
/** `/<name>` or `/@scope/<name>`: a package root. */
const PACKAGE_ROOT = /^\/((?:@[^/]+\/)?[^/@-][^/]*)$/;

/** The package root as a client of `repo` reads it: a group merges its members'. */
function readable(ctx: FormatContext, repo: RepositoryState, id: string): Json | undefined {
  const docs = ctx.store
    .contentRepositories(repo.name)
    .map((member) => loadPackument(ctx.store, member, id))
    .filter((doc): doc is Json => doc !== undefined);
  if (docs.length === 0) return undefined;
  return repo.type === 'group' ? mergeMembers(docs) : docs[0];
}

async function read(ctx: FormatContext, repo: RepositoryState, path: string): Promise<Generated | undefined> {
  const tags = DIST_TAGS.exec(path);
  if (tags !== null && tags[2] === undefined) {
    const doc = readable(ctx, repo, tags[1]!);
    return doc === undefined ? failure(404, `Package '${tags[1]}' not found`) : json(200, child(doc, 'dist-tags'));
  }
  const root = PACKAGE_ROOT.exec(path);
  if (root === null || parsePackageId(root[1]!) === undefined) return undefined;
  const doc = readable(ctx, repo, root[1]!);
  return doc === undefined ? failure(404, `Package '${root[1]}' not found`) : json(200, renderPackument(doc, ctx.baseUrl, repo.name));
}

/** NpmHostedFacet.putDistTags: the body is the version, quotes stripped; `latest` is refused. */
function putDistTag(ctx: FormatContext, repo: RepositoryState, id: string, tag: string, body: string): FormatResult {
  if (tag === 'latest') return { errors: ['Unable to update latest tag'] };
  const version = body.replaceAll('"', '').trim();
  const doc = loadPackument(ctx.store, repo.name, id);
  if (doc === undefined) return { writes: [], status: 200 }; // Nexus answers success and changes nothing
  if (!Object.hasOwn(child(doc, 'versions'), version)) return { errors: [`version ${version} of package ${id} is not present in repository ${repo.name}`] };
  updatePackument(ctx.store, repo.name, id, (old) => ({ ...old, 'dist-tags': { ...child(old, 'dist-tags'), [tag]: version } }));
  return { writes: [], status: 200 };
}

/** `PUT /<name>`: a publish request. Without `_rev` it is a snippet overlaid on the package root (putPackageRoot). */
function putPackageRoot(ctx: FormatContext, repo: RepositoryState, id: string, body: string): FormatResult {
  let snippet: unknown;
  try {
    snippet = JSON.parse(body);
  } catch {
    return { errors: ['Unable to parse the publish request'] };
  }
  if (typeof snippet !== 'object' || snippet === null || Array.isArray(snippet)) return { errors: ['Unable to parse the publish request'] };
  const request = snippet as Json;
  if (Object.keys(child(request, '_attachments')).length > 0) return { errors: ['npm publish with attachments is not modelled by the stand-in'] };
  const old = loadPackument(ctx.store, repo.name, id);
  if (old !== undefined && request['_rev'] !== undefined && request['_rev'] !== old['_rev']) return { errors: [`Revision ${String(request['_rev'])} of ${id} is not the current one`] };
  const { _attachments: _, ...rest } = request;
  updatePackument(ctx.store, repo.name, id, (current) => (old === undefined || request['_rev'] !== undefined ? rest : overlay(current, rest, true)));
  return { writes: [], status: 200 };
}

export const npmStandin: StandinFormat = {
  format: 'npm',
  uploadSpec: { format: 'npm', multipleUpload: false, componentFields: [], assetFields: [] },
  async upload(_ctx, _repo, form) {
    const unknown = [...form.fields.keys(), ...[...form.files.keys()].filter((name) => name !== 'npm.asset')];
    if (unknown.length > 0) return { errors: unknown.map((name) => `Unknown field name: ${name}`) };
    const file = form.files.get('npm.asset');
    if (file === undefined) return { errors: ['No assets found in upload'] };
    const write = await tarballWrite(file.filename, file);
    return typeof write === 'string' ? { errors: [write] } : { writes: [write] };
  },
  read,
  async put(ctx, repo, path, blob) {
    if (repo.writePolicy === 'deny') return { errors: [`Repository is read only: ${repo.name}`] };
    const body = readFileSync(blob.file, 'utf8');
    const tags = DIST_TAGS.exec(path);
    if (tags !== null && tags[2] !== undefined && parsePackageId(tags[1]!) !== undefined) return putDistTag(ctx, repo, tags[1]!, tags[2], body);
    const root = PACKAGE_ROOT.exec(path);
    if (root !== null && parsePackageId(root[1]!) !== undefined) return putPackageRoot(ctx, repo, root[1]!, body);
    return { errors: [`Bad request: ${path}`] };
  },
  async remove(ctx, repo, path) {
    const tags = DIST_TAGS.exec(path);
    if (tags === null || tags[2] === undefined) return undefined;
    if (tags[2] === 'latest') return failure(400, 'Unable to delete latest');
    if (repo.writePolicy === 'deny') return failure(400, `Repository is read only: ${repo.name}`);
    if (loadPackument(ctx.store, repo.name, tags[1]!) !== undefined) {
      updatePackument(ctx.store, repo.name, tags[1]!, (old) => {
        const { [tags[2]!]: _, ...kept } = child(old, 'dist-tags');
        return { ...old, 'dist-tags': kept };
      });
    }
    return json(200, { success: true });
  },
  /** After a tarball landed: merge its package.json into the package root, `latest` moved to it. */
  written(ctx, repo, writes) {
    for (const write of writes) {
      const from = packageJsons.get(write);
      if (from === undefined) continue;
      const now = ctx.store.now().toISOString();
      const root = uploadedRoot(from.pkg, from.packageJson, from.version, write.blob.checksum.sha1, now);
      updatePackument(ctx.store, repo.name, from.pkg.id, (old) => overlay(old, root, true));
    }
  },
};
