/**
 * `maven-metadata.xml` as Maven clients read it: at artifact level (`/<g>/<a>/`) the list of
 * versions, at version level (`/<g>/<a>/<x>-SNAPSHOT/`) which timestamped build each file of
 * a snapshot resolves to. A release upload makes the target rebuild the first; snapshots go
 * in by PUT, and then Ferry writes both, as the maven client does, merged with what the
 * target already has. Also the coordinates a pom declares, which Nexus's upload follows.
 */
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { compareVersions } from './versions.ts';
import { isSnapshotVersion, snapshotBuild } from './path.ts';

const parser = new XMLParser({
  // Versions are text: `1.10` must not become the number 1.1.
  parseTagValue: false,
  ignoreAttributes: true,
  ignoreDeclaration: true,
  isArray: (name) => name === 'version' || name === 'snapshotVersion',
});

const builder = new XMLBuilder({ format: true, indentBy: '  ', suppressEmptyNode: true });

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);

export interface ArtifactMetadata {
  groupId: string;
  artifactId: string;
  versions: string[];
  latest: string | undefined;
  release: string | undefined;
  lastUpdated: string | undefined;
}

export interface SnapshotFile {
  classifier: string | null;
  extension: string;
  /** The timestamped version this file resolves to. */
  value: string;
  /** `yyyyMMddHHmmss` */
  updated: string;
}

export interface VersionMetadata {
  groupId: string;
  artifactId: string;
  /** `1.0-SNAPSHOT` */
  version: string;
  snapshot: { timestamp: string; buildNumber: number } | undefined;
  lastUpdated: string | undefined;
  files: SnapshotFile[];
}

interface Parsed {
  metadata?: {
    groupId?: unknown;
    artifactId?: unknown;
    version?: unknown[];
    versioning?: {
      latest?: unknown;
      release?: unknown;
      lastUpdated?: unknown;
      versions?: { version?: unknown[] };
      snapshot?: { timestamp?: unknown; buildNumber?: unknown };
      snapshotVersions?: { snapshotVersion?: { classifier?: unknown; extension?: unknown; value?: unknown; updated?: unknown }[] };
    };
  };
}

/** Throws (fast-xml-parser's error) when the bytes are not XML; the caller names the document. */
function parse(bytes: Buffer): NonNullable<Parsed['metadata']> {
  const parsed = parser.parse(bytes.toString('utf8'), true) as Parsed;
  return parsed.metadata ?? {};
}

export function parseArtifactMetadata(bytes: Buffer): ArtifactMetadata {
  const metadata = parse(bytes);
  const versioning = metadata.versioning ?? {};
  return {
    groupId: text(metadata.groupId) ?? '',
    artifactId: text(metadata.artifactId) ?? '',
    versions: (versioning.versions?.version ?? []).map(text).filter((v): v is string => v !== undefined),
    latest: text(versioning.latest),
    release: text(versioning.release),
    lastUpdated: text(versioning.lastUpdated),
  };
}

export function parseVersionMetadata(bytes: Buffer): VersionMetadata {
  const metadata = parse(bytes);
  const versioning = metadata.versioning ?? {};
  const buildNumber = Number(text(versioning.snapshot?.buildNumber));
  const timestamp = text(versioning.snapshot?.timestamp);
  const files: SnapshotFile[] = [];
  for (const file of versioning.snapshotVersions?.snapshotVersion ?? []) {
    const extension = text(file.extension);
    const value = text(file.value);
    if (extension === undefined || value === undefined) continue;
    files.push({ classifier: text(file.classifier) ?? null, extension, value, updated: text(file.updated) ?? '' });
  }
  return {
    groupId: text(metadata.groupId) ?? '',
    artifactId: text(metadata.artifactId) ?? '',
    version: text(metadata.version?.[0]) ?? '',
    snapshot: timestamp !== undefined && Number.isInteger(buildNumber) ? { timestamp, buildNumber } : undefined,
    lastUpdated: text(versioning.lastUpdated),
    files,
  };
}

/** Later build first: by build number, then timestamp. */
function newerBuild(a: string, b: string): boolean {
  const x = snapshotBuild(a);
  const y = snapshotBuild(b);
  if (x === undefined || y === undefined) return y === undefined && x !== undefined;
  return x.buildNumber !== y.buildNumber ? x.buildNumber > y.buildNumber : x.timestamp > y.timestamp;
}

/** `20250115.102030` → `20250115102030` */
export const updatedOf = (version: string): string => snapshotBuild(version)?.timestamp.replace('.', '') ?? '';

/**
 * The version-level metadata with these files added: per classifier and extension the
 * latest build wins, and `snapshot` names the latest build of all. Deterministic (no clock),
 * so merging what is already there yields the same document and nothing is rewritten.
 */
export function mergeVersionMetadata(existing: VersionMetadata | undefined, base: Omit<VersionMetadata, 'snapshot' | 'lastUpdated' | 'files'>, files: SnapshotFile[]): VersionMetadata {
  const byKey = new Map<string, SnapshotFile>();
  for (const file of [...(existing?.files ?? []), ...files]) {
    const key = `${file.classifier ?? ''}\n${file.extension}`;
    const known = byKey.get(key);
    if (known === undefined || newerBuild(file.value, known.value)) byKey.set(key, file);
  }
  const merged = [...byKey.values()];
  let latest: string | undefined;
  for (const file of merged) if (latest === undefined || newerBuild(file.value, latest)) latest = file.value;
  const build = latest === undefined ? undefined : snapshotBuild(latest);
  const lastUpdated = [existing?.lastUpdated ?? '', ...merged.map((f) => f.updated)].reduce((a, b) => (b > a ? b : a), '');
  return { ...base, snapshot: build ?? existing?.snapshot, lastUpdated: lastUpdated === '' ? undefined : lastUpdated, files: merged };
}

/**
 * The artifact-level metadata with these versions added (appended in version order, as a
 * deploy appends); `latest` the highest of all, `release` the highest release.
 */
export function mergeArtifactMetadata(existing: ArtifactMetadata | undefined, base: Pick<ArtifactMetadata, 'groupId' | 'artifactId'>, versions: string[], updated: string): ArtifactMetadata {
  const known = new Set(existing?.versions ?? []);
  const added = [...new Set(versions)].filter((v) => !known.has(v)).sort(compareVersions);
  const all = [...(existing?.versions ?? []), ...added];
  const highest = (list: string[]) => [...list].sort(compareVersions).at(-1);
  const lastUpdated = [existing?.lastUpdated ?? '', updated].reduce((a, b) => (b > a ? b : a), '');
  return {
    ...base,
    versions: all,
    latest: highest(all),
    release: highest(all.filter((v) => !isSnapshotVersion(v))) ?? existing?.release,
    lastUpdated: lastUpdated === '' ? undefined : lastUpdated,
  };
}

const declaration = '<?xml version="1.0" encoding="UTF-8"?>\n';

export function renderArtifactMetadata(m: ArtifactMetadata): Buffer {
  const versioning = { latest: m.latest, release: m.release, versions: { version: m.versions }, lastUpdated: m.lastUpdated };
  return Buffer.from(declaration + builder.build({ metadata: { groupId: m.groupId, artifactId: m.artifactId, versioning } }), 'utf8');
}

export function renderVersionMetadata(m: VersionMetadata): Buffer {
  const versioning = {
    snapshot: m.snapshot === undefined ? undefined : { timestamp: m.snapshot.timestamp, buildNumber: String(m.snapshot.buildNumber) },
    lastUpdated: m.lastUpdated,
    snapshotVersions: {
      snapshotVersion: m.files.map((f) => ({ classifier: f.classifier ?? undefined, extension: f.extension, value: f.value, updated: f.updated })),
    },
  };
  const body = builder.build({ metadata: { groupId: m.groupId, artifactId: m.artifactId, version: m.version, versioning } }) as string;
  return Buffer.from(declaration + body.replace('<metadata>', '<metadata modelVersion="1.1.0">'), 'utf8');
}

/** Same versions and builds: writing `b` over `a` would tell a client nothing new. */
export function sameVersionMetadata(a: VersionMetadata, b: VersionMetadata): boolean {
  const key = (m: VersionMetadata) => JSON.stringify([m.snapshot, [...m.files].map((f) => [f.classifier, f.extension, f.value]).sort()]);
  return key(a) === key(b);
}

/**
 * The groupId, artifactId and version a pom declares (groupId and version inherited from its
 * parent when absent), as Nexus's upload reads them; undefined when it is not a pom or a
 * coordinate is missing or a `${property}`.
 */
export function pomCoordinates(bytes: Buffer): { groupId: string; artifactId: string; version: string } | undefined {
  let project: { groupId?: unknown; artifactId?: unknown; version?: unknown[] | unknown; parent?: { groupId?: unknown; version?: unknown[] | unknown } } | undefined;
  try {
    project = (parser.parse(bytes.toString('utf8'), true) as { project?: typeof project }).project;
  } catch {
    return undefined;
  }
  if (project === undefined) return undefined;
  const first = (value: unknown) => text(Array.isArray(value) ? value[0] : value);
  const groupId = text(project.groupId) ?? text(project.parent?.groupId);
  const artifactId = text(project.artifactId);
  const version = first(project.version) ?? first(project.parent?.version);
  if (groupId === undefined || artifactId === undefined || version === undefined) return undefined;
  if ([groupId, artifactId, version].some((v) => v.startsWith('${'))) return undefined;
  return { groupId, artifactId, version };
}
