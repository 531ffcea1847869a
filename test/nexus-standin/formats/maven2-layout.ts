/**
 * Maven 2 layout as the stand-in's Nexus reads it (Maven2MavenPathParser's facts, written
 * anew): a path is repository metadata (`maven-metadata.xml` and its hashes), a file of a
 * GAV (with its hash and signature subordinates), or neither; the `maven2` attribute block
 * the REST API shows; the checksum files Nexus writes beside what an upload stores; and the
 * artifact-level `maven-metadata.xml` it rebuilds after an upload.
 */
import type { AssetWrite, StagedBlob, Store } from '../store.ts';

const HASHES = ['sha1', 'md5', 'sha256', 'sha512'] as const;
const SNAPSHOT = '-SNAPSHOT';
const TIMESTAMP = /^(.+)-(\d{8}\.\d{6})-(\d+)$/;

export interface GavFile {
  groupId: string;
  artifactId: string;
  version: string;
  baseVersion: string;
  classifier: string | undefined;
  /** As Nexus records it: `jar`, `jar.asc`, `jar.sha1`. */
  extension: string;
  /** A hash or signature of another file. */
  subordinate: boolean;
  hash: boolean;
}

export type LayoutPath = { kind: 'metadata'; /** the directory holds a snapshot version */ snapshot: boolean } | ({ kind: 'file' } & GavFile);

export const isSnapshot = (version: string): boolean => version.endsWith(SNAPSHOT) || TIMESTAMP.test(version);
export const baseVersionOf = (version: string): string => {
  const match = TIMESTAMP.exec(version);
  return match === null ? version : `${match[1]}${SNAPSHOT}`;
};

/** What a normalised path is in Maven layout, or undefined (Nexus's STRICT layout refuses it). */
export function layoutOf(path: string): LayoutPath | undefined {
  const parts = path.slice(1).split('/');
  const name = parts.at(-1)!;
  if (/^maven-metadata\.xml(\.(sha1|md5|sha256|sha512))?$/.test(name)) return { kind: 'metadata', snapshot: parts.length > 1 && parts.at(-2)!.endsWith(SNAPSHOT) };
  if (parts.length < 4) return undefined;
  const [baseVersion, artifactId] = [parts.at(-2)!, parts.at(-3)!];
  if (!name.startsWith(`${artifactId}-`)) return undefined;
  const rest = name.slice(artifactId.length + 1);
  let version: string | undefined;
  if (rest.startsWith(baseVersion)) version = baseVersion;
  if (baseVersion.endsWith(SNAPSHOT)) {
    const stamped = new RegExp(`^${baseVersion.slice(0, -SNAPSHOT.length).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d{8}\\.\\d{6}-\\d+(?=[.-])`).exec(rest);
    if (stamped !== null) version = stamped[0];
  }
  if (version === undefined) return undefined;
  const match = /^(?:-([^.]+))?\.(.+)$/.exec(rest.slice(version.length));
  if (match === null) return undefined;
  const extension = match[2]!;
  const hash = HASHES.some((h) => extension.endsWith(`.${h}`));
  const subordinate = hash || /\.asc$/.test(extension);
  return { kind: 'file', groupId: parts.slice(0, -3).join('.'), artifactId, version, baseVersion, classifier: match[1], extension, subordinate, hash };
}

/** The `maven2` block of a GAV file's asset. */
export function fileAttributes(file: GavFile): Record<string, string> {
  return {
    groupId: file.groupId,
    artifactId: file.artifactId,
    version: file.version,
    baseVersion: file.baseVersion,
    extension: file.extension,
    ...(file.classifier !== undefined ? { classifier: file.classifier } : {}),
    asset_kind: file.subordinate ? 'ARTIFACT_SUBORDINATE' : 'ARTIFACT',
  };
}

export const METADATA_ATTRIBUTES = { asset_kind: 'REPOSITORY_METADATA' };

/** A stored GAV file: an asset of its component (`version` the timestamped one for a snapshot). */
export function fileWrite(path: string, file: GavFile, blob: StagedBlob): AssetWrite {
  return {
    path,
    blob,
    component: { group: file.groupId, name: file.artifactId, version: file.version },
    attributes: fileAttributes(file),
    redeployable: file.hash,
  };
}

/** `.sha1` and `.md5` beside a file, as Nexus stores them after an upload (assets of the same component). */
export function checksumWrites(store: Store, path: string, file: GavFile | undefined, blob: StagedBlob): AssetWrite[] {
  return (['sha1', 'md5'] as const).map((algorithm) => {
    const sidecar = store.stageBuffer(Buffer.from(blob.checksum[algorithm], 'utf8'));
    if (file === undefined) return { path: `${path}.${algorithm}`, blob: sidecar, component: null, attributes: METADATA_ATTRIBUTES, redeployable: true };
    return fileWrite(`${path}.${algorithm}`, { ...file, extension: `${file.extension}.${algorithm}`, subordinate: true, hash: true }, sidecar);
  });
}

/** Maven's version order, roughly: numbers by value, `-SNAPSHOT` and other qualifiers before the release. */
export function compareVersions(a: string, b: string): number {
  const split = (v: string) => v.split(/[.-]/).map((t) => (/^\d+$/.test(t) ? Number(t) : t.toLowerCase()));
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const [p, q] = [x[i], y[i]];
    if (p === q) continue;
    if (p === undefined) return typeof q === 'number' ? -1 : 1;
    if (q === undefined) return typeof p === 'number' ? 1 : -1;
    if (typeof p === 'number' && typeof q === 'number') return p - q;
    if (typeof p === 'number') return 1;
    if (typeof q === 'number') return -1;
    return p < q ? -1 : 1;
  }
  return 0;
}

const stamp = (date: Date) => date.toISOString().replace(/[-:T]/g, '').slice(0, 14);

/**
 * `/<g>/<a>/maven-metadata.xml` from the repository's components, as Nexus rebuilds it
 * after an upload: every base version, `latest`, `release`; with its sidecars.
 */
export function artifactMetadataWrites(store: Store, repository: string, groupId: string, artifactId: string): AssetWrite[] {
  const versions = new Set<string>();
  for (const component of store.components.values()) {
    if (component.repository === repository && component.group === groupId && component.name === artifactId && component.version) versions.add(baseVersionOf(component.version));
  }
  const sorted = [...versions].sort(compareVersions);
  const release = sorted.filter((v) => !isSnapshot(v)).at(-1);
  const xml = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<metadata>',
    `  <groupId>${groupId}</groupId>`,
    `  <artifactId>${artifactId}</artifactId>`,
    '  <versioning>',
    `    <latest>${sorted.at(-1) ?? ''}</latest>`,
    ...(release === undefined ? [] : [`    <release>${release}</release>`]),
    '    <versions>',
    ...sorted.map((v) => `      <version>${v}</version>`),
    '    </versions>',
    `    <lastUpdated>${stamp(store.now())}</lastUpdated>`,
    '  </versioning>',
    '</metadata>',
    '',
  ].join('\n');
  const path = `/${groupId.split('.').join('/')}/${artifactId}/maven-metadata.xml`;
  const blob = store.stageBuffer(Buffer.from(xml, 'utf8'));
  const metadata: AssetWrite = { path, blob, component: null, attributes: METADATA_ATTRIBUTES, contentType: 'application/xml', redeployable: true };
  return [metadata, ...checksumWrites(store, path, undefined, blob)];
}
