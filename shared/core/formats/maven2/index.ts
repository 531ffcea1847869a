/**
 * The maven2 format: every file of a component (groupId:artifactId:version) — pom, jar,
 * classifiers, sources, javadoc, `.asc` — carried as one entry each and written back as one
 * component. Checksum sidecars and `maven-metadata.xml` are the repository's own, made again
 * on the far side, so they are not carried; the import checks that the target's metadata
 * lists every version it carried.
 */
import type { Maven2BundleEntry } from '../../../bundle/index.ts';
import type { ComponentCoordinates, PackageCopyTask, SourceAsset, SourceComponent } from '../../ports/index.ts';
import { packageFormat, type KindFields, type PackageItem, type PackageSpec } from '../package/index.ts';
import type { ImportDeps } from '../format.ts';
import { MavenPathError } from './errors.ts';
import { finishMaven } from './finish.ts';
import { artifactDirectory, baseVersionOf, isChecksumSidecar, isRepositoryMetadata, parseMavenPath } from './path.ts';
import { gav, isSnapshot, pomRefusal, writeComponent } from './write.ts';

/** The maven2 block's text attributes a listing may carry, read when present. */
function listedAttributes(asset: SourceAsset): Record<string, string> | undefined {
  const block = asset.attributes;
  if (block === undefined) return undefined;
  const picked = Object.fromEntries(['extension', 'classifier', 'baseVersion'].flatMap((key) => (block[key] ? [[key, block[key]]] : [])));
  return Object.keys(picked).length === 0 ? undefined : picked;
}

function identify(asset: SourceAsset, component: SourceComponent | undefined): { component: ComponentCoordinates; attributes?: Record<string, string> } | undefined {
  if (isRepositoryMetadata(asset.path) || isChecksumSidecar(asset.path)) return undefined;
  const listedVersion = component?.version ?? undefined;
  const parsed = (listedVersion !== undefined ? parseMavenPath(asset.path, listedVersion) : undefined) ?? parseMavenPath(asset.path);
  const attributes = listedAttributes(asset);
  if (component !== undefined && component.version !== null && component.version !== '') {
    const version = parsed?.version ?? component.version;
    return { component: { group: component.group ?? parsed?.groupId ?? null, name: component.name, version }, attributes };
  }
  // A component-less asset that is no file of a GAV (an index, an archetype catalog): the repository's own.
  if (parsed === undefined) return undefined;
  return { component: { group: parsed.groupId, name: parsed.artifactId, version: parsed.version }, attributes };
}

/**
 * baseVersion, extension and classifier: from the listing's maven2 block when it has them
 * and they spell the file's path (Nexus's attribute names are unconfirmed), else from the
 * file name.
 */
async function entryFields(_deps: unknown, task: PackageCopyTask): Promise<KindFields<Maven2BundleEntry>> {
  const parsed = parseMavenPath(task.path, task.component.version) ?? parseMavenPath(task.path);
  const attributes = task.attributes ?? {};
  const listed = attributes['extension'] === undefined ? undefined : {
    baseVersion: attributes['baseVersion'] ?? parsed?.baseVersion ?? baseVersionOf(task.component.version),
    extension: attributes['extension'],
    classifier: attributes['classifier'] || null,
  };
  if (listed !== undefined && (parsed === undefined || layoutPath(task.component, listed) === task.path)) return { maven: listed };
  if (parsed === undefined) throw new MavenPathError(task.sourceRepository, task.path);
  return { maven: { baseVersion: parsed.baseVersion, extension: parsed.extension, classifier: parsed.classifier } };
}

/** Where the component upload (and the maven client) puts a file: the source's path must be it. */
function layoutPath({ group, name, version }: ComponentCoordinates, maven: Maven2BundleEntry['maven']): string {
  const classifier = maven.classifier === null ? '' : `-${maven.classifier}`;
  return `${artifactDirectory(group ?? '', name)}/${maven.baseVersion}/${name}-${version}${classifier}.${maven.extension}`;
}

function refuse(item: PackageItem<Maven2BundleEntry>, deps: ImportDeps): string | undefined | Promise<string | undefined> {
  const { entry, target, repository } = item;
  const snapshot = isSnapshot(entry);
  const policy = target.versionPolicy;
  if (policy === 'RELEASE' && snapshot) return `${coordinates(entry)} is a snapshot, and ${repository} takes only releases (version policy RELEASE)`;
  if (policy === 'SNAPSHOT' && !snapshot) return `${coordinates(entry)} is a release, and ${repository} takes only snapshots (version policy SNAPSHOT)`;
  if (entry.component.group === null) return `${coordinates(entry)} has no groupId`;
  const expected = layoutPath(entry.component, entry.maven);
  if (expected !== entry.target.path) return `${coordinates(entry)} is at ${entry.target.path}, not at ${expected} where Maven layout puts it, so the target would file it elsewhere`;
  return pomRefusal(item, deps);
}

/** `org.example:widget:1.0.0@jar`, `org.example:widget:1.0.0:sources@jar`. */
function coordinates(entry: Maven2BundleEntry): string {
  return `${gav(entry)}${entry.maven.classifier === null ? '' : `:${entry.maven.classifier}`}@${entry.maven.extension}`;
}

export const maven2Spec: PackageSpec<Maven2BundleEntry> = {
  format: 'maven2',
  identify,
  entryFields: (deps, task) => entryFields(deps, task),
  coordinates,
  refuse,
  groupKey: (entry) => gav(entry),
  write: writeComponent,
  finish: finishMaven,
};

export const maven2Format = packageFormat(maven2Spec);
