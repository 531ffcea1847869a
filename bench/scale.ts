/**
 * The scale rows. A scan: a raw repository of 10,000 and of 100,000 components listed in
 * pages of 100 by a Nexus stand-in answering each page in 50 ms, scanned alone (nothing
 * copied) by a child process on the embedded adapters; the scan should cost little more
 * than its pages' latency, and its memory should not grow with the repository. The embedded
 * state: 1,000,000 blobs recorded as shipped, then the check the copy makes per blob to
 * decide it need not be staged again, timed, and the database's size.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { DirObjectStore, SqliteExportState } from '../shared/adapters/embedded/index.ts';
import type { Digest } from '../shared/digest.ts';
import { startNexusStandin } from '../test/nexus-standin/index.ts';
import { measure, mustSucceed, REPO_ROOT, shebangFlags } from './measure.ts';
import type { ScanChildResult } from './scan-child.ts';
import type { Context } from './scenarios.ts';
import { MB, mb, times, verdict, ferryRow, type Row } from './table.ts';

const PAGE_SIZE = 100;
const PAGE_LATENCY_MS = 50;
const REPOSITORY = 'raw-scale';
const PRELOAD = pathToFileURL(path.join(REPO_ROOT, 'bench/maxrss-preload.mjs')).href;
/**
 * How much more a scan of 100k components may peak at than one of 10k. Holding every listed
 * component (a parsed component with its asset and checksums is 1 KB of heap or more) would
 * add 90 MB or more for the 90,000 more; a scan that holds two pages at a time differs only by
 * heap sizing and SQLite-cache noise, a few MB. 20 MB sits well between the two.
 */
const RSS_SLACK = 20 * MB;

const count = (ctx: Context, n: number) => Math.max(1000, Math.round(n * ctx.scale));
const thousands = (n: number) => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));

// ───────────────────────────── the scan ─────────────────────────────

interface ScanRun extends ScanChildResult {
  peakRss: number;
}

/**
 * scan-child.ts as built code, run with the CLI's Node flags: as `ferry export` runs (no
 * TypeScript stripper in the measured process).
 */
async function bundleScanChild(ctx: Context): Promise<string> {
  const outfile = path.join(ctx.scratch, 'scan-child.mjs');
  await build({
    entryPoints: [path.join(REPO_ROOT, 'bench/scan-child.ts')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    mainFields: ['module', 'main'],
    minify: true,
    logLevel: 'warning',
    banner: { js: "import{createRequire as __benchCreateRequire}from'node:module';const require=__benchCreateRequire(import.meta.url);" },
  });
  return outfile;
}

/** A stand-in holding `components` raw components of one small asset each, scanned by the child. */
async function scanRun(ctx: Context, child: string, components: number): Promise<ScanRun> {
  // Each page answered 50 ms after it was asked for, the stand-in's own work included: the
  // ratio then counts what the scan adds to the listing's latency, not the stand-in's time.
  const nexus = await startNexusStandin({ repositories: [{ name: REPOSITORY, format: 'raw', type: 'hosted' }], pageSize: PAGE_SIZE, listingLatencyMs: PAGE_LATENCY_MS });
  let closed = false;
  const close = async () => {
    if (!closed) await nexus.close();
    closed = true;
  };
  ctx.defer(close);
  try {
    ctx.log(`scale: seeding ${components} raw components`);
    for (let i = 0; i < components; i++) nexus.putRawAsset(REPOSITORY, `/scale/g${i % 100}/c-${i}.bin`, `component ${i}\n`);
    const workDir = await mkdtemp(path.join(ctx.scratch, 'scan-'));
    const maxRssFile = path.join(ctx.scratch, `scan-maxrss-${components}`);
    ctx.log(`scale: scanning ${components} components (${PAGE_LATENCY_MS} ms per page of ${PAGE_SIZE})`);
    const m = mustSucceed(
      `scan of ${components} components`,
      await measure(process.execPath, [...shebangFlags(), '--import', PRELOAD, child, nexus.url, REPOSITORY, workDir], { ...process.env, BENCH_MAXRSS_FILE: maxRssFile }, maxRssFile),
    );
    const result = JSON.parse(m.stdout.trim().split('\n').at(-1) ?? '') as ScanChildResult;
    if (result.components !== components || result.queued !== components) {
      throw new Error(`scan of ${components} components listed ${result.components} and queued ${result.queued}`);
    }
    if (result.seconds < (result.pages * PAGE_LATENCY_MS) / 1000) throw new Error(`scan of ${components} components: the stand-in did not hold its pages back`);
    await Promise.all([rm(workDir, { recursive: true, force: true }), rm(maxRssFile, { force: true })]);
    return { ...result, peakRss: m.peakRss };
  } finally {
    await close();
  }
}

/**
 * The goal is the issue's: the 100k scan within 1.2× its pages' latency. The smaller scan is
 * printed beside it without one: the scan's fixed start (the repository checks, the first
 * connection) weighs more on each of its fewer pages.
 */
function scanRow(run: ScanRun, withGoal: boolean): Row {
  const ratio = run.seconds / ((run.pages * PAGE_LATENCY_MS) / 1000);
  return ferryRow(
    `scale: scan of ${thousands(run.components)} raw components, ${run.pages} pages of ${PAGE_SIZE}, each answered in ${PAGE_LATENCY_MS} ms: time ÷ (pages × ${PAGE_LATENCY_MS} ms)`,
    `${run.seconds.toFixed(1)} s`,
    withGoal ? `≤ 1.2 ${verdict(ratio <= 1.2)}` : '',
    times(ratio),
  );
}

export async function scanScaleRows(ctx: Context): Promise<Row[]> {
  const child = await bundleScanChild(ctx);
  const small = await scanRun(ctx, child, count(ctx, 10_000));
  const large = await scanRun(ctx, child, count(ctx, 100_000));
  const [s, l] = [thousands(small.components), thousands(large.components)];
  const growth = large.peakRss - small.peakRss;
  return [
    scanRow(small, false),
    scanRow(large, true),
    ferryRow(
      `scale: peak RSS of the scan, ${l} vs ${s} components (memory flat: no component list held)${small.components < 10_000 ? `; below 10k a scan's heap is still growing to its working size` : ''}`,
      `${mb(large.peakRss)} vs ${mb(small.peakRss)}`,
      `${l} ≤ ${s} + ${mb(RSS_SLACK)} ${verdict(large.peakRss <= small.peakRss + RSS_SLACK)}`,
      `${growth >= 0 ? '+' : '−'}${mb(Math.abs(growth))}`,
    ),
  ];
}

// ───────────────────────────── the embedded state ─────────────────────────────

const CHECKS = 10_000;
/** Page cache of the filling connection only: random-order inserts into a 180 MB index would otherwise thrash. */
const FILL_CACHE_KIB = 256 * 1024;

const digestOf = (what: string, i: number): Digest => `sha256:${createHash('sha256').update(`${what} ${i}`).digest('hex')}` as Digest;

/**
 * Records `blobs` shipped blobs the way a seal does, with the adapter's own method and SQL:
 * one `recordSeal` (one transaction) of a bundle that included them all. Digests are random,
 * as real ones are, so the index is filled in random order. Returns the seconds it took.
 */
async function fillState(file: string, blobs: number): Promise<number> {
  const state = new SqliteExportState(file);
  state.db.exec(`PRAGMA cache_size = -${FILL_CACHE_KIB}`);
  const started = process.hrtime.bigint();
  try {
    const digests = Array.from({ length: blobs }, (_, i) => digestOf('blob', i));
    await state.recordSeal({ sourceId: 'bench-scale', sequence: 1, digest: digestOf('bundle', 1), name: 'bundle-1.tar', size: 0, sealedAt: new Date().toISOString(), published: true }, [], digests);
    return Number(process.hrtime.bigint() - started) / 1e9;
  } finally {
    state.close(); // the last connection closing folds the WAL into the file
  }
}

/** Half known, half never recorded, in random order. */
function sample(blobs: number): { digest: Digest; known: boolean }[] {
  const picks = Array.from({ length: CHECKS }, (_, i) =>
    i % 2 === 0 ? { digest: digestOf('blob', Math.floor(Math.random() * blobs)), known: true } : { digest: digestOf('absent', i), known: false },
  );
  for (let i = picks.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [picks[i], picks[j]] = [picks[j]!, picks[i]!];
  }
  return picks;
}

interface Timing {
  meanMs: number;
  p99Ms: number;
}

/** Times `check` once per sampled digest; throws if it ever answers wrongly. */
async function timeChecks(picks: { digest: Digest; known: boolean }[], check: (d: Digest) => Promise<boolean>, what: string): Promise<Timing> {
  const ms = new Float64Array(picks.length);
  for (const [i, { digest, known }] of picks.entries()) {
    const started = process.hrtime.bigint();
    const found = await check(digest);
    ms[i] = Number(process.hrtime.bigint() - started) / 1e6;
    if (found !== known) throw new Error(`${what}: ${digest} answered ${found ? 'known' : 'unknown'}, but it is ${known ? 'known' : 'unknown'}`);
  }
  ms.sort();
  return { meanMs: ms.reduce((a, b) => a + b, 0) / ms.length, p99Ms: ms[Math.floor(ms.length * 0.99)]! };
}

const µs = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;

export async function blobScaleRows(ctx: Context): Promise<Row[]> {
  const blobs = count(ctx, 1_000_000);
  const dir = await mkdtemp(path.join(ctx.scratch, 'state-'));
  const file = path.join(dir, 'state.db');
  ctx.log(`scale: recording ${blobs} shipped blobs in the embedded state`);
  const fillSeconds = await fillState(file, blobs);
  const size = (await stat(file)).size;

  // A fresh connection, as the next export run opens: SQLite's own cache starts empty.
  const state = new SqliteExportState(file);
  const store = new DirObjectStore(path.join(dir, 'objects'));
  try {
    const plan = state.db.prepare('EXPLAIN QUERY PLAN SELECT bundle_sequence FROM shipped_blobs WHERE digest = ?').all('sha256:0');
    const detail = plan.map((row) => String(row.detail)).join('; ');
    const indexed = /USING (COVERING )?INDEX|USING PRIMARY KEY/.test(detail);
    ctx.log(`scale: shippedIn's query plan: ${detail}`);
    const picks = sample(blobs);
    const shipped = await timeChecks(picks, async (d) => (await state.shippedIn(d)) !== undefined, 'shippedIn');
    // The docker copy's test before staging a blob: shipped before, or staged already.
    const carried = await timeChecks(picks, async (d) => (await state.shippedIn(d)) !== undefined || (await store.statBlob(d)) !== undefined, 'carried');
    const n = blobs.toLocaleString('en-US');
    const rows = (what: string, t: Timing): Row[] => [
      ferryRow(`scale: ${what}, state of ${n} shipped blobs, ${CHECKS.toLocaleString('en-US')} random digests (half known) — mean`, µs(t.meanMs), `< 1 ms${indexed ? '' : ' (not indexed)'} ${verdict(t.meanMs < 1 && indexed)}`),
      ferryRow(`scale: ${what} — p99`, µs(t.p99Ms), `< 1 ms ${verdict(t.p99Ms < 1 && indexed)}`),
    ];
    return [
      ...rows('dedupe check state.shippedIn(digest)', shipped),
      ...rows("copy's check: shippedIn, then store.statBlob on a miss", carried),
      ferryRow(`scale: state database with ${n} shipped blobs (${(size / blobs).toFixed(0)} B a blob; filled by one recordSeal in ${fillSeconds.toFixed(1)} s)`, mb(size)),
    ];
  } finally {
    state.close();
    await rm(dir, { recursive: true, force: true });
  }
}
