/**
 * Docker tombstones end to end: real registries (docker-registry) on both sides, a Nexus
 * stand-in whose component per tag is deleted through the REST API, DELETED webhooks to a
 * running `ferry serve`, and the real CLI. A tag goes from the target; its blobs stay (another
 * image shares them); a manifest another tag still names is kept.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeImage, makeLayer } from './support/images.ts';
import { makeImageWorld, type ImageWorld } from './support/image-world.ts';
import { startServe, stopServe, until, WEBHOOK_SECRET, type ServeProcess, killIfRunning } from './support/serve.ts';
import { bundles, runFerry, type World } from './support/world.ts';

/** Deletes a tag on the source Nexus as a user would: the component (name = image, version = tag) by its REST id. */
async function deleteTag(world: ImageWorld, name: string, tag: string): Promise<void> {
  const listing = (await (await fetch(`${world.nexus.url}/service/rest/v1/components?repository=docker-hosted`)).json()) as { items: { id: string; name: string; version: string }[] };
  const component = listing.items.find((c) => c.name === name && c.version === tag);
  if (component === undefined) throw new Error(`${name}:${tag} is not on the source`);
  expect((await fetch(`${world.nexus.url}/service/rest/v1/components/${component.id}`, { method: 'DELETE' })).status).toBe(204);
}

describe('deletions carried as tombstones (docker)', () => {
  let world: ImageWorld;
  let serve: ServeProcess | undefined;
  afterEach(async () => {
    await killIfRunning(serve);
    serve = undefined;
    await world?.close();
  });

  it('a tag deleted on the source is removed on the target; a blob another image uses stays; a manifest another tag names is kept', async () => {
    // Prepare: team/a and team/b share a base layer; team/c has two tags on one manifest
    world = await makeImageWorld({ docker: { deletions: 'carry' } });
    const base = await makeLayer({ 'etc/os-release': 'ID=ferrytest\n' });
    const a = makeImage({ layers: [base, await makeLayer({ 'app/a': 'a\n' })] });
    const b = makeImage({ layers: [base, await makeLayer({ 'app/b': 'b\n' })] });
    const c = makeImage({ layers: [base, await makeLayer({ 'app/c': 'c\n' })] });
    await world.publish('team/a', '1.0', a);
    await world.publish('team/b', '1.0', b);
    await world.publish('team/c', '1.0', c);
    await world.publish('team/c', 'stable', c);
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const first = await runFerry(['import', '--config', world.importConfig, ...(await bundles(world))], world.env);
    expect(first.code, first.stderr).toBe(0);
    const asWorld = world as unknown as World;
    serve = await startServe(asWorld, [], { ...world.env, FERRY_WEBHOOK_SECRET: WEBHOOK_SECRET });
    await until(() => /reconciled deletions of docker-hosted/.test(serve!.stderr), 'the reconcile after the first scan');
    world.nexus.addWebhook({ repository: 'docker-hosted', url: `${serve.url}/webhook`, secret: WEBHOOK_SECRET, events: ['component'] });
    await deleteTag(world, 'team/a', '1.0');
    await deleteTag(world, 'team/c', '1.0');
    await world.nexus.webhooksIdle();
    await until(() => (serve!.stderr.match(/1 tombstone\(s\) pending/g) ?? []).length === 2, 'ferry serve to record both tombstones');
    await stopServe(serve);

    // Act
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const files = await bundles(world);
    const imported = await runFerry(['import', '--config', world.importConfig, ...files.slice(1)], world.env);

    // Assess
    expect(imported.code, imported.stderr).toBe(0);
    expect(await world.targetClient.headManifest('team/a', '1.0')).toBeUndefined();
    expect((await world.targetClient.headManifest('team/b', '1.0'))?.digest).toBe(b.manifest.digest);
    expect(await world.targetClient.headBlob('team/b', base.digest)).toBeDefined();
    expect(await world.targetClient.headBlob('team/a', base.digest)).toBeDefined();
    expect((await world.targetClient.headManifest('team/c', '1.0'))?.digest).toBe(c.manifest.digest);
    expect((await world.targetClient.headManifest('team/c', 'stable'))?.digest).toBe(c.manifest.digest);
    const receiptFile = path.join(world.dir, 'receipts', path.basename(files.at(-1)!).replace(/\.tar$/, '.receipt.json'));
    const receipt = JSON.parse(JSON.parse(await readFile(receiptFile, 'utf8')).payload) as { deletions: unknown[] };
    expect(receipt.deletions).toEqual([
      expect.objectContaining({ path: '/team/a:1.0', digest: a.manifest.digest, outcome: 'deleted' }),
      expect.objectContaining({ path: '/team/c:1.0', outcome: 'kept', reason: 'tag stable names the same manifest: deleting it by digest would remove that tag too' }),
    ]);
  });
});
