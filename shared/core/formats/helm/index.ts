/**
 * The helm format: charts (`/<name>-<version>.tgz`) and their provenance files
 * (`.tgz.prov`), each uploaded with `helm.asset`. Nexus publishes only md5 and sha1 for
 * them, so the copy verifies sha1 and computes the sha256 in the same pass. Helm clients
 * read `index.yaml`, which Nexus rebuilds a moment after an upload: the import waits for it
 * (bounded) to list every chart with the bytes Ferry carried.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'yaml';
import type { PackageBundleEntry } from '../../../bundle/index.ts';
import type { EntryRefusal } from '../../import/errors.ts';
import type { ComponentCoordinates, SourceAsset, SourceComponent } from '../../ports/index.ts';
import type { ImportDeps } from '../format.ts';
import { packageFormat, type PackageItem, type PackageSpec } from '../package/index.ts';

type HelmEntry = Extract<PackageBundleEntry, { kind: 'helm' }>;

/** `/<name>-<version>.tgz` or `.tgz.prov`; the version starts at the first `-<digit>`, as chart names rarely hold one. */
const CHART_PATH = /^\/([^/]+?)-(\d[^/]*?)\.tgz(\.prov)?$/;

const POLL_MS = 500;
/** index.yaml of a large chart repository runs to megabytes; beyond this something is wrong. */
const MAX_INDEX_BYTES = 256 * 1024 * 1024;

function identify(asset: SourceAsset, component: SourceComponent | undefined): { component: ComponentCoordinates } | undefined {
  const match = CHART_PATH.exec(asset.path);
  if (match === null) return undefined; // index.yaml and anything else Nexus generates
  if (component !== undefined && component.version !== null) return { component: { group: null, name: component.name, version: component.version } };
  return { component: { group: null, name: match[1]!, version: match[2]! } };
}

const isProvenance = (entry: HelmEntry) => entry.target.path.endsWith('.prov');

/** What `index.yaml` says of each chart version: the digest (sha256 hex) of its `.tgz`. */
function listedDigests(text: string): Map<string, string | undefined> {
  const index = parse(text) as { entries?: Record<string, { version?: unknown; digest?: unknown }[] | null> } | null;
  const listed = new Map<string, string | undefined>();
  for (const [name, versions] of Object.entries(index?.entries ?? {})) {
    for (const chart of versions ?? []) listed.set(`${name} ${String(chart.version)}`, typeof chart.digest === 'string' ? chart.digest : undefined);
  }
  return listed;
}

/** Waits (up to indexWaitMs; Nexus debounces the rebuild) until every chart of this bundle is in its repository's index with the carried digest. */
async function waitForIndex(deps: ImportDeps, items: PackageItem<HelmEntry>[]): Promise<EntryRefusal[]> {
  const charts = items.filter((item) => !isProvenance(item.entry));
  const byRepository = new Map<string, PackageItem<HelmEntry>[]>();
  for (const item of charts) byRepository.set(item.repository, [...(byRepository.get(item.repository) ?? []), item]);
  const problems: EntryRefusal[] = [];
  const waitMs = deps.indexWaitMs ?? 60_000;
  for (const [repository, waiting] of byRepository) {
    const deadline = Date.now() + waitMs;
    let pending = waiting;
    let listed = new Map<string, string | undefined>();
    for (;;) {
      const text = await deps.target.readContent(repository, '/index.yaml', MAX_INDEX_BYTES);
      listed = text === undefined ? new Map() : listedDigests(text.toString('utf8'));
      pending = pending.filter(({ entry }) => listed.get(`${entry.component.name} ${entry.component.version}`) !== entry.digest.slice(7));
      if (pending.length === 0 || Date.now() >= deadline) break;
      await sleep(POLL_MS);
    }
    for (const item of pending) {
      const { name, version } = item.entry.component;
      const digest = listed.get(`${name} ${version}`);
      const what = digest === undefined ? `does not list chart ${name} ${version}` : `lists chart ${name} ${version} with digest ${digest}, not ${item.entry.digest.slice(7)}`;
      problems.push({ index: item.index, entry: item.label, reason: `${repository}/index.yaml ${what} (waited ${Math.round(waitMs / 1000)} s; Nexus rebuilds it a moment after an upload)` });
    }
  }
  return problems;
}

const helmSpec: PackageSpec<HelmEntry> = {
  format: 'helm',
  identify,
  entryFields: async () => ({}),
  coordinates: (entry) => `chart ${entry.component.name} ${entry.component.version}${isProvenance(entry) ? ' (provenance)' : ''}`,
  write: async (deps, items, blob) => {
    for (const { entry, repository, label } of items) {
      const filename = entry.target.path.slice(entry.target.path.lastIndexOf('/') + 1);
      await deps.target.uploadComponent(repository, { fields: [], files: [{ field: 'helm.asset', filename, content: await blob(entry.digest) }] }, label);
    }
  },
  finish: (deps, items) => waitForIndex(deps, items),
};

export const helmFormat = packageFormat(helmSpec);
