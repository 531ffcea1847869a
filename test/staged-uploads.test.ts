/**
 * Uploading while verifying (core/import/staged-uploads.ts): a big image layer goes into a
 * registry upload session while its bundle is hashed, and only a bundle that verified and
 * planned whole commits it. Judged on docker-registry 2.8 itself: nothing is visible in the
 * repository before the commit, no session outlives a refusal, a SIGKILL after staging
 * leaves nothing visible and the run again completes (as it does after a SIGKILL just past
 * the commit), a session lost before its commit is uploaded again, and
 * `uploadWhileVerifying: false` sends nothing before the bundle verified.
 * The client's part: a staged blob is invisible until its commit, and the registry itself
 * refuses to commit bytes under a digest they do not have.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { bundleFileInput, DirObjectStore, SqliteImportState } from '../shared/adapters/embedded/index.ts';
import { NexusClient } from '../shared/adapters/nexus/index.ts';
import { RegistryClient } from '../shared/adapters/registry/index.ts';
import { sha256Of, type Digest } from '../shared/digest.ts';
import { makeImporter } from '../shared/core/import/importer.ts';
import { systemClock, type StagedBlob } from '../shared/core/ports/index.ts';
import { loadPublicKey } from '../shared/signing.ts';
import { makeImage, makeLayer, type TestImage } from './support/images.ts';
import { silentLog } from '../shared/core/log.ts';
import { imageWorldsPerTest, type ImageWorld } from './support/image-world.ts';
import { startRecordingProxy } from './support/proxy.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';
import { skopeoInspectRaw } from './support/skopeo.ts';
import { bundles, runFerry } from './support/world.ts';

/** Over STAGE_MIN_BYTES (16 MiB), so the CLI stages it. */
const BIG = 17 * 1024 * 1024;

const perTest = imageWorldsPerTest();

/** An image with one big layer, published and exported by the CLI: its bundle file. */
async function exportedBigImage(w: ImageWorld, name: string): Promise<{ image: TestImage; bundle: string }> {
  const image = makeImage({ layers: [await makeLayer({ 'data/big.bin': randomBytes(BIG) })] });
  await w.publish(name, '1.0', image);
  const exported = await runFerry(['export', '--once', '--config', w.exportConfig], w.env);
  expect(exported.code, exported.stderr).toBe(0);
  const [bundle] = await bundles(w);
  return { image, bundle: bundle! };
}

/**
 * Upload sessions the registry holds bytes for, under an image name (docker-registry's
 * filesystem layout: `_uploads/<id>/data`). A cancelled session loses its data and
 * `startedat`; 2.8 leaves an empty hash state behind, which no request can use.
 */
async function openSessions(w: ImageWorld, name: string): Promise<string[]> {
  const dir = path.join(w.target.storageDir, 'docker/registry/v2/repositories', name, '_uploads');
  const ids = existsSync(dir) ? await readdir(dir) : [];
  return ids.filter((id) => existsSync(path.join(dir, id, 'data')) || existsSync(path.join(dir, id, 'startedat')));
}

/** What a client of the target registry sees of an image: its tag, its layer. */
async function visible(w: ImageWorld, name: string, image: TestImage): Promise<{ tagged: boolean; layer: boolean }> {
  const layer = image.layers[0]!;
  return {
    tagged: (await w.targetClient.headManifest(name, '1.0')) !== undefined,
    layer: (await w.targetClient.headBlob(name, layer.digest)) !== undefined,
  };
}

/** Flips a byte near the end of a bundle's member: late in the layer, after most of it was staged. */
async function flipLateByte(bundle: string, digest: Digest): Promise<string> {
  const bytes = await readFile(bundle);
  const header = bytes.indexOf(`blobs/sha256/${digest.slice(7)}`);
  expect(header).toBeGreaterThan(0);
  const at = header + 512 + BIG - 10; // ustar: the member's content follows its 512-byte header
  bytes[at] = bytes[at]! ^ 0x01;
  const tampered = bundle.replace(/\.tar$/, '-tampered.tar');
  await writeFile(tampered, bytes);
  return tampered;
}

describe('uploading a big layer while its bundle verifies', () => {
  it('killed (SIGKILL) right after the layer went into an upload session: nothing is visible, and the run again imports the image', async () => {
    // Prepare
    const world = await perTest.world();
    const { image, bundle } = await exportedBigImage(world, 'staged/app');

    // Act
    const killed = await runFerry(['import', '--config', world.importConfig, bundle], { ...world.env, FERRY_FAULT_POINT: 'import:blob-staged' });
    const afterKill = await visible(world, 'staged/app', image);
    const sessionsAfterKill = await openSessions(world, 'staged/app');
    const again = await runFerry(['import', '--config', world.importConfig, bundle], world.env);

    // Assess
    expect(killed.signal, `expected a SIGKILL after staging; exit ${killed.code}: ${killed.stderr}`).toBe('SIGKILL');
    expect(afterKill).toEqual({ tagged: false, layer: false });
    // Left to the registry's purge: the layer's, and the config's when apply had begun its upload.
    expect(sessionsAfterKill.length).toBeGreaterThanOrEqual(1);
    expect(again.code, again.stderr).toBe(0);
    expect((await skopeoInspectRaw(`${world.target.host}/staged/app:1.0`)).equals(image.manifest.bytes)).toBe(true);
    expect(await visible(world, 'staged/app', image)).toEqual({ tagged: true, layer: true });
  }, 120_000);

  it('killed (SIGKILL) right after the staged layer was committed, before its entry was recorded: the run again finds the layer and imports the image', async () => {
    // Prepare
    const world = await perTest.world();
    const { image, bundle } = await exportedBigImage(world, 'staged/app');

    // Act
    const killed = await runFerry(['import', '--config', world.importConfig, bundle], { ...world.env, FERRY_FAULT_POINT: 'import:staged-committed' });
    const afterKill = await visible(world, 'staged/app', image);
    const again = await runFerry(['import', '-v', '--config', world.importConfig, bundle], world.env);

    // Assess
    expect(killed.signal, `expected a SIGKILL after the commit; exit ${killed.code}: ${killed.stderr}`).toBe('SIGKILL');
    expect(afterKill).toEqual({ tagged: false, layer: true });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/could not be committed/);
    expect((await skopeoInspectRaw(`${world.target.host}/staged/app:1.0`)).equals(image.manifest.bytes)).toBe(true);
    expect(await visible(world, 'staged/app', image)).toEqual({ tagged: true, layer: true });
  }, 120_000);

  it('refuses a bundle whose layer does not hash to its digest, and leaves no session, blob or tag behind', async () => {
    // Prepare
    const world = await perTest.world();
    const { image, bundle } = await exportedBigImage(world, 'staged/bad');
    const tampered = await flipLateByte(bundle, image.layers[0]!.digest);

    // Act
    const refused = await runFerry(['import', '-v', '--config', world.importConfig, tampered], world.env);

    // Assess
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`blobs/sha256/${image.layers[0]!.digest.slice(7)}`);
    expect(refused.stderr).toContain('uploading while verifying'); // its upload started before the mismatch showed
    expect(await visible(world, 'staged/bad', image)).toEqual({ tagged: false, layer: false });
    expect(await openSessions(world, 'staged/bad')).toEqual([]);
  }, 120_000);

  it('cancels the session when the plan refuses a bundle that verified (no such repository on the target)', async () => {
    // Prepare: the target Nexus has no docker-hosted repository
    const world = await perTest.world({ targetRepository: 'docker-elsewhere' });
    const { image, bundle } = await exportedBigImage(world, 'staged/nowhere');

    // Act
    const refused = await runFerry(['import', '-v', '--config', world.importConfig, bundle], world.env);

    // Assess
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('docker-hosted');
    expect(refused.stderr).toContain('uploading while verifying');
    expect(await visible(world, 'staged/nowhere', image)).toEqual({ tagged: false, layer: false });
    expect(await openSessions(world, 'staged/nowhere')).toEqual([]);
  }, 120_000);

  it('with uploadWhileVerifying: false, sends no byte to the registry before the bundle verified', async () => {
    // Prepare
    const world = await perTest.world();
    const { image, bundle } = await exportedBigImage(world, 'staged/strict');
    const config = parse(await readFile(world.importConfig, 'utf8')) as { target: { registries: Record<string, Record<string, unknown>> } };
    config.target.registries['docker-hosted']!.uploadWhileVerifying = false;
    await writeFile(world.importConfig, stringify(config));

    // Act: the fault point after staging would kill the run if it staged
    const imported = await runFerry(['import', '-v', '--config', world.importConfig, bundle], { ...world.env, FERRY_FAULT_POINT: 'import:blob-staged' });

    // Assess
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).not.toContain('uploading while verifying');
    expect((await skopeoInspectRaw(`${world.target.host}/staged/strict:1.0`)).equals(image.manifest.bytes)).toBe(true);
  }, 120_000);
});

describe('import.yaml\'s uploadChunkSize', () => {
  it('reaches the registry client: a layer uploaded while verifying goes in PATCHes of that size', async () => {
    // Prepare: the target registry behind a recording proxy, with a 4 MiB body limit configured
    const world = await perTest.world();
    const w = world;
    const { image, bundle } = await exportedBigImage(w, 'staged/chunked');
    const proxy = await startRecordingProxy(w.target.url);
    const config = parse(await readFile(w.importConfig, 'utf8')) as { target: { registries: Record<string, Record<string, unknown>> } };
    Object.assign(config.target.registries['docker-hosted']!, { url: proxy.url, uploadChunkSize: '4MiB' });
    await writeFile(w.importConfig, stringify(config));

    // Act
    const imported = await runFerry(['import', '--config', w.importConfig, bundle], w.env);
    await proxy.close();

    // Assess
    expect(imported.code, imported.stderr).toBe(0);
    const size = image.layers[0]!.size;
    const mib4 = 4 * 1024 * 1024;
    const expected = Array.from({ length: Math.ceil(size / mib4) }, (_, i) => `${i * mib4}-${Math.min((i + 1) * mib4, size) - 1}`);
    expect(proxy.seen.filter((r) => r.method === 'PATCH').map((r) => r.contentRange)).toEqual(expected);
    expect((await skopeoInspectRaw(`${w.target.host}/staged/chunked:1.0`)).equals(image.manifest.bytes)).toBe(true);
  }, 120_000);
});

/** A target registry client whose upload sessions vanish (the registry purged them) before the commit. */
class PurgingRegistry extends RegistryClient {
  readonly uploadsDir: (name: string) => string;

  constructor(baseUrl: string, uploadsDir: (name: string) => string) {
    super({ baseUrl });
    this.uploadsDir = uploadsDir;
  }

  override async stageBlob(name: string, digest: Digest, size: number, content: AsyncIterable<Buffer>): Promise<StagedBlob> {
    const staged = await super.stageBlob(name, digest, size, content);
    return {
      commit: async () => {
        await rm(this.uploadsDir(name), { recursive: true, force: true });
        await staged.commit();
      },
      cancel: () => staged.cancel(),
    };
  }
}

describe('an upload session lost before its commit', () => {
  it('is uploaded again from the bundle, and the image arrives', async () => {
    // Prepare: a small layer, staged (threshold 1 byte), its session purged before the commit
    const world = await perTest.world();
    const w = world;
    const image = makeImage({ layers: [await makeLayer({ 'data/blob': randomBytes(300_000) })] });
    await w.publish('staged/lost', '1.0', image);
    expect((await runFerry(['export', '--once', '--config', w.exportConfig], w.env)).code).toBe(0);
    const [bundle] = await bundles(w);
    const scratch = await perTest.scratch('ferry-staged-');
    const registry = new PurgingRegistry(w.target.url, (name) => path.join(w.target.storageDir, 'docker/registry/v2/repositories', name, '_uploads'));
    const warnings: string[] = [];
    const importer = makeImporter(
      {
        target: new NexusClient({ baseUrl: w.targetNexus.url }),
        held: new DirObjectStore(path.join(scratch, 'objects')),
        state: new SqliteImportState(path.join(scratch, 'state.db')),
        clock: systemClock,
        log: { ...silentLog, warn: (message) => warnings.push(message) },
        trustedKeys: [await loadPublicKey(path.join(w.dir, 'export.pub'))],
        registries: () => ({ key: w.target.url, registry }),
      },
      { repositoryMap: {}, concurrency: 2, stageMinBytes: 1 },
    );

    // Act
    const [report] = await importer.importBundles([bundleFileInput(bundle!)]);

    // Assess
    expect(report?.status).toBe('imported');
    expect(warnings.some((m) => m.includes('could not be committed') && m.includes('uploading it again'))).toBe(true);
    expect((await skopeoInspectRaw(`${w.target.host}/staged/lost:1.0`)).equals(image.manifest.bytes)).toBe(true);
    expect(await visible(w, 'staged/lost', image)).toEqual({ tagged: true, layer: true });
    await registry.close();
  }, 60_000);
});

describe('RegistryClient.stageBlob against docker-registry 2.8', () => {
  let registry: TestRegistry | undefined;
  afterEach(async () => {
    await registry?.close();
    registry = undefined;
  });

  it('holds the blob where no HEAD sees it until commit, in PATCHes of uploadChunkBytes when set; the committed blob reads back whole', async () => {
    // Prepare
    registry = await startRegistry();
    const client = new RegistryClient({ baseUrl: registry.url, uploadChunkBytes: 1024 * 1024 });
    const blob = randomBytes(3.5 * 1024 * 1024);
    const digest = sha256Of(blob);

    // Act
    const staged = await client.stageBlob('stage/chunks', digest, blob.length, Readable.from([blob]));
    const beforeCommit = await client.headBlob('stage/chunks', digest);
    await staged.commit();
    const back = await client.getBlob('stage/chunks', digest, async (body) => Buffer.concat(await body.toArray()));

    // Assess
    expect(beforeCommit).toBeUndefined();
    expect(back.equals(blob)).toBe(true);
    await client.close();
  });

  it('cannot commit bytes under a digest they do not have: the registry checks it again', async () => {
    // Prepare
    registry = await startRegistry();
    const client = new RegistryClient({ baseUrl: registry.url });
    const blob = randomBytes(100_000);
    const claimed = sha256Of(Buffer.from('something else'));

    // Act
    const staged = await client.stageBlob('stage/wrong', claimed, blob.length, Readable.from([blob]));
    const commit = staged.commit();

    // Assess
    await expect(commit).rejects.toThrow(/DIGEST_INVALID|400/);
    expect(await client.headBlob('stage/wrong', claimed)).toBeUndefined();
    expect(await client.headBlob('stage/wrong', sha256Of(blob))).toBeUndefined();
    await client.close();
  });
});
