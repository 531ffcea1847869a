/**
 * PyPI package metadata read the way Nexus reads it (`PyPiInfoUtils.extractMetadata`): the
 * archive is sniffed (gzip'd tar, else zip), its entries walked in archive order, and the
 * first metadata file wins — a wheel's `<x>.dist-info/METADATA`, an sdist's
 * `<x>/PKG-INFO` (or `<x>/<y>.egg-info/PKG-INFO`), an egg's `EGG-INFO/PKG-INFO`. The file
 * is RFC 822 headers: names lowercased with `-` → `_` (`Requires-Python` →
 * `requires_python`, `Classifier` → `classifiers`), repeated headers joined by newlines, and
 * a body after the headers taken as the description. Nothing found: an empty map (Nexus
 * then answers "Unable to extract PyPI metadata from provided archive.").
 * Nexus also reads bzip2/xz tars; Node has no bzip2, so the stand-in refuses those.
 */
import { unzip, untgz } from '../archives.ts';

/** The attributes Nexus copies from metadata (or upload fields) onto a package asset (`PyPiAttributes.SUPPORTED_ATTRIBUTES`). */
export const SUPPORTED_ATTRIBUTES = [
  'name',
  'version',
  'pyversion',
  'platform',
  'filetype',
  'description',
  'summary',
  'license',
  'keywords',
  'author',
  'author_email',
  'maintainer',
  'maintainer_email',
  'home_page',
  'download_url',
  'classifiers',
  'requires_dist',
  'provides_extra',
  'supported_platform',
  'provides_dist',
  'obsoletes_dist',
  'requires_python',
  'requires_external',
  'project_url',
  'generator',
] as const;

/** PEP 503 normalisation, as Nexus's `normalizeName`. */
export function normaliseName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

function isMetadataFile(name: string): boolean {
  const parts = name.split('/');
  const [first = '', second = '', third = ''] = parts;
  if (parts.length === 1) return first === 'EGG-INFO' || first.endsWith('.egg-info');
  if (parts.length === 2) return second === 'EGG-INFO' || second === 'PKG-INFO' || (first.endsWith('.dist-info') && second === 'METADATA');
  return parts.length === 3 && second.endsWith('.egg-info') && third === 'PKG-INFO';
}

/** RFC 822 headers and body of a PKG-INFO / METADATA file, as Nexus folds them into attributes. */
export function parsePackageInfo(text: string): Map<string, string> {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const values = new Map<string, string[]>();
  let last: string[] | undefined;
  let at = 0;
  for (; at < lines.length; at++) {
    const line = lines[at]!;
    if (line === '') break;
    if (/^[ \t]/.test(line) && last !== undefined) {
      last[last.length - 1] += `\n${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const underscored = line.slice(0, colon).toLowerCase().replace(/-/g, '_');
    const name = underscored === 'classifier' ? 'classifiers' : underscored;
    last = values.get(name) ?? [];
    values.set(name, last);
    last.push(line.slice(colon + 1).trim());
  }
  const out = new Map([...values].map(([name, list]) => [name, list.join('\n')]));
  const body = lines.slice(at + 1).join('\n').trim();
  if (!out.has('description') && body !== '') out.set('description', `${body.replace(/[ ]*\n[ ]*/g, '\n')}\n`);
  return out;
}

async function entriesOf(archive: Buffer): Promise<{ entries: Map<string, Buffer>; archiveType: string } | undefined> {
  try {
    if (archive[0] === 0x1f && archive[1] === 0x8b) return { entries: await untgz(archive), archiveType: 'tar.gz' };
    if (archive.readUInt32LE(0) === 0x04034b50) return { entries: unzip(archive), archiveType: 'zip' };
  } catch {
    // not an archive Nexus could read either
  }
  return undefined;
}

/** The archive's metadata plus `archive_type`, or an empty map when Nexus would find none. */
export async function extractMetadata(archive: Buffer): Promise<Map<string, string>> {
  const opened = archive.length >= 4 ? await entriesOf(archive) : undefined;
  if (opened === undefined) return new Map();
  for (const [name, content] of opened.entries) {
    if (!isMetadataFile(name)) continue;
    const metadata = parsePackageInfo(content.toString('utf8'));
    metadata.set('archive_type', opened.archiveType);
    return metadata;
  }
  return new Map();
}

/** The pypi block Nexus stores on a package asset: its kind, and the supported attributes that are not blank. */
export function packageAttributes(source: ReadonlyMap<string, string>): Record<string, string> {
  const attributes: Record<string, string> = { asset_kind: 'PACKAGE' };
  for (const name of SUPPORTED_ATTRIBUTES) {
    const value = source.get(name)?.trim() ?? '';
    if (value !== '') attributes[name] = value;
  }
  return attributes;
}
