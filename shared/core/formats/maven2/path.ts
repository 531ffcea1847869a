/**
 * The Maven 2 repository layout as Ferry reads it: which files of a Maven repository are a
 * component's content (pom, jar, classifiers, `.asc`) and which the repository makes itself
 * (checksum sidecars, `maven-metadata.xml`), and the coordinates a file's path spells —
 * `/<groupId as dirs>/<artifactId>/<baseVersion>/<artifactId>-<version>[-<classifier>].<extension>`.
 */

/** Checksum sidecars (`x.jar.sha1`, `x.jar.asc.md5`): the target writes its own. */
const SIDECAR = /\.(sha1|md5|sha256|sha512)$/;

/** `1.0-20250115.102030-1`: a deployed snapshot's version (base version `1.0-SNAPSHOT`). */
const TIMESTAMPED = /^(.*)-(\d{8}\.\d{6})-(\d+)$/;

export const SNAPSHOT_SUFFIX = '-SNAPSHOT';

export const isSnapshotVersion = (version: string): boolean => version.endsWith(SNAPSHOT_SUFFIX) || TIMESTAMPED.test(version);

/** The base version of a version: `1.0-SNAPSHOT` for `1.0-20250115.102030-1`, else itself. */
export function baseVersionOf(version: string): string {
  const match = TIMESTAMPED.exec(version);
  return match === null ? version : `${match[1]}${SNAPSHOT_SUFFIX}`;
}

/** A deployed snapshot's timestamp and build number, from its timestamped version. */
export function snapshotBuild(version: string): { timestamp: string; buildNumber: number } | undefined {
  const match = TIMESTAMPED.exec(version);
  return match === null ? undefined : { timestamp: match[2]!, buildNumber: Number(match[3]) };
}

/** `maven-metadata.xml` at any level, or one of its sidecars. */
export const isRepositoryMetadata = (path: string): boolean => /(^|\/)maven-metadata\.xml(\.[a-z0-9]+)?$/.test(path);

export const isChecksumSidecar = (path: string): boolean => SIDECAR.test(path);

export interface MavenFile {
  groupId: string;
  artifactId: string;
  /** The version in the file name: timestamped for a deployed snapshot. */
  version: string;
  /** The version directory: `1.0-SNAPSHOT` for a snapshot. */
  baseVersion: string;
  classifier: string | null;
  /** Everything after the version (and classifier): `jar`, `pom`, `tar.gz`, `jar.asc`. */
  extension: string;
}

/**
 * The coordinates of a file in Maven layout, or undefined when the path is not one.
 * `version`, when known (the component's, from the listing), says where the version ends
 * in the file name; otherwise it is read from the name against the version directory.
 */
export function parseMavenPath(path: string, version?: string): MavenFile | undefined {
  const segments = path.split('/').filter((segment) => segment !== '');
  if (segments.length < 4) return undefined;
  const [filename, baseVersion, artifactId] = [segments.at(-1)!, segments.at(-2)!, segments.at(-3)!];
  const groupId = segments.slice(0, -3).join('.');
  const prefix = `${artifactId}-`;
  if (!filename.startsWith(prefix)) return undefined;
  const rest = filename.slice(prefix.length);
  const fileVersion = version ?? versionIn(rest, baseVersion);
  if (fileVersion === undefined || !rest.startsWith(fileVersion) || baseVersionOf(fileVersion) !== baseVersion) return undefined;
  const tail = rest.slice(fileVersion.length);
  let classifier: string | null = null;
  let extension: string;
  if (tail.startsWith('.')) extension = tail.slice(1);
  else if (tail.startsWith('-')) {
    const dot = tail.indexOf('.');
    if (dot < 0) return undefined;
    classifier = tail.slice(1, dot);
    extension = tail.slice(dot + 1);
  } else return undefined;
  if (extension === '' || classifier === '') return undefined;
  return { groupId, artifactId, version: fileVersion, baseVersion, classifier, extension };
}

/** The version a file name (after `<artifactId>-`) starts with, given its version directory. */
function versionIn(rest: string, baseVersion: string): string | undefined {
  if (!baseVersion.endsWith(SNAPSHOT_SUFFIX)) return baseVersion;
  if (rest.startsWith(`${baseVersion}.`) || rest.startsWith(`${baseVersion}-`)) return baseVersion;
  const stem = baseVersion.slice(0, -SNAPSHOT_SUFFIX.length);
  const match = new RegExp(`^${escapeRegExp(stem)}-\\d{8}\\.\\d{6}-\\d+`).exec(rest);
  return match?.[0];
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `/org/example/widget`: the directory of an artifact's versions and its `maven-metadata.xml`. */
export const artifactDirectory = (groupId: string, artifactId: string): string => `/${groupId.split('.').join('/')}/${artifactId}`;
