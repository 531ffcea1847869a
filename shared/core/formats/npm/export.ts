/**
 * npm on the export side: which assets are content (package tarballs; the packument is
 * metadata the target makes itself) and what an entry carries besides the bytes: the
 * package's dist-tags as the source's packument has them when the tarball is staged. The
 * same packument's `dist.integrity` for the version, when it has one, must describe the
 * staged bytes, or the tarball is not carried.
 */
import type { NpmBundleEntry } from '../../../bundle/index.ts';
import type { Checksums, ComponentCoordinates, PackageCopyTask, SourceAsset, SourceComponent } from '../../ports/index.ts';
import type { ExportDeps } from '../format.ts';
import type { KindFields } from '../package/index.ts';
import { NpmIntegrityError } from './errors.ts';
import { integrityMismatch, packageName, parseTarballPath } from './names.ts';
import { sourcePackument } from './source-packuments.ts';

/** A tarball's component: from the listing (scope as group, null for none), else from its path. */
export function identifyNpm(asset: SourceAsset, component: SourceComponent | undefined): { component: ComponentCoordinates } | undefined {
  const tarball = parseTarballPath(asset.path);
  if (tarball === undefined) return undefined;
  if (component !== undefined && component.version !== null && component.version !== '') {
    return { component: { group: component.group === null || component.group === '' ? null : component.group, name: component.name, version: component.version } };
  }
  return { component: { group: tarball.scope, name: tarball.name, version: tarball.version } };
}

// The bundle's entry schema: tags npm allows, versions that are component text.
const TAG = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
// eslint-disable-next-line no-control-regex
const VERSION = /^[^\u0000-\u001f\u007f]{1,1024}$/;

/** The tags a bundle can carry; others (a name npm would not take) are logged and left behind. */
function carriedTags(deps: ExportDeps, where: string, tags: Record<string, string>): Record<string, string> {
  const carried: Record<string, string> = {};
  for (const [tag, version] of Object.entries(tags)) {
    if (TAG.test(tag) && VERSION.test(version)) carried[tag] = version;
    else deps.log.warn(`${where}: dist-tag ${JSON.stringify(tag)} → ${JSON.stringify(version)} is not carried (not a tag and version npm takes)`);
  }
  return carried;
}

/** The entry's dist-tags, after checking the packument's integrity for this version against the staged bytes. */
export async function npmEntryFields(deps: ExportDeps, task: PackageCopyTask, staged: { checksums: Checksums }): Promise<KindFields<NpmBundleEntry>> {
  const name = packageName(task.component);
  const coordinates = `${name}@${task.component.version}`;
  const packument = await sourcePackument(deps.source, task.sourceRepository, name, task.component.version);
  if (packument === undefined) {
    deps.log.warn(`${task.sourceRepository}/${name}: the source has no packument; ${coordinates} carries no dist-tags`);
    return { distTags: {} };
  }
  const integrity = packument.versions.get(task.component.version)?.integrity;
  const mismatch = integrity === undefined ? undefined : integrityMismatch(integrity, staged.checksums);
  if (mismatch !== undefined) throw new NpmIntegrityError(task.sourceRepository, task.path, coordinates, mismatch);
  return { distTags: carriedTags(deps, `${task.sourceRepository}/${name}`, packument.distTags) };
}
