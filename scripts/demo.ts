/**
 * The README's demo: the main job on the embedded default, on one machine, no AWS.
 * Starts two Nexus stand-ins (source and target) on 127.0.0.1, seeds the source with raw
 * artifacts, Maven components, an npm package and a helm chart, runs the real `ferry` CLI
 * to export, inspect and import, then changes a few and does it again, and prints what
 * crossed with its sha256 on both sides.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { tgz } from '../test/nexus-standin/archives.ts';
import { buildCli, BUILT_CLI } from './build-cli.ts';
import { startNexusStandin, type NexusStandin } from '../test/nexus-standin/index.ts';
import { jar, pom, seedRelease } from '../test/support/maven2-fixtures.ts';
import { integrity, seedIntegrity, seedNpm } from '../test/support/npm-fixtures.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = path.join(root, '.ferry-demo');
const cli = BUILT_CLI;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function ferry(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  process.stdout.write(`\n$ ferry ${args.map((a) => (a.startsWith(work) ? path.relative(root, a) : a)).join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ferry ${args[0]} exited with ${code}`))));
  });
}

/** What each Nexus makes itself, so it differs by design (timestamps, URLs) and is not carried: Maven metadata, npm packuments. */
const generated = (format: string, path: string) => (format === 'maven2' && /\/maven-metadata\.xml(\.\w+)?$/.test(path)) || (format === 'npm' && !path.includes('/-/'));

function printCrossed(source: NexusStandin, target: NexusStandin): boolean {
  let identical = true;
  process.stdout.write('\nwhat crossed (source → target; metadata each Nexus generates itself left out):\n');
  for (const { name: repository, format } of CARRIED) {
    for (const p of source.assetPaths(repository)) {
      if (generated(format, p)) continue;
      const s = source.getAsset(repository, p)!;
      const t = target.getAsset(repository, p);
      const same = t !== undefined && sha256(t.content) === s.checksum.sha256;
      identical &&= same;
      process.stdout.write(`  ${same ? 'ok  ' : 'DIFF'} ${repository}${p}  ${s.content.length.toString().padStart(7)} B  sha256 ${s.checksum.sha256!.slice(0, 16)}…${t ? '' : '  (missing on target)'}\n`);
    }
  }
  return identical;
}

/** The carried repositories and their formats. */
const CARRIED = [
  { name: 'raw-releases', format: 'raw' },
  { name: 'raw-tools', format: 'raw' },
  { name: 'maven-releases', format: 'maven2' },
  { name: 'npm-hosted', format: 'npm' },
  { name: 'charts', format: 'helm' },
];

const chart = (name: string, version: string) => tgz([{ name: `${name}/Chart.yaml`, content: `apiVersion: v2\nname: ${name}\nversion: ${version}\n` }, { name: `${name}/values.yaml`, content: `replicas: ${version.length}\n` }]);

/** A Maven release (pom, jar, sources jar), an npm version as `npm publish` leaves it, a chart. */
async function seedPackages(source: NexusStandin, version: string): Promise<void> {
  const gav = { groupId: 'org.example', artifactId: 'widget', version };
  await seedRelease(source, 'maven-releases', gav, [
    { extension: 'pom', content: pom(gav) },
    { extension: 'jar', content: jar(`widget ${version}`) },
    { extension: 'jar', classifier: 'sources', content: jar(`widget sources ${version}`) },
  ]);
  const tarball = await seedNpm(source, 'npm-hosted', '@acme/widget', version);
  await seedIntegrity(source, 'npm-hosted', '@acme/widget', { [version]: integrity(tarball) });
  await source.seedUpload('charts', { files: [{ field: 'helm.asset', filename: `widget-${version}.tgz`, content: await chart('widget', version) }] });
}

async function main(): Promise<void> {
  await buildCli();
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const users = { source: { username: 'reader', password: randomBytes(12).toString('hex') }, target: { username: 'writer', password: randomBytes(12).toString('hex') } };
  const source = await startNexusStandin({ repositories: CARRIED.map((r) => ({ ...r, type: 'hosted' as const })), users: [users.source] });
  const target = await startNexusStandin({ repositories: CARRIED.map((r) => ({ ...r, type: 'hosted' as const })), users: [users.target] });
  try {
    process.stdout.write(`source Nexus stand-in ${source.url}, target Nexus stand-in ${target.url}\n`);
    // Seed: releases over two pages of the components API, a tool, and the same bytes twice.
    const shared = randomBytes(64 * 1024);
    for (let i = 1; i <= 12; i++) source.putRawAsset('raw-releases', `/app/1.${i}.0/app-1.${i}.0.tar.gz`, randomBytes(32 * 1024 + i));
    source.putRawAsset('raw-releases', '/docs/manual.pdf', shared);
    source.putRawAsset('raw-tools', '/cli/tool-linux-amd64', randomBytes(128 * 1024));
    source.putRawAsset('raw-tools', '/mirror/manual.pdf', shared);
    await seedPackages(source, '1.0.0');

    const env = { ...process.env, FERRY_SOURCE_PASSWORD: users.source.password, FERRY_TARGET_PASSWORD: users.target.password };
    await ferry(['keys', 'generate', '--out', path.join(work, 'keys'), '--name', 'export'], env);
    const exportConfig = path.join(work, 'export.yaml');
    const importConfig = path.join(work, 'import.yaml');
    await writeFile(
      exportConfig,
      stringify({
        sourceId: 'demo-nexus',
        source: { url: source.url, credentials: { username: users.source.username, passwordEnv: 'FERRY_SOURCE_PASSWORD' }, repositories: CARRIED },
        workDir: 'export-work',
        bundles: { directory: 'outbox', maxBytes: '1GiB' },
        signing: { privateKeyFile: 'keys/export.key' },
      }),
    );
    await writeFile(
      importConfig,
      stringify({
        target: { url: target.url, credentials: { username: users.target.username, passwordEnv: 'FERRY_TARGET_PASSWORD' } },
        trust: { publicKeyFiles: ['keys/export.pub'] },
        workDir: 'import-work',
        receipts: { directory: 'receipts' },
      }),
    );
    const outbox = path.join(work, 'outbox');
    const bundles = async () => (await readdir(outbox)).filter((f) => f.endsWith('.tar')).sort().map((f) => path.join(outbox, f));

    process.stdout.write('\n── round 1: everything is new ──\n');
    await ferry(['export', '--once', '--config', exportConfig], env);
    const [first] = await bundles();
    await ferry(['inspect', first!], env);
    await ferry(['verify', '--config', importConfig, first!], env);
    await ferry(['import', '--config', importConfig, first!], env);

    process.stdout.write('\n── round 2: new releases (raw, Maven, npm, helm), one replaced file ──\n');
    source.putRawAsset('raw-releases', '/app/1.13.0/app-1.13.0.tar.gz', randomBytes(40 * 1024));
    source.putRawAsset('raw-releases', '/app/1.14.0/app-1.14.0.tar.gz', randomBytes(40 * 1024));
    source.putRawAsset('raw-tools', '/cli/tool-linux-amd64', randomBytes(130 * 1024));
    await seedPackages(source, '1.1.0');
    await ferry(['export', '--once', '--config', exportConfig], env);
    const second = (await bundles())[1]!;
    await ferry(['inspect', second], env);
    await ferry(['import', '--config', importConfig, second], env);

    const identical = printCrossed(source, target);
    process.stdout.write(`\n${identical ? 'every artifact arrived byte-identical' : 'MISMATCH: see above'}; files are in ${path.relative(root, work)}/\n`);
    if (!identical) process.exitCode = 1;
  } finally {
    await Promise.all([source.close(), target.close()]);
  }
}

await main();
