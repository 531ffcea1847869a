/**
 * `npm run bench`: Ferry against skopeo on real docker-registry processes, in one run; a
 * Maven repository of 2,000 components beside a raw one of the same files (components.ts);
 * the Lambda bundles' sizes and cold-start load times (lambdas.ts); a scan of 100,000
 * components and a state of 1,000,000 known blobs (scale.ts); and the AWS cost per 10,000
 * artifacts (cost.ts).
 * Prints one table (metric, ferry, skopeo, ratio, goal) and the machine it ran on.
 * Not a test: nothing fails on a missed goal; the table says so.
 *
 *   BENCH_SCALE=0.25 npm run bench     # every size × 0.25, for a quick run
 */
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { buildCli } from '../scripts/build-cli.ts';
import { componentsScenario, type ComponentsResult } from './components.ts';
import { costRows } from './cost.ts';
import { lambdaRows } from './lambdas.ts';
import { blobScaleRows, scanScaleRows } from './scale.ts';
import { measureFerry, running, skopeoVersion } from './measure.ts';
import { deltaScenario, fmtBytes, transferScenario, type Context, type DeltaResult, type TransferResult } from './scenarios.ts';
import { ferryRow, MB, mb, rate, table, times, verdict, type Row } from './table.ts';

const scale = Number(process.env.BENCH_SCALE ?? '1');
/** Rounds of each transfer scenario: one 6-second copy on a shared 2-vCPU machine scatters by ±20 %. */
const TRANSFER_ROUNDS = 3;
if (!Number.isFinite(scale) || scale <= 0) {
  process.stderr.write(`BENCH_SCALE must be a positive number, got ${JSON.stringify(process.env.BENCH_SCALE)}\n`);
  process.exit(2);
}

const cleanups: (() => Promise<unknown>)[] = [];
let cleaning: Promise<void> | undefined;
/** Runs every registered cleanup once; callers racing in (Ctrl-C, a failing run) share it. */
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  })();
  return cleaning;
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping children and removing temp data…\n`);
    for (const child of running) child.kill('SIGKILL');
    void cleanUp().finally(() => process.exit(130));
  });
}

const benchStart = Date.now();
const log = (message: string) => process.stderr.write(`[${((Date.now() - benchStart) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);

function deltaRows(d: DeltaResult): Row[] {
  const included = d.included / d.uniqueNew;
  const tar = d.tarSize / d.uniqueNew;
  return [
    {
      metric: `delta: 2nd bundle blobs.included ÷ unique new (3 layers+configs+manifests = ${mb(d.uniqueNew)})`,
      ferry: mb(d.included),
      skopeo: '',
      ratio: times(included, 4),
      goal: `≤ 1.01 ${verdict(included <= 1.01)}`,
    },
    {
      metric: `delta: 2nd bundle tar file ÷ unique new (${d.requiredCount} base blobs listed as required)`,
      ferry: mb(d.tarSize),
      skopeo: '',
      ratio: times(tar, 4),
      goal: `≤ 1.01 ${verdict(tar <= 1.01)}`,
    },
    {
      metric: 'delta: bundle tar ÷ skopeo sync --scoped --all → dir, each new tag synced alone (du -sb)',
      ferry: mb(d.tarSize),
      skopeo: mb(d.skopeoDir),
      ratio: times(d.tarSize / d.skopeoDir, 3),
      goal: '',
    },
  ];
}

/** Transfer rows are medians of rounds measured in turn (see transferScenario). */
function roundsWords(t: TransferResult): string {
  return t.rounds > 1 ? `; median of ${t.rounds} rounds` : '';
}

function throughputRows(t: TransferResult): Row[] {
  const what = `${t.images} images, ${fmtBytes(t.setBytes)}${roundsWords(t)}`;
  const exportRatio = t.skopeoExport.seconds / t.ferryExport.seconds;
  const importRatio = t.skopeoImport.seconds / t.ferryImport.seconds;
  return [
    {
      metric: `export throughput: ferry export --once ÷ skopeo copy docker→oci: (${what})`,
      ferry: rate(t.setBytes, t.ferryExport.seconds),
      skopeo: rate(t.setBytes, t.skopeoExport.seconds),
      ratio: times(exportRatio),
      goal: `≥ 1.0× ${verdict(exportRatio >= 1)}`,
    },
    {
      metric: `import throughput: ferry import ÷ skopeo copy oci:→docker (${what})`,
      ferry: rate(t.setBytes, t.ferryImport.seconds),
      skopeo: rate(t.setBytes, t.skopeoImport.seconds),
      ratio: times(importRatio),
      goal: `≥ 1.0× ${verdict(importRatio >= 1)}`,
    },
  ];
}

function rssRows(r: TransferResult): Row[] {
  const goal = 100 * MB;
  const exportRatio = r.skopeoExport.seconds / r.ferryExport.seconds;
  const importRatio = r.skopeoImport.seconds / r.ferryImport.seconds;
  const what = `1 layer of ${fmtBytes(r.setBytes)}${roundsWords(r)}`;
  return [
    {
      metric: `peak RSS: ferry export --once vs skopeo copy docker→oci: (${what})`,
      ferry: mb(r.ferryExport.peakRss),
      skopeo: mb(r.skopeoExport.peakRss),
      ratio: times(r.ferryExport.peakRss / r.skopeoExport.peakRss),
      goal: `≤ 100 MB ${verdict(r.ferryExport.peakRss <= goal)}`,
    },
    {
      metric: `peak RSS: ferry import vs skopeo copy oci:→docker (${what})`,
      ferry: mb(r.ferryImport.peakRss),
      skopeo: mb(r.skopeoImport.peakRss),
      ratio: times(r.ferryImport.peakRss / r.skopeoImport.peakRss),
      goal: `≤ 100 MB ${verdict(r.ferryImport.peakRss <= goal)}`,
    },
    {
      metric: `  same runs, throughput: export (${what})`,
      ferry: rate(r.setBytes, r.ferryExport.seconds),
      skopeo: rate(r.setBytes, r.skopeoExport.seconds),
      ratio: times(exportRatio),
      goal: `≥ 1.0× ${verdict(exportRatio >= 1)}`,
    },
    {
      metric: `  same runs, throughput: import (${what})`,
      ferry: rate(r.setBytes, r.ferryImport.seconds),
      skopeo: rate(r.setBytes, r.skopeoImport.seconds),
      ratio: times(importRatio),
      goal: `≥ 1.0× ${verdict(importRatio >= 1)}`,
    },
  ];
}

/** Maven beside raw on the same files: components per second and requests per component, both ways. */
function componentRows(maven: ComponentsResult, raw: ComponentsResult): Row[] {
  const perSecond = (r: ComponentsResult, m: { seconds: number }) => `${(r.components / m.seconds).toFixed(0)} comp/s (${m.seconds.toFixed(1)} s)`;
  const perComponent = (r: ComponentsResult, requests: number) => `${(requests / r.components).toFixed(2)} req/comp`;
  const what = `${maven.components} components, ${maven.files} files; beside: raw, the same ${raw.files} files`;
  return [
    {
      metric: `components: maven2 export vs raw export (${what})`,
      ferry: `${perSecond(maven, maven.export)}, ${perComponent(maven, maven.exportRequests)}`,
      skopeo: `raw: ${perSecond(raw, raw.export)}, ${perComponent(raw, raw.exportRequests)}`,
      ratio: times(raw.export.seconds / maven.export.seconds),
      goal: '',
    },
    {
      metric: `components: maven2 import vs raw import (${what})`,
      ferry: `${perSecond(maven, maven.import)}, ${perComponent(maven, maven.importRequests)}`,
      skopeo: `raw: ${perSecond(raw, raw.import)}, ${perComponent(raw, raw.importRequests)}`,
      ratio: times(raw.import.seconds / maven.import.seconds),
      goal: '',
    },
  ];
}

// ───────────────────────────── run ─────────────────────────────

async function main(): Promise<void> {
  await buildCli();
  const scratch = await mkdtemp(path.join(tmpdir(), 'ferry-bench-'));
  cleanups.push(() => rm(scratch, { recursive: true, force: true }));
  const ctx: Context = { scale, scratch, defer: (cleanup) => cleanups.push(cleanup), log };
  const rows: Row[] = [];
  const failures: string[] = [];
  const attempt = async (name: string, body: () => Promise<Row[]>) => {
    const mark = cleanups.length;
    try {
      rows.push(...(await body()));
    } catch (error) {
      if (interrupted) throw error;
      failures.push(`${name}: ${(error as Error).message}`);
      rows.push({ metric: `${name}: FAILED (see below)`, ferry: '', skopeo: '', ratio: '', goal: '' });
    } finally {
      // Each scenario's registries and worlds go as soon as it is done: disk and memory.
      for (const cleanup of cleanups.splice(mark).reverse()) await cleanup().catch(() => undefined);
    }
  };

  await attempt('delta', async () => deltaRows(await deltaScenario(ctx)));
  await attempt('throughput', async () => throughputRows(await transferScenario(ctx, 'tp', 8, 128, 8, TRANSFER_ROUNDS)));
  await attempt('peak RSS', async () => rssRows(await transferScenario(ctx, 'rss', 1, 1024, 0, TRANSFER_ROUNDS)));
  await attempt('components', async () => componentRows(await componentsScenario(ctx, 'maven2', 2000), await componentsScenario(ctx, 'raw', 2000)));
  await attempt('start-up floor', async () => {
    // What the process costs before it moves a byte: the floor under the RSS rows above.
    // (skopeo --version exits before a 50 ms sampler sees it: no skopeo column here.)
    const ferry = await measureFerry(['--help'], process.env, scratch);
    return [ferryRow('peak RSS floor: ferry --help (start-up from dist/ferry.js, no transfer)', mb(ferry.peakRss), `≤ 60 MB ${verdict(ferry.peakRss <= 60 * MB)}`)];
  });
  await attempt('lambda bundles', () => lambdaRows(ctx));
  await attempt('scan scale', () => scanScaleRows(ctx));
  await attempt('blob scale', () => blobScaleRows(ctx));
  // The count per artifact is what scales: a few hundred artifacts price 10,000 as well as 1,000 do.
  await attempt('cost', () => costRows({ ...ctx, scale: Math.min(scale, 0.2) }));
  await cleanUp();

  const cpu = cpus()[0]?.model.trim() ?? 'unknown cpu';
  const lines = [
    '',
    `Ferry vs skopeo — BENCH_SCALE=${scale}${scale === 1 ? ' (full)' : ''}, ${((Date.now() - benchStart) / 1000).toFixed(0)} s in all`,
    '',
    table(rows),
    '',
    'MB = 10^6 bytes. Ratios: bytes and RSS are ferry ÷ other (lower is better); throughput is ferry ÷ skopeo speed (higher is better).',
    'Component rows: the "skopeo" column holds the raw row of the same files (skopeo has no Maven mode); ratio = maven2 ÷ raw speed.',
    'Wall times include process start-up. skopeo copies image by image (times summed); ferry export/import is one process over all images.',
    `Transfer rows: ferry and skopeo in turn, ${TRANSFER_ROUNDS} rounds, each from fresh state into fresh registries; times are medians, peak RSS the highest round.`,
    `machine: nproc ${availableParallelism()} (${cpu}), node ${process.version}, skopeo ${await skopeoVersion()}, ${process.platform}/${process.arch}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (failures.length > 0) process.stdout.write(`\nfailures:\n${failures.map((f) => `  ${f.replace(/\n/g, '\n    ')}`).join('\n')}\n`);
}

main().catch(async (error: unknown) => {
  if (!interrupted) process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  await cleanUp();
  process.exit(interrupted ? 130 : 1);
});
