/**
 * Proxy and group repositories as sources, and as targets, through the real CLI: a proxy
 * yields what it has cached; a group is carried as its members, each item once; on the far
 * side everything lands in a hosted repository, and a proxy or group target is refused
 * before any write.
 */
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { coordinatesLabel, readBundleSummary } from '../shared/bundle/index.ts';
import { tgz } from './nexus-standin/archives.ts';
import { bundles, content, deleteOnSource, makeWorld, runFerry, type World } from './support/world.ts';

async function entriesOf(file: string): Promise<string[]> {
  const summary = await readBundleSummary(createReadStream(file), path.basename(file));
  return summary.manifest.entries.map((e) => `${coordinatesLabel(e.source)} → ${coordinatesLabel(e.target)}`).sort();
}

const chart = (name: string, version: string) => tgz([{ name: `${name}/Chart.yaml`, content: `apiVersion: v2\nname: ${name}\nversion: ${version}\n` }]);

/** raw-a (hosted) and raw-cache (proxy) in raw-public, nested in raw-all with raw-c. */
const GROUP_SOURCE = [
  { name: 'raw-a', format: 'raw', type: 'hosted' as const },
  { name: 'raw-cache', format: 'raw', type: 'proxy' as const },
  { name: 'raw-c', format: 'raw', type: 'hosted' as const },
  { name: 'raw-public', format: 'raw', type: 'group' as const, memberNames: ['raw-a', 'raw-cache'] },
  { name: 'raw-all', format: 'raw', type: 'group' as const, memberNames: ['raw-public', 'raw-c', 'raw-a'] },
];

describe('repository types', () => {
  let world: World;
  afterEach(async () => world?.close());

  it('carries what a helm proxy has cached into a hosted repository on the far side', async () => {
    // Prepare: the proxy's cache holds two charts
    world = await makeWorld({
      source: { repositories: [{ name: 'helm-proxy', format: 'helm', type: 'proxy' }] },
      target: { repositories: [{ name: 'helm-hosted', format: 'helm', type: 'hosted' }] },
      configRepositories: [{ name: 'helm-proxy', format: 'helm', target: 'helm-hosted' }],
    });
    for (const version of ['1.0.0', '1.1.0']) {
      await world.source.seedUpload('helm-proxy', { files: [{ field: 'helm.asset', filename: `web-${version}.tgz`, content: await chart('web', version) }] });
    }

    // Act
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const imported = await runFerry(['import', '--config', world.importConfig, ...(await bundles(world))], world.env);

    // Assess
    expect(exported.code, exported.stderr).toBe(0);
    expect(imported.code, imported.stderr).toBe(0);
    expect(world.target.assetPaths('helm-hosted').sort()).toEqual(['/web-1.0.0.tgz', '/web-1.1.0.tgz']);
    for (const p of ['/web-1.0.0.tgz', '/web-1.1.0.tgz']) {
      expect(world.target.getAsset('helm-hosted', p)!.content.equals(world.source.getAsset('helm-proxy', p)!.content)).toBe(true);
    }
  });

  it('expands a nested group to its members, carries each path once (the first member wins), and only new items next time', async () => {
    // Prepare: /common.bin is in raw-a and in the proxy cache with other bytes
    world = await makeWorld({
      source: { repositories: GROUP_SOURCE },
      target: { repositories: [{ name: 'raw-far', format: 'raw', type: 'hosted' }] },
      configRepositories: [{ name: 'raw-all', format: 'raw', target: 'raw-far' }],
    });
    world.source.putRawAsset('raw-a', '/a.bin', content('a'));
    world.source.putRawAsset('raw-a', '/common.bin', content('from raw-a'));
    world.source.putRawAsset('raw-cache', '/cached.bin', content('cached'));
    world.source.putRawAsset('raw-cache', '/common.bin', content('from the proxy'));
    world.source.putRawAsset('raw-c', '/c.bin', content('c'));

    // Act
    const first = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    world.source.putRawAsset('raw-cache', '/later.bin', content('later'));
    const second = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const files = await bundles(world);
    const imported = await runFerry(['import', '--config', world.importConfig, ...files], world.env);

    // Assess
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    expect(await entriesOf(files[0]!)).toEqual([
      'raw-a/a.bin → raw-far/a.bin',
      'raw-a/common.bin → raw-far/common.bin',
      'raw-c/c.bin → raw-far/c.bin',
      'raw-cache/cached.bin → raw-far/cached.bin',
    ]);
    expect(await entriesOf(files[1]!)).toEqual(['raw-cache/later.bin → raw-far/later.bin']);
    expect(imported.code, imported.stderr).toBe(0);
    expect(world.target.getAsset('raw-far', '/common.bin')!.content.equals(content('from raw-a'))).toBe(true);
    expect(world.target.assetPaths('raw-far').sort()).toEqual(['/a.bin', '/c.bin', '/cached.bin', '/common.bin', '/later.bin']);
    // Members are listed directly, never the groups.
    expect(world.source.requests.some((r) => /repository=raw-(public|all)\b/.test(r.url))).toBe(false);
  });

  it('reconciles a group carrying deletions as its members: a path no member lists any more is gone, one another member still serves is not', async () => {
    // Prepare: raw-a and raw-c in raw-all; /common.bin in raw-a and raw-c; everything carried once
    world = await makeWorld({
      source: { repositories: GROUP_SOURCE },
      target: { repositories: [{ name: 'raw-far', format: 'raw', type: 'hosted' }] },
      configRepositories: [{ name: 'raw-all', format: 'raw', target: 'raw-far', deletions: 'carry' }],
    });
    world.source.putRawAsset('raw-a', '/a.bin', content('a'));
    world.source.putRawAsset('raw-a', '/common.bin', content('from raw-a'));
    world.source.putRawAsset('raw-c', '/c.bin', content('c'));
    world.source.putRawAsset('raw-c', '/common.bin', content('from raw-c'));
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    await deleteOnSource(world, 'raw-a', '/a.bin');
    await deleteOnSource(world, 'raw-a', '/common.bin');

    // Act
    const reconciled = await runFerry(['export', '--once', '--reconcile-deletions', '--config', world.exportConfig], world.env);

    // Assess: one tombstone, for raw-a's /a.bin; none for /common.bin, which the group now
    // serves from raw-c (that content carried instead, as the scan finds it)
    expect(reconciled.code, reconciled.stderr).toBe(0);
    expect(reconciled.stderr + reconciled.stdout).toContain('reconciled deletions of raw-all: 1 tombstone(s)');
    const files = await bundles(world);
    const second = await readBundleSummary(createReadStream(files.at(-1)!), 'bundle');
    expect(second.manifest.entries.map((e) => [e.kind, coordinatesLabel(e.source)]).sort()).toEqual([
      ['raw', 'raw-c/common.bin'],
      ['tombstone', 'raw-a/a.bin'],
    ]);
  });

  it('ships a file two formats share once: a chart kept in a helm and a raw repository', async () => {
    // Prepare
    world = await makeWorld({
      source: { repositories: [{ name: 'charts', format: 'helm', type: 'hosted' }, { name: 'raw-a', format: 'raw', type: 'hosted' }] },
      target: { repositories: [{ name: 'charts', format: 'helm', type: 'hosted' }, { name: 'raw-a', format: 'raw', type: 'hosted' }] },
      configRepositories: [{ name: 'charts', format: 'helm' }, { name: 'raw-a', format: 'raw' }],
    });
    const archive = await chart('web', '1.0.0');
    await world.source.seedUpload('charts', { files: [{ field: 'helm.asset', filename: 'web-1.0.0.tgz', content: archive }] });
    world.source.putRawAsset('raw-a', '/backup/web-1.0.0.tgz', archive);

    // Act
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const [file] = await bundles(world);
    const imported = await runFerry(['import', '--config', world.importConfig, file!], world.env);

    // Assess
    expect(exported.code, exported.stderr).toBe(0);
    const summary = await readBundleSummary(createReadStream(file!), 'bundle');
    expect(summary.manifest.entries.map((e) => e.kind).sort()).toEqual(['helm', 'raw']);
    expect(summary.manifest.blobs.included).toHaveLength(1);
    expect(imported.code, imported.stderr).toBe(0);
    expect(world.target.getAsset('charts', '/web-1.0.0.tgz')!.content.equals(archive)).toBe(true);
    expect(world.target.getAsset('raw-a', '/backup/web-1.0.0.tgz')!.content.equals(archive)).toBe(true);
  });

  it('refuses (exit 2, nothing started) a group whose member is also configured on its own', async () => {
    // Prepare
    world = await makeWorld({
      source: { repositories: GROUP_SOURCE },
      configRepositories: [
        { name: 'raw-public', format: 'raw' },
        { name: 'raw-a', format: 'raw' },
      ],
    });

    // Act
    const run = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('member raw-a of group raw-public is also configured on its own');
    expect(world.source.requests.some((r) => r.url.startsWith('/service/rest/v1/components'))).toBe(false);
  });

  it.each([
    ['proxy', { name: 'helm-far', format: 'helm', type: 'proxy' as const }],
    ['group', { name: 'helm-far', format: 'helm', type: 'group' as const, memberNames: ['helm-hosted'] }],
  ])('refuses a %s target before any write, naming it', async (type, far) => {
    // Prepare
    world = await makeWorld({
      format: 'helm',
      repositories: ['helm-hosted'],
      target: { repositories: [{ name: 'helm-hosted', format: 'helm', type: 'hosted' }, far] },
    });
    const config = parse(await readFile(world.importConfig, 'utf8')) as { target: Record<string, unknown> };
    await writeFile(world.importConfig, stringify({ ...config, target: { ...config.target, repositories: { 'helm-hosted': 'helm-far' } } }));
    await world.source.seedUpload('helm-hosted', { files: [{ field: 'helm.asset', filename: 'web-1.0.0.tgz', content: await chart('web', '1.0.0') }] });
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);

    // Act
    const mapped = await runFerry(['import', '--config', world.importConfig, ...(await bundles(world))], world.env);

    // Assess
    expect(mapped.code).toBe(1);
    expect(mapped.stderr).toContain(`target repository helm-far is a ${type} repository, which takes no uploads`);
    expect(world.target.assetPaths('helm-hosted')).toEqual([]);
  });
});
