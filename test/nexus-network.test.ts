/**
 * The Nexus client on the networks users have: a Nexus behind a private CA (`caFile`, also
 * from `source.caFile` / `target.caFile` in the configs) and an outbound proxy from
 * HTTPS_PROXY with NO_PROXY exceptions. Against the stand-in serving HTTPS on 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse, stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NexusClient } from '../shared/adapters/nexus/index.ts';
import { startNexusStandin, type NexusStandin } from './nexus-standin/index.ts';
import { useProxy, withProxyEnv } from './support/proxy.ts';
import { privateCa } from './support/registry.ts';
import { content, makeWorld, REPO_ROOT, runFerry, type World } from './support/world.ts';

let dir: string;
let ca: { caFile: string; certFile: string; keyFile: string };
let tlsOptions: { cert: string; key: string };
let nexus: NexusStandin;
const clients: NexusClient[] = [];
const client = (options: ConstructorParameters<typeof NexusClient>[0]) => {
  const made = new NexusClient({ retry: { maxAttempts: 1 }, ...options });
  clients.push(made);
  return made;
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ferry-nexus-tls-'));
  ca = await privateCa(dir);
  tlsOptions = { cert: await readFile(ca.certFile, 'utf8'), key: await readFile(ca.keyFile, 'utf8') };
  nexus = await startNexusStandin({ repositories: [{ name: 'raw-tls', format: 'raw', type: 'hosted' }], tls: tlsOptions });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await nexus?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a Nexus behind a private CA', () => {
  it('is refused without caFile, naming the request and the certificate problem', async () => {
    // Prepare
    const c = client({ baseUrl: nexus.url });
    // Act
    const error = await withProxyEnv({}, () => c.listRepositories()).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    // Assess
    const said = `${error?.message} ${(error?.cause as Error | undefined)?.message ?? ''}`;
    expect(said).toContain('/service/rest/v1/repositories');
    expect(said).toMatch(/certificate/i);
  });

  it('is trusted with caFile', async () => {
    // Prepare
    const c = client({ baseUrl: nexus.url, caFile: ca.caFile });
    // Act
    const repositories = await withProxyEnv({}, () => c.listRepositories());
    // Assess
    expect(repositories.map((r) => r.name)).toEqual(['raw-tls']);
  });

  it('is trusted without caFile in a process started with NODE_EXTRA_CA_CERTS (how the Lambdas trust a private CA)', async () => {
    // Prepare: a fresh Node process, as the variable is read at start-up
    const script = [
      `import { NexusClient } from ${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'shared/adapters/nexus/index.ts')).href)};`,
      `const c = new NexusClient({ baseUrl: ${JSON.stringify(nexus.url)}, retry: { maxAttempts: 1 } });`,
      'console.log((await c.listRepositories()).map((r) => r.name).join(","));',
      'await c.close();',
    ].join('\n');
    // Act
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_EXTRA_CA_CERTS: ca.caFile, HTTPS_PROXY: '', https_proxy: '' } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe('raw-tls');
  });

  it('names a caFile that is missing or holds no certificate', async () => {
    // Prepare
    const notPem = path.join(dir, 'not-a-ca.txt');
    await writeFile(notPem, 'hello');
    // Act
    const missing = () => client({ baseUrl: nexus.url, caFile: path.join(dir, 'nope.pem') });
    const wrong = () => client({ baseUrl: nexus.url, caFile: notPem });
    // Assess
    expect(missing).toThrow(`caFile ${path.join(dir, 'nope.pem')}: cannot be read (ENOENT)`);
    expect(wrong).toThrow(`caFile ${notPem}: no PEM certificate`);
  });
});

describe('a Nexus reached through a proxy', () => {
  const proxy = useProxy();

  it('tunnels through HTTPS_PROXY, and goes direct to a host NO_PROXY names', async () => {
    // Prepare
    const host = new URL(nexus.url).host;
    // Act
    await withProxyEnv({ HTTPS_PROXY: proxy.url }, () => client({ baseUrl: nexus.url, caFile: ca.caFile }).listRepositories());
    const viaProxy = [...proxy.seen];
    proxy.seen.splice(0);
    await withProxyEnv({ HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1' }, () => client({ baseUrl: nexus.url, caFile: ca.caFile }).listRepositories());
    // Assess
    expect(viaProxy).toContain(`CONNECT ${host}`);
    expect(proxy.seen).toEqual([]);
  });
});

describe('source.caFile and target.caFile in the configs', () => {
  let world: World;
  afterAll(async () => world?.close());

  it('export and import against Nexus servers behind a private CA', async () => {
    // Prepare: both stand-ins on HTTPS; the configs name the CA, relative to the config file
    world = await makeWorld({ repositories: ['raw-a'], source: { tls: tlsOptions }, target: { tls: tlsOptions } });
    await writeFile(path.join(world.dir, 'ca.pem'), await readFile(ca.caFile));
    for (const [file, side] of [
      [world.exportConfig, 'source'],
      [world.importConfig, 'target'],
    ] as const) {
      const config = parse(await readFile(file, 'utf8'));
      config[side].caFile = 'ca.pem';
      await writeFile(file, stringify(config));
    }
    const artifact = content('behind-a-private-ca', 5000);
    world.source.putRawAsset('raw-a', '/tls/artifact.bin', artifact);
    const env = { ...world.env, HTTPS_PROXY: '', https_proxy: '', HTTP_PROXY: '', http_proxy: '' };

    // Act
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], env);
    const bundles = readdirSync(world.bundlesDir).filter((f) => f.endsWith('.tar')).map((f) => path.join(world.bundlesDir, f));
    const imported = await runFerry(['import', '--config', world.importConfig, ...bundles], env);

    // Assess
    expect(exported.code, exported.stderr).toBe(0);
    expect(imported.code, imported.stderr).toBe(0);
    expect(world.target.getAsset('raw-a', '/tls/artifact.bin')?.content.equals(artifact)).toBe(true);
  });
});
