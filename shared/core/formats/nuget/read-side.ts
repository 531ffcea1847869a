/**
 * What a NuGet client reads after the import. A v3 client (`dotnet restore`, `nuget
 * install` against `/repository/R/index.json`) finds the package base address in the
 * service index and asks it which versions of a package exist
 * (`<base>/<id-lower>/index.json`, the "flat container"), then downloads
 * `<base>/<id-lower>/<version>/<id-lower>.<version>.nupkg`. Ferry checks the first two
 * steps for every package of the bundle: one service index per repository, one versions
 * list per package id. Nexus updates its NuGet feed as a package is stored, so there is
 * no waiting.
 */
import type { PackageBundleEntry } from '../../../bundle/index.ts';
import type { EntryRefusal } from '../../import/errors.ts';
import type { ImportDeps } from '../format.ts';
import type { PackageItem } from '../package/index.ts';
import { flatContainerVersion } from './identify.ts';

type NugetEntry = Extract<PackageBundleEntry, { kind: 'nuget' }>;

const SERVICE_INDEX = '/index.json';
const MAX_SERVICE_INDEX_BYTES = 1024 * 1024;
/** A package with thousands of versions lists a few hundred kilobytes. */
const MAX_VERSIONS_BYTES = 16 * 1024 * 1024;
/** Where Nexus serves the flat container when the service index does not say otherwise. */
const DEFAULT_BASE = '/v3/content/';

/**
 * The flat container's path inside the repository, from the service index's
 * `PackageBaseAddress/3.0.0` URL (absolute, made from Nexus's base URL, which may differ
 * from the one Ferry uses behind a proxy: only the part after `/repository/<R>/` counts).
 * A string names why there is none.
 */
async function packageBase(deps: ImportDeps, repository: string): Promise<{ base: string } | string> {
  const bytes = await deps.target.readContent(repository, SERVICE_INDEX, MAX_SERVICE_INDEX_BYTES);
  if (bytes === undefined) return `${repository} serves no NuGet v3 service index (${repository}${SERVICE_INDEX} answered 404)`;
  let resources: unknown;
  try {
    resources = (JSON.parse(bytes.toString('utf8')) as { resources?: unknown }).resources;
  } catch (error) {
    return `${repository}${SERVICE_INDEX} is not JSON (${(error as Error).message})`;
  }
  const found = (Array.isArray(resources) ? resources : []).find((resource: { '@type'?: unknown }) => {
    const types = Array.isArray(resource?.['@type']) ? resource['@type'] : [resource?.['@type']];
    return types.includes('PackageBaseAddress/3.0.0');
  }) as { '@id'?: unknown } | undefined;
  if (found === undefined || typeof found['@id'] !== 'string') return `${repository}${SERVICE_INDEX} names no PackageBaseAddress/3.0.0 resource`;
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(found['@id']).pathname);
  } catch {
    return { base: DEFAULT_BASE };
  }
  const marker = `/repository/${repository}/`;
  const at = pathname.indexOf(marker);
  const base = at < 0 ? DEFAULT_BASE : `/${pathname.slice(at + marker.length)}`;
  return { base: base.endsWith('/') ? base : `${base}/` };
}

/** The versions the flat container lists for a package id (flat-container form), or why it lists none. */
async function listedVersions(deps: ImportDeps, repository: string, base: string, idLower: string): Promise<Set<string> | string> {
  const path = `${base}${idLower}/index.json`;
  const bytes = await deps.target.readContent(repository, path, MAX_VERSIONS_BYTES);
  if (bytes === undefined) return `${repository}${path} answered 404`;
  try {
    const versions = (JSON.parse(bytes.toString('utf8')) as { versions?: unknown }).versions;
    if (!Array.isArray(versions)) return `${repository}${path} has no versions array`;
    return new Set(versions.filter((v): v is string => typeof v === 'string').map(flatContainerVersion));
  } catch (error) {
    return `${repository}${path} is not JSON (${(error as Error).message})`;
  }
}

/** Every package of the bundle, checked where a NuGet v3 client looks for it; one refusal per package it does not find. */
export async function checkReadSide(deps: ImportDeps, items: PackageItem<NugetEntry>[]): Promise<EntryRefusal[]> {
  const byRepository = new Map<string, Map<string, PackageItem<NugetEntry>[]>>();
  for (const item of items) {
    const ids = byRepository.get(item.repository) ?? new Map<string, PackageItem<NugetEntry>[]>();
    const idLower = item.entry.component.name.toLowerCase();
    ids.set(idLower, [...(ids.get(idLower) ?? []), item]);
    byRepository.set(item.repository, ids);
  }
  const problems: EntryRefusal[] = [];
  const refuse = (item: PackageItem<NugetEntry>, why: string) => {
    const { name, version } = item.entry.component;
    problems.push({ index: item.index, entry: item.label, reason: `NuGet package ${name} ${version} is not listed for NuGet clients after the import: ${why}` });
  };
  for (const [repository, ids] of byRepository) {
    const found = await packageBase(deps, repository);
    if (typeof found === 'string') {
      for (const waiting of ids.values()) waiting.forEach((item) => refuse(item, found));
      continue;
    }
    for (const [idLower, waiting] of ids) {
      const listed = await listedVersions(deps, repository, found.base, idLower);
      for (const item of waiting) {
        if (typeof listed === 'string') refuse(item, listed);
        else if (!listed.has(flatContainerVersion(item.entry.component.version))) {
          refuse(item, `${repository}${found.base}${idLower}/index.json lists ${[...listed].join(', ') || 'no versions'}`);
        }
      }
    }
  }
  return problems;
}
