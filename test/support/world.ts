/**
 * A complete two-sided world on 127.0.0.1 for integration tests: a source and a target
 * Nexus stand-in, a signing key pair, and export / import configs in a temp directory.
 * Tests drive the real `ferry` CLI as a child process (`runFerry`) or call the core.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { generateSigningKeyPair } from '../../shared/signing.ts';
import { startNexusStandin, type NexusStandin, type StandinOptions } from '../nexus-standin/index.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The built command (scripts/build-cli.ts; vitest's global setup builds it). */
export const FERRY_CLI = path.join(REPO_ROOT, 'dist/ferry.js');

export interface World {
  dir: string;
  source: NexusStandin;
  target: NexusStandin;
  exportConfig: string;
  importConfig: string;
  bundlesDir: string;
  receiptsDir: string;
  publicKeyFile: string;
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

export interface WorldOptions {
  repositories?: string[];
  targetRepositories?: string[];
  /** The format of every repository on both sides and in the export config (default raw). */
  format?: string;
  /** The export config's repositories, when they are not simply `repositories` in `format`. */
  configRepositories?: { name: string; format: string; target?: string; deletions?: string }[];
  exportOverrides?: Record<string, unknown>;
  importOverrides?: Record<string, unknown>;
  source?: Partial<StandinOptions>;
  target?: Partial<StandinOptions>;
}

const SOURCE_USER = { username: 'ferry-reader', password: 'source-pa55' };
const TARGET_USER = { username: 'ferry-writer', password: 'target-pa55' };

export async function makeWorld(options: WorldOptions = {}): Promise<World> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-world-'));
  const repositories = options.repositories ?? ['raw-a', 'raw-b'];
  const targetRepositories = options.targetRepositories ?? repositories;
  const format = options.format ?? 'raw';
  const source = await startNexusStandin({
    repositories: repositories.map((name) => ({ name, format, type: 'hosted' as const })),
    users: [SOURCE_USER],
    ...options.source,
  });
  const target = await startNexusStandin({
    repositories: targetRepositories.map((name) => ({ name, format, type: 'hosted' as const })),
    users: [TARGET_USER],
    ...options.target,
  });
  const keys = generateSigningKeyPair();
  await writeFile(path.join(dir, 'export.key'), keys.privateKeyPem, { mode: 0o600 });
  await writeFile(path.join(dir, 'export.pub'), keys.publicKeyPem);
  await writeFile(path.join(dir, 'target-password'), `${TARGET_USER.password}\n`, { mode: 0o600 });
  const exportConfig = path.join(dir, 'export.yaml');
  const importConfig = path.join(dir, 'import.yaml');
  await writeFile(
    exportConfig,
    stringify({
      sourceId: 'test-source',
      source: {
        url: source.url,
        credentials: { username: SOURCE_USER.username, passwordEnv: 'FERRY_SOURCE_PASSWORD' },
        repositories: options.configRepositories ?? repositories.map((name) => ({ name, format })),
      },
      workDir: 'export-work',
      bundles: { directory: 'bundles' },
      signing: { privateKeyFile: 'export.key' },
      scan: { overlapSeconds: 60, concurrency: 2 },
      copy: { concurrency: 4, maxAttempts: 3 },
      ...options.exportOverrides,
    }),
  );
  await writeFile(
    importConfig,
    stringify({
      target: { url: target.url, credentials: { username: TARGET_USER.username, passwordFile: 'target-password' } },
      trust: { publicKeyFiles: ['export.pub'] },
      workDir: 'import-work',
      receipts: { directory: 'receipts' },
      concurrency: 4,
      ...options.importOverrides,
    }),
  );
  return {
    dir,
    source,
    target,
    exportConfig,
    importConfig,
    bundlesDir: path.join(dir, 'bundles'),
    receiptsDir: path.join(dir, 'receipts'),
    publicKeyFile: path.join(dir, 'export.pub'),
    env: { ...process.env, FERRY_SOURCE_PASSWORD: SOURCE_USER.password, CI: 'true' },
    async close() {
      await Promise.all([source.close(), target.close()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The sealed bundle files in an outbox, in sequence order. */
export async function bundles(world: { bundlesDir: string }): Promise<string[]> {
  const names = await readdir(world.bundlesDir).catch(() => [] as string[]);
  return names.filter((f) => f.endsWith('.tar')).sort().map((f) => path.join(world.bundlesDir, f));
}

export interface FerryRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI on Node 24 (the test runner's own node). */
export function runFerry(args: string[], env: NodeJS.ProcessEnv, options: { killWhen?: (output: string) => boolean } = {}): Promise<FerryRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FERRY_CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (options.killWhen?.(stderr)) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function spawnFerry(args: string[], env: NodeJS.ProcessEnv) {
  return spawn(process.execPath, [FERRY_CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The main job through the real CLI: `ferry export --once`, `ferry import` of every bundle, `ferry inspect` of the first. */
export async function carryAndInspect(world: World): Promise<{ exported: FerryRun; files: string[]; imported: FerryRun; inspected: FerryRun }> {
  const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
  const files = await bundles(world);
  const imported = await runFerry(['import', '--config', world.importConfig, ...files], world.env);
  const inspected = await runFerry(['inspect', files[0] ?? '(no bundle)'], world.env);
  return { exported, files, imported, inspected };
}

/** Deletes an asset on the source as a user would: its id from the assets listing, then `DELETE /v1/assets/{id}`. */
export async function deleteOnSource(world: World, repository: string, assetPath: string): Promise<void> {
  const auth = { authorization: `Basic ${Buffer.from(`ferry-reader:${world.env.FERRY_SOURCE_PASSWORD}`).toString('base64')}` };
  const listing = (await (await fetch(`${world.source.url}/service/rest/v1/assets?repository=${repository}`, { headers: auth })).json()) as { items: { id: string; path: string }[] };
  const asset = listing.items.find((a) => a.path === assetPath);
  if (asset === undefined) throw new Error(`${repository}${assetPath} is not on the source`);
  const response = await fetch(`${world.source.url}/service/rest/v1/assets/${asset.id}`, { method: 'DELETE', headers: auth });
  if (response.status !== 204) throw new Error(`DELETE of ${repository}${assetPath} on the source answered ${response.status}, not 204`);
}

/** Deterministic pseudo-random content of a given size, different per seed. */
export function content(seed: string, size = 1024): Buffer {
  const out = Buffer.alloc(size);
  let x = 0;
  for (const c of seed) x = (x * 31 + c.charCodeAt(0)) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}
