/**
 * pypi, as Nexus's PyPI hosted repository (sonatype/nexus-public, the datastore
 * `PyPiHostedFacet`, `PyPiUploadHandler`, `PyPiHostedHandlers`):
 * - `pypi.asset` through the components API: name and version from the archive's own
 *   metadata, stored at `/packages/<normalised name>/<version>/<file>` (`createPackagePath`);
 *   any other file (a signature too) fails the metadata read.
 * - The upload API twine uses, `POST /repository/R/` with `:action=file_upload`: name and
 *   version from the form fields (not the archive), `md5_digest` checked when sent, and a
 *   `gpg_signature` part stored beside the file as an asset of the same component.
 * - The PEP 503 simple index, built from the stored assets on each GET (Nexus caches it and
 *   drops the cache on every upload, which reads the same): `/simple/` lists component
 *   names, `/simple/<name>/` every asset of the components of exactly that (normalised)
 *   name, signatures included, with relative links and `#md5=` fragments — Nexus writes
 *   md5, not sha256 — and `data-requires-python`. No `data-gpg-sig`.
 * Components are named by the normalised name; assets carry md5 and sha1 only.
 */
import { readFileSync } from 'node:fs';
import { isValidAssetPath } from '../format.ts';
import type { AssetWrite, RepositoryState, StagedBlob, Store, StoredAsset } from '../store.ts';
import { extractMetadata, normaliseName, packageAttributes } from './pypi-metadata.ts';
import type { FormatResult, Generated, ParsedForm, StandinFormat } from './types.ts';

const CHECKSUMS = ['sha1', 'md5'] as const;

function contentTypeOf(file: string): string {
  if (/\.(whl|zip|egg)$/.test(file)) return 'application/zip';
  if (/\.(tar\.gz|tgz)$/.test(file)) return 'application/x-gzip';
  if (file.endsWith('.asc')) return 'text/plain';
  return 'application/octet-stream';
}

function packageWrite(name: string, version: string, file: string, blob: StagedBlob, attributes: Record<string, string>): AssetWrite | string {
  const path = `/packages/${normaliseName(name)}/${version}/${file}`;
  if (!isValidAssetPath(path)) return `Invalid path: ${path}`;
  return { path, blob, component: { group: '', name: normaliseName(name), version }, attributes, contentType: contentTypeOf(file), checksumKeys: CHECKSUMS };
}

/** `POST /v1/components` with `pypi.asset`: everything comes from the archive's metadata. */
async function componentUpload(form: ParsedForm): Promise<FormatResult> {
  // Nexus validates the whole form before reading the file and reports every problem at once.
  const unknown = [...form.fields.keys(), ...[...form.files.keys()].filter((name) => name !== 'pypi.asset')];
  const file = form.files.get('pypi.asset');
  const problems = [...(file === undefined ? ['No assets found in upload'] : []), ...unknown.map((name) => `Unknown field name: ${name}`)];
  if (problems.length > 0 || file === undefined) return { errors: problems };
  const metadata = await extractMetadata(readFileSync(file.file));
  if (metadata.size === 0) return { errors: ['Unable to extract PyPI metadata from provided archive.'] };
  const name = metadata.get('name')?.trim() ?? '';
  const version = metadata.get('version')?.trim() ?? '';
  if (name === '') return { errors: ['Metadata is missing the name attribute'] };
  if (version === '') return { errors: ['Metadata is missing the version attribute'] };
  const filename = file.filename.trim() !== '' ? file.filename : `${name}-${version}.${metadata.get('archive_type')}`;
  const write = packageWrite(name, version, filename, file, packageAttributes(metadata));
  return typeof write === 'string' ? { errors: [write] } : { writes: [write] };
}

/**
 * `POST /repository/R/` (twine). Nexus's handler throws IllegalStateException or a null
 * check for a malformed form, which its view answers with a 500; a digest mismatch is an
 * IllegalOperationException, a 400.
 */
function twineUpload(form: ParsedForm): FormatResult {
  const action = form.fields.get(':action');
  if (action !== 'file_upload') return { status: 500, errors: [`java.lang.IllegalStateException: Unsupported :action, found: ${action ?? 'null'}`] };
  const content = form.files.get('content');
  if (content === undefined || content.filename.trim() === '') return { status: 500, errors: ['java.lang.IllegalStateException'] };
  const name = form.fields.get('name');
  const version = form.fields.get('version');
  if (name === undefined || version === undefined) return { status: 500, errors: ['java.lang.NullPointerException'] };
  const expected = form.fields.get('md5_digest');
  if (expected !== undefined && expected.toLowerCase() !== content.checksum.md5) {
    return { errors: [`Digests do not match, found: ${content.checksum.md5}, expected: ${expected}`] };
  }
  const writes: AssetWrite[] = [];
  const file = packageWrite(name, version, content.filename, content, packageAttributes(form.fields));
  if (typeof file === 'string') return { errors: [file] };
  writes.push(file);
  const signature = form.files.get('gpg_signature');
  if (signature !== undefined) {
    const written = packageWrite(name, version, signature.filename, signature, {});
    if (typeof written === 'string') return { errors: [written] };
    writes.push({ ...written, contentType: 'text/plain' });
  }
  return { writes };
}

/** The components of a repository (a group: of its members), in creation order. */
function componentsOf(store: Store, repo: RepositoryState) {
  const members = new Set(store.contentRepositories(repo.name));
  return [...store.components.values()].filter((c) => members.has(c.repository)).sort((a, b) => a.internalId - b.internalId);
}

function html(body: string): Generated {
  return { status: 200, contentType: 'text/html', body: Buffer.from(body, 'utf8') };
}

/** `/simple/`: one link per component name, sorted (Nexus keeps them in a TreeMap). */
function rootIndex(store: Store, repo: RepositoryState): Generated {
  const names = [...new Set(componentsOf(store, repo).map((c) => c.name))].sort();
  const links = names.map((name) => `  <a href="${name}/">${name}</a><br/>\n`).join('');
  return html(
    `<html>\n<head>\n  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8">\n  <title>Simple index</title>\n</head>\n<body>\n${links}</body>\n</html>\n`,
  );
}

function projectLink(asset: StoredAsset): string {
  const file = asset.path.slice(asset.path.lastIndexOf('/') + 1);
  const requiresPython = asset.attributes['requires_python'];
  const python = typeof requiresPython === 'string' && requiresPython !== '' ? ` data-requires-python="${requiresPython}"` : '';
  return `    <a href="../../${asset.path.slice(1)}#md5=${asset.checksum.md5}" rel="internal"${python}>${file}</a><br/>\n`;
}

/** `/simple/<name>/`: every asset of the components named exactly so; undefined (404) when there is none. */
function projectIndex(store: Store, repo: RepositoryState, name: string): Generated | undefined {
  const components = componentsOf(store, repo).filter((c) => c.name === name);
  if (components.length === 0) return undefined;
  const seen = new Set<string>();
  const links: string[] = [];
  for (const component of components) {
    for (const id of component.assetIds) {
      const asset = store.assets.get(id);
      const file = asset?.path.slice(asset.path.lastIndexOf('/') + 1);
      if (asset === undefined || file === undefined || seen.has(file)) continue;
      seen.add(file);
      links.push(projectLink(asset));
    }
  }
  return html(
    `<html lang="en">\n<head><title>Links for ${name}</title>\n  <meta name="api-version" value="2"/>\n</head>\n<body><h1>Links for ${name}</h1>\n${links.join('')}  </body>\n</html>\n`,
  );
}

export const pypiStandin: StandinFormat = {
  format: 'pypi',
  uploadSpec: { format: 'pypi', multipleUpload: false, componentFields: [], assetFields: [] },
  upload: async (_ctx, _repo, form) => componentUpload(form),
  async post(_ctx, _repo, path, form) {
    // Only the base route takes a POST here (`/pypi`, XML-RPC search, is not modelled).
    if (path !== '/') return { status: 404, errors: ['Not Found'] };
    return twineUpload(form);
  },
  async read(ctx, repo, path) {
    if (path === '/simple/') return rootIndex(ctx.store, repo);
    const project = /^\/simple\/([0-9a-zA-Z._-]+)\/?$/.exec(path);
    return project === null ? undefined : projectIndex(ctx.store, repo, project[1]!);
  },
};

