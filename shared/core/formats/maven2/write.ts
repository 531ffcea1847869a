/**
 * Writing one Maven component to the target. A release goes in one component upload
 * (`maven2.groupId`/`artifactId`/`version` + `maven2.assetN` with its extension and
 * classifier), after which Nexus writes the checksums and rebuilds `maven-metadata.xml`.
 * A snapshot cannot: a snapshot repository refuses component uploads, and the API would
 * file a timestamped version under a directory of its own. So snapshot files go where the
 * maven client puts them (PUT in Maven layout, each with its `.sha1` and `.md5`), and the
 * metadata follows in finish.ts, last.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Maven2BundleEntry } from '../../../bundle/index.ts';
import type { Digest } from '../../../digest.ts';
import type { BlobSource, UploadForm } from '../../ports/index.ts';
import type { ImportDeps } from '../format.ts';
import type { PackageItem } from '../package/index.ts';
import { PomCoordinatesError } from './errors.ts';
import { pomCoordinates } from './metadata.ts';
import { isSnapshotVersion } from './path.ts';

/** A pom is a small document; one past this is not read for its coordinates. */
const MAX_POM_BYTES = 8 * 1024 * 1024;

/** Sidecars a maven client writes beside every file it deploys, and verifies on download. */
const SIDECARS = ['sha1', 'md5'] as const;

type Item = PackageItem<Maven2BundleEntry>;

export const gav = (entry: Maven2BundleEntry): string => `${entry.component.group ?? ''}:${entry.component.name}:${entry.component.version}`;

export const isSnapshot = (entry: Maven2BundleEntry): boolean => isSnapshotVersion(entry.maven.baseVersion) || isSnapshotVersion(entry.component.version);

export function textBlob(content: Buffer): BlobSource {
  return { size: content.length, open: async () => Readable.from([content]) };
}

const filenameOf = (path: string) => path.slice(path.lastIndexOf('/') + 1);

/** Writes one component (the items of one GAV): an upload for a release, PUTs for a snapshot. */
export async function writeComponent(deps: ImportDeps, items: Item[], blob: (digest: Digest) => Promise<BlobSource>): Promise<void> {
  if (items.length === 0) return;
  if (isSnapshot(items[0]!.entry)) {
    for (const item of items) await putFile(deps, item, blob);
    return;
  }
  await uploadRelease(deps, items, blob);
}

async function uploadRelease(deps: ImportDeps, items: Item[], blob: (digest: Digest) => Promise<BlobSource>): Promise<void> {
  const first = items[0]!;
  const { group, name, version } = first.entry.component;
  const form: UploadForm = {
    fields: [
      ['maven2.groupId', group ?? ''],
      ['maven2.artifactId', name],
      ['maven2.version', version],
    ],
    files: [],
  };
  for (const [i, { entry }] of items.entries()) {
    const key = `maven2.asset${i + 1}`;
    form.fields.push([`${key}.extension`, entry.maven.extension]);
    if (entry.maven.classifier !== null) form.fields.push([`${key}.classifier`, entry.maven.classifier]);
    form.files.push({ field: key, filename: filenameOf(entry.target.path), content: await blob(entry.digest) });
  }
  await deps.target.uploadComponent(first.repository, form, `${first.repository} ${gav(first.entry)}`);
}

/**
 * Nexus takes a component upload's coordinates from its pom: a release pom must declare
 * the coordinates of its path, or the component would land elsewhere. Read in the plan from
 * the held blob (a pom not at hand is reported missing by the plan anyway).
 */
export async function pomRefusal(item: Item, deps: ImportDeps): Promise<string | undefined> {
  const { entry, label } = item;
  if (entry.maven.extension !== 'pom' || entry.maven.classifier !== null || isSnapshot(entry)) return undefined;
  // Held blobs only: a verify-only run has the bundle's blobs checked but not kept, and the import run checks again.
  if ((await deps.held.statBlob(entry.digest)) === undefined) return undefined;
  const bytes = await readBounded(await deps.held.getBlob(entry.digest), MAX_POM_BYTES);
  if (bytes === undefined) return undefined;
  const declared = pomCoordinates(bytes);
  const expected = gav(entry);
  const found = declared === undefined ? undefined : `${declared.groupId}:${declared.artifactId}:${declared.version}`;
  return found === expected ? undefined : new PomCoordinatesError(label, expected, found).message;
}

/** The whole content when it is at most `maxBytes`, else undefined. */
async function readBounded(source: BlobSource, maxBytes: number): Promise<Buffer | undefined> {
  if (source.size > maxBytes) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of await source.open()) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** One file where the maven client deploys it, then its checksum sidecars. */
async function putFile(deps: ImportDeps, { entry, repository }: Item, blob: (digest: Digest) => Promise<BlobSource>): Promise<void> {
  const path = entry.target.path;
  await deps.target.putContent(repository, path, await blob(entry.digest), 'application/octet-stream');
  for (const algorithm of SIDECARS) {
    const hex = entry.checksums[algorithm];
    if (hex !== undefined) await deps.target.putContent(repository, `${path}.${algorithm}`, textBlob(Buffer.from(hex, 'utf8')), 'text/plain');
  }
}

/** A document (metadata) and its sidecars, computed from its bytes. */
export async function putDocument(deps: ImportDeps, repository: string, path: string, content: Buffer): Promise<void> {
  await deps.target.putContent(repository, path, textBlob(content), 'application/xml');
  for (const algorithm of SIDECARS) {
    const hex = createHash(algorithm).update(content).digest('hex');
    await deps.target.putContent(repository, `${path}.${algorithm}`, textBlob(Buffer.from(hex, 'utf8')), 'text/plain');
  }
}
