/**
 * The stand-in's nuget format, over HTTP: `nuget.asset` uploads named from the package's
 * own .nuspec, the stored path per backend, the listing's shape (sha1 and sha512, a nuget
 * block), the upload's errors, and the read side NuGet clients use (the v3 service index,
 * flat container versions and downloads, the v2 download). No NuGet client runs offline
 * here: these tests judge the read side by its documents and by byte identity.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { zip } from './nexus-standin/archives.ts';
import type { NexusStandin } from './nexus-standin/index.ts';
import { standinsPerTest } from './support/standins.ts';
import { nupkg, nuspec } from './support/nuget-fixtures.ts';

const start = standinsPerTest({
  repositories: [
    { name: 'nuget-hosted', format: 'nuget', type: 'hosted' },
    { name: 'nuget-once', format: 'nuget', type: 'hosted', writePolicy: 'allow_once' },
    { name: 'nuget-proxy', format: 'nuget', type: 'proxy', remoteUrl: 'https://api.nuget.org/v3/index.json' },
    { name: 'nuget-group', format: 'nuget', type: 'group', memberNames: ['nuget-hosted', 'nuget-once'] },
  ],
});

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function upload(standin: NexusStandin, repository: string, filename: string, content: Buffer, field = 'nuget.asset', extra: [string, string][] = []) {
  const form = new FormData();
  form.append(field, new Blob([new Uint8Array(content)]), filename);
  for (const [name, value] of extra) form.append(name, value);
  const res = await fetch(`${standin.url}/service/rest/v1/components?repository=${repository}`, { method: 'POST', body: form });
  return { status: res.status, body: await res.text() };
}

async function get(standin: NexusStandin, path: string): Promise<{ status: number; bytes: Buffer }> {
  const res = await fetch(`${standin.url}${path}`);
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
}

interface ListedComponent {
  group: string | null;
  name: string;
  version: string;
  assets: Record<string, unknown>[];
}

async function components(standin: NexusStandin, repository: string): Promise<ListedComponent[]> {
  const res = await fetch(`${standin.url}/service/rest/v1/components?repository=${repository}`);
  return ((await res.json()) as { items: ListedComponent[] }).items;
}

describe('nexus stand-in: nuget uploads and listing', () => {
  it('stores an uploaded package under the id and version of its .nuspec, whatever the part was called (SQL store: /<id>/<version>/<id>.<version>.nupkg)', async () => {
    // Prepare
    const standin = await start();

    // Act
    const res = await upload(standin, 'nuget-hosted', 'anything.nupkg', nupkg('Contoso.Widgets', '1.2.3'));

    // Assess
    expect(res.status, res.body).toBe(204);
    expect(standin.assetPaths('nuget-hosted')).toEqual(['/Contoso.Widgets/1.2.3/Contoso.Widgets.1.2.3.nupkg']);
  });

  it('lists a package as a component named by its id, with sha1 and sha512 only and a nuget block; OrientDB keeps it at <id>/<version>', async () => {
    // Prepare
    const standin = await start({ backend: 'orient' });
    const bytes = nupkg('Contoso.Widgets', '1.2.3');
    await upload(standin, 'nuget-hosted', 'Contoso.Widgets.1.2.3.nupkg', bytes);

    // Act
    const [component, ...rest] = await components(standin, 'nuget-hosted');

    // Assess
    expect(rest).toEqual([]);
    expect(component).toMatchObject({ name: 'Contoso.Widgets', version: '1.2.3' });
    const [asset] = component!.assets;
    expect(asset!['path']).toBe('Contoso.Widgets/1.2.3');
    expect(asset!['checksum']).toEqual({ sha1: createHash('sha1').update(bytes).digest('hex'), sha512: createHash('sha512').update(bytes).digest('hex') });
    expect(asset!['nuget']).toEqual({ id: 'Contoso.Widgets', version: '1.2.3' });
    expect(asset!['contentType']).toBe('application/zip');
  });

  it('publishes its upload spec: one nuget.asset and no other fields', async () => {
    // Prepare
    const standin = await start();

    // Act
    const res = await fetch(`${standin.url}/service/rest/v1/formats/nuget/upload-specs`);

    // Assess
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ format: 'nuget', multipleUpload: false, componentFields: [], assetFields: [] });
  });

  it.each([
    ['a part that is not a .nupkg by name', 'Contoso.Widgets.1.0.0.zip', () => nupkg('Contoso.Widgets', '1.0.0'), 'nuget.asset', 'Unsupported extension. Extension must be .nupkg'],
    ['a .nupkg that is not a zip', 'x.nupkg', () => Buffer.from('not a zip'), 'nuget.asset', 'Invalid NuGet package: not a zip archive'],
    ['a zip without a .nuspec', 'x.nupkg', () => zip([{ name: 'lib/a.dll', content: 'x' }]), 'nuget.asset', 'expected one .nuspec at the root of the package, found 0'],
    ['a .nuspec without an id', 'x.nupkg', () => zip([{ name: 'x.nuspec', content: nuspec('', '1.0.0') }]), 'nuget.asset', 'Metadata is missing the id attribute'],
    ['a .nuspec without a version', 'x.nupkg', () => zip([{ name: 'x.nuspec', content: nuspec('Contoso.X', '') }]), 'nuget.asset', 'Metadata is missing the version attribute'],
    ['a version that is not a NuGet version', 'x.nupkg', () => zip([{ name: 'x.nuspec', content: nuspec('Contoso.X', 'one') }]), 'nuget.asset', 'Invalid package version: one'],
    ['an unknown field', 'x.nupkg', () => nupkg('Contoso.X', '1.0.0'), 'nuget.package', 'Unknown field name: nuget.package'],
  ])('refuses %s with a 400 naming the problem, and stores nothing', async (_what, filename, build, field, message) => {
    // Prepare
    const standin = await start();

    // Act
    const res = await upload(standin, 'nuget-hosted', filename, build(), field);

    // Assess
    expect(res.status).toBe(400);
    expect(res.body).toContain(message);
    expect(standin.assetPaths('nuget-hosted')).toEqual([]);
  });

  it('refuses component fields nuget does not have', async () => {
    // Prepare
    const standin = await start();

    // Act
    const res = await upload(standin, 'nuget-hosted', 'Contoso.X.1.0.0.nupkg', nupkg('Contoso.X', '1.0.0'), 'nuget.asset', [['nuget.version', '1.0.0']]);

    // Assess
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual([{ id: '*', message: 'Unknown field name: nuget.version' }]);
  });

  it('replaces a package uploaded again on an allow repository, and refuses it on an allow_once one (also when the id is spelt in another case)', async () => {
    // Prepare
    const standin = await start();
    await upload(standin, 'nuget-hosted', 'a.nupkg', nupkg('Contoso.Widgets', '1.0.0'));
    await upload(standin, 'nuget-once', 'a.nupkg', nupkg('Contoso.Widgets', '1.0.0'));
    const other = nupkg('contoso.widgets', '1.0.0', 'other');

    // Act
    const replaced = await upload(standin, 'nuget-hosted', 'b.nupkg', other);
    const refused = await upload(standin, 'nuget-once', 'b.nupkg', other);

    // Assess
    expect(replaced.status).toBe(204);
    expect(standin.assetPaths('nuget-hosted')).toEqual(['/Contoso.Widgets/1.0.0/Contoso.Widgets.1.0.0.nupkg']);
    expect(sha256(standin.getAsset('nuget-hosted', '/Contoso.Widgets/1.0.0/Contoso.Widgets.1.0.0.nupkg')!.content)).toBe(sha256(other));
    expect(refused.status).toBe(400);
    expect(refused.body).toContain('nuget-once/Contoso.Widgets/1.0.0/Contoso.Widgets.1.0.0.nupkg cannot be updated');
  });

  it('takes no uploads on a proxy repository', async () => {
    // Prepare
    const standin = await start();

    // Act
    const res = await upload(standin, 'nuget-proxy', 'a.nupkg', nupkg('Contoso.Widgets', '1.0.0'));

    // Assess
    expect(res.status).toBe(400);
    expect(res.body).toContain("Uploading components to a 'proxy' type repository is unsupported, must be 'hosted'");
  });
});

describe('nexus stand-in: nuget read side (judged by documents and bytes: no NuGet client runs offline here)', () => {
  it('serves a v3 service index whose PackageBaseAddress is the repository flat container', async () => {
    // Prepare
    const standin = await start();

    // Act
    const res = await get(standin, '/repository/nuget-hosted/index.json');

    // Assess
    expect(res.status).toBe(200);
    const index = JSON.parse(res.bytes.toString('utf8')) as { version: string; resources: { '@id': string; '@type': string }[] };
    expect(index.version).toBe('3.0.0');
    expect(index.resources).toContainEqual(expect.objectContaining({ '@id': `${standin.url}/repository/nuget-hosted/v3/content/`, '@type': 'PackageBaseAddress/3.0.0' }));
  });

  it('lists every version of a package in the flat container, lowercase and normalised, in version order; 404 for an unknown id', async () => {
    // Prepare
    const standin = await start();
    for (const version of ['1.10.0', '1.2.0-Beta', '1.2', '1.9.0.0']) await upload(standin, 'nuget-hosted', 'p.nupkg', nupkg('Contoso.Widgets', version));

    // Act
    const listed = await get(standin, '/repository/nuget-hosted/v3/content/contoso.widgets/index.json');
    const unknown = await get(standin, '/repository/nuget-hosted/v3/content/contoso.nothing/index.json');

    // Assess
    expect(listed.status).toBe(200);
    expect(JSON.parse(listed.bytes.toString('utf8'))).toEqual({ versions: ['1.2.0-beta', '1.2.0', '1.9.0', '1.10.0'] });
    expect(unknown.status).toBe(404);
  });

  it('downloads the same bytes from the flat container, the v2 download path and the stored asset path, on both backends', async () => {
    for (const backend of ['sql', 'orient'] as const) {
      // Prepare
      const standin = await start({ backend });
      const bytes = nupkg('Contoso.Widgets', '2.0.0-RC.1');
      await upload(standin, 'nuget-hosted', 'w.nupkg', bytes);
      const [stored] = standin.assetPaths('nuget-hosted');

      // Act
      const flat = await get(standin, '/repository/nuget-hosted/v3/content/contoso.widgets/2.0.0-rc.1/contoso.widgets.2.0.0-rc.1.nupkg');
      const v2 = await get(standin, '/repository/nuget-hosted/Contoso.Widgets/2.0.0-RC.1');
      const plain = await get(standin, `/repository/nuget-hosted${stored}`);

      // Assess
      for (const res of [flat, v2, plain]) {
        expect(res.status, backend).toBe(200);
        expect(sha256(res.bytes), backend).toBe(sha256(bytes));
      }
    }
  });

  it("lists the members' packages through a group repository", async () => {
    // Prepare
    const standin = await start();
    await upload(standin, 'nuget-hosted', 'a.nupkg', nupkg('Contoso.Widgets', '1.0.0'));
    await upload(standin, 'nuget-once', 'b.nupkg', nupkg('Contoso.Widgets', '1.1.0'));

    // Act
    const listed = await get(standin, '/repository/nuget-group/v3/content/contoso.widgets/index.json');

    // Assess
    expect(JSON.parse(listed.bytes.toString('utf8'))).toEqual({ versions: ['1.0.0', '1.1.0'] });
  });
});
