/**
 * A two-sided world for image tests: source and target CNCF registries (docker-registry
 * processes on 127.0.0.1), a Nexus stand-in that lists the source's docker tags as its
 * components API does, a target Nexus stand-in, keys and configs.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterEach } from 'vitest';
import { generateSigningKeyPair } from '../../shared/signing.ts';
import { RegistryClient } from '../../shared/adapters/registry/index.ts';
import { startNexusStandin, type NexusStandin } from '../nexus-standin/index.ts';
import { pushImage, pushIndex, type TestImage, type TestIndex } from './images.ts';
import { DEFAULT_USERS, startRegistry, type TestRegistry } from './registry.ts';

export interface ImageWorld {
  dir: string;
  source: TestRegistry;
  target: TestRegistry;
  sourceClient: RegistryClient;
  targetClient: RegistryClient;
  nexus: NexusStandin;
  targetNexus: NexusStandin;
  exportConfig: string;
  importConfig: string;
  bundlesDir: string;
  env: NodeJS.ProcessEnv;
  creds: { username: string; password: string } | undefined;
  /** Pushes an image to the source registry and lists its tag in the Nexus stand-in. */
  publish(name: string, tag: string, image: TestImage | TestIndex): Promise<void>;
  close(): Promise<void>;
}

export async function makeImageWorld(
  options: { auth?: 'none' | 'basic' | 'token'; docker?: Record<string, unknown>; /** The target Nexus's docker repository (default docker-hosted). */ targetRepository?: string } = {},
): Promise<ImageWorld> {
  const auth = options.auth ?? 'none';
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-images-'));
  const [source, target] = await Promise.all([startRegistry({ auth }), startRegistry({ auth })]);
  const creds = auth === 'none' ? undefined : DEFAULT_USERS[0]!;
  const client = (r: TestRegistry) => new RegistryClient({ baseUrl: r.url, ...(creds ?? {}) });
  const nexus = await startNexusStandin({ repositories: [{ name: 'docker-hosted', format: 'docker', type: 'hosted' }] });
  const targetNexus = await startNexusStandin({
    repositories: [
      { name: 'raw-unused', format: 'raw', type: 'hosted' },
      { name: options.targetRepository ?? 'docker-hosted', format: 'docker', type: 'hosted' },
    ],
  });
  const keys = generateSigningKeyPair();
  await writeFile(path.join(dir, 'export.key'), keys.privateKeyPem, { mode: 0o600 });
  await writeFile(path.join(dir, 'export.pub'), keys.publicKeyPem);
  const registryCredentials = creds ? { credentials: { username: creds.username, passwordEnv: 'FERRY_REGISTRY_PASSWORD' } } : {};
  const exportConfig = path.join(dir, 'export.yaml');
  const importConfig = path.join(dir, 'import.yaml');
  await writeFile(
    exportConfig,
    stringify({
      sourceId: 'image-source',
      source: {
        url: nexus.url,
        repositories: [{ name: 'docker-hosted', format: 'docker', registry: { url: source.url, ...registryCredentials }, ...options.docker }],
      },
      workDir: 'export-work',
      bundles: { directory: 'bundles' },
      signing: { privateKeyFile: 'export.key' },
      scan: { overlapSeconds: 60 },
      copy: { concurrency: 4, maxAttempts: 2 },
    }),
  );
  await writeFile(
    importConfig,
    stringify({
      target: { url: targetNexus.url, registries: { 'docker-hosted': { url: target.url, ...registryCredentials } } },
      trust: { publicKeyFiles: ['export.pub'] },
      workDir: 'import-work',
      receipts: { directory: 'receipts' },
      concurrency: 4,
    }),
  );
  const sourceClient = client(source);
  const targetClient = client(target);
  return {
    dir,
    source,
    target,
    sourceClient,
    targetClient,
    nexus,
    targetNexus,
    exportConfig,
    importConfig,
    bundlesDir: path.join(dir, 'bundles'),
    env: { ...process.env, CI: 'true', ...(creds ? { FERRY_REGISTRY_PASSWORD: creds.password } : {}) },
    creds,
    async publish(name, tag, image) {
      if ('images' in image) await pushIndex(sourceClient, name, tag, image);
      else await pushImage(sourceClient, name, tag, image);
      nexus.putDockerTag('docker-hosted', name, tag, image.manifest.bytes, image.manifest.mediaType);
    },
    async close() {
      await Promise.all([sourceClient.close(), targetClient.close()]);
      await Promise.all([source.close(), target.close(), nexus.close(), targetNexus.close()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `const perTest = imageWorldsPerTest()`; in a test, `await perTest.world()` and
 * `await perTest.scratch('prefix-')`: each world is closed and each scratch directory
 * removed after its test.
 */
export function imageWorldsPerTest(): { world: (options?: Parameters<typeof makeImageWorld>[0]) => Promise<ImageWorld>; scratch: (prefix: string) => Promise<string> } {
  const worlds: ImageWorld[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const world of worlds.splice(0)) await world.close();
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });
  return {
    world: async (options) => {
      const world = await makeImageWorld(options);
      worlds.push(world);
      return world;
    },
    scratch: async (prefix) => {
      const dir = await mkdtemp(path.join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
  };
}

