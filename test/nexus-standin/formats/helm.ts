/**
 * helm: `helm.asset` uploads (a chart `.tgz` or its `.tgz.prov`), stored as
 * `/<name>-<version>.tgz[.prov]` from the chart's own Chart.yaml; `PUT /repository/R/<file>`;
 * and `index.yaml`, rebuilt a moment after each write as Nexus does (debounced), so a
 * client that reads it at once sees the old index. Checksums: md5 and sha1 only.
 */
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { untgz } from '../archives.ts';
import { nexusDate } from '../format.ts';
import type { AssetWrite, StagedBlob, Store } from '../store.ts';
import type { FormatResult, StandinFormat } from './types.ts';

/** Nexus rebuilds index.yaml asynchronously after an upload ("about a second"). */
export const HELM_INDEX_DELAY_MS = 1000;

const EMPTY_INDEX = Buffer.from('apiVersion: v1\nentries: {}\n', 'utf8');

interface ChartIdentity {
  name: string;
  version: string;
  chart: Record<string, unknown>;
}

/** Chart.yaml of a chart archive (`<chart>/Chart.yaml`), or of a provenance file's signed body. */
async function identify(filename: string, content: Buffer): Promise<ChartIdentity | string> {
  let chart: Record<string, unknown>;
  try {
    if (filename.endsWith('.tgz.prov')) {
      const body = /-----BEGIN PGP SIGNED MESSAGE-----\r?\n(?:[^\n]*\n)*?\r?\n([\s\S]*?)\n\.\.\.\r?\n/.exec(content.toString('utf8'));
      chart = (parse(body?.[1] ?? '') ?? {}) as Record<string, unknown>;
    } else {
      const files = await untgz(content);
      const chartFile = [...files.entries()].find(([name]) => /^[^/]+\/Chart\.yaml$/.test(name));
      chart = (chartFile === undefined ? {} : parse(chartFile[1].toString('utf8')) ?? {}) as Record<string, unknown>;
    }
  } catch {
    chart = {};
  }
  const name = typeof chart['name'] === 'string' ? chart['name'] : '';
  const version = chart['version'] === undefined || chart['version'] === null ? '' : String(chart['version']);
  if (name.trim() === '') return 'Metadata is missing the name attribute';
  if (version.trim() === '') return 'Metadata is missing the version attribute';
  return { name, version, chart };
}

async function chartWrite(filename: string, blob: StagedBlob): Promise<AssetWrite | string> {
  if (!filename.endsWith('.tgz') && !filename.endsWith('.tgz.prov')) return 'Unsupported extension. Extension must be .tgz or .tgz.prov';
  const found = await identify(filename, readFileSync(blob.file));
  if (typeof found === 'string') return found;
  const provenance = filename.endsWith('.prov');
  return {
    path: `/${found.name}-${found.version}.tgz${provenance ? '.prov' : ''}`,
    blob,
    component: { group: '', name: found.name, version: found.version },
    attributes: { name: found.name, version: found.version, asset_kind: provenance ? 'HELM_PROVENANCE' : 'HELM_PACKAGE' },
    contentType: provenance ? 'application/octet-stream' : 'application/x-gzip',
    checksumKeys: ['sha1', 'md5'],
  };
}

/** The index Nexus would build now: every chart of the repository, newest version first per name. */
async function buildIndex(store: Store, repository: string): Promise<Buffer> {
  const entries: Record<string, Record<string, unknown>[]> = {};
  for (const asset of store.assets.values()) {
    if (asset.repository !== repository || !asset.path.endsWith('.tgz')) continue;
    const found = await identify(asset.path, readFileSync(asset.blobFile));
    if (typeof found === 'string') continue;
    (entries[found.name] ??= []).push({
      ...found.chart,
      name: found.name,
      version: found.version,
      created: nexusDate(asset.blobCreated),
      digest: asset.checksum.sha256,
      urls: [asset.path.slice(1)],
    });
  }
  return Buffer.from(stringify({ apiVersion: 'v1', entries, generated: nexusDate(store.now()) }), 'utf8');
}

/** Per stand-in and repository: the index clients read now, and the pending rebuild. */
const indexes = new WeakMap<Store, Map<string, { current: Buffer; timer?: NodeJS.Timeout }>>();

function indexState(store: Store, repository: string): { current: Buffer; timer?: NodeJS.Timeout } {
  let byRepository = indexes.get(store);
  if (byRepository === undefined) indexes.set(store, (byRepository = new Map()));
  let state = byRepository.get(repository);
  if (state === undefined) byRepository.set(repository, (state = { current: EMPTY_INDEX }));
  return state;
}

function single(result: AssetWrite | string): FormatResult {
  return typeof result === 'string' ? { errors: [result] } : { writes: [result] };
}

export const helmStandin: StandinFormat = {
  format: 'helm',
  uploadSpec: { format: 'helm', multipleUpload: false, componentFields: [], assetFields: [] },
  async upload(_ctx, _repo, form) {
    const unknown = [...form.fields.keys(), ...[...form.files.keys()].filter((name) => name !== 'helm.asset')];
    if (unknown.length > 0) return { errors: unknown.map((name) => `Unknown field name: ${name}`) };
    const file = form.files.get('helm.asset');
    if (file === undefined) return { errors: ['No assets found in upload'] };
    return single(await chartWrite(file.filename, file));
  },
  async put(_ctx, _repo, path, blob) {
    if (!/^\/[^/]+$/.test(path)) return { errors: [`Invalid path: ${path}`] };
    return single(await chartWrite(path.slice(1), blob));
  },
  async read(ctx, repo, path) {
    if (path !== '/index.yaml') return undefined;
    return { status: 200, contentType: 'text/x-yaml', body: indexState(ctx.store, repo.name).current };
  },
  written(ctx, repo) {
    const state = indexState(ctx.store, repo.name);
    clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      buildIndex(ctx.store, repo.name).then(
        (built) => {
          state.current = built;
        },
        // A blob replaced or the stand-in closed mid-rebuild: the next write rebuilds again.
        () => undefined,
      );
    }, HELM_INDEX_DELAY_MS);
    state.timer.unref();
  },
};
