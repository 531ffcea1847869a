/**
 * npm fixtures: package tarballs (`package/package.json` and a file), seeded through the
 * stand-in's own `npm.asset` upload and npm API, and the real `npm` client as the judge of a
 * target (`npm pack <pkg>@<version>` against it, credentials in a temporary userconfig).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tgz } from '../nexus-standin/archives.ts';
import type { NexusStandin } from '../nexus-standin/index.ts';

/** A package tarball as `npm pack` lays it out; `seed` varies the content. */
export function npmTarball(name: string, version: string, seed = '', packageJson: Record<string, unknown> = {}): Promise<Buffer> {
  return tgz([
    { name: 'package/package.json', content: JSON.stringify({ name, version, description: `${name} fixture`, license: 'MIT', ...packageJson }) },
    { name: 'package/index.js', content: `module.exports = ${JSON.stringify(`${name}@${version}${seed}`)};\n` },
  ]);
}

/** Uploads a tarball with `npm.asset` (Nexus moves `latest` to it) and returns its bytes. */
export async function seedNpm(standin: NexusStandin, repository: string, name: string, version: string, seed = ''): Promise<Buffer> {
  const tarball = await npmTarball(name, version, seed);
  const filename = `${name.replace(/^@[^/]+\//, '')}-${version}.tgz`;
  await standin.seedUpload(repository, { files: [{ field: 'npm.asset', filename, content: tarball }] });
  return tarball;
}

/** Sets dist-tags as a publisher would (`npm dist-tag add`; `latest` as `npm publish --tag latest` leaves it). */
export async function seedTags(standin: NexusStandin, repository: string, name: string, tags: Record<string, string>): Promise<void> {
  await standin.seedPut(repository, `/${name}`, JSON.stringify({ name, 'dist-tags': tags }));
}

/** `sha512-<base64>` of bytes: npm's `dist.integrity`. */
export const integrity = (bytes: Buffer) => `sha512-${createHash('sha512').update(bytes).digest('base64')}`;

/** Records `dist.integrity` for versions in the source's packument, as `npm publish` would have sent it. */
export async function seedIntegrity(standin: NexusStandin, repository: string, name: string, versions: Record<string, string>): Promise<void> {
  const docs = Object.fromEntries(Object.entries(versions).map(([version, value]) => [version, { dist: { integrity: value } }]));
  await standin.seedPut(repository, `/${name}`, JSON.stringify({ name, versions: docs }));
}

export interface Packument {
  'dist-tags': Record<string, string>;
  versions: Record<string, { dist: { shasum: string; integrity?: string; tarball: string } }>;
}

/** The packument as npm clients read it (scoped names as npm sends them, `@scope%2fname`). */
export async function readPackument(standin: NexusStandin, repository: string, name: string, auth?: string): Promise<Packument> {
  const res = await fetch(`${standin.url}/repository/${repository}/${name.replace('/', '%2f')}`, auth === undefined ? {} : { headers: { authorization: auth } });
  if (res.status !== 200) throw new Error(`GET packument ${name}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Packument;
}

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'ENOENT' ? new Error(`${command} is not installed: run \`sudo apt-get install -y npm\` (or npm run system-deps)`) : error),
    );
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The real npm client fetches `<spec>` from `registry` (basic auth from a temporary
 * userconfig, never the command line; an empty cache) and packs it: npm verifies the
 * tarball against the packument's integrity (sha512, else shasum) on the way. Returns the
 * packed file's bytes, or throws with npm's output.
 */
export async function npmPack(registry: string, credentials: { username: string; password: string }, spec: string): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-npm-'));
  try {
    const nerfDart = registry.replace(/^https?:/, '');
    const auth = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
    const userconfig = path.join(dir, '.npmrc');
    await writeFile(userconfig, `${nerfDart}:_auth=${auth}\n${nerfDart}:always-auth=true\n`, { mode: 0o600 });
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
    const args = ['pack', spec, '--registry', registry, '--userconfig', userconfig, '--cache', path.join(dir, 'cache'), '--json', '--loglevel', 'error', '--fetch-retries', '0', '--no-update-notifier'];
    const result = await run('npm', args, { cwd: dir, env: { ...env, HOME: dir } });
    if (result.code !== 0) throw new Error(`npm pack ${spec} failed (${result.code}):\n${result.stderr}${result.stdout}`);
    const [packed] = JSON.parse(result.stdout) as { filename: string; integrity: string }[];
    return await readFile(path.join(dir, packed!.filename));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
