/**
 * Deletions carried (`deletions: carry`), raw and npm, through the real CLI and two Nexus stand-ins:
 * an asset deleted on the source through the REST API fires Nexus's DELETED webhooks at a
 * running `ferry serve`, the next bundle carries a tombstone, and the import deletes on the
 * target only what Ferry imported there and is unchanged since; the receipt says what it did.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readBundleSummary } from '../shared/bundle/index.ts';
import { seedNpm } from './support/npm-fixtures.ts';
import { componentEvent, deliver, startServe, stopServe, until, WEBHOOK_SECRET, type ServeProcess, killIfRunning } from './support/serve.ts';
import { bundles, content, deleteOnSource, makeWorld, runFerry, type World } from './support/world.ts';

/** One raw repository; the scan runs at start only, and `ferry serve` never seals (`export --once` does). */
function deletionsWorld(deletions: 'carry' | undefined): Promise<World> {
  return makeWorld({
    repositories: ['raw-a'],
    configRepositories: [{ name: 'raw-a', format: 'raw', ...(deletions ? { deletions } : {}) }],
    exportOverrides: { serve: { scanIntervalSeconds: 3600, sealIntervalSeconds: 3600 } },
  });
}


async function exportOnce(world: World): Promise<void> {
  const run = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
  expect(run.code, run.stderr).toBe(0);
}

async function importAll(world: World, files: string[]) {
  const run = await runFerry(['import', '--config', world.importConfig, ...files], world.env);
  expect(run.code, run.stderr).toBe(0);
  return run;
}

async function receipt(world: World, sequence: number) {
  const file = path.join(world.receiptsDir, `test-source-${String(sequence).padStart(8, '0')}.receipt.json`);
  return JSON.parse(JSON.parse(await readFile(file, 'utf8')).payload) as { entries: unknown[]; deletions?: { path: string; outcome: string; reason?: string }[] };
}

/**
 * Bundle 1 carries `/d/gone.bin` and `/d/stays.bin` (imported), then `/d/gone.bin` is
 * deleted on the source while `ferry serve` listens to the repository's webhooks.
 */
async function carryThenDelete(world: World, beforeFirstImport: () => void = () => {}, carry = true): Promise<{ serve: ServeProcess }> {
  world.source.putRawAsset('raw-a', '/d/gone.bin', content('gone', 3000));
  world.source.putRawAsset('raw-a', '/d/stays.bin', content('stays', 2000));
  await exportOnce(world);
  beforeFirstImport();
  await importAll(world, await bundles(world));
  const serve = await startServe(world);
  // The reconcile after serve's first scan must not be the one that finds the deletion: the webhook is under test.
  if (carry) await until(() => /reconciled deletions of raw-a/.test(serve.stderr), 'the reconcile after the first scan');
  world.source.addWebhook({ repository: 'raw-a', url: `${serve.url}/webhook`, secret: WEBHOOK_SECRET, events: ['component', 'asset'] });
  await deleteOnSource(world, 'raw-a', '/d/gone.bin');
  await world.source.webhooksIdle();
  return { serve };
}

describe('deletions carried as tombstones (raw)', () => {
  let world: World;
  let serve: ServeProcess | undefined;
  afterEach(async () => {
    await killIfRunning(serve);
    serve = undefined;
    await world?.close();
  });

  it('an asset deleted on the source is carried as a tombstone, deleted on the target, and listed in the receipt', async () => {
    // Prepare
    world = await deletionsWorld('carry');
    ({ serve } = await carryThenDelete(world));
    await until(() => /1 tombstone\(s\) pending/.test(serve!.stderr), 'ferry serve to record the tombstone');
    await stopServe(serve);

    // Act
    await exportOnce(world);
    const files = await bundles(world);
    const verified = await runFerry(['verify', '--config', world.importConfig, files[1]!], world.env);
    const inspected = await runFerry(['inspect', files[1]!], world.env);
    const reported = await runFerry(['report', files[1]!, '-o', '-'], world.env);
    const imported = await importAll(world, [files[1]!]);

    // Assess
    expect(files).toHaveLength(2);
    const second = await readBundleSummary(createReadStream(files[1]!), path.basename(files[1]!));
    expect(second.manifest.format).toBe('ferry.bundle.v3');
    expect(second.manifest.entries).toEqual([
      expect.objectContaining({ kind: 'tombstone', of: 'raw', target: { repository: 'raw-a', path: '/d/gone.bin' }, digest: `sha256:${createHash('sha256').update(content('gone', 3000)).digest('hex')}` }),
    ]);
    expect(second.manifest.blobs).toEqual({ included: [], required: [] });
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toContain('would delete raw-a/d/gone.bin');
    expect(inspected.stdout).toContain('/d/gone.bin');
    expect(reported.stdout).toContain('delete raw /d/gone.bin');
    expect(world.target.assetPaths('raw-a')).toEqual(['/d/stays.bin']);
    expect(imported.stdout).toContain('deleted raw-a/d/gone.bin');
    expect((await receipt(world, 2)).deletions).toEqual([{ index: 0, repository: 'raw-a', path: '/d/gone.bin', digest: second.manifest.entries[0]!.digest, outcome: 'deleted' }]);
  });

  it('a tombstone for an artifact changed on the target since Ferry imported it keeps it and says why', async () => {
    // Prepare
    world = await deletionsWorld('carry');
    ({ serve } = await carryThenDelete(world));
    await until(() => /1 tombstone\(s\) pending/.test(serve!.stderr), 'ferry serve to record the tombstone');
    await stopServe(serve);
    await exportOnce(world);
    world.target.putRawAsset('raw-a', '/d/gone.bin', content('changed on the target', 1500));

    // Act
    const second = (await bundles(world))[1]!;
    const verified = await runFerry(['verify', '--config', world.importConfig, second], world.env);
    await importAll(world, [second]);

    // Assess
    expect(verified.stdout).toMatch(/would keep raw-a\/d\/gone\.bin: changed on the target since Ferry imported it/);
    expect(world.target.getAsset('raw-a', '/d/gone.bin')!.content).toEqual(content('changed on the target', 1500));
    expect((await receipt(world, 2)).deletions).toEqual([expect.objectContaining({ path: '/d/gone.bin', outcome: 'kept', reason: expect.stringMatching(/^changed on the target since Ferry imported it/) })]);
  });

  it('a tombstone for a repository made read-only on the target keeps the artifact and says why; the bundle\'s other entries import', async () => {
    // Prepare: raw-b is carried without deletions; after bundle 1, ops make raw-a read-only on the target
    world = await makeWorld({
      configRepositories: [{ name: 'raw-a', format: 'raw', deletions: 'carry' }, { name: 'raw-b', format: 'raw' }],
      exportOverrides: { serve: { scanIntervalSeconds: 3600, sealIntervalSeconds: 3600 } },
    });
    ({ serve } = await carryThenDelete(world));
    await until(() => /1 tombstone\(s\) pending/.test(serve!.stderr), 'ferry serve to record the tombstone');
    await stopServe(serve);
    world.source.putRawAsset('raw-b', '/e/new.bin', content('new', 2500));
    await exportOnce(world);
    world.target.setWritePolicy('raw-a', 'deny');

    // Act
    const second = (await bundles(world))[1]!;
    const verified = await runFerry(['verify', '--config', world.importConfig, second], world.env);
    const imported = await importAll(world, [second]);

    // Assess
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/would keep raw-a\/d\/gone\.bin: target repository raw-a is read-only \(write policy deny\)/);
    expect(imported.stdout).toContain('1 uploaded');
    expect(world.target.assetPaths('raw-a').sort()).toEqual(['/d/gone.bin', '/d/stays.bin']);
    expect(world.target.getAsset('raw-b', '/e/new.bin')!.content).toEqual(content('new', 2500));
    expect(world.target.requests.filter((r) => r.method === 'DELETE')).toEqual([]);
    expect((await receipt(world, 2)).deletions).toEqual([expect.objectContaining({ path: '/d/gone.bin', outcome: 'kept', reason: 'target repository raw-a is read-only (write policy deny)' })]);
  });

  it('a tombstone for an artifact Ferry never imported there (it was already present) keeps it', async () => {
    // Prepare: the target has the same bytes before the first import, so Ferry finds it present and imports nothing
    world = await deletionsWorld('carry');
    ({ serve } = await carryThenDelete(world, () => world.target.putRawAsset('raw-a', '/d/gone.bin', content('gone', 3000))));
    await until(() => /1 tombstone\(s\) pending/.test(serve!.stderr), 'ferry serve to record the tombstone');
    await stopServe(serve);
    await exportOnce(world);

    // Act
    await importAll(world, [(await bundles(world))[1]!]);

    // Assess
    expect(world.target.assetPaths('raw-a').sort()).toEqual(['/d/gone.bin', '/d/stays.bin']);
    expect((await receipt(world, 1)).entries).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/d/gone.bin', outcome: 'present' })]));
    expect((await receipt(world, 2)).deletions).toEqual([expect.objectContaining({ path: '/d/gone.bin', outcome: 'kept', reason: 'Ferry did not import it on this target' })]);
  });

  it('a deletion no webhook reported is found by the full reconcile, not by the forward scan, and carried', async () => {
    // Prepare: carried and imported, then deleted on the source with no webhook configured
    world = await deletionsWorld('carry');
    world.source.putRawAsset('raw-a', '/d/gone.bin', content('gone', 3000));
    world.source.putRawAsset('raw-a', '/d/stays.bin', content('stays', 2000));
    await exportOnce(world);
    await importAll(world, await bundles(world));
    await deleteOnSource(world, 'raw-a', '/d/gone.bin');

    // Act
    await exportOnce(world);
    const afterScan = await bundles(world);
    const reconciled = await runFerry(['export', '--once', '--reconcile-deletions', '--config', world.exportConfig], world.env);
    const files = await bundles(world);
    await importAll(world, [files[1]!]);

    // Assess
    expect(afterScan).toHaveLength(1);
    expect(reconciled.code, reconciled.stderr).toBe(0);
    expect(reconciled.stderr + reconciled.stdout).toContain('reconciled deletions of raw-a: 1 tombstone(s)');
    expect(files).toHaveLength(2);
    expect(world.target.assetPaths('raw-a')).toEqual(['/d/stays.bin']);
    expect((await receipt(world, 2)).deletions).toEqual([expect.objectContaining({ path: '/d/gone.bin', outcome: 'deleted' })]);
  });

  it('the same bytes uploaded again at a deleted path are carried again and back on the target, byte for byte', async () => {
    // Prepare: carried and imported, deleted on the source, the tombstone carried and applied
    world = await deletionsWorld('carry');
    const bytes = content('gone', 3000);
    world.source.putRawAsset('raw-a', '/d/gone.bin', bytes);
    await exportOnce(world);
    await importAll(world, await bundles(world));
    await deleteOnSource(world, 'raw-a', '/d/gone.bin');
    const reconciled = await runFerry(['export', '--once', '--reconcile-deletions', '--config', world.exportConfig], world.env);
    expect(reconciled.code, reconciled.stderr).toBe(0);
    await importAll(world, [(await bundles(world))[1]!]);
    expect(world.target.assetPaths('raw-a')).toEqual([]);

    // Act
    world.source.putRawAsset('raw-a', '/d/gone.bin', bytes);
    await exportOnce(world);
    await exportOnce(world);
    const files = await bundles(world);
    expect(files, 'one bundle more, and only one').toHaveLength(3);
    await importAll(world, [files[2]!]);

    // Assess: the entry carried again; its blob is required from bundle 1, which shipped it
    const third = await readBundleSummary(createReadStream(files[2]!), path.basename(files[2]!));
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    expect(third.manifest.entries).toEqual([expect.objectContaining({ kind: 'raw', target: { repository: 'raw-a', path: '/d/gone.bin' }, digest })]);
    expect(third.manifest.blobs).toEqual({ included: [], required: [{ digest, size: 3000, shippedIn: 1 }] });
    expect(world.target.getAsset('raw-a', '/d/gone.bin')?.content).toEqual(bytes);
    expect((await receipt(world, 3)).entries).toEqual([expect.objectContaining({ path: '/d/gone.bin', outcome: 'imported' })]);
  });

  it('a DELETED webhook arriving after the path was uploaded again records no tombstone; the artifact stays on the target', async () => {
    // Prepare: carried and imported; deleted on the source and uploaded again with the same bytes (a new component id)
    world = await deletionsWorld('carry');
    const bytes = content('again', 3000);
    const first = world.source.putRawAsset('raw-a', '/d/again.bin', bytes);
    await exportOnce(world);
    await importAll(world, await bundles(world));
    serve = await startServe(world);
    await until(() => /reconciled deletions of raw-a/.test(serve!.stderr), 'the reconcile after the first scan');
    await deleteOnSource(world, 'raw-a', '/d/again.bin');
    const again = world.source.putRawAsset('raw-a', '/d/again.bin', bytes);
    world.source.putRawAsset('raw-a', '/d/other.bin', content('other', 1000));

    // Act: the re-upload's CREATED delivered first, the first upload's DELETED late; then sealed and imported
    const created = await deliver(serve, componentEvent('raw-a', again.componentId, 'd/again.bin'), { deliveryId: 'late-1' });
    const deleted = await deliver(serve, componentEvent('raw-a', first.componentId, 'd/again.bin', 'DELETED'), { deliveryId: 'late-2' });
    await stopServe(serve);
    await exportOnce(world);
    const files = await bundles(world);
    await importAll(world, [files[1]!]);

    // Assess
    expect(again.componentId).not.toBe(first.componentId);
    expect(created).toMatchObject({ status: 202, body: { tasks: 0, alreadyStaged: 1 } });
    expect(deleted).toMatchObject({ status: 202, body: { tombstones: 0, stillAtSource: 1 } });
    expect(serve.stderr).toMatch(/0 tombstone\(s\) pending for the next bundle; 1 path\(s\) still served by the source/);
    expect(files).toHaveLength(2);
    const second = await readBundleSummary(createReadStream(files[1]!), path.basename(files[1]!));
    expect(second.manifest.entries).toEqual([expect.objectContaining({ kind: 'raw', target: { repository: 'raw-a', path: '/d/other.bin' } })]);
    expect(world.target.getAsset('raw-a', '/d/again.bin')?.content).toEqual(bytes);
    expect((await receipt(world, 2)).deletions ?? []).toEqual([]);
  });

  it('a reconcile killed (SIGKILL) after its first tombstone, run again, records each deletion once, and the next bundle carries both', async () => {
    // Prepare: two staged files deleted on the source with no webhook
    world = await deletionsWorld('carry');
    for (const name of ['one', 'two']) world.source.putRawAsset('raw-a', `/k/${name}.bin`, content(name, 1000));
    await exportOnce(world);
    for (const name of ['one', 'two']) await deleteOnSource(world, 'raw-a', `/k/${name}.bin`);

    // Act
    const killed = await runFerry(['export', '--once', '--reconcile-deletions', '--config', world.exportConfig], { ...world.env, FERRY_FAULT_POINT: 'reconcile:after-tombstone' });
    const again = await runFerry(['export', '--once', '--reconcile-deletions', '--config', world.exportConfig], world.env);

    // Assess
    expect(killed.signal).toBe('SIGKILL');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/reconciled deletions of raw-a: 1 tombstone/);
    const files = await bundles(world);
    expect(files).toHaveLength(2);
    const second = await readBundleSummary(createReadStream(files[1]!), 'second');
    expect(second.manifest.entries.map((e) => [e.kind, (e.target as { path: string }).path]).sort()).toEqual([
      ['tombstone', '/k/one.bin'],
      ['tombstone', '/k/two.bin'],
    ]);
  });

  it('ferry serve reconciles after each scheduled scan and records a tombstone for a deletion no webhook reported', async () => {
    // Prepare: scans every second, no webhook
    world = await makeWorld({
      repositories: ['raw-a'],
      configRepositories: [{ name: 'raw-a', format: 'raw', deletions: 'carry' }],
      exportOverrides: { serve: { scanIntervalSeconds: 1, sealIntervalSeconds: 3600 } },
    });
    world.source.putRawAsset('raw-a', '/d/gone.bin', content('gone', 3000));
    await exportOnce(world);
    serve = await startServe(world);

    // Act
    await deleteOnSource(world, 'raw-a', '/d/gone.bin');
    await until(() => /reconciled deletions of raw-a: 1 tombstone\(s\)/.test(serve!.stderr), 'a scheduled reconcile to find the deletion');
    await stopServe(serve);
    await exportOnce(world);

    // Assess
    const second = await readBundleSummary(createReadStream((await bundles(world))[1]!), 'second');
    expect(second.manifest.entries).toEqual([expect.objectContaining({ kind: 'tombstone', target: { repository: 'raw-a', path: '/d/gone.bin' } })]);
  });

  it('a PURGED event (bare ids) makes ferry serve run the full reconcile at once, without waiting for the next scan', async () => {
    // Prepare: scans hourly; the asset goes with no webhook, as a cleanup task's purge reports it
    world = await deletionsWorld('carry');
    world.source.putRawAsset('raw-a', '/d/purged.bin', content('purged', 3000));
    await exportOnce(world);
    serve = await startServe(world);
    await until(() => /reconciled deletions of raw-a: 0 tombstone/.test(serve!.stderr), 'the reconcile after the first scan');
    await deleteOnSource(world, 'raw-a', '/d/purged.bin');
    const purged = JSON.stringify({ timestamp: '2025-01-15T10:20:30.123+00:00', nodeId: '52905B51-085CCABB-CEBBEAAD-16795588-FC927D93', initiator: 'system', repositoryName: 'raw-a', action: 'PURGED', components: ['fa8cfc42'] });

    // Act
    const answered = await deliver(serve, purged, { deliveryId: 'purge-1' });
    await until(() => /reconciled deletions of raw-a: 1 tombstone/.test(serve!.stderr), 'the reconcile the PURGED event asked for');
    await stopServe(serve);
    await exportOnce(world);

    // Assess
    expect(answered).toMatchObject({ status: 202, body: { tombstones: 0 } });
    expect(serve.stderr).toMatch(/the full reconcile of raw-a runs now/);
    const second = await readBundleSummary(createReadStream((await bundles(world))[1]!), 'second');
    expect(second.manifest.entries).toEqual([expect.objectContaining({ kind: 'tombstone', target: { repository: 'raw-a', path: '/d/purged.bin' } })]);
  });

  it('without deletions: carry a deletion is only logged and nothing is carried', async () => {
    // Prepare
    world = await deletionsWorld(undefined);
    ({ serve } = await carryThenDelete(world, undefined, false));
    await until(() => /not carried/.test(serve!.stderr), 'ferry serve to log the deletion');
    await stopServe(serve);

    // Act
    await exportOnce(world);

    // Assess
    expect(await bundles(world)).toHaveLength(1);
    expect(world.target.assetPaths('raw-a').sort()).toEqual(['/d/gone.bin', '/d/stays.bin']);
  });
});

describe('deletions carried as tombstones (npm)', () => {
  const REPO = 'npm-hosted';
  let world: World;
  let serve: ServeProcess | undefined;
  afterEach(async () => {
    await killIfRunning(serve);
    serve = undefined;
    await world?.close();
  });

  it('a package version deleted on the source is deleted on the target; the other version stays', async () => {
    // Prepare: two versions carried, then version 1.0.0 deleted on the source (its component, by REST id)
    world = await makeWorld({
      format: 'npm',
      repositories: [REPO],
      configRepositories: [{ name: REPO, format: 'npm', deletions: 'carry' }],
      exportOverrides: { serve: { scanIntervalSeconds: 3600, sealIntervalSeconds: 3600 } },
    });
    for (const version of ['1.0.0', '2.0.0']) await seedNpm(world.source, REPO, 'tool-0', version);
    await exportOnce(world);
    await importAll(world, await bundles(world));
    serve = await startServe(world);
    await until(() => /reconciled deletions of npm-hosted/.test(serve!.stderr), 'the reconcile after the first scan');
    world.source.addWebhook({ repository: REPO, url: `${serve.url}/webhook`, secret: WEBHOOK_SECRET, events: ['component', 'asset'] });
    const auth = { authorization: `Basic ${Buffer.from(`ferry-reader:${world.env.FERRY_SOURCE_PASSWORD}`).toString('base64')}` };
    const listing = (await (await fetch(`${world.source.url}/service/rest/v1/components?repository=${REPO}`, { headers: auth })).json()) as { items: { id: string; version: string }[] };
    const old = listing.items.find((c) => c.version === '1.0.0')!;
    expect((await fetch(`${world.source.url}/service/rest/v1/components/${old.id}`, { method: 'DELETE', headers: auth })).status).toBe(204);
    await world.source.webhooksIdle();
    await until(() => /1 tombstone\(s\) pending/.test(serve!.stderr), 'ferry serve to record the tombstone');
    await stopServe(serve);

    // Act
    await exportOnce(world);
    const imported = await importAll(world, [(await bundles(world))[1]!]);

    // Assess
    expect(imported.stdout).toContain(`deleted ${REPO}/tool-0/-/tool-0-1.0.0.tgz`);
    expect(world.target.assetPaths(REPO).filter((p) => p.endsWith('.tgz'))).toEqual(['/tool-0/-/tool-0-2.0.0.tgz']);
    expect((await receipt(world, 2)).deletions).toEqual([expect.objectContaining({ path: '/tool-0/-/tool-0-1.0.0.tgz', outcome: 'deleted' })]);
  });
});
