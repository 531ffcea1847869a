/**
 * The three benchmark scenarios, each in its own two-sided world (source and target
 * docker-registry processes, a Nexus stand-in listing the source's tags), each measured
 * against skopeo on the same source registry. Nothing here asserts: numbers are returned.
 */
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { RegistryClient } from '../shared/adapters/registry/index.ts';
import { readBundleSummary } from '../shared/bundle/index.ts';
import { makeImageWorld, type ImageWorld } from '../test/support/image-world.ts';
import { startRegistry, type TestRegistry } from '../test/support/registry.ts';
import { dropLayerFile, imageBytes, makeBenchImage, makeFileLayer, pushBenchImage, type BenchImage, type FileLayer } from './generate.ts';
import { duBytes, measureFerry, measureSkopeo, mustSucceed, type Measured } from './measure.ts';

const MiB = 1024 * 1024;

export interface Context {
  scale: number;
  /** Scratch space under os.tmpdir(), removed at the end. */
  scratch: string;
  /** Registers a cleanup run at the end or on Ctrl-C (last registered runs first). */
  defer(cleanup: () => Promise<unknown>): void;
  log(message: string): void;
}

/** Scaled size in bytes, never below 64 KiB. */
function bytes(ctx: Context, mib: number): number {
  return Math.max(64 * 1024, Math.round(mib * MiB * ctx.scale));
}

async function world(ctx: Context): Promise<ImageWorld> {
  const w = await makeImageWorld();
  ctx.defer(() => w.close());
  return w;
}

async function registry(ctx: Context): Promise<TestRegistry> {
  const r = await startRegistry();
  ctx.defer(() => r.close());
  return r;
}

async function publish(w: ImageWorld, name: string, tag: string, image: BenchImage): Promise<void> {
  await pushBenchImage(w.sourceClient, name, tag, image);
  w.nexus.putDockerTag('docker-hosted', name, tag, image.manifest.bytes, image.manifest.mediaType);
}

async function bundles(w: ImageWorld): Promise<string[]> {
  const names = await readdir(w.bundlesDir).catch(() => [] as string[]);
  return names.filter((f) => f.endsWith('.tar')).sort().map((f) => path.join(w.bundlesDir, f));
}

/** Runs `tasks` with at most `limit` in flight (generation and pushes use both cores). */
async function inParallel<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

const skopeoCopyArgs = (src: string, dest: string) => ['copy', '--all', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', src, dest];

// ───────────────────────────── 1. incremental delta ─────────────────────────────

export interface DeltaResult {
  images: number;
  uniqueNew: number;
  included: number;
  tarSize: number;
  skopeoDir: number;
  requiredCount: number;
  secondExport: Measured;
}

export async function deltaScenario(ctx: Context): Promise<DeltaResult> {
  const w = await world(ctx);
  const dir = await mkdtemp(path.join(ctx.scratch, 'delta-'));
  const images = 10;
  ctx.log(`delta: ${images} images on 2 shared base layers (${fmtBytes(2 * bytes(ctx, 16))}), then 3 new tags`);
  const base = await inParallel(2, [0, 1].map((i) => () => makeFileLayer(dir, `base-${i}`, bytes(ctx, 16))));
  await inParallel(
    2,
    Array.from({ length: images }, (_, i) => async () => {
      const own = await makeFileLayer(dir, `app-${i}`, bytes(ctx, 2));
      await publish(w, `bench/app-${i}`, '1.0.0', makeBenchImage([...base, own], `app-${i}`));
      await dropLayerFile(own);
    }),
  );
  mustSucceed('ferry export (first)', await measureFerry(['export', '--once', '--config', w.exportConfig], w.env, ctx.scratch));
  const first = await bundles(w);
  mustSucceed('ferry import (first)', await measureFerry(['import', '--config', w.importConfig, ...first], w.env, ctx.scratch));

  const added: { tag: string; image: BenchImage }[] = [];
  for (let i = 0; i < 3; i++) {
    const own = await makeFileLayer(dir, `new-${i}`, bytes(ctx, 8));
    const image = makeBenchImage([...base, own], `new-${i}`);
    await publish(w, 'bench/app-0', `2.${i}.0`, image);
    await dropLayerFile(own);
    added.push({ tag: `2.${i}.0`, image });
  }
  const uniqueNew = added.reduce((n, { image }) => n + image.layers.at(-1)!.size + image.config.bytes.length + image.manifest.bytes.length, 0);
  const secondExport = mustSucceed('ferry export (second)', await measureFerry(['export', '--once', '--config', w.exportConfig], w.env, ctx.scratch));
  const fresh = (await bundles(w)).filter((f) => !first.includes(f));
  if (fresh.length === 0) throw new Error('the second export sealed no bundle');
  let included = 0;
  let tarSize = 0;
  let requiredCount = 0;
  for (const file of fresh) {
    const summary = await readBundleSummary(createReadStream(file), path.basename(file));
    included += summary.manifest.blobs.included.reduce((n, b) => n + b.size, 0);
    requiredCount += summary.manifest.blobs.required.length;
    tarSize += (await stat(file)).size;
  }
  mustSucceed('ferry import (second)', await measureFerry(['import', '--config', w.importConfig, ...fresh], w.env, ctx.scratch));

  // skopeo: each new tag synced by its own reference into one dir (dir transport, scoped).
  const syncDir = path.join(dir, 'skopeo-sync');
  await mkdir(syncDir);
  for (const { tag } of added) {
    mustSucceed(
      `skopeo sync ${tag}`,
      await measureSkopeo(['sync', '--src', 'docker', '--dest', 'dir', '--scoped', '--all', '--src-tls-verify=false', `${w.source.host}/bench/app-0:${tag}`, syncDir]),
    );
  }
  const skopeoDir = await duBytes(syncDir);
  await Promise.all([...base.map(dropLayerFile), rm(dir, { recursive: true, force: true })]);
  return { images, uniqueNew, included, tarSize, skopeoDir, requiredCount, secondExport };
}

// ───────────────────────────── 2 and 3. throughput, peak RSS ─────────────────────────────

export interface TransferResult {
  images: number;
  /** Bytes of the image set: every distinct layer, config and manifest. */
  setBytes: number;
  ferryExport: Measured;
  ferryImport: Measured;
  skopeoExport: { seconds: number; peakRss: number };
  skopeoImport: { seconds: number; peakRss: number };
  bundleBytes: number;
  /** Rounds measured; times are their medians, peak RSS their highest. */
  rounds: number;
}

/**
 * `count` images, each one unique layer of `layerMiB` (on a shared base of `baseMiB` when
 * given), carried by Ferry (export --once, then import) and by skopeo (copy docker → oci
 * layout, then oci layout → a fresh registry), image by image, times summed.
 *
 * `rounds` times in turn — Ferry's export and import, then skopeo's — each round from a
 * fresh export state, fresh import state and fresh target registries; each time is the
 * median of its rounds, each peak RSS the highest. On a shared 2-vCPU machine one run of a
 * 6-second copy scatters by ±20 %, more than the difference measured.
 */
export async function transferScenario(ctx: Context, label: string, count: number, layerMiB: number, baseMiB: number, rounds = 1): Promise<TransferResult> {
  const w = await world(ctx);
  const dir = await mkdtemp(path.join(ctx.scratch, `${label}-`));
  const base: FileLayer[] = baseMiB > 0 ? [await makeFileLayer(dir, `${label}-base`, bytes(ctx, baseMiB))] : [];
  ctx.log(`${label}: generating and pushing ${count} × ${fmtBytes(bytes(ctx, layerMiB))} layers`);
  const started = Date.now();
  const images = await inParallel(
    2,
    Array.from({ length: count }, (_, i) => async () => {
      const own = await makeFileLayer(dir, `${label}-${i}`, bytes(ctx, layerMiB));
      const image = makeBenchImage([...base, own], `${label}-${i}`);
      await publish(w, `bench/${label}-${i}`, '1.0.0', image);
      await dropLayerFile(own);
      return image;
    }),
  );
  await Promise.all(base.map(dropLayerFile));
  const setBytes = images.reduce((n, image) => n + imageBytes(image), 0) - (count - 1) * base.reduce((n, l) => n + l.size, 0);
  ctx.log(`${label}: ${fmtBytes(setBytes)} published in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const measured: TransferRound[] = [];
  for (let round = 1; round <= rounds; round++) measured.push(await transferRound(ctx, w, dir, label, count, rounds > 1 ? ` (round ${round} of ${rounds})` : ''));
  await rm(dir, { recursive: true, force: true });
  const median = <K extends 'ferryExport' | 'ferryImport' | 'skopeoExport' | 'skopeoImport'>(key: K): TransferRound[K] => {
    const sorted = measured.map((m) => m[key]).sort((a, b) => a.seconds - b.seconds);
    return { ...sorted[Math.floor((sorted.length - 1) / 2)]!, peakRss: Math.max(...measured.map((m) => m[key].peakRss)) };
  };
  return {
    images: count,
    setBytes,
    ferryExport: median('ferryExport'),
    ferryImport: median('ferryImport'),
    skopeoExport: median('skopeoExport'),
    skopeoImport: median('skopeoImport'),
    bundleBytes: measured[0]!.bundleBytes,
    rounds,
  };
}

interface TransferRound {
  ferryExport: Measured;
  ferryImport: Measured;
  skopeoExport: { seconds: number; peakRss: number };
  skopeoImport: { seconds: number; peakRss: number };
  bundleBytes: number;
}

/** One round: Ferry's export and import into a fresh target registry, then skopeo's, each from nothing. */
async function transferRound(ctx: Context, w: ImageWorld, dir: string, label: string, count: number, which: string): Promise<TransferRound> {
  // A fresh export: no state, no staged blobs, no bundles.
  await Promise.all(['export-work', 'bundles'].map((d) => rm(path.join(w.dir, d), { recursive: true, force: true })));
  ctx.log(`${label}: ferry export --once${which}`);
  const ferryExport = mustSucceed('ferry export', await measureFerry(['export', '--once', '--config', w.exportConfig], w.env, ctx.scratch));
  const files = await bundles(w);
  let bundleBytes = 0;
  for (const file of files) bundleBytes += (await stat(file)).size;

  // A fresh import: its own state and receipts, into a registry of its own.
  const target = await registry(ctx);
  const round = path.basename(await mkdtemp(path.join(w.dir, 'round-')));
  const config = parse(await readFile(w.importConfig, 'utf8')) as { target: { registries: Record<string, { url: string }> }; workDir: string; receipts: { directory: string } };
  config.target.registries['docker-hosted']!.url = target.url;
  Object.assign(config, { workDir: path.join(round, 'import-work'), receipts: { directory: path.join(round, 'receipts') } });
  // Beside the original: its relative paths (trusted keys, work directory) resolve from w.dir.
  const importConfig = path.join(w.dir, `${round}.yaml`);
  await writeFile(importConfig, stringify(config));
  ctx.log(`${label}: ferry import${which}`);
  const ferryImport = mustSucceed('ferry import', await measureFerry(['import', '--config', importConfig, ...files], w.env, ctx.scratch));
  const targetClient = new RegistryClient({ baseUrl: target.url });
  for (let i = 0; i < count; i++) {
    if ((await targetClient.headManifest(`bench/${label}-${i}`, '1.0.0')) === undefined) throw new Error(`ferry import: bench/${label}-${i}:1.0.0 missing on the target`);
  }
  await targetClient.close();
  // Ferry's staging and bundles are no longer needed: free the disk before skopeo writes.
  await Promise.all(['export-work', 'bundles', round, `${round}.yaml`].map((d) => rm(path.join(w.dir, d), { recursive: true, force: true })));
  await target.close();

  ctx.log(`${label}: skopeo copy docker → oci, oci → docker${which}`);
  const skopeoTarget = await registry(ctx);
  const layout = await mkdtemp(path.join(dir, 'oci-'));
  const skopeoExport = { seconds: 0, peakRss: 0 };
  const skopeoImport = { seconds: 0, peakRss: 0 };
  for (let i = 0; i < count; i++) {
    const m = mustSucceed('skopeo copy (export)', await measureSkopeo(skopeoCopyArgs(`docker://${w.source.host}/bench/${label}-${i}:1.0.0`, `oci:${layout}:${label}-${i}`)));
    skopeoExport.seconds += m.seconds;
    skopeoExport.peakRss = Math.max(skopeoExport.peakRss, m.peakRss);
  }
  for (let i = 0; i < count; i++) {
    const m = mustSucceed('skopeo copy (import)', await measureSkopeo(skopeoCopyArgs(`oci:${layout}:${label}-${i}`, `docker://${skopeoTarget.host}/bench/${label}-${i}:1.0.0`)));
    skopeoImport.seconds += m.seconds;
    skopeoImport.peakRss = Math.max(skopeoImport.peakRss, m.peakRss);
  }
  await rm(layout, { recursive: true, force: true });
  await skopeoTarget.close();
  return { ferryExport, ferryImport, skopeoExport, skopeoImport, bundleBytes };
}

export function fmtBytes(n: number): string {
  if (n >= 1024 * MiB) return `${(n / (1024 * MiB)).toFixed(2)} GiB`;
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  return `${(n / 1024).toFixed(1)} KiB`;
}
