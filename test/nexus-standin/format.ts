/**
 * The small encodings Nexus uses on the wire: scrambled SQL ids and continuation tokens,
 * OrientDB-style entity ids, REST item ids, dates and content types.
 */
import { createHash } from 'node:crypto';

const SCRAMBLE = 1327217885n;
const MOD = 1n << 32n;
/** Multiplicative inverse of SCRAMBLE mod 2^32 (Newton iteration; SCRAMBLE is odd). */
const UNSCRAMBLE = (() => {
  let x = SCRAMBLE;
  for (let i = 0; i < 6; i++) x = (x * (2n - ((SCRAMBLE * x) % MOD) + MOD)) % MOD;
  return x;
})();

/** SQL store: internal integer id → its external hex form (also the continuation token). */
export function scrambleId(internalId: number): string {
  return ((BigInt(internalId) * SCRAMBLE) % MOD).toString(16);
}

/** Inverse of scrambleId; undefined when the text is not 1–8 hex digits. */
export function unscrambleId(hex: string): number | undefined {
  if (!/^[0-9a-fA-F]{1,8}$/.test(hex)) return undefined;
  return Number((BigInt(`0x${hex}`) * UNSCRAMBLE) % MOD);
}

/** OrientDB store: a stable 32-hex entity id (what 3.70-and-older tokens look like). */
export function orientEntityId(kind: 'component' | 'asset', internalId: number): string {
  return createHash('md5').update(`${kind}:${internalId}`).digest('hex');
}

/** REST item id: base64url, no padding, of "<repo>:<entity id>". */
export function restId(repository: string, entityId: string): string {
  return Buffer.from(`${repository}:${entityId}`, 'utf8').toString('base64url');
}

export function parseRestId(id: string): { repository: string; entityId: string } | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(id)) return undefined;
  const text = Buffer.from(id, 'base64url').toString('utf8');
  const colon = text.lastIndexOf(':');
  if (colon <= 0 || colon === text.length - 1) return undefined;
  return { repository: text.slice(0, colon), entityId: text.slice(colon + 1) };
}

/** `2025-01-15T10:20:30.123+00:00`, the format of Nexus 3.26+. */
export function nexusDate(date: Date): string {
  return date.toISOString().replace(/Z$/, '+00:00');
}

/** Normalises a repository path: one leading '/', no duplicate or trailing slashes. */
export function normalisePath(path: string): string {
  const collapsed = `/${path}`.replace(/\/{2,}/g, '/');
  return collapsed.length > 1 && collapsed.endsWith('/') ? collapsed.slice(0, -1) : collapsed;
}

/** True when a normalised path names a file Nexus would accept (no '.', '..', empty name, control character). */
export function isValidAssetPath(path: string): boolean {
  if (path === '/' || path.endsWith('/')) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return false;
  return path
    .slice(1)
    .split('/')
    .every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

/** The raw component coordinates Nexus derives from an asset path. */
export function rawCoordinates(path: string): { group: string; name: string } {
  const lastSlash = path.lastIndexOf('/');
  return { group: lastSlash <= 0 ? '/' : path.slice(0, lastSlash), name: path.slice(1) };
}

const CONTENT_TYPES: Record<string, string> = {
  txt: 'text/plain',
  md: 'text/plain',
  sha1: 'text/plain',
  sha256: 'text/plain',
  sha512: 'text/plain',
  md5: 'text/plain',
  html: 'text/html',
  json: 'application/json',
  xml: 'application/xml',
  pom: 'application/xml',
  yaml: 'text/x-yaml',
  yml: 'text/x-yaml',
  jar: 'application/java-archive',
  zip: 'application/zip',
  gz: 'application/x-gzip',
  tgz: 'application/x-gzip',
  tar: 'application/x-tar',
  iso: 'application/x-iso9660-image',
};

/** Content type from the file extension (Nexus sniffs with Tika; the extension is close enough). */
export function contentTypeFor(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  if (dot < 0) return 'application/octet-stream';
  return CONTENT_TYPES[name.slice(dot + 1).toLowerCase()] ?? 'application/octet-stream';
}
