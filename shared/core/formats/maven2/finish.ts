/**
 * After every write of a bundle: what Maven clients read must show every component carried.
 * Snapshots: Ferry writes the version-level `maven-metadata.xml` (which build each file
 * resolves to) and then the artifact-level one (the versions list), merged with what the
 * target has, as the maven client does after its files — the target does not make them
 * for a PUT. Releases: the target rebuilt the artifact-level metadata after the upload;
 * Ferry checks (waiting a bounded while) that it lists each version, else names the GAV.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Maven2BundleEntry } from '../../../bundle/index.ts';
import { forEachLimited } from '../../../concurrency.ts';
import type { EntryRefusal } from '../../import/errors.ts';
import type { ImportDeps } from '../format.ts';
import type { PackageItem } from '../package/index.ts';
import { MavenMetadataError } from './errors.ts';
import {
  mergeArtifactMetadata,
  mergeVersionMetadata,
  parseArtifactMetadata,
  parseVersionMetadata,
  renderArtifactMetadata,
  renderVersionMetadata,
  sameVersionMetadata,
  updatedOf,
  type ArtifactMetadata,
} from './metadata.ts';
import { artifactDirectory } from './path.ts';
import { gav, isSnapshot, putDocument } from './write.ts';

type Item = PackageItem<Maven2BundleEntry>;

/** maven-metadata.xml of an artifact with thousands of versions is still well under this. */
const MAX_METADATA_BYTES = 16 * 1024 * 1024;
const POLL_MS = 500;
/** Artifacts are independent of each other: their metadata is read and written this many at a time. */
const CONCURRENCY = 8;

function groupBy(items: Item[], key: (item: Item) => string): Map<string, Item[]> {
  const out = new Map<string, Item[]>();
  for (const item of items) {
    const k = key(item);
    const group = out.get(k);
    if (group === undefined) out.set(k, [item]);
    else group.push(item);
  }
  return out;
}

async function readMetadata<T>(deps: ImportDeps, repository: string, path: string, parse: (bytes: Buffer) => T): Promise<T | undefined> {
  const bytes = await deps.target.readContent(repository, path, MAX_METADATA_BYTES);
  if (bytes === undefined) return undefined;
  try {
    return parse(bytes);
  } catch (cause) {
    throw new MavenMetadataError(`${repository}${path}`, { cause });
  }
}

/** Which timestamped build each snapshot file resolves to, per snapshot base version. */
async function writeVersionMetadata(deps: ImportDeps, items: Item[]): Promise<void> {
  const byVersion = groupBy(items, ({ repository, entry }) => `${repository}\n${entry.component.group}\n${entry.component.name}\n${entry.maven.baseVersion}`);
  await forEachLimited([...byVersion.values()], CONCURRENCY, async (group) => {
    const { repository, entry } = group[0]!;
    const base = { groupId: entry.component.group ?? '', artifactId: entry.component.name, version: entry.maven.baseVersion };
    const path = `${artifactDirectory(base.groupId, base.artifactId)}/${base.version}/maven-metadata.xml`;
    const existing = await readMetadata(deps, repository, path, parseVersionMetadata);
    const files = group.map(({ entry: e }) => ({ classifier: e.maven.classifier, extension: e.maven.extension, value: e.component.version, updated: updatedOf(e.component.version) }));
    const merged = mergeVersionMetadata(existing, base, files);
    if (existing !== undefined && sameVersionMetadata(existing, merged)) return;
    await putDocument(deps, repository, path, renderVersionMetadata(merged));
  });
}

/** Reads the artifact-level metadata until it lists every one of `versions` or the wait is over. */
async function waitForVersions(deps: ImportDeps, repository: string, path: string, versions: string[]): Promise<ArtifactMetadata | undefined> {
  const deadline = Date.now() + (deps.indexWaitMs ?? 60_000);
  for (;;) {
    const metadata = await readMetadata(deps, repository, path, parseArtifactMetadata);
    const listed = new Set(metadata?.versions ?? []);
    if (versions.every((v) => listed.has(v)) || Date.now() >= deadline) return metadata;
    await sleep(POLL_MS);
  }
}

/** One artifact's versions list: releases checked, snapshots merged in and written. */
async function settleArtifact(deps: ImportDeps, group: Item[]): Promise<EntryRefusal[]> {
  const { repository, entry } = group[0]!;
  const base = { groupId: entry.component.group ?? '', artifactId: entry.component.name };
  const path = `${artifactDirectory(base.groupId, base.artifactId)}/maven-metadata.xml`;
  const releases = [...new Set(group.filter((i) => !isSnapshot(i.entry)).map((i) => i.entry.maven.baseVersion))];
  const snapshots = group.filter((i) => isSnapshot(i.entry));
  const metadata = await waitForVersions(deps, repository, path, releases);
  const listed = new Set(metadata?.versions ?? []);
  const problems: EntryRefusal[] = [];
  for (const version of releases.filter((v) => !listed.has(v))) {
    const first = group.find((i) => i.entry.maven.baseVersion === version)!;
    const waited = Math.round((deps.indexWaitMs ?? 60_000) / 1000);
    problems.push({
      index: first.index,
      entry: first.label,
      reason: `${gav(first.entry)}: ${repository}${path} ${metadata === undefined ? 'is not there' : `does not list version ${version}`} after the upload (waited ${waited} s; Nexus rebuilds it after a component upload)`,
    });
  }
  const missing = snapshots.filter((i) => !listed.has(i.entry.maven.baseVersion));
  if (missing.length > 0) {
    const updated = missing.map((i) => updatedOf(i.entry.component.version)).reduce((a, b) => (b > a ? b : a), '');
    const merged = mergeArtifactMetadata(metadata, base, missing.map((i) => i.entry.maven.baseVersion), updated);
    await putDocument(deps, repository, path, renderArtifactMetadata(merged));
  }
  return problems;
}

/** Every entry of the bundle (earlier runs' too): snapshot metadata written, every version listed. */
export async function finishMaven(deps: ImportDeps, items: Item[]): Promise<EntryRefusal[]> {
  await writeVersionMetadata(deps, items.filter((i) => isSnapshot(i.entry)));
  const problems: EntryRefusal[] = [];
  // The artifact-level metadata last: a client that sees a version there finds its files and builds.
  const artifacts = groupBy(items, ({ repository, entry }) => `${repository}\n${entry.component.group}\n${entry.component.name}`);
  await forEachLimited([...artifacts.values()], CONCURRENCY, async (group) => {
    problems.push(...(await settleArtifact(deps, group)));
  });
  return problems.sort((a, b) => a.index - b.index);
}
