/**
 * The stand-in's npm format, over HTTP: the `npm.asset` upload (path, component and npm block
 * from the tarball's package.json), its errors, the packument npm clients read (what an upload
 * puts in it, and what it does not: `dist.integrity`), the dist-tag API with Nexus's refusal
 * of `latest`, a publish snippet overlaid on the package root, and a group's merged packument.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { tgz } from './nexus-standin/archives.ts';
import type { NexusStandin } from './nexus-standin/index.ts';
import { standinsPerTest } from './support/standins.ts';
import { integrity, npmPack, npmTarball, readPackument, seedNpm } from './support/npm-fixtures.ts';

const USER = { username: 'npm-user', password: 'npm-pa55' };
const AUTH = `Basic ${Buffer.from(`${USER.username}:${USER.password}`).toString('base64')}`;

const start = standinsPerTest({
  repositories: [
    { name: 'npm-hosted', format: 'npm', type: 'hosted' },
    { name: 'npm-once', format: 'npm', type: 'hosted', writePolicy: 'allow_once' },
    { name: 'npm-other', format: 'npm', type: 'hosted' },
    { name: 'npm-group', format: 'npm', type: 'group', memberNames: ['npm-hosted', 'npm-other'] },
  ],
  users: [USER],
});

async function upload(standin: NexusStandin, repository: string, filename: string, content: Buffer, field = 'npm.asset'): Promise<{ status: number; body: string }> {
  const form = new FormData();
  form.append(field, new Blob([new Uint8Array(content)]), filename);
  const res = await fetch(`${standin.url}/service/rest/v1/components?repository=${repository}`, { method: 'POST', body: form, headers: { authorization: AUTH } });
  return { status: res.status, body: await res.text() };
}

async function view(standin: NexusStandin, method: string, repository: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  const headers = { authorization: AUTH, 'content-type': 'application/json' };
  const res = await fetch(`${standin.url}/repository/${repository}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  return { status: res.status, body: await res.text() };
}

describe('nexus stand-in: npm', () => {
  it('stores an upload under the name and version of its package.json, scope as the component group', async () => {
    // Prepare
    const standin = await start();

    // Act
    const scoped = await upload(standin, 'npm-hosted', 'anything.tgz', await npmTarball('@acme/widget', '2.1.0'));
    const plain = await upload(standin, 'npm-hosted', 'x.tgz', await npmTarball('left-pad', '1.0.0'));

    // Assess
    expect([scoped.status, plain.status]).toEqual([204, 204]);
    expect(standin.assetPaths('npm-hosted').sort()).toEqual(['/@acme/widget', '/@acme/widget/-/widget-2.1.0.tgz', '/left-pad', '/left-pad/-/left-pad-1.0.0.tgz']);
    const page = (await (await fetch(`${standin.url}/service/rest/v1/components?repository=npm-hosted`, { headers: { authorization: AUTH } })).json()) as {
      items: { group: string; name: string; version: string; assets: Record<string, unknown>[] }[];
    };
    expect(page.items.map(({ group, name, version }) => ({ group, name, version }))).toEqual([
      { group: 'acme', name: 'widget', version: '2.1.0' },
      { group: '', name: 'left-pad', version: '1.0.0' },
    ]);
    const [asset] = page.items[0]!.assets;
    expect(Object.keys(asset!['checksum'] as object).sort()).toEqual(['md5', 'sha1']);
    expect(asset!['npm']).toMatchObject({ scope: 'acme', name: '@acme/widget', version: '2.1.0', asset_kind: 'TARBALL' });
  });

  it('keeps the packument as a component-less asset, listed among assets only', async () => {
    // Prepare
    const standin = await start();
    await seedNpm(standin, 'npm-hosted', 'left-pad', '1.0.0');

    // Act
    const assets = (await (await fetch(`${standin.url}/service/rest/v1/assets?repository=npm-hosted`, { headers: { authorization: AUTH } })).json()) as {
      items: { path: string; npm: Record<string, unknown> }[];
    };

    // Assess
    expect(assets.items.map((a) => [a.path, a.npm['asset_kind']])).toEqual([
      ['/left-pad/-/left-pad-1.0.0.tgz', 'TARBALL'],
      ['/left-pad', 'PACKAGE_ROOT'],
    ]);
  });

  it.each([
    ['a file name not ending in .tgz', 'left-pad-1.0.0.tar.gz', 'npm.asset', () => npmTarball('left-pad', '1.0.0'), 'Unsupported extension. Extension must be .tgz'],
    ['an unknown field', 'left-pad-1.0.0.tgz', 'npm.asset1', () => npmTarball('left-pad', '1.0.0'), 'Unknown field name: npm.asset1'],
    ['a tarball without package.json', 'x.tgz', 'npm.asset', () => tgz([{ name: 'package/index.js', content: '' }]), 'Uploaded package is invalid, or is missing package.json'],
    ['package.json at the root', 'x.tgz', 'npm.asset', () => tgz([{ name: 'package.json', content: '{"name":"x","version":"1.0.0"}' }]), 'Uploaded package is invalid, or is missing package.json'],
    ['a package.json without a version', 'x.tgz', 'npm.asset', () => tgz([{ name: 'package/package.json', content: '{"name":"x"}' }]), 'Uploaded package x has no version in its package.json'],
    ['not a tarball at all', 'x.tgz', 'npm.asset', async () => Buffer.from('plain text'), 'Uploaded package is invalid, or is missing package.json'],
  ])('refuses %s with a 400 naming it', async (_what, filename, field, make, message) => {
    // Prepare
    const standin = await start();

    // Act
    const res = await upload(standin, 'npm-hosted', filename, await make(), field);

    // Assess
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual([{ id: '*', message }]);
    expect(standin.assetPaths('npm-hosted')).toEqual([]);
  });

  it('refuses a second upload of a version to an allow_once repository', async () => {
    // Prepare
    const standin = await start();
    expect((await upload(standin, 'npm-once', 'a.tgz', await npmTarball('left-pad', '1.0.0'))).status).toBe(204);

    // Act
    const again = await upload(standin, 'npm-once', 'a.tgz', await npmTarball('left-pad', '1.0.0', 'other bytes'));

    // Assess
    expect(again.status).toBe(400);
    expect(JSON.parse(again.body)).toEqual([{ id: '*', message: 'npm-once/left-pad/-/left-pad-1.0.0.tgz cannot be updated' }]);
  });

  it('serves the packument with absolute tarball URLs and shasum but no integrity; latest is the last upload, older or not', async () => {
    // Prepare
    const standin = await start();
    const two = await seedNpm(standin, 'npm-hosted', '@acme/widget', '2.0.0');
    const one = await seedNpm(standin, 'npm-hosted', '@acme/widget', '1.0.0');

    // Act
    const encoded = await readPackument(standin, 'npm-hosted', '@acme/widget', AUTH);
    const plain = JSON.parse((await view(standin, 'GET', 'npm-hosted', '/@acme/widget')).body) as typeof encoded;

    // Assess
    expect(plain).toEqual(encoded);
    expect(encoded['dist-tags']).toEqual({ latest: '1.0.0' });
    expect(encoded.versions['2.0.0']!.dist).toEqual({
      shasum: createHash('sha1').update(two).digest('hex'),
      tarball: `${standin.url}/repository/npm-hosted/@acme/widget/-/widget-2.0.0.tgz`,
    });
    expect(encoded.versions['1.0.0']!.dist.shasum).toBe(createHash('sha1').update(one).digest('hex'));
    const tarball = await fetch(encoded.versions['2.0.0']!.dist.tarball, { headers: { authorization: AUTH } });
    expect(Buffer.from(await tarball.arrayBuffer()).equals(two)).toBe(true);
    expect((await view(standin, 'GET', 'npm-hosted', '/nothing-here')).status).toBe(404);
  });

  it('sets and removes dist-tags through the npm API, never latest, only for versions it has', async () => {
    // Prepare
    const standin = await start();
    await seedNpm(standin, 'npm-hosted', '@acme/widget', '1.0.0');
    await seedNpm(standin, 'npm-hosted', '@acme/widget', '2.0.0-beta.1');

    // Act
    const next = await view(standin, 'PUT', 'npm-hosted', '/-/package/@acme%2fwidget/dist-tags/next', '"2.0.0-beta.1"');
    const latest = await view(standin, 'PUT', 'npm-hosted', '/-/package/@acme%2fwidget/dist-tags/latest', '"1.0.0"');
    const unknown = await view(standin, 'PUT', 'npm-hosted', '/-/package/@acme%2fwidget/dist-tags/old', '"0.9.0"');
    const listed = JSON.parse((await view(standin, 'GET', 'npm-hosted', '/-/package/@acme%2fwidget/dist-tags')).body) as unknown;
    const removed = await view(standin, 'DELETE', 'npm-hosted', '/-/package/@acme%2fwidget/dist-tags/next');
    const removeLatest = await view(standin, 'DELETE', 'npm-hosted', '/-/package/@acme%2fwidget/dist-tags/latest');

    // Assess
    expect(next.status).toBe(200);
    expect(latest.status).toBe(400);
    expect(latest.body).toContain('Unable to update latest tag');
    expect(unknown.status).toBe(400);
    expect(unknown.body).toContain('version 0.9.0 of package @acme/widget is not present in repository npm-hosted');
    expect(listed).toEqual({ latest: '2.0.0-beta.1', next: '2.0.0-beta.1' });
    expect(removed.status).toBe(200);
    expect(removeLatest.status).toBe(400);
    expect((await readPackument(standin, 'npm-hosted', '@acme/widget', AUTH))['dist-tags']).toEqual({ latest: '2.0.0-beta.1' });
  });

  it('overlays a publish snippet without _rev on the package root, also on an allow_once repository', async () => {
    // Prepare
    const standin = await start();
    const one = await npmTarball('left-pad', '1.0.0');
    await upload(standin, 'npm-once', 'a.tgz', one);
    await upload(standin, 'npm-once', 'b.tgz', await npmTarball('left-pad', '2.0.0'));
    const snippet = { name: 'left-pad', 'dist-tags': { latest: '2.0.0' }, versions: { '1.0.0': { dist: { integrity: integrity(one) } } } };

    // Act
    const put = await view(standin, 'PUT', 'npm-once', '/left-pad', JSON.stringify(snippet));

    // Assess
    expect(put.status).toBe(200);
    const packument = await readPackument(standin, 'npm-once', 'left-pad', AUTH);
    expect(packument['dist-tags']).toEqual({ latest: '2.0.0' });
    expect(packument.versions['1.0.0']!.dist).toMatchObject({ integrity: integrity(one), shasum: createHash('sha1').update(one).digest('hex') });
    expect(packument.versions['2.0.0']!.dist.integrity).toBeUndefined();
  });

  it('merges the members’ packuments in a group, tarball URLs under the group', async () => {
    // Prepare
    const standin = await start();
    await seedNpm(standin, 'npm-hosted', 'left-pad', '1.0.0');
    await seedNpm(standin, 'npm-other', 'left-pad', '1.1.0');

    // Act
    const merged = await readPackument(standin, 'npm-group', 'left-pad', AUTH);

    // Assess
    expect(Object.keys(merged.versions).sort()).toEqual(['1.0.0', '1.1.0']);
    expect(merged['dist-tags'].latest).toBe('1.1.0');
    expect(merged.versions['1.0.0']!.dist.tarball).toBe(`${standin.url}/repository/npm-group/left-pad/-/left-pad-1.0.0.tgz`);
  });

  it('serves the real npm client: npm pack of a scoped package from it gives the uploaded bytes', async () => {
    // Prepare
    const standin = await start();
    const tarball = await seedNpm(standin, 'npm-hosted', '@acme/widget', '1.2.3');

    // Act
    const packed = await npmPack(`${standin.url}/repository/npm-hosted/`, USER, '@acme/widget@1.2.3');

    // Assess
    expect(packed.equals(tarball)).toBe(true);
    const fetched = standin.requests.filter((r) => r.method === 'GET').map((r) => [r.url, r.status]);
    expect(fetched).toContainEqual(['/repository/npm-hosted/@acme%2fwidget', 200]);
    expect(fetched).toContainEqual(['/repository/npm-hosted/@acme/widget/-/widget-1.2.3.tgz', 200]);
  });

  it('makes npm pack refuse a tarball whose packument gives another integrity (the judge checks bytes)', async () => {
    // Prepare
    const standin = await start();
    await seedNpm(standin, 'npm-hosted', 'left-pad', '1.0.0');
    await standin.seedPut('npm-hosted', '/left-pad', JSON.stringify({ name: 'left-pad', versions: { '1.0.0': { dist: { integrity: integrity(Buffer.from('other')) } } } }));

    // Act
    const packing = npmPack(`${standin.url}/repository/npm-hosted/`, USER, 'left-pad@1.0.0');

    // Assess
    await expect(packing).rejects.toThrow(/EINTEGRITY|integrity/i);
  });
});
