/**
 * Measuring child processes: wall time from spawn to exit, and peak resident set size
 * sampled from /proc/<pid>/status (VmHWM, VmRSS) every 50 ms. The `ferry` CLI also reports
 * its own kernel high-water mark at exit (see maxrss-preload.mjs); the larger value wins.
 * skopeo runs with a private, empty auth file, policy and HOME, so neither the user's
 * configuration nor a blob-info cache from an earlier run changes what it does.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The built command, as `npm ci` builds it (bench/images.ts builds it first). */
const FERRY_CLI = path.join(REPO_ROOT, 'dist/ferry.js');
const PRELOAD = pathToFileURL(path.join(REPO_ROOT, 'bench/maxrss-preload.mjs')).href;
const SKOPEO = '/usr/bin/skopeo';

export interface Measured {
  code: number | null;
  signal: NodeJS.Signals | null;
  seconds: number;
  /** Peak resident set size in bytes. */
  peakRss: number;
  stdout: string;
  stderr: string;
}

/** Children still running, so an interrupted benchmark can stop them. */
export const running = new Set<ChildProcess>();

function sampleRss(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    let peak = 0;
    for (const key of ['VmHWM', 'VmRSS']) {
      const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
      if (match) peak = Math.max(peak, Number(match[1]) * 1024);
    }
    return peak;
  } catch {
    return 0; // exited between samples
  }
}

/**
 * Runs `command`, timing it and sampling its peak RSS; never throws for a non-zero exit.
 * Dirty pages others left (an image just pushed, the run before) are written back first:
 * otherwise whoever runs next pays for them in its own fsyncs (ext4 flushes them together),
 * and the order of the runs, not the tools, decides the ratio.
 */
export async function measure(command: string, args: string[], env: NodeJS.ProcessEnv, maxRssFile?: string): Promise<Measured> {
  await run('sync');
  const started = process.hrtime.bigint();
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let peak = 0;
  const pid = child.pid;
  const sample = () => {
    if (pid !== undefined) peak = Math.max(peak, sampleRss(pid));
  };
  sample();
  const timer = setInterval(sample, 50);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout = (stdout + chunk.toString('utf8')).slice(-20_000);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-20_000);
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c, s) => {
      sample(); // a zombie's /proc entry is gone, but try: the last interval may have been missed
      resolve([c, s]);
    });
  }).finally(() => {
    clearInterval(timer);
    running.delete(child);
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (maxRssFile !== undefined) {
    const reported = Number(await readFile(maxRssFile, 'utf8').catch(() => '0'));
    if (Number.isFinite(reported)) peak = Math.max(peak, reported);
  }
  return { code, signal, seconds, peakRss: peak, stdout, stderr };
}

/** Node flags on the CLI's `#!/usr/bin/env -S node …` line: run as users run it (`npx ferry`). */
export function shebangFlags(): string[] {
  const first = readFileSync(FERRY_CLI, 'utf8').split('\n', 1)[0] ?? '';
  const match = /^#!\/usr\/bin\/env -S node(?<flags>(?: --[\w-]+(?:=\S+)?)*)\s*$/.exec(first);
  return match?.groups?.flags?.trim().split(/\s+/).filter(Boolean) ?? [];
}

/** The real `ferry` CLI on this Node (24), with its shebang's flags and the peak-RSS preload. */
export async function measureFerry(args: string[], env: NodeJS.ProcessEnv, scratch: string): Promise<Measured> {
  const maxRssFile = path.join(scratch, `maxrss-${process.hrtime.bigint()}`);
  try {
    return await measure(process.execPath, [...shebangFlags(), '--import', PRELOAD, FERRY_CLI, ...args], { ...env, BENCH_MAXRSS_FILE: maxRssFile }, maxRssFile);
  } finally {
    await rm(maxRssFile, { force: true });
  }
}

/** skopeo with a private auth file, policy and HOME; plain HTTP registries on 127.0.0.1. */
export async function measureSkopeo(args: string[]): Promise<Measured> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-bench-skopeo-'));
  try {
    const authFile = path.join(dir, 'auth.json');
    await writeFile(authFile, '{"auths":{}}');
    const policy = path.join(dir, 'policy.json');
    await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const env = { ...process.env, REGISTRY_AUTH_FILE: authFile, HOME: dir };
    return await measure(SKOPEO, ['--policy', policy, ...args], env);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Throws with the tail of stderr unless the run exited 0. */
export function mustSucceed(what: string, m: Measured): Measured {
  if (m.code !== 0) throw new Error(`${what} failed (exit ${m.code ?? m.signal}): ${m.stderr.trim().split('\n').slice(-8).join('\n')}`);
  return m;
}

/** `du -sb`: apparent bytes of everything under `dir`. */
export async function duBytes(dir: string): Promise<number> {
  const { stdout } = await run('du', ['-sb', dir]);
  return Number(stdout.split(/\s/)[0]);
}

export async function skopeoVersion(): Promise<string> {
  try {
    const { stdout } = await run(SKOPEO, ['--version']);
    return stdout.trim().replace(/^skopeo version /, '');
  } catch {
    return 'unknown';
  }
}
