/**
 * The three benchmark scenarios, each in its own two-sided world (source and target
 * docker-registry processes, a Nexus stand-in listing the source's tags), each measured
 * against skopeo on the same source registry. Nothing here asserts: numbers are returned.
 */
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
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
}

/**
 * `count` images, each one unique layer of `layerMiB` (on a shared base of `baseMiB` when
 * given), carried by Ferry (export --once, then import) and by skopeo (copy docker → oci
 * layout, then oci layout → a fresh registry), image by image, times summed.
 */
export async function transferScenario(ctx: Context, label: string, count: number, layerMiB: number, baseMiB: number): Promise<TransferResult> {
  const w = await world(ctx);
  const skopeoTarget = await registry(ctx);
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

  ctx.log(`${label}: ferry export --once`);
  const ferryExport = mustSucceed('ferry export', await measureFerry(['export', '--once', '--config', w.exportConfig], w.env, ctx.scratch));
  const files = await bundles(w);
  let bundleBytes = 0;
  for (const file of files) bundleBytes += (await stat(file)).size;
  ctx.log(`${label}: ferry import`);
  const ferryImport = mustSucceed('ferry import', await measureFerry(['import', '--config', w.importConfig, ...files], w.env, ctx.scratch));
  for (let i = 0; i < count; i++) {
    if ((await w.targetClient.headManifest(`bench/${label}-${i}`, '1.0.0')) === undefined) throw new Error(`ferry import: bench/${label}-${i}:1.0.0 missing on the target`);
  }
  // Ferry's staging and bundles are no longer needed: free the disk before skopeo writes.
  await rm(path.join(w.dir, 'export-work'), { recursive: true, force: true });

  ctx.log(`${label}: skopeo copy docker → oci, oci → docker`);
  const layout = path.join(dir, 'oci');
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
  await rm(dir, { recursive: true, force: true });
  return { images: count, setBytes, ferryExport, ferryImport, skopeoExport, skopeoImport, bundleBytes };
}

export function fmtBytes(n: number): string {
  if (n >= 1024 * MiB) return `${(n / (1024 * MiB)).toFixed(2)} GiB`;
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  return `${(n / 1024).toFixed(1)} KiB`;
}
