/**
 * NuGet packages end to end over HTTP on 127.0.0.1: two Nexus stand-ins, the real CLI. No
 * NuGet client runs offline on these machines (no dotnet), so the judges are byte identity
 * of every package on both sides and what a NuGet v3 client reads on the target: the
 * service index, the flat container's versions list, and the package download it names.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readBundleSummary } from '../shared/bundle/index.ts';
import { flatContainerVersion, identifyPackage } from '../shared/core/formats/nuget/index.ts';
import type { StandinRepository } from './nexus-standin/index.ts';
import { nupkg, seedNupkg } from './support/nuget-fixtures.ts';
import { bundles, carryAndInspect, makeWorld, runFerry, type World } from './support/world.ts';

const REPO = 'nuget-hosted';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const hosted = (writePolicy: StandinRepository['writePolicy'] = 'allow'): StandinRepository[] => [{ name: REPO, format: 'nuget', type: 'hosted', writePolicy }];

/** A GET on the target as the import's own user (from the import config), as a NuGet client with credentials would do. */
async function readTarget(world: World, urlPath: string): Promise<{ status: number; bytes: Buffer }> {
  const config = parse(await readFile(world.importConfig, 'utf8')) as { target: { credentials: { username: string; passwordFile: string } } };
  const password = (await readFile(path.join(world.dir, config.target.credentials.passwordFile), 'utf8')).trim();
  const authorization = `Basic ${Buffer.from(`${config.target.credentials.username}:${password}`).toString('base64')}`;
  const res = await fetch(`${world.target.url}/repository/${REPO}${urlPath}`, { headers: { authorization } });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
}

/** What a NuGet v3 client sees of one package id on the target: the versions its flat container lists. */
async function clientVersions(world: World, id: string): Promise<string[]> {
  const index = JSON.parse((await readTarget(world, '/index.json')).bytes.toString('utf8')) as { resources: { '@id': string; '@type': string }[] };
  const base = new URL(index.resources.find((r) => r['@type'] === 'PackageBaseAddress/3.0.0')!['@id']).pathname.replace(`/repository/${REPO}`, '');
  const res = await readTarget(world, `${base}${id.toLowerCase()}/index.json`);
  return res.status === 200 ? (JSON.parse(res.bytes.toString('utf8')) as { versions: string[] }).versions : [];
}

/** The package a NuGet v3 client downloads from the target's flat container. */
async function clientDownload(world: World, id: string, version: string): Promise<Buffer | undefined> {
  const [idLower, versionLower] = [id.toLowerCase(), version.toLowerCase()];
  const res = await readTarget(world, `/v3/content/${idLower}/${versionLower}/${idLower}.${versionLower}.nupkg`);
  return res.status === 200 ? res.bytes : undefined;
}

/** Every stored package is on the target at the same path with the same bytes. */
function expectSameFiles(world: World): void {
  const paths = world.source.assetPaths(REPO);
  expect(world.target.assetPaths(REPO).sort()).toEqual([...paths].sort());
  for (const p of paths) expect(sha256(world.target.getAsset(REPO, p)!.content), p).toBe(sha256(world.source.getAsset(REPO, p)!.content));
}

describe('NuGet packages end to end (no NuGet client offline: judged by byte identity and the v3 read side)', () => {
  let world: World;
  afterEach(async () => world?.close());

  it('carries 24 packages over 3 listing pages; the target lists every version in its flat container and serves the same bytes', async () => {
    // Prepare: 6 ids × 4 versions, listed 10 to a page
    world = await makeWorld({ format: 'nuget', repositories: [REPO] });
    const packages = new Map<string, Buffer>();
    for (let i = 0; i < 6; i++) {
      for (const version of ['1.0.0', '1.1.0', '2.0.0-beta.1', '2.0.0']) packages.set(`Contoso.Lib${i} ${version}`, (await seedNupkg(world.source, REPO, `Contoso.Lib${i}`, version)).bytes);
    }

    // Act
    const { exported, files, imported, inspected } = await carryAndInspect(world);

    // Assess
    expect(exported.code, exported.stderr).toBe(0);
    expect(imported.code, imported.stderr).toBe(0);
    expect(world.source.requests.filter((r) => r.url.startsWith(`/service/rest/v1/components?repository=${REPO}`))).toHaveLength(3);
    const summary = await readBundleSummary(createReadStream(files[0]!), 'bundle');
    expect(summary.manifest.entries).toHaveLength(24);
    expect(summary.manifest.entries.every((e) => e.kind === 'nuget')).toBe(true);
    expect(summary.manifest.entries.find((e) => 'component' in e && e.component.name === 'Contoso.Lib0' && e.component.version === '1.0.0')).toMatchObject({ component: { group: null, name: 'Contoso.Lib0', version: '1.0.0' }, target: { repository: REPO, path: '/Contoso.Lib0/1.0.0/Contoso.Lib0.1.0.0.nupkg' } });
    expect(inspected.stdout).toContain('Contoso.Lib0 1.0.0  nuget-hosted/Contoso.Lib0/1.0.0/Contoso.Lib0.1.0.0.nupkg → nuget-hosted/Contoso.Lib0/1.0.0/Contoso.Lib0.1.0.0.nupkg');
    expectSameFiles(world);
    for (let i = 0; i < 6; i++) expect(await clientVersions(world, `Contoso.Lib${i}`)).toEqual(['1.0.0', '1.1.0', '2.0.0-beta.1', '2.0.0']);
    for (const [key, bytes] of packages) {
      const [id, version] = key.split(' ') as [string, string];
      expect(sha256((await clientDownload(world, id, version)) ?? Buffer.alloc(0)), key).toBe(sha256(bytes));
    }
  });

  it('ships only new versions and a replaced package the next time, and a second import of both bundles uploads nothing', async () => {
    // Prepare: a first bundle of 5 packages, imported; source and target allow redeploy
    world = await makeWorld({ format: 'nuget', repositories: [REPO], source: { repositories: hosted('allow') }, target: { repositories: hosted('allow') } });
    for (let i = 0; i < 5; i++) await seedNupkg(world.source, REPO, `Contoso.Widgets${i}`, '1.0.0');
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    expect((await runFerry(['import', '--config', world.importConfig, ...(await bundles(world))], world.env)).code).toBe(0);
    const replacedPath = '/Contoso.Widgets2/1.0.0/Contoso.Widgets2.1.0.0.nupkg';
    const before = world.target.getAsset(REPO, replacedPath)!.content;

    // Act: two new versions and one package rebuilt with other bytes under the same id and version
    await seedNupkg(world.source, REPO, 'Contoso.Widgets0', '1.1.0');
    await seedNupkg(world.source, REPO, 'Contoso.Widgets4', '2.0.0-rc.1');
    const replaced = await seedNupkg(world.source, REPO, 'Contoso.Widgets2', '1.0.0', 'rebuilt');
    const second = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const files = await bundles(world);
    const importedSecond = await runFerry(['import', '--config', world.importConfig, files[1]!], world.env);
    const uploads = new Map(world.target.assetPaths(REPO).map((p) => [p, world.target.uploadCount(REPO, p)]));
    const again = await runFerry(['import', '--config', world.importConfig, ...files], world.env);

    // Assess
    expect(second.code, second.stderr).toBe(0);
    expect(files).toHaveLength(2);
    const two = await readBundleSummary(createReadStream(files[1]!), 'bundle');
    expect(two.manifest.entries.map((e) => ('component' in e ? `${e.component.name} ${e.component.version}` : '')).sort()).toEqual(
      ['Contoso.Widgets0 1.1.0', 'Contoso.Widgets2 1.0.0', 'Contoso.Widgets4 2.0.0-rc.1'].sort(),
    );
    expect(importedSecond.code, importedSecond.stderr).toBe(0);
    expect(sha256(before)).not.toBe(sha256(replaced.bytes));
    expect(sha256(world.target.getAsset(REPO, replacedPath)!.content)).toBe(sha256(replaced.bytes));
    expect(sha256((await clientDownload(world, 'Contoso.Widgets2', '1.0.0'))!)).toBe(sha256(replaced.bytes));
    expect(await clientVersions(world, 'Contoso.Widgets0')).toEqual(['1.0.0', '1.1.0']);
    expect(await clientVersions(world, 'Contoso.Widgets4')).toEqual(['1.0.0', '2.0.0-rc.1']);
    expectSameFiles(world);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/already imported/);
    for (const [p, count] of uploads) expect(world.target.uploadCount(REPO, p), p).toBe(count);
    expect(world.target.uploadCount(REPO, replacedPath)).toBe(2);
  });

  it('refuses, before any write and naming the package, a bundle whose package an allow_once target holds with other bytes', async () => {
    // Prepare: the target already has Contoso.Widgets 1.0.0, built differently
    world = await makeWorld({ format: 'nuget', repositories: [REPO], target: { repositories: hosted('allow_once') } });
    await seedNupkg(world.source, REPO, 'Contoso.Gadgets', '1.0.0');
    await seedNupkg(world.source, REPO, 'Contoso.Widgets', '1.0.0', 'ours');
    const theirs = await seedNupkg(world.target, REPO, 'Contoso.Widgets', '1.0.0', 'theirs');
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);

    // Act
    const imported = await runFerry(['import', '--config', world.importConfig, ...(await bundles(world))], world.env);

    // Assess
    expect(imported.code).toBe(1);
    expect(imported.stderr).toContain('refused before any write');
    expect(imported.stderr).toMatch(/nuget-hosted\/Contoso\.Widgets\/1\.0\.0\/Contoso\.Widgets\.1\.0\.0\.nupkg is on the target with other content.*allow_once/);
    expect(world.target.assetPaths(REPO)).toEqual([theirs.path]);
    expect(world.target.uploadCount(REPO, '/Contoso.Gadgets/1.0.0/Contoso.Gadgets.1.0.0.nupkg')).toBe(0);
    expect(sha256(world.target.getAsset(REPO, theirs.path)!.content)).toBe(sha256(theirs.bytes));
  });

  it('counts a package an allow_once target already holds with the same bytes as present, and uploads only the others', async () => {
    // Prepare
    world = await makeWorld({ format: 'nuget', repositories: [REPO], target: { repositories: hosted('allow_once') } });
    const shared = await seedNupkg(world.source, REPO, 'Contoso.Widgets', '1.0.0');
    await world.target.seedUpload(REPO, { files: [{ field: 'nuget.asset', filename: 'Contoso.Widgets.1.0.0.nupkg', content: shared.bytes }] });
    await seedNupkg(world.source, REPO, 'Contoso.Gadgets', '3.1.0');
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);

    // Act
    const imported = await runFerry(['import', '--config', world.importConfig, ...(await bundles(world))], world.env);

    // Assess
    expect(imported.code, imported.stderr).toBe(0);
    expect(world.target.uploadCount(REPO, shared.path)).toBe(0);
    expect(world.target.uploadCount(REPO, '/Contoso.Gadgets/3.1.0/Contoso.Gadgets.3.1.0.nupkg')).toBe(1);
    expect(await clientVersions(world, 'Contoso.Widgets')).toEqual(['1.0.0']);
    expect(await clientVersions(world, 'Contoso.Gadgets')).toEqual(['3.1.0']);
    expectSameFiles(world);
  });

  it('fails the import naming the package when the flat container does not list it, and a re-run finishes without uploading again', async () => {
    // Prepare: the target's versions list for one id answers 404 once
    world = await makeWorld({ format: 'nuget', repositories: [REPO] });
    await seedNupkg(world.source, REPO, 'Contoso.Widgets', '1.2.3');
    await seedNupkg(world.source, REPO, 'Contoso.Gadgets', '1.0.0');
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const files = await bundles(world);
    world.target.injectFault({ method: 'GET', url: /\/v3\/content\/contoso\.widgets\/index\.json$/, kind: 'status', status: 404 });

    // Act
    const failed = await runFerry(['import', '--config', world.importConfig, ...files], world.env);
    const rerun = await runFerry(['import', '--config', world.importConfig, ...files], world.env);

    // Assess
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('NuGet package Contoso.Widgets 1.2.3 is not listed for NuGet clients after the import');
    expect(failed.stderr).not.toContain('Contoso.Gadgets 1.0.0 is not listed');
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(world.target.uploadCount(REPO, '/Contoso.Widgets/1.2.3/Contoso.Widgets.1.2.3.nupkg')).toBe(1);
    expect(await clientVersions(world, 'Contoso.Widgets')).toEqual(['1.2.3']);
  });

  it('carries packages between OrientDB-era instances, whose asset is the v2 path <id>/<version>', async () => {
    // Prepare
    world = await makeWorld({ format: 'nuget', repositories: [REPO], source: { backend: 'orient' }, target: { backend: 'orient' } });
    const bytes = nupkg('Contoso.Widgets', '4.0.1');
    await world.source.seedUpload(REPO, { files: [{ field: 'nuget.asset', filename: 'Contoso.Widgets.4.0.1.nupkg', content: bytes }] });

    // Act
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const imported = await runFerry(['import', '--config', world.importConfig, ...(await bundles(world))], world.env);

    // Assess
    expect(exported.code, exported.stderr).toBe(0);
    expect(imported.code, imported.stderr).toBe(0);
    expect(world.target.assetPaths(REPO)).toEqual(['/Contoso.Widgets/4.0.1']);
    expect(sha256((await readTarget(world, '/Contoso.Widgets/4.0.1')).bytes)).toBe(sha256(bytes));
    expect(await clientVersions(world, 'Contoso.Widgets')).toEqual(['4.0.1']);
  });
});

describe('nuget module: which listed assets are packages, and whose', () => {
  const asset = (path: string) => ({ path, checksums: { sha1: 'a'.repeat(40) }, lastModified: null, size: null });
  const component = (name: string, version: string) => ({ id: 'c', repository: REPO, format: 'nuget', group: null, name, version, assets: [] });

  it.each([
    ['the SQL-store file path, from the listing', '/Contoso.Widgets/1.2.3/Contoso.Widgets.1.2.3.nupkg', component('Contoso.Widgets', '1.2.3'), { group: null, name: 'Contoso.Widgets', version: '1.2.3' }],
    ['the v2-style path <id>/<version>, from the listing', '/Contoso.Widgets/1.2.3', component('Contoso.Widgets', '1.2.3'), { group: null, name: 'Contoso.Widgets', version: '1.2.3' }],
    ['a file path named by an asset event alone', '/Contoso.Widgets/2.0.0-rc.1/Contoso.Widgets.2.0.0-rc.1.nupkg', undefined, { group: null, name: 'Contoso.Widgets', version: '2.0.0-rc.1' }],
    ['a flat-container path named by an asset event alone', '/v3/content/contoso.widgets/1.2.3/contoso.widgets.1.2.3.nupkg', undefined, { group: null, name: 'contoso.widgets', version: '1.2.3' }],
    ['a v2-style path named by an asset event alone', '/Contoso.Widgets/1.2.3', undefined, { group: null, name: 'Contoso.Widgets', version: '1.2.3' }],
  ])('takes %s', (_what, path, listed, expected) => {
    // Act
    const found = identifyPackage(asset(path), listed);

    // Assess
    expect(found).toEqual({ component: expected });
  });

  it.each([
    ['a service index', '/index.json', undefined],
    ['a versions list', '/v3/content/contoso.widgets/index.json', undefined],
    ['a .nuspec beside the package', '/Contoso.Widgets/1.2.3/Contoso.Widgets.nuspec', component('Contoso.Widgets', '1.2.3')],
    ['a symbols package', '/Contoso.Widgets/1.2.3/Contoso.Widgets.1.2.3.snupkg', component('Contoso.Widgets', '1.2.3')],
    ['a two-segment path of another package', '/Other.Package/1.2.3', component('Contoso.Widgets', '1.2.3')],
  ])('leaves out %s', (_what, path, listed) => {
    // Act
    const found = identifyPackage(asset(path), listed);

    // Assess
    expect(found).toBeUndefined();
  });

  it('compares versions in the flat container\'s normalised, lowercase form', () => {
    // Act
    const normalised = ['1.02', '2.0.0.0', '2.0.0.1', '1.0.0-Beta+build.5', '01.2.3-RC.1', 'not-a-version'].map(flatContainerVersion);

    // Assess
    expect(normalised).toEqual(['1.2.0', '2.0.0', '2.0.0.1', '1.0.0-beta', '1.2.3-rc.1', 'not-a-version']);
  });
});
