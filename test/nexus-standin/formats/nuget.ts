/**
 * nuget: `nuget.asset` uploads of a `.nupkg`, whose id and version Nexus reads from the
 * `.nuspec` at the root of the zip; and the read side NuGet clients use — the v3 service
 * index (`/index.json`) naming the flat container (`/v3/content/`), its versions list
 * (`<id-lower>/index.json`) and package downloads, and the v2 download `/<id>/<version>`.
 *
 * Nexus's NuGet handler is not public source, so where it keeps the package is a guess
 * taken from what is seen of it (unconfirmed): the OrientDB store's asset is the v2
 * download path `<id>/<version>`; this stand-in's SQL store keeps the file path
 * `/<id>/<version>/<id>.<version>.nupkg`, so tests see both shapes. Checksums: sha1 and
 * sha512 (NuGet's package hash), no sha256 (unconfirmed; Ferry must not need it).
 */
import { readFileSync } from 'node:fs';
import { unzip } from '../archives.ts';
import type { AssetWrite, Coordinates, StagedBlob, Store, StoredAsset } from '../store.ts';
import type { FormatContext, FormatResult, Generated, StandinFormat } from './types.ts';

/** What Nexus reads from a package: its `.nuspec` id and version. */
interface PackageIdentity {
  id: string;
  version: string;
}

/** NuGet's id grammar (letters, digits, `_`, and `.`/`-` between them), at most 100 characters. */
const PACKAGE_ID = /^\w+(?:[.-]\w+)*$/;
/** NuGet versions: 1 to 4 numeric parts, an optional pre-release label and build metadata. */
const NUGET_VERSION = /^\d+(?:\.\d+){0,3}(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const xmlText = (text: string) => text.trim().replace(/&(amp|lt|gt|quot|apos);/g, (_, name: string) => XML_ENTITIES[name]!);

/** The `.nuspec` at the root of a package, read as Nexus reads it; a message when it cannot be. */
export function readNuspec(content: Buffer): PackageIdentity | string {
  let files: Map<string, Buffer>;
  try {
    files = unzip(content);
  } catch (error) {
    return `Invalid NuGet package: ${(error as Error).message}`;
  }
  const nuspecs = [...files.entries()].filter(([name]) => !name.includes('/') && name.toLowerCase().endsWith('.nuspec'));
  if (nuspecs.length !== 1) return `Invalid NuGet package: expected one .nuspec at the root of the package, found ${nuspecs.length}`;
  const metadata = /<metadata\b[^>]*>([\s\S]*?)<\/metadata>/.exec(nuspecs[0]![1].toString('utf8'))?.[1] ?? '';
  const field = (name: string) => xmlText(new RegExp(`<${name}>([^<]*)</${name}>`).exec(metadata)?.[1] ?? '');
  const id = field('id');
  const version = field('version');
  if (id === '') return 'Metadata is missing the id attribute';
  if (version === '') return 'Metadata is missing the version attribute';
  if (id.length > 100 || !PACKAGE_ID.test(id)) return `Invalid package id: ${id}`;
  if (!NUGET_VERSION.test(version)) return `Invalid package version: ${version}`;
  return { id, version: version.split('+')[0]! };
}

/** NuGet's normalised version, lowercase, as the flat container names it (`1.02` → `1.2.0`). */
export function flatVersion(version: string): string {
  const [release = '', ...label] = version.toLowerCase().split('+')[0]!.split('-');
  const numbers = release.split('.').map((part) => String(Number.parseInt(part, 10)));
  while (numbers.length < 3) numbers.push('0');
  if (numbers.length === 4 && numbers[3] === '0') numbers.pop();
  return [numbers.join('.'), ...label].join('-');
}

/** The stored asset path of a package on this backend (see the file comment). */
export function packagePath(store: Store, id: string, version: string): string {
  return store.backend === 'orient' ? `/${id}/${version}` : `/${id}/${version}/${id}.${version}.nupkg`;
}

/** Packages of these repositories (a group's members) whose id matches case-insensitively. */
export function packagesWithId(store: Store, repositories: string[], idLower: string): { version: string; asset: StoredAsset }[] {
  const out: { version: string; asset: StoredAsset }[] = [];
  for (const component of store.components.values()) {
    if (!repositories.includes(component.repository) || component.name.toLowerCase() !== idLower) continue;
    const asset = store.assets.get(component.assetIds[0] ?? -1);
    if (asset !== undefined) out.push({ version: component.version ?? '', asset });
  }
  return out;
}

/**
 * The write for one package. NuGet ids and versions compare without case (and versions
 * normalised), so a package already there under another spelling keeps its coordinates
 * and path: uploading it again is a redeploy.
 */
function packageWrite(store: Store, repository: string, found: PackageIdentity, blob: StagedBlob): AssetWrite {
  const same = packagesWithId(store, [repository], found.id.toLowerCase()).find((p) => flatVersion(p.version) === flatVersion(found.version));
  const existing = same === undefined ? undefined : store.components.get(same.asset.componentInternalId ?? -1);
  const coordinates: Coordinates = { group: '', name: existing?.name ?? found.id, version: existing?.version ?? found.version };
  return {
    path: same?.asset.path ?? packagePath(store, coordinates.name, coordinates.version),
    blob,
    component: coordinates,
    attributes: { id: coordinates.name, version: coordinates.version },
    contentType: 'application/zip',
    checksumKeys: ['sha1', 'sha512'],
  };
}

function upload(ctx: FormatContext, repository: string, fields: Iterable<string>, files: Map<string, StagedBlob & { filename: string }>): FormatResult {
  const unknown = [...fields, ...[...files.keys()].filter((name) => name !== 'nuget.asset')];
  if (unknown.length > 0) return { errors: unknown.map((name) => `Unknown field name: ${name}`) };
  const file = files.get('nuget.asset');
  if (file === undefined) return { errors: ['No assets found in upload'] };
  if (!file.filename.toLowerCase().endsWith('.nupkg')) return { errors: ['Unsupported extension. Extension must be .nupkg'] };
  const found = readNuspec(readFileSync(file.file));
  if (typeof found === 'string') return { errors: [found] };
  return { writes: [packageWrite(ctx.store, repository, found, file)] };
}

function json(value: unknown): Generated {
  return { status: 200, contentType: 'application/json', body: Buffer.from(JSON.stringify(value), 'utf8') };
}

/** Nexus's HTML error page, as the repository view serves it for a miss. */
function notFound(): Generated {
  const page = '<!DOCTYPE html>\n<html lang="en"><head><title>404 - Nexus Repository Manager</title></head><body><h1>Error 404</h1><p>Not Found</p></body></html>\n';
  return { status: 404, contentType: 'text/html', body: Buffer.from(page, 'utf8') };
}

/** Ascending NuGet version order: numeric parts as numbers, a release after its pre-releases. */
function compareVersions(a: string, b: string): number {
  const split = (v: string) => {
    const [release = '', ...label] = v.split('-');
    return { numbers: release.split('.').map(Number), label: label.join('-') };
  };
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < 4; i++) if ((x.numbers[i] ?? 0) !== (y.numbers[i] ?? 0)) return (x.numbers[i] ?? 0) - (y.numbers[i] ?? 0);
  if (x.label === y.label) return 0;
  if (x.label === '' || y.label === '') return x.label === '' ? 1 : -1;
  return x.label < y.label ? -1 : 1;
}

/** The v3 flat container: `<id-lower>/index.json` and `<id-lower>/<v>/<id-lower>.<v>.nupkg`. */
function flatContainer(store: Store, repositories: string[], rest: string[]): Generated {
  const [idLower = '', second = '', third] = rest;
  const packages = packagesWithId(store, repositories, idLower);
  if (rest.length === 2 && second === 'index.json' && idLower === idLower.toLowerCase() && packages.length > 0) {
    return json({ versions: [...new Set(packages.map((p) => flatVersion(p.version)))].sort(compareVersions) });
  }
  const hit = packages.find((p) => flatVersion(p.version) === second);
  if (rest.length === 3 && hit !== undefined && idLower === idLower.toLowerCase() && third === `${idLower}.${second}.nupkg`) {
    return { status: 200, contentType: 'application/zip', body: readFileSync(hit.asset.blobFile) };
  }
  return notFound();
}

export const nugetStandin: StandinFormat = {
  format: 'nuget',
  uploadSpec: { format: 'nuget', multipleUpload: false, componentFields: [], assetFields: [] },
  upload: async (ctx, repo, form) => upload(ctx, repo.name, form.fields.keys(), form.files),
  async read(ctx, repo, path) {
    const repositories = ctx.store.contentRepositories(repo.name);
    if (path === '/index.json') {
      const base = `${ctx.baseUrl}/repository/${repo.name}/v3/content/`;
      return json({
        version: '3.0.0',
        resources: [{ '@id': base, '@type': 'PackageBaseAddress/3.0.0', comment: 'Base URL of where NuGet packages are stored, in the format {@id}/{id-lower}/{version-lower}/{id-lower}.{version-lower}.nupkg' }],
      });
    }
    const segments = path.split('/').slice(1);
    if (segments[0] === 'v3' && segments[1] === 'content') return flatContainer(ctx.store, repositories, segments.slice(2));
    // The v2 download `/<id>/<version>`: served from wherever the package is stored.
    if (segments.length !== 2 || repositories.some((name) => ctx.store.findAsset(name, path) !== undefined)) return undefined;
    const [id = '', version = ''] = segments;
    const hit = packagesWithId(ctx.store, repositories, id.toLowerCase()).find((p) => flatVersion(p.version) === flatVersion(version));
    return hit === undefined ? undefined : { status: 200, contentType: 'application/zip', body: readFileSync(hit.asset.blobFile) };
  },
};
