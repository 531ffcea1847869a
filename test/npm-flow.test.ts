/**
 * npm packages end to end over HTTP on 127.0.0.1: two Nexus stand-ins, the real CLI. The
 * judge is the real npm client: `npm pack <pkg>@<version>` against the target (it resolves the
 * packument, fetches the tarball and verifies its integrity), whose bytes must be the
 * source's. Dist-tags travel with the tarballs, `latest` included, though Nexus moves
 * `latest` to whatever was uploaded last.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { readBundleSummary } from '../shared/bundle/index.ts';
import { integrity, npmPack, readPackument, seedIntegrity, seedNpm, seedTags } from './support/npm-fixtures.ts';
import { bundles, makeWorld, runFerry, type World } from './support/world.ts';

const REPO = 'npm-hosted';
const TARGET_USER = { username: 'ferry-writer', password: 'target-pa55' };
const SOURCE_AUTH = `Basic ${Buffer.from('ferry-reader:source-pa55').toString('base64')}`;
const TARGET_AUTH = `Basic ${Buffer.from(`${TARGET_USER.username}:${TARGET_USER.password}`).toString('base64')}`;
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

const tarballs = (world: World, side: 'source' | 'target') => world[side].assetPaths(REPO).filter((p) => p.endsWith('.tgz'));

/** Every tarball on the target, with the source's bytes. */
function expectSameTarballs(world: World): void {
  const paths = tarballs(world, 'source');
  expect(tarballs(world, 'target').sort()).toEqual([...paths].sort());
  for (const p of paths) expect(world.target.getAsset(REPO, p)!.content.equals(world.source.getAsset(REPO, p)!.content), p).toBe(true);
}

/** The target's packument of `name` has the source's dist-tags, and each version its sha1 and sha512. */
async function expectSamePackument(world: World, name: string): Promise<void> {
  const source = await readPackument(world.source, REPO, name, SOURCE_AUTH);
  const target = await readPackument(world.target, REPO, name, TARGET_AUTH);
  expect(target['dist-tags'], name).toEqual(source['dist-tags']);
  expect(Object.keys(target.versions).sort(), name).toEqual(Object.keys(source.versions).sort());
  for (const version of Object.keys(source.versions)) {
    const bytes = world.source.getAsset(REPO, `/${name}/-/${name.replace(/^@[^/]+\//, '')}-${version}.tgz`)!.content;
    expect(target.versions[version]!.dist, `${name}@${version}`).toMatchObject({ shasum: sha1(bytes), integrity: integrity(bytes) });
  }
}

/** What `npm pack <spec>` against the target gives. */
const packFromTarget = (world: World, spec: string) => npmPack(`${world.target.url}/repository/${REPO}/`, TARGET_USER, spec);

describe('npm packages end to end', () => {
  let world: World;
  afterEach(async () => world?.close());

  it('carries 26 scoped and unscoped tarballs over 3 listing pages with their dist-tags; npm pack on the target gets the source bytes; an importer new to the bundle writes nothing', async () => {
    // Prepare: 6 scoped and 6 unscoped packages of 2 versions; one has a `next` beta; one was
    // published newest first (Nexus moved latest back to 1.0.0; the publisher put it right)
    world = await makeWorld({ format: 'npm', repositories: [REPO] });
    const names = [...Array.from({ length: 6 }, (_, i) => `@acme/lib-${i}`), ...Array.from({ length: 6 }, (_, i) => `tool-${i}`)];
    for (const name of names.slice(1)) for (const version of ['1.0.0', '2.0.0']) await seedNpm(world.source, REPO, name, version);
    for (const version of ['2.0.0', '1.0.0']) await seedNpm(world.source, REPO, names[0]!, version);
    await seedTags(world.source, REPO, names[0]!, { latest: '2.0.0' });
    const beta = await seedNpm(world.source, REPO, 'tool-0', '3.0.0-beta.1');
    await seedNpm(world.source, REPO, 'tool-0', '2.1.0');
    await seedTags(world.source, REPO, 'tool-0', { latest: '2.1.0', next: '3.0.0-beta.1' });
    const published = world.source.getAsset(REPO, '/tool-1/-/tool-1-2.0.0.tgz')!.content;
    await seedIntegrity(world.source, REPO, 'tool-1', { '2.0.0': integrity(published) });

    // Act
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const files = await bundles(world);
    const imported = await runFerry(['import', '--config', world.importConfig, ...files], world.env);
    const inspected = await runFerry(['inspect', files[0]!], world.env);
    const writesBefore = world.target.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD').length;
    const fresh = await runFerry(['import', '--config', await withFreshImportState(world), ...files], world.env);

    // Assess
    expect(exported.code, exported.stderr).toBe(0);
    expect(imported.code, imported.stderr).toBe(0);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(world.target.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD').slice(writesBefore)).toEqual([]);
    expect(world.source.requests.filter((r) => r.url.startsWith(`/service/rest/v1/components?repository=${REPO}`))).toHaveLength(3);
    const packumentReads = world.source.requests.filter((r) => r.method === 'GET' && r.url.startsWith(`/repository/${REPO}/`) && !r.url.endsWith('.tgz'));
    expect(packumentReads.length).toBeLessThanOrEqual(names.length); // one per package, not per version
    const summary = await readBundleSummary(createReadStream(files[0]!), 'bundle');
    expect(summary.manifest.entries).toHaveLength(26);
    const first = summary.manifest.entries.find((e) => 'path' in e.source && e.source.path === '/@acme/lib-0/-/lib-0-2.0.0.tgz');
    expect(first).toMatchObject({ kind: 'npm', component: { group: 'acme', name: 'lib-0', version: '2.0.0' }, distTags: { latest: '2.0.0' } });
    expect(inspected.stdout).toContain('@acme/lib-0@2.0.0');
    expect(inspected.stdout).toContain('tool-3@1.0.0');
    expectSameTarballs(world);
    for (const name of names) await expectSamePackument(world, name);
    expect((await readPackument(world.target, REPO, 'tool-0', TARGET_AUTH))['dist-tags']).toEqual({ latest: '2.1.0', next: '3.0.0-beta.1' });
    expect((await packFromTarget(world, 'tool-0@next')).equals(beta)).toBe(true);
    for (const spec of ['@acme/lib-0@latest', '@acme/lib-0@1.0.0', 'tool-5@2.0.0']) {
      const [, name, version] = /^(.+)@(.+)$/.exec(spec)!;
      const resolved = version === 'latest' ? '2.0.0' : version!;
      const bytes = world.source.getAsset(REPO, `/${name}/-/${name!.replace(/^@[^/]+\//, '')}-${resolved}.tgz`)!.content;
      expect((await packFromTarget(world, spec)).equals(bytes), spec).toBe(true);
    }
  });

  it('ships new versions and a replaced tarball next time, keeps latest when an older version comes after a newer, and a re-import writes nothing', async () => {
    // Prepare: a first bundle, imported
    world = await makeWorld({ format: 'npm', repositories: [REPO] });
    for (const version of ['1.0.0', '2.0.0']) await seedNpm(world.source, REPO, '@acme/widget', version);
    await seedNpm(world.source, REPO, 'left-pad', '1.0.0');
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    expect((await runFerry(['import', '--config', world.importConfig, ...(await bundles(world))], world.env)).code).toBe(0);

    // Act: a 1.5.0 backport of widget (latest stays 2.0.0 on the source), left-pad 1.1.0, and
    // left-pad 1.0.0 pushed again with other bytes (latest put back to 1.1.0)
    await seedNpm(world.source, REPO, '@acme/widget', '1.5.0');
    await seedTags(world.source, REPO, '@acme/widget', { latest: '2.0.0', backport: '1.5.0' });
    await seedNpm(world.source, REPO, 'left-pad', '1.1.0');
    const replaced = await seedNpm(world.source, REPO, 'left-pad', '1.0.0', 'rebuilt');
    await seedTags(world.source, REPO, 'left-pad', { latest: '1.1.0' });
    const second = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const files = await bundles(world);
    const imported = await runFerry(['import', '--config', world.importConfig, ...files], world.env);
    const writesBefore = world.target.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD').length;
    const uploadsBefore = tarballs(world, 'target').map((p) => world.target.uploadCount(REPO, p));
    const again = await runFerry(['import', '--config', world.importConfig, ...files], world.env);

    // Assess
    expect(second.code, second.stderr).toBe(0);
    expect(files).toHaveLength(2);
    const two = await readBundleSummary(createReadStream(files[1]!), 'bundle 2');
    expect(two.manifest.entries.map((e) => ('path' in e.target ? e.target.path : '')).sort()).toEqual(
      ['/@acme/widget/-/widget-1.5.0.tgz', '/left-pad/-/left-pad-1.0.0.tgz', '/left-pad/-/left-pad-1.1.0.tgz'].sort(),
    );
    expect(imported.code, imported.stderr).toBe(0);
    expectSameTarballs(world);
    await expectSamePackument(world, '@acme/widget');
    await expectSamePackument(world, 'left-pad');
    expect((await readPackument(world.target, REPO, '@acme/widget', TARGET_AUTH))['dist-tags']).toEqual({ latest: '2.0.0', backport: '1.5.0' });
    expect((await packFromTarget(world, '@acme/widget@latest')).equals(world.source.getAsset(REPO, '/@acme/widget/-/widget-2.0.0.tgz')!.content)).toBe(true);
    expect((await packFromTarget(world, 'left-pad@1.0.0')).equals(replaced)).toBe(true);
    // Nexus's dist-tag API refuses `latest`: it goes in a publish snippet with the integrity
    const settled = world.target.requests.filter((r) => r.method === 'PUT').map((r) => r.url);
    expect(settled).toContain(`/repository/${REPO}/-/package/%40acme/widget/dist-tags/backport`);
    expect(settled).toContain(`/repository/${REPO}/%40acme/widget`);
    expect(settled.filter((url) => url.endsWith('/dist-tags/latest'))).toEqual([]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout + again.stderr).toMatch(/already imported/);
    expect(world.target.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD').slice(writesBefore)).toEqual([]);
    expect(tarballs(world, 'target').map((p) => world.target.uploadCount(REPO, p))).toEqual(uploadsBefore);
  });

  it('does not carry a tarball its source packument gives another integrity, naming the package and version', async () => {
    // Prepare: the packument says left-pad@1.0.0 is other bytes than the tarball's
    world = await makeWorld({ format: 'npm', repositories: [REPO] });
    await seedNpm(world.source, REPO, 'left-pad', '1.0.0');
    await seedNpm(world.source, REPO, 'left-pad', '1.0.1');
    await seedIntegrity(world.source, REPO, 'left-pad', { '1.0.0': integrity(Buffer.from('something else')) });

    // Act
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);

    // Assess
    expect(exported.code).toBe(1);
    expect(exported.stderr).toMatch(/left-pad\/-\/left-pad-1\.0\.0\.tgz: not carried: .*left-pad@1\.0\.0.*dist\.integrity says sha512-/);
    const [file] = await bundles(world);
    const summary = await readBundleSummary(createReadStream(file!), 'bundle');
    expect(summary.manifest.entries.map((e) => ('path' in e.source ? e.source.path : ''))).toEqual(['/left-pad/-/left-pad-1.0.1.tgz']);
  });

  it('fails naming the package when the target refuses a dist-tag, and a re-run finishes without uploading again', async () => {
    // Prepare: a package with a `next` tag; the target refuses the dist-tag API once
    world = await makeWorld({ format: 'npm', repositories: [REPO] });
    await seedNpm(world.source, REPO, '@acme/widget', '1.0.0');
    await seedNpm(world.source, REPO, '@acme/widget', '2.0.0-rc.1');
    await seedTags(world.source, REPO, '@acme/widget', { latest: '1.0.0', next: '2.0.0-rc.1' });
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const files = await bundles(world);
    world.target.injectFault({ method: 'PUT', url: /\/dist-tags\/next$/, kind: 'status', status: 400, times: 1 });

    // Act
    const failed = await runFerry(['import', '--config', world.importConfig, ...files], world.env);
    const rerun = await runFerry(['import', '--config', world.importConfig, ...files], world.env);

    // Assess
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/setting dist-tag next → @acme\/widget@2\.0\.0-rc\.1 on npm-hosted failed: .*HTTP 400/);
    expect(rerun.code, rerun.stderr).toBe(0);
    await expectSamePackument(world, '@acme/widget');
    expect(world.target.uploadCount(REPO, '/@acme/widget/-/widget-2.0.0-rc.1.tgz')).toBe(1);
  });
});

/** A copy of the import config with its own work directory: an importer that has recorded nothing yet. */
async function withFreshImportState(world: World): Promise<string> {
  const config = parse(await readFile(world.importConfig, 'utf8')) as Record<string, unknown>;
  const file = path.join(world.dir, 'import-fresh.yaml');
  await writeFile(file, stringify({ ...config, workDir: 'import-work-fresh', receipts: { directory: 'receipts-fresh' } }));
  return file;
}
