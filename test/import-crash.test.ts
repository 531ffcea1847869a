/**
 * kill -9 inside the import's riskier steps, then the same import again: a deletion that
 * reached the target before it was recorded is reported as deleted by this import (never
 * "kept, already gone"), a tombstone the first run decided to keep stays kept, and a blob
 * killed half put together from its parts arrives whole, once, with no half blob held.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readBundleSummary } from '../shared/bundle/index.ts';
import { makeImage, makeLayer } from './support/images.ts';
import { makeImageWorld, type ImageWorld } from './support/image-world.ts';
import { bundles, content, makeWorld, runFerry, type FerryRun, type World } from './support/world.ts';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface ReceiptDeletions {
  deletions?: { path: string; outcome: string; reason?: string }[];
}

async function receiptOf(dir: string, bundle: string): Promise<ReceiptDeletions> {
  const file = path.join(dir, 'receipts', path.basename(bundle).replace(/\.tar$/, '.receipt.json'));
  return JSON.parse(JSON.parse(await readFile(file, 'utf8')).payload) as ReceiptDeletions;
}

function expectKilled(run: FerryRun): void {
  expect(run.signal, `expected a SIGKILL at the fault point; exit ${run.code}: ${run.stderr}`).toBe('SIGKILL');
}

async function ferryOk(args: string[], env: NodeJS.ProcessEnv): Promise<FerryRun> {
  const run = await runFerry(args, env);
  expect(run.code, run.stderr).toBe(0);
  return run;
}

/** Deletes an asset on the source as a user would: its id from the assets listing, then `DELETE /v1/assets/{id}`. */
async function deleteOnSource(world: World, repository: string, assetPath: string): Promise<void> {
  const auth = { authorization: `Basic ${Buffer.from(`ferry-reader:${world.env.FERRY_SOURCE_PASSWORD}`).toString('base64')}` };
  const listing = (await (await fetch(`${world.source.url}/service/rest/v1/assets?repository=${repository}`, { headers: auth })).json()) as { items: { id: string; path: string }[] };
  const asset = listing.items.find((a) => a.path === assetPath);
  if (asset === undefined) throw new Error(`${repository}${assetPath} is not on the source`);
  expect((await fetch(`${world.source.url}/service/rest/v1/assets/${asset.id}`, { method: 'DELETE', headers: auth })).status).toBe(204);
}

/** Deletes a tag on the source Nexus as a user would: the component (name = image, version = tag) by its REST id. */
async function deleteTag(world: ImageWorld, name: string, tag: string): Promise<void> {
  const listing = (await (await fetch(`${world.nexus.url}/service/rest/v1/components?repository=docker-hosted`)).json()) as { items: { id: string; name: string; version: string }[] };
  const component = listing.items.find((c) => c.name === name && c.version === tag);
  if (component === undefined) throw new Error(`${name}:${tag} is not on the source`);
  expect((await fetch(`${world.nexus.url}/service/rest/v1/components/${component.id}`, { method: 'DELETE' })).status).toBe(204);
}

describe('an import killed right after a carried deletion reached the target (SIGKILL), then run again', () => {
  let world: World | undefined;
  let images: ImageWorld | undefined;
  afterEach(async () => {
    await world?.close();
    await images?.close();
    world = undefined;
    images = undefined;
  });

  it('raw: reports the deletion as deleted, and keeps what the first run decided to keep', async () => {
    // Prepare: three assets carried and imported; two deleted on the source and carried as tombstones
    // (reconcile); the second tombstone's asset changed on the target, so the plan keeps it. One at a
    // time (concurrency 1): the kill after the first one's delete lands before the keep is applied.
    world = await makeWorld({
      repositories: ['raw-a'],
      configRepositories: [{ name: 'raw-a', format: 'raw', deletions: 'carry' }],
      importOverrides: { concurrency: 1 },
    });
    for (const name of ['a', 'b', 'stays']) world.source.putRawAsset('raw-a', `/d/${name}.bin`, content(name, 3000));
    await ferryOk(['export', '--once', '--config', world.exportConfig], world.env);
    await ferryOk(['import', '--config', world.importConfig, ...(await bundles(world))], world.env);
    await deleteOnSource(world, 'raw-a', '/d/a.bin');
    await deleteOnSource(world, 'raw-a', '/d/b.bin');
    await ferryOk(['export', '--once', '--reconcile-deletions', '--config', world.exportConfig], world.env);
    const second = (await bundles(world))[1]!;
    const tombstones = (await readBundleSummary(createReadStream(second), 'second')).manifest.entries.map((e) => ('path' in e.target ? e.target.path : ''));
    expect([...tombstones].sort()).toEqual(['/d/a.bin', '/d/b.bin']);
    const [gone, kept] = tombstones as [string, string];
    const keptBytes = content(path.basename(kept, '.bin'), 3000);
    world.target.putRawAsset('raw-a', kept, content('changed on the target', 1500));

    // Act: killed once the first is deleted on the target; the kept one put back as Ferry imported it; run again
    const killed = await runFerry(['import', '--config', world.importConfig, second], { ...world.env, FERRY_FAULT_POINT: 'import:after-delete' });
    const afterKill = world.target.assetPaths('raw-a').sort();
    world.target.putRawAsset('raw-a', kept, keptBytes);
    const rerun = await runFerry(['import', '--config', world.importConfig, second], world.env);

    // Assess
    expectKilled(killed);
    expect(afterKill).toEqual([kept, '/d/stays.bin']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(world.target.assetPaths('raw-a').sort()).toEqual([kept, '/d/stays.bin']);
    expect(world.target.getAsset('raw-a', kept)!.content).toEqual(keptBytes);
    expect(rerun.stdout).toContain(`deleted raw-a${gone}`);
    const { deletions } = await receiptOf(world.dir, second);
    expect(deletions).toEqual([
      expect.objectContaining({ path: gone, outcome: 'deleted' }),
      expect.objectContaining({ path: kept, outcome: 'kept', reason: expect.stringMatching(/^changed on the target since Ferry imported it/) }),
    ]);
    expect(deletions![0]).not.toHaveProperty('reason');
  });

  it('docker: reports the removed tag as deleted', async () => {
    // Prepare: team/a:1.0 and team/b:1.0 carried and imported; team/a:1.0 deleted on the source and carried (reconcile)
    images = await makeImageWorld({ docker: { deletions: 'carry' } });
    const base = await makeLayer({ 'etc/os-release': 'ID=ferrytest\n' });
    const a = makeImage({ layers: [base, await makeLayer({ 'app/a': 'a\n' })] });
    const b = makeImage({ layers: [base, await makeLayer({ 'app/b': 'b\n' })] });
    await images.publish('team/a', '1.0', a);
    await images.publish('team/b', '1.0', b);
    await ferryOk(['export', '--once', '--config', images.exportConfig], images.env);
    await ferryOk(['import', '--config', images.importConfig, ...(await bundles(images))], images.env);
    await deleteTag(images, 'team/a', '1.0');
    await ferryOk(['export', '--once', '--reconcile-deletions', '--config', images.exportConfig], images.env);
    const second = (await bundles(images))[1]!;

    // Act
    const killed = await runFerry(['import', '--config', images.importConfig, second], { ...images.env, FERRY_FAULT_POINT: 'import:after-delete' });
    const afterKill = await images.targetClient.headManifest('team/a', '1.0');
    const rerun = await runFerry(['import', '--config', images.importConfig, second], images.env);

    // Assess
    expectKilled(killed);
    expect(afterKill).toBeUndefined();
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(await images.targetClient.headManifest('team/a', '1.0')).toBeUndefined();
    expect((await images.targetClient.headManifest('team/b', '1.0'))?.digest).toBe(b.manifest.digest);
    expect((await receiptOf(images.dir, second)).deletions).toEqual([{ index: 0, repository: 'docker-hosted', path: '/team/a:1.0', digest: a.manifest.digest, outcome: 'deleted' }]);
  });
});

describe('an import killed while a split blob is put together from its parts (SIGKILL), then run again', () => {
  const CAP = 1024 * 1024;
  const BIG = content('big-split', 3 * 1024 * 1024 + 321);
  let world: World | undefined;
  afterEach(async () => world?.close());

  /** Every file in the held store's blob directory, with whether its bytes hash to its name. */
  async function heldBlobs(root: string): Promise<{ hex: string; whole: boolean }[]> {
    const dir = path.join(root, 'blobs', 'sha256');
    const names = await readdir(dir).catch(() => [] as string[]);
    return Promise.all(names.map(async (hex) => ({ hex, whole: sha256(await readFile(path.join(dir, hex))) === hex })));
  }

  it('arrives byte-identical, uploaded once, and no half-assembled blob is held', async () => {
    // Prepare: a 3 MiB artifact through a 1 MiB cap (parts in several bundles), and a small one
    world = await makeWorld({ exportOverrides: { bundles: { directory: 'bundles', maxBytes: CAP } } });
    world.source.putRawAsset('raw-a', '/layers/big.bin', BIG);
    world.source.putRawAsset('raw-b', '/small/one.txt', content('small', 4000));
    await ferryOk(['export', '--once', '--config', world.exportConfig], world.env);
    const files = await bundles(world);
    expect(files.length).toBeGreaterThanOrEqual(3);
    const held = path.join(world.dir, 'import-work', 'objects');

    // Act: killed between two parts of the blob being put together, then every bundle imported again
    const killed = await runFerry(['import', '--config', world.importConfig, ...files], { ...world.env, FERRY_FAULT_POINT: 'import:mid-assembly' });
    const onTargetAfterKill = [...world.target.assetPaths('raw-a'), ...world.target.assetPaths('raw-b')];
    const blobsAfterKill = await heldBlobs(held);
    const tmpAfterKill = await readdir(path.join(held, 'tmp'));
    const leftover = await Promise.all(tmpAfterKill.map(async (name) => (await stat(path.join(held, 'tmp', name))).size));
    // A crashed write's leftover is swept by the next start once stale (younger ones may be another writer's).
    const stale = new Date(Date.now() - 2 * 60 * 60 * 1000);
    for (const name of tmpAfterKill) await utimes(path.join(held, 'tmp', name), stale, stale);
    const rerun = await runFerry(['import', '--config', world.importConfig, ...files], world.env);

    // Assess
    expectKilled(killed);
    expect(onTargetAfterKill).toEqual([]);
    expect(blobsAfterKill.map((b) => b.hex)).not.toContain(sha256(BIG));
    expect(blobsAfterKill.every((b) => b.whole)).toBe(true);
    expect(leftover.length).toBe(1);
    expect(leftover[0]).toBeLessThan(BIG.length);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(world.target.getAsset('raw-a', '/layers/big.bin')!.content.equals(BIG)).toBe(true);
    expect(world.target.uploadCount('raw-a', '/layers/big.bin')).toBe(1);
    expect(world.target.getAsset('raw-b', '/small/one.txt')!.content).toEqual(content('small', 4000));
    const blobs = await heldBlobs(held);
    expect(blobs.map((b) => b.hex)).toContain(sha256(BIG));
    expect(blobs.every((b) => b.whole)).toBe(true);
    expect(await readdir(path.join(held, 'tmp'))).toEqual([]);
  });

  it('killed after the blob is put together, before its parts are removed: the run again removes them, and the blob arrives once', async () => {
    // Prepare
    world = await makeWorld({ exportOverrides: { bundles: { directory: 'bundles', maxBytes: CAP } } });
    world.source.putRawAsset('raw-a', '/layers/big.bin', BIG);
    await ferryOk(['export', '--once', '--config', world.exportConfig], world.env);
    const files = await bundles(world);
    const parts = new Set<string>();
    for (const file of files) for (const part of (await readBundleSummary(createReadStream(file), file)).manifest.blobs.parts ?? []) parts.add(part.digest.slice(7));
    expect(parts.size).toBeGreaterThanOrEqual(3);
    const held = path.join(world.dir, 'import-work', 'objects');

    // Act
    const killed = await runFerry(['import', '--config', world.importConfig, ...files], { ...world.env, FERRY_FAULT_POINT: 'import:after-assembly' });
    const afterKill = (await heldBlobs(held)).map((b) => b.hex);
    const onTargetAfterKill = world.target.assetPaths('raw-a');
    const rerun = await runFerry(['import', '--config', world.importConfig, ...files], world.env);

    // Assess: the kill left the blob and every part held, nothing on the target; the run again
    // imported once and left the blob alone
    expectKilled(killed);
    expect(afterKill).toContain(sha256(BIG));
    expect([...parts].every((p) => afterKill.includes(p))).toBe(true);
    expect(onTargetAfterKill).toEqual([]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(world.target.getAsset('raw-a', '/layers/big.bin')!.content.equals(BIG)).toBe(true);
    expect(world.target.uploadCount('raw-a', '/layers/big.bin')).toBe(1);
    expect((await heldBlobs(held)).map((b) => b.hex)).toEqual([sha256(BIG)]);
  });
});
