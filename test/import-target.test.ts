/**
 * Verify before write includes the target: a bundle whose every digest checks out is still
 * refused whole, naming each entry and why, when the target would refuse any planned write —
 * and the target is left exactly as it was.
 */
import { createHash, createPrivateKey } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { blobMember, EMPTY_OCI_INDEX, INDEX_MEMBER, MANIFEST_MEMBER, OCI_LAYOUT_BYTES, OCI_LAYOUT_MEMBER, SIGNATURE_MEMBER } from '../shared/bundle/index.ts';
import { sha256Of } from '../shared/digest.ts';
import { localSigner, serializeSignature } from '../shared/signing.ts';
import type { StandinRepository } from './nexus-standin/index.ts';
import { content, makeWorld, runFerry, type World } from './support/world.ts';

async function exportBundle(world: World): Promise<string> {
  const run = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
  expect(run.code, run.stderr).toBe(0);
  const [file] = (await readdir(world.bundlesDir)).filter((f) => f.endsWith('.tar')).sort().reverse();
  return path.join(world.bundlesDir, file!);
}

/** Every asset of the target with its sha256: "unchanged" means this map is equal before and after. */
function targetState(world: World, repositories: string[]): Record<string, string> {
  const state: Record<string, string> = {};
  for (const repository of repositories) {
    for (const p of world.target.assetPaths(repository)) state[`${repository}${p}`] = createHash('sha256').update(world.target.getAsset(repository, p)!.content).digest('hex');
  }
  return state;
}

describe('the importer checks the target before its first write', () => {
  let world: World | undefined;
  afterEach(async () => world?.close());

  it('refuses a whole bundle when an allow_once repository already holds one of its paths with other content', async () => {
    // Prepare: raw-a on the target is allow_once and already has /lib/b.bin with other bytes
    world = await makeWorld({ target: { repositories: [{ name: 'raw-a', format: 'raw', type: 'hosted', writePolicy: 'allow_once' }, { name: 'raw-b', format: 'raw', type: 'hosted' }] } });
    for (const p of ['/lib/a.bin', '/lib/b.bin', '/lib/c.bin']) world.source.putRawAsset('raw-a', p, content(p, 3000));
    world.target.putRawAsset('raw-a', '/lib/b.bin', 'what the far side had first');
    const bundle = await exportBundle(world);
    const before = targetState(world, ['raw-a', 'raw-b']);

    // Act
    const verified = await runFerry(['verify', '--config', world.importConfig, bundle], world.env);
    const imported = await runFerry(['import', '--config', world.importConfig, bundle], world.env);

    // Assess
    for (const run of [verified, imported]) {
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('refused before any write');
      expect(run.stderr).toMatch(/entries\[\d\] raw-a\/lib\/b\.bin: raw-a\/lib\/b\.bin is on the target with other content, and raw-a does not allow redeploying it \(write policy allow_once\)/);
    }
    expect(targetState(world, ['raw-a', 'raw-b'])).toEqual(before);
    expect(world.target.uploadCount('raw-a', '/lib/a.bin')).toBe(0);
  });

  it('imports into an allow_once repository what is new, and skips what is there with the same content', async () => {
    // Prepare
    world = await makeWorld({ target: { repositories: [{ name: 'raw-a', format: 'raw', type: 'hosted', writePolicy: 'allow_once' }, { name: 'raw-b', format: 'raw', type: 'hosted' }] } });
    for (const p of ['/lib/a.bin', '/lib/b.bin']) world.source.putRawAsset('raw-a', p, content(p, 3000));
    world.target.putRawAsset('raw-a', '/lib/b.bin', content('/lib/b.bin', 3000));
    const bundle = await exportBundle(world);

    // Act
    const imported = await runFerry(['import', '--config', world.importConfig, bundle], world.env);

    // Assess
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toContain('1 uploaded, 1 already present');
  });

  it.each<[string, StandinRepository[], RegExp]>([
    ['missing', [], /target repository raw-a does not exist on the target Nexus/],
    ['offline', [{ name: 'raw-a', format: 'raw', type: 'hosted', online: false }], /target repository raw-a is offline/],
    ['a proxy', [{ name: 'raw-a', format: 'raw', type: 'proxy' }], /target repository raw-a is a proxy repository, which takes no uploads/],
    ['a group', [{ name: 'raw-a', format: 'raw', type: 'group', memberNames: ['raw-x'] }, { name: 'raw-x', format: 'raw', type: 'hosted' }], /target repository raw-a is a group repository, which takes no uploads/],
    ['of another format', [{ name: 'raw-a', format: 'helm', type: 'hosted' }], /target repository raw-a is a helm repository, not raw/],
    ['read-only', [{ name: 'raw-a', format: 'raw', type: 'hosted', writePolicy: 'deny' }], /target repository raw-a is read-only \(write policy deny\)/],
  ])('refuses every entry for a target repository that is %s, and leaves the target unchanged', async (_what, repositories, reason) => {
    // Prepare: raw-b is fine on the target, raw-a is not
    world = await makeWorld({ target: { repositories: [{ name: 'raw-b', format: 'raw', type: 'hosted' }, ...repositories] } });
    world.source.putRawAsset('raw-a', '/x/one.bin', content('one', 2000));
    world.source.putRawAsset('raw-b', '/y/two.bin', content('two', 2000));
    const bundle = await exportBundle(world);

    // Act
    const imported = await runFerry(['import', '--config', world.importConfig, bundle], world.env);

    // Assess
    expect(imported.code).toBe(1);
    expect(imported.stderr).toMatch(new RegExp(`entries\\[\\d\\] raw-a/x/one\\.bin: ${reason.source}`));
    expect(imported.stderr).not.toContain('raw-b/y/two.bin:');
    expect(world.target.assetPaths('raw-b')).toEqual([]);
    expect(world.target.requests.filter((r) => r.method === 'POST')).toEqual([]);
  });

  it('imports when the target user may not read repository settings, and says the write policy is unknown', async () => {
    // Prepare: /v1/repositorySettings answers 403, as for a user without admin read
    world = await makeWorld();
    world.source.putRawAsset('raw-a', '/z/1.bin', content('z1', 1000));
    const bundle = await exportBundle(world);
    world.target.injectFault({ method: 'GET', url: /\/service\/rest\/v1\/repositorySettings/, kind: 'status', status: 403, times: 10 });

    // Act
    const imported = await runFerry(['import', '--config', world.importConfig, bundle], world.env);

    // Assess
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).toContain('the write policy of raw-a is unknown');
    expect(world.target.getAsset('raw-a', '/z/1.bin')?.content.equals(content('z1', 1000))).toBe(true);
  });

  it('names the repository and path of an entry whose upload fails, not only the URL', async () => {
    // Prepare: the target refuses uploads with 500 beyond the retries
    world = await makeWorld();
    world.source.putRawAsset('raw-a', '/u/1.bin', content('u1', 1000));
    const bundle = await exportBundle(world);
    world.target.injectFault({ method: 'POST', url: /\/service\/rest\/v1\/components/, kind: 'status', status: 500, times: 20 });

    // Act
    const imported = await runFerry(['import', '--config', world.importConfig, bundle], world.env);

    // Assess
    expect(imported.code).toBe(1);
    expect(imported.stderr).toContain('entries[0] raw-a/u/1.bin: upload failed');
  });
});

describe('paths a target Nexus would refuse or rewrite', () => {
  let world: World | undefined;
  afterEach(async () => world?.close());

  it.each(['/dir/./x.bin', '/dir//x.bin', '/dir/x\u0007.bin'])('are refused by the verifier even in a correctly signed bundle (%j), before any write', async (badPath) => {
    // Prepare: a bundle signed with the trusted key whose entry targets the bad path
    world = await makeWorld();
    const blob = Buffer.from('signed but unwritable');
    const manifestBytes = Buffer.from(
      `${JSON.stringify(
        {
          format: 'ferry.bundle.v1',
          sourceId: 'test-source',
          sequence: 1,
          previous: null,
          createdAt: '2026-12-01T00:00:00.000Z',
          entries: [
            { kind: 'raw', source: { repository: 'raw-a', path: '/ok.bin' }, target: { repository: 'raw-a', path: badPath }, digest: sha256Of(blob), size: blob.length, checksums: {} },
          ],
          blobs: { included: [{ digest: sha256Of(blob), size: blob.length }], required: [] },
          layout: { index: sha256Of(Buffer.from(JSON.stringify(EMPTY_OCI_INDEX))) },
        },
        null,
        2,
      )}\n`,
    );
    const signer = localSigner(createPrivateKey(await readFile(path.join(world.dir, 'export.key'))));
    const signature = serializeSignature(await signer.sign(manifestBytes));
    const file = path.join(world.dir, 'test-source-00000001.tar');
    const tar = pack();
    tar.entry({ name: OCI_LAYOUT_MEMBER }, OCI_LAYOUT_BYTES);
    tar.entry({ name: INDEX_MEMBER }, Buffer.from(JSON.stringify(EMPTY_OCI_INDEX)));
    tar.entry({ name: MANIFEST_MEMBER }, manifestBytes);
    tar.entry({ name: SIGNATURE_MEMBER }, signature);
    tar.entry({ name: blobMember(sha256Of(blob)) }, blob);
    tar.finalize();
    await pipeline(Readable.from(tar), createWriteStream(file));

    // Act
    const imported = await runFerry(['import', '--config', world.importConfig, file], world.env);

    // Assess
    expect(imported.code).toBe(1);
    expect(imported.stderr).toContain('entries[0].target.path: must not contain');
    expect(world.target.requests.filter((r) => r.method === 'POST')).toEqual([]);
  });

  it('a source asset with such a path is refused by name at copy, and the rest is still sealed', async () => {
    // Prepare
    world = await makeWorld();
    world.source.putRawAsset('raw-a', '/bell\u0007.bin', 'ding');
    world.source.putRawAsset('raw-a', '/fine.bin', 'fine');

    // Act
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const bundles = (await readdir(world.bundlesDir)).filter((f) => f.endsWith('.tar'));
    const imported = await runFerry(['import', '--config', world.importConfig, ...bundles.map((b) => path.join(world!.bundlesDir, b))], world.env);

    // Assess
    expect(exported.code).toBe(1);
    expect(exported.stderr).toContain('raw-a/bell\\u0007.bin: not carried: the path must not contain control characters');
    expect(bundles).toEqual(['test-source-00000001.tar']);
    expect(imported.code, imported.stderr).toBe(0);
    expect(world.target.assetPaths('raw-a')).toEqual(['/fine.bin']);
  });
});
