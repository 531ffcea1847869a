/**
 * The check after a PyPI import: what pip reads. Each project's PEP 503 page on the target
 * (`/simple/<normalised name>/`, which Nexus rebuilds on the next GET after an upload) must
 * link every carried file with a hash fragment that matches the carried bytes — Nexus
 * writes `#md5=`, PEP 503 indexes commonly `#sha256=`; whichever it is, pip verifies it on
 * download. A carried signature must be on the target byte for byte beside its file.
 */
import { createHash } from 'node:crypto';
import type { PypiBundleEntry } from '../../../bundle/index.ts';
import type { EntryRefusal } from '../../import/errors.ts';
import type { ImportDeps } from '../format.ts';
import type { PackageItem } from '../package/index.ts';
import { fileNameOf, indexPath, normaliseName } from './names.ts';

/** A project page lists every file of every version: large projects run to megabytes. */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;
/** An ASCII-armoured detached signature is well under a kilobyte; bound it generously. */
export const MAX_SIGNATURE_BYTES = 64 * 1024;

const HASH_NAMES = ['sha512', 'sha384', 'sha256', 'sha224', 'sha1', 'md5'] as const;

interface IndexLink {
  /** The link resolved against the page, percent-decoded: where pip downloads from. */
  path: string;
  hash: { name: string; value: string } | undefined;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'" };
const unescapeHtml = (text: string) => text.replace(/&(amp|lt|gt|quot|apos|#39);/g, (_, name: string) => ENTITIES[name] ?? '');

/** The links of a simple index page by file name (the href's last segment, as pip names them). */
export function parseSimpleIndex(html: string, pageUrlPath: string): Map<string, IndexLink> {
  const links = new Map<string, IndexLink>();
  for (const anchor of html.matchAll(/<a\s[^>]*?href\s*=\s*(?:"([^"]*)"|'([^']*)')[^>]*>/gi)) {
    const href = unescapeHtml(anchor[1] ?? anchor[2] ?? '');
    let url: URL;
    try {
      url = new URL(href, `http://index.invalid${pageUrlPath}`);
    } catch {
      continue; // not a link pip could follow either
    }
    const path = decodeURIComponent(url.pathname);
    const fragment = /^#([a-z0-9]+)=([0-9a-fA-F]+)$/.exec(url.hash);
    const hash = fragment !== null && (HASH_NAMES as readonly string[]).includes(fragment[1]!) ? { name: fragment[1]!, value: fragment[2]!.toLowerCase() } : undefined;
    const file = fileNameOf(path);
    if (file !== '' && !links.has(file)) links.set(file, { path, hash });
  }
  return links;
}

/** What the entry carries for a hash algorithm the index uses, or undefined when it carries none. */
function carried(entry: PypiBundleEntry, name: string): string | undefined {
  if (name === 'sha256') return entry.digest.slice(7);
  if (name === 'md5' || name === 'sha1' || name === 'sha512') return entry.checksums[name];
  return undefined;
}

/** Why the page does not show the entry as carried, or undefined when it does. */
function linkProblem(entry: PypiBundleEntry, page: string, links: Map<string, IndexLink>): string | undefined {
  const file = fileNameOf(entry.target.path);
  const link = links.get(file);
  if (link === undefined) return `${page} does not list ${file}`;
  if (!link.path.endsWith(entry.target.path)) return `${page} links ${file} to ${link.path}, not to ${entry.target.path}`;
  if (link.hash === undefined) return `${page} lists ${file} without a hash fragment, so pip cannot verify it`;
  const expected = carried(entry, link.hash.name);
  if (expected === undefined) return `${page} lists ${file} with a ${link.hash.name} hash, which the bundle does not carry for it`;
  if (expected !== link.hash.value) return `${page} lists ${file} with ${link.hash.name} ${link.hash.value}, not ${expected} as carried`;
  return undefined;
}

/** Why the target's copy of the entry's signature is not the carried one, or undefined when it is. */
async function signatureProblem(deps: ImportDeps, item: PackageItem<PypiBundleEntry>): Promise<string | undefined> {
  const { entry, repository } = item;
  if (entry.signature === null) return undefined;
  const path = `${entry.target.path}.asc`;
  const bytes = await deps.target.readContent(repository, path, MAX_SIGNATURE_BYTES);
  // Nexus takes a signature only together with its file (twine's upload): a file that was there before without one keeps lacking it.
  if (bytes === undefined) return `the signature ${repository}${path} is not on the target (a file already there is not re-uploaded; Nexus takes a signature only with its file)`;
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (digest !== entry.signature.digest) return `the signature ${repository}${path} is ${digest}, not ${entry.signature.digest} as carried`;
  return undefined;
}

/** Every entry whose project page or signature on the target does not show it as carried. */
export async function checkSimpleIndexes(deps: ImportDeps, items: PackageItem<PypiBundleEntry>[]): Promise<EntryRefusal[]> {
  const byPage = new Map<string, PackageItem<PypiBundleEntry>[]>();
  for (const item of items) {
    const key = `${item.repository}\n${normaliseName(item.entry.component.name)}`;
    byPage.set(key, [...(byPage.get(key) ?? []), item]);
  }
  const problems: EntryRefusal[] = [];
  for (const group of byPage.values()) {
    const { repository, entry } = group[0]!;
    const path = indexPath(entry.component.name);
    const page = `${repository}${path}`;
    const html = await deps.target.readContent(repository, path, MAX_INDEX_BYTES);
    const links = html === undefined ? undefined : parseSimpleIndex(html.toString('utf8'), path);
    for (const item of group) {
      const reason = links === undefined ? `${page} is not there (404): pip cannot find the project` : (linkProblem(item.entry, page, links) ?? (await signatureProblem(deps, item)));
      if (reason !== undefined) problems.push({ index: item.index, entry: item.label, reason });
    }
  }
  return problems;
}
