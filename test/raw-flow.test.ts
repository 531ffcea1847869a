/**
 * The main job end to end over HTTP on 127.0.0.1: two Nexus stand-ins, the real CLI.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { coordinatesLabel, readBundleSummary } from '../shared/bundle/index.ts';
import { createReadStream } from 'node:fs';
import { bundles, content, makeWorld, runFerry, type World } from './support/world.ts';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function summary(file: string) {
  return readBundleSummary(createReadStream(file), path.basename(file));
}

describe('raw artifacts end to end on the embedded default', () => {
  let world: World;
  afterEach(async () => world?.close());

  it('exports 25 artifacts over 3 pages and 2 repositories; the target gets every sha256', async () => {
    // Prepare: 21 in raw-a (pages of 10, 10, 1) and 4 in raw-b
    world = await makeWorld();
    for (let i = 0; i < 21; i++) world.source.putRawAsset('raw-a', `/libs/a-${i}.bin`, content(`a${i}`, 2000 + i));
    for (let i = 0; i < 4; i++) world.source.putRawAsset('raw-b', `/tools/b-${i}.tgz`, content(`b${i}`, 500 + i));

    // Act
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const files = await bundles(world);
    const imported = await runFerry(['import', '--config', world.importConfig, ...files], world.env);

    // Assess
    expect(exported.stderr + exported.stdout).toContain('sealed');
    expect(exported.code).toBe(0);
    expect(imported.code, imported.stderr).toBe(0);
    const componentPages = world.source.requests.filter((r) => r.url.startsWith('/service/rest/v1/components?repository=raw-a'));
    expect(componentPages).toHaveLength(3);
    for (const repo of ['raw-a', 'raw-b']) {
      const paths = world.source.assetPaths(repo);
      expect(world.target.assetPaths(repo).sort()).toEqual([...paths].sort());
      for (const p of paths) {
        expect(sha256(world.target.getAsset(repo, p)!.content)).toBe(world.source.getAsset(repo, p)!.checksum.sha256);
      }
    }
    const receipts = await readdir(world.receiptsDir);
    expect(receipts).toEqual(['test-source-00000001.receipt.json']);
  });

  it('ships exactly the changes in the next bundle, chained to the first, without re-shipping blobs', async () => {
    // Prepare: a first bundle of 5 artifacts
    world = await makeWorld();
    for (let i = 0; i < 5; i++) world.source.putRawAsset('raw-a', `/r/${i}.bin`, content(`first${i}`, 3000));
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const [first] = await bundles(world);

    // Act: 3 new artifacts and 1 changed; the 3rd new one has the same bytes as an old one
    world.source.putRawAsset('raw-a', '/r/new-0.bin', content('new0', 1000));
    world.source.putRawAsset('raw-a', '/r/new-1.bin', content('new1', 1000));
    world.source.putRawAsset('raw-b', '/r/new-2.bin', content('first1', 3000));
    world.source.putRawAsset('raw-a', '/r/2.bin', content('changed2', 3100));
    const second = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);

    // Assess
    expect(second.code, second.stderr).toBe(0);
    const files = await bundles(world);
    expect(files).toHaveLength(2);
    const one = await summary(first!);
    const two = await summary(files[1]!);
    expect(two.manifest.sequence).toBe(2);
    expect(two.manifest.previous).toBe(one.manifestDigest);
    expect(two.manifest.entries.map((e) => coordinatesLabel(e.source)).sort()).toEqual(
      ['raw-a/r/2.bin', 'raw-a/r/new-0.bin', 'raw-a/r/new-1.bin', 'raw-b/r/new-2.bin'].sort(),
    );
    const shippedFirst = new Set(one.manifest.blobs.included.map((b) => b.digest));
    expect(two.manifest.blobs.included.filter((b) => shippedFirst.has(b.digest))).toEqual([]);
    expect(two.manifest.blobs.included).toHaveLength(3);
    expect(two.manifest.blobs.required).toEqual([{ digest: `sha256:${sha256(content('first1', 3000))}`, size: 3000, shippedIn: 1 }]);

    // and the far side ends up identical after importing both
    const imported = await runFerry(['import', '--config', world.importConfig, ...files], world.env);
    expect(imported.code, imported.stderr).toBe(0);
    expect(sha256(world.target.getAsset('raw-a', '/r/2.bin')!.content)).toBe(sha256(content('changed2', 3100)));
    expect(sha256(world.target.getAsset('raw-b', '/r/new-2.bin')!.content)).toBe(sha256(content('first1', 3000)));
  });

  it('stores and ships the same file in two repositories once', async () => {
    // Prepare
    world = await makeWorld();
    const same = content('shared', 4096);
    world.source.putRawAsset('raw-a', '/x/common.bin', same);
    world.source.putRawAsset('raw-b', '/y/common-copy.bin', same);

    // Act
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);

    // Assess
    expect(exported.code, exported.stderr).toBe(0);
    const staged = await readdir(path.join(world.dir, 'export-work/objects/blobs/sha256'));
    expect(staged).toEqual([sha256(same)]);
    const [file] = await bundles(world);
    const s = await summary(file!);
    expect(s.manifest.entries).toHaveLength(2);
    expect(s.manifest.blobs.included).toEqual([{ digest: `sha256:${sha256(same)}`, size: 4096 }]);
    expect(s.members.filter((m) => m.name.startsWith('blobs/'))).toHaveLength(1);
    const imported = await runFerry(['import', '--config', world.importConfig, file!], world.env);
    expect(imported.code, imported.stderr).toBe(0);
    expect(world.target.getAsset('raw-b', '/y/common-copy.bin')!.content.equals(same)).toBe(true);
  });

  it('refuses bundle 2 before bundle 1, naming sequence 1', async () => {
    // Prepare: two bundles
    world = await makeWorld();
    world.source.putRawAsset('raw-a', '/one.bin', content('one'));
    await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    world.source.putRawAsset('raw-a', '/two.bin', content('two'));
    await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const [, second] = await bundles(world);

    // Act
    const refused = await runFerry(['import', '--config', world.importConfig, second!], world.env);

    // Assess
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/missing sequence 1\b/);
    expect(refused.stderr).toContain('test-source-00000001.tar');
    expect(world.target.assetPaths('raw-a')).toEqual([]);
  });

  it('imports the same bundle twice without changing anything and says so', async () => {
    // Prepare
    world = await makeWorld();
    world.source.putRawAsset('raw-a', '/once.bin', content('once'));
    await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const [file] = await bundles(world);
    expect((await runFerry(['import', '--config', world.importConfig, file!], world.env)).code).toBe(0);
    const uploadsBefore = world.target.uploadCount('raw-a', '/once.bin');

    // Act
    const again = await runFerry(['import', '--config', world.importConfig, file!], world.env);

    // Assess
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already imported/);
    expect(world.target.uploadCount('raw-a', '/once.bin')).toBe(uploadsBefore);
    expect(uploadsBefore).toBe(1);
  });

  it('skips entries the target already has with the same checksum, and says so in the receipt', async () => {
    // Prepare: the target already holds one of the two artifacts
    world = await makeWorld();
    world.source.putRawAsset('raw-a', '/have.bin', content('have'));
    world.source.putRawAsset('raw-a', '/need.bin', content('need'));
    world.target.putRawAsset('raw-a', '/have.bin', content('have'));
    await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const [file] = await bundles(world);

    // Act
    const run = await runFerry(['import', '--config', world.importConfig, file!], world.env);

    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(world.target.uploadCount('raw-a', '/have.bin')).toBe(0);
    expect(world.target.uploadCount('raw-a', '/need.bin')).toBe(1);
    const receipt = JSON.parse(await readFile(path.join(world.receiptsDir, 'test-source-00000001.receipt.json'), 'utf8'));
    const payload = JSON.parse(receipt.payload);
    expect(payload.summary).toEqual({ imported: 1, present: 1 });
    expect(payload.blobsHeld).toHaveLength(2);
  });
});
