/**
 * The Lambda rows: each function bundled exactly as infra deploys it (the options of
 * infra/lambda-bundling.ts, through esbuild's API), its size against the 1 MB goal, and its
 * cold-start module load: a fresh `node` (this benchmark's own, Node 24) imports the bundle,
 * timed from process start to the handler export being there, median of RUNS. Lambda's
 * runtime provides the AWS SDK the bundles leave out; here it comes from this repository's
 * node_modules, linked beside the bundles, so both load the same kind of files (the SDK's
 * CommonJS builds).
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { FUNCTION_NAMES, lambdaBuildOptions, type FunctionName } from '../infra/lambda-bundling.ts';
import { lambdaEnv } from '../test/support/lambda-env.ts';
import { REPO_ROOT } from './measure.ts';
import type { Context } from './scenarios.ts';
import { ferryRow, MB, verdict, type Row } from './table.ts';

const RUNS = 5;
const GOAL_BYTES = 1 * MB;

/**
 * Run in the fresh process. Plain JavaScript: a TypeScript driver would make Node load its
 * type stripper first. `performance.now()` counts from the process's time origin, its start.
 */
const DRIVER = `
const started = performance.now();
const module = await import(process.argv[2]);
const ready = performance.now();
if (typeof module.handler !== 'function') throw new Error('the bundle exports no handler');
// VmHWM, not resourceUsage().maxRSS: getrusage's maxrss survives exec and reports the parent's size.
const hwm = /^VmHWM:\\s+(\\d+) kB/m.exec((await import('node:fs')).readFileSync('/proc/self/status', 'utf8'))?.[1];
process.stdout.write(JSON.stringify({ started, ready, maxRss: Number(hwm ?? 0) * 1024 }));
`;

interface Load {
  /** Process start to the handler export, ms. */
  readyMs: number;
  /** The `import()` of the bundle alone, ms. */
  importMs: number;
  /** Spawn to exit as the benchmark sees it, ms. */
  wallMs: number;
  peakRss: number;
}

function loadOnce(driver: string, bundle: string, env: NodeJS.ProcessEnv): Promise<Load> {
  const spawned = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [driver, pathToFileURL(bundle).href], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`loading ${bundle} failed (exit ${code}): ${stderr.slice(-2000)}`));
      const r = JSON.parse(stdout) as { started: number; ready: number; maxRss: number };
      resolve({ readyMs: r.ready, importMs: r.ready - r.started, wallMs: performance.now() - spawned, peakRss: r.maxRss });
    });
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function lambdaRows(ctx: Context): Promise<Row[]> {
  const dir = path.join(ctx.scratch, 'lambdas');
  await mkdir(dir, { recursive: true });
  // Where the runtime's SDK would be: node resolves `@aws-sdk/…` from the bundles' parent.
  await symlink(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  const driver = path.join(dir, 'load.mjs');
  await writeFile(driver, DRIVER);
  const publicKeyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

  const sizes = new Map<FunctionName, number>();
  for (const name of FUNCTION_NAMES) {
    const outdir = path.join(dir, name);
    await build(lambdaBuildOptions(name, outdir));
    sizes.set(name, (await stat(path.join(outdir, 'index.mjs'))).size);
  }
  // Runs take turns across the functions, so a noisy moment spreads over all of them.
  const loads = new Map<FunctionName, Load[]>(FUNCTION_NAMES.map((name) => [name, []]));
  for (let run = 1; run <= RUNS; run++) {
    ctx.log(`lambdas: cold module loads, run ${run} of ${RUNS}`);
    for (const name of FUNCTION_NAMES) loads.get(name)!.push(await loadOnce(driver, path.join(dir, name, 'index.mjs'), lambdaEnv(name, publicKeyPem)));
  }

  return FUNCTION_NAMES.map((name) => {
    const size = sizes.get(name)!;
    const runs = loads.get(name)!;
    const at = (pick: (l: Load) => number) => median(runs.map(pick));
    const load = `load ${at((l) => l.readyMs).toFixed(0)} ms (import ${at((l) => l.importMs).toFixed(0)} ms, process ${at((l) => l.wallMs).toFixed(0)} ms), ${(at((l) => l.peakRss) / MB).toFixed(0)} MB RSS`;
    return ferryRow(`Lambda ${name}: bundle, cold module load (median of ${RUNS})`, `${(size / MB).toFixed(2)} MB; ${load}`, `bundle ≤ 1 MB ${verdict(size <= GOAL_BYTES)}`);
  });
}
