/**
 * How npm and Nexus name things: a package (`@scope/name` from a component's group and
 * name), its tarball's path, its packument's and dist-tags' paths in the repository view,
 * and a tarball's Subresource Integrity string (`sha512-<base64>`).
 *
 * A scoped name goes to Nexus as `/@scope/name`: the client encodes each path segment
 * (`/%40scope/name`), and Nexus, which decodes the path before matching, routes it like the
 * `@scope%2fname` npm clients send (its routes have both `/{name}` and `/@{scope}/{name}`).
 */
import type { Checksums, ComponentCoordinates } from '../../ports/index.ts';

/** `@scope/pkg` or `pkg`: the group is the scope without its `@`. */
export const packageName = (component: Pick<ComponentCoordinates, 'group' | 'name'>): string =>
  component.group === null ? component.name : `@${component.group}/${component.name}`;

export interface TarballCoordinates {
  scope: string | null;
  name: string;
  version: string;
  /** `<name>-<version>.tgz`, the name Nexus stores the upload under. */
  filename: string;
}

const SCOPED = /^\/@([^/]+)\/([^/]+)\/-\/([^/]+)$/;
const UNSCOPED = /^\/([^/@-][^/]*)\/-\/([^/]+)$/;

/**
 * The package and version of `/<name>/-/<name>-<version>.tgz` or
 * `/@scope/<name>/-/<name>-<version>.tgz`; undefined for anything else (a packument).
 */
export function parseTarballPath(path: string): TarballCoordinates | undefined {
  const scoped = SCOPED.exec(path);
  const [scope, name, filename] = scoped !== null ? [scoped[1]!, scoped[2]!, scoped[3]!] : [null, ...(UNSCOPED.exec(path)?.slice(1) ?? [])];
  if (name === undefined || filename === undefined) return undefined;
  if (!filename.startsWith(`${name}-`) || !filename.endsWith('.tgz')) return undefined;
  const version = filename.slice(name.length + 1, -'.tgz'.length);
  return version === '' ? undefined : { scope, name, version, filename };
}

/** Where Nexus files an uploaded tarball: by the name and version in its package.json, which the component is. */
export const tarballPathOf = (component: ComponentCoordinates): string =>
  `/${packageName(component)}/-/${component.name}-${component.version}.tgz`;

/** The file name of an entry's tarball (the last segment of its path). */
export const tarballFilename = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/** Where clients read a package's packument (`GET`) and the npm API takes a publish snippet (`PUT`). */
export const packumentPath = (name: string): string => `/${name}`;

/** The npm dist-tag API for one tag (`PUT` with a JSON string body: the version). */
export const distTagPath = (name: string, tag: string): string => `/-/package/${name}/dist-tags/${tag}`;

const base64Of = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');

/** `sha512-<base64>` of a tarball whose sha512 is `sha512Hex`: npm's `dist.integrity`. */
export const integrityOf = (sha512Hex: string): string => `sha512-${base64Of(sha512Hex)}`;

/**
 * Why an SRI string (`sha512-… sha1-…`, options after `?` ignored) does not describe bytes with
 * these checksums, or undefined when every hash this side can compute matches. Hashes of
 * other algorithms are not checked.
 */
export function integrityMismatch(integrity: string, checksums: Checksums): string | undefined {
  const known: Record<string, string | undefined> = { sha512: checksums.sha512, sha256: checksums.sha256, sha1: checksums.sha1 };
  for (const token of integrity.trim().split(/\s+/)) {
    const dash = token.indexOf('-');
    const algorithm = token.slice(0, dash).toLowerCase();
    const hex = known[algorithm];
    if (dash <= 0 || hex === undefined) continue;
    const ours = base64Of(hex);
    const theirs = token.slice(dash + 1).split('?')[0];
    if (theirs !== ours) return `dist.integrity says ${algorithm}-${theirs}, the bytes are ${algorithm}-${ours}`;
  }
  return undefined;
}
