/**
 * The stand-in's pypi format, over HTTP: `pypi.asset` reading name and version from the
 * archive's metadata (wheel, tar.gz and zip sdists) into `/packages/<normalised>/<version>/`,
 * its errors, the listing's shape (md5 and sha1 only, a pypi block, normalised component
 * names), twine's upload API with a signature and its digest check, and the PEP 503 simple
 * index rebuilt from what is stored.
 */
import { describe, expect, it } from 'vitest';
import type { NexusStandin } from './nexus-standin/index.ts';
import { standinsPerTest } from './support/standins.ts';
import { zip } from './nexus-standin/archives.ts';
import { md5, sdist, signature, twineUpload, uploadAsset, wheel, zipSdist, type DistFile } from './support/pypi-fixtures.ts';

const start = standinsPerTest({
  repositories: [
    { name: 'pypi-hosted', format: 'pypi', type: 'hosted' },
    { name: 'pypi-once', format: 'pypi', type: 'hosted', writePolicy: 'allow_once' },
    { name: 'pypi-proxy', format: 'pypi', type: 'proxy' },
  ],
});

interface ListedAsset {
  path: string;
  checksum: Record<string, string>;
  contentType: string;
  pypi: Record<string, string>;
}

async function components(standin: NexusStandin, repository = 'pypi-hosted') {
  const res = await fetch(`${standin.url}/service/rest/v1/components?repository=${repository}`);
  return ((await res.json()) as { items: { name: string; version: string; assets: ListedAsset[] }[] }).items;
}

async function get(standin: NexusStandin, path: string, repository = 'pypi-hosted'): Promise<{ status: number; body: string; type: string | null }> {
  const res = await fetch(`${standin.url}/repository/${repository}${path}`);
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

async function errors(res: Response): Promise<string[]> {
  return ((await res.json()) as { message: string }[]).map((e) => e.message);
}

describe('nexus stand-in: pypi uploads through the components API', () => {
  it.each([
    ['a wheel', () => wheel('Sample_Pkg', '1.0.0'), '/packages/sample-pkg/1.0.0/Sample_Pkg-1.0.0-py3-none-any.whl'],
    ['a tar.gz sdist', () => sdist('Sample_Pkg', '1.0.0'), '/packages/sample-pkg/1.0.0/sample_pkg-1.0.0.tar.gz'],
    ['a zip sdist', () => zipSdist('Sample_Pkg', '1.0.0'), '/packages/sample-pkg/1.0.0/sample_pkg-1.0.0.zip'],
  ])('stores %s at /packages/<normalised name>/<version>/<file> from its own metadata', async (_what, make, path) => {
    // Prepare
    const standin = await start();
    const file = await make();

    // Act
    const res = await uploadAsset(standin.url, 'pypi-hosted', file);

    // Assess
    expect(res.status).toBe(204);
    expect(standin.assetPaths('pypi-hosted')).toEqual([path]);
    expect(standin.getAsset('pypi-hosted', path)!.content.equals(file.content)).toBe(true);
  });

  it('lists the component under the normalised name, the asset with md5 and sha1 only and a pypi block from the metadata', async () => {
    // Prepare
    const standin = await start();
    const file = wheel('Sample_Pkg', '2.0.1', { summary: 'Samples things', requiresPython: '>=3.8' });
    await uploadAsset(standin.url, 'pypi-hosted', file);

    // Act
    const [component, ...rest] = await components(standin);

    // Assess
    expect(rest).toEqual([]);
    expect(component).toMatchObject({ name: 'sample-pkg', version: '2.0.1' });
    const [asset] = component!.assets;
    expect(Object.keys(asset!.checksum).sort()).toEqual(['md5', 'sha1']);
    expect(asset!.checksum['md5']).toBe(md5(file.content));
    expect(asset!.contentType).toBe('application/zip');
    expect(asset!.pypi).toMatchObject({ asset_kind: 'PACKAGE', name: 'Sample_Pkg', version: '2.0.1', summary: 'Samples things', requires_python: '>=3.8' });
    expect(asset!.pypi).not.toHaveProperty('metadata_version');
  });

  it.each([
    ['no file', undefined, 'pypi.asset', 'No assets found in upload'],
    ['an unknown field', wheel('a', '1.0'), 'pypi.file', 'Unknown field name: pypi.file'],
    ['a signature instead of a package', { filename: 'a-1.0.tar.gz.asc', content: signature(wheel('a', '1.0')) }, 'pypi.asset', 'Unable to extract PyPI metadata from provided archive.'],
    ['a wheel without a name', { filename: 'x-1.0-py3-none-any.whl', content: zip([{ name: 'x-1.0.dist-info/METADATA', content: 'Metadata-Version: 2.1\nVersion: 1.0\n' }]) }, 'pypi.asset', 'Metadata is missing the name attribute'],
    ['a wheel without a version', { filename: 'x-1.0-py3-none-any.whl', content: zip([{ name: 'x-1.0.dist-info/METADATA', content: 'Metadata-Version: 2.1\nName: x\n' }]) }, 'pypi.asset', 'Metadata is missing the version attribute'],
  ])('refuses %s with 400 and Nexus’s message', async (_what, file: DistFile | undefined, field, message) => {
    // Prepare
    const standin = await start();
    const form = new FormData();
    if (file !== undefined) form.set(field, new Blob([new Uint8Array(file.content)]), file.filename);
    else form.set('pypi.note', 'nothing attached');

    // Act
    const res = await fetch(`${standin.url}/service/rest/v1/components?repository=pypi-hosted`, { method: 'POST', body: form });

    // Assess
    expect(res.status).toBe(400);
    expect(await errors(res)).toContain(message);
    expect(standin.assetPaths('pypi-hosted')).toEqual([]);
  });

  it('refuses a second upload of the same file on an allow_once repository, naming the path', async () => {
    // Prepare
    const standin = await start();
    expect((await uploadAsset(standin.url, 'pypi-once', wheel('a', '1.0', { payload: 'one' }))).status).toBe(204);

    // Act
    const res = await uploadAsset(standin.url, 'pypi-once', wheel('a', '1.0', { payload: 'two' }));

    // Assess
    expect(res.status).toBe(400);
    expect(await errors(res)).toEqual(['pypi-once/packages/a/1.0/a-1.0-py3-none-any.whl cannot be updated']);
  });

  it('takes no upload into a proxy', async () => {
    // Prepare
    const standin = await start();

    // Act
    const res = await uploadAsset(standin.url, 'pypi-proxy', wheel('a', '1.0'));

    // Assess
    expect(res.status).toBe(400);
    expect(await errors(res)).toEqual(["Uploading components to a 'proxy' type repository is unsupported, must be 'hosted'"]);
  });
});

describe('nexus stand-in: pypi uploads as twine makes them', () => {
  it('stores the file and its signature as two assets of one component, name and version from the form', async () => {
    // Prepare
    const standin = await start();
    const file = wheel('Signed.Pkg', '1.0.0');
    const asc = signature(file);

    // Act
    const res = await twineUpload(standin.url, 'pypi-hosted', { name: 'Signed.Pkg', version: '1.0.0', file, signature: asc, fields: { summary: 'From the form' } });

    // Assess
    expect(res.status).toBe(200);
    const [component, ...rest] = await components(standin);
    expect(rest).toEqual([]);
    expect(component).toMatchObject({ name: 'signed-pkg', version: '1.0.0' });
    expect(component!.assets.map((a) => a.path)).toEqual([
      '/packages/signed-pkg/1.0.0/Signed_Pkg-1.0.0-py3-none-any.whl',
      '/packages/signed-pkg/1.0.0/Signed_Pkg-1.0.0-py3-none-any.whl.asc',
    ]);
    expect(component!.assets[0]!.pypi).toMatchObject({ asset_kind: 'PACKAGE', name: 'Signed.Pkg', summary: 'From the form' });
    expect(standin.getAsset('pypi-hosted', '/packages/signed-pkg/1.0.0/Signed_Pkg-1.0.0-py3-none-any.whl.asc')!.content.equals(asc)).toBe(true);
  });

  it('refuses a file whose md5_digest does not match with 400, and writes nothing', async () => {
    // Prepare
    const standin = await start();
    const file = wheel('a', '1.0');

    // Act
    const res = await twineUpload(standin.url, 'pypi-hosted', { name: 'a', version: '1.0', file, fields: { md5_digest: '0'.repeat(32) } });

    // Assess
    expect(res.status).toBe(400);
    expect(await res.text()).toContain(`Digests do not match, found: ${md5(file.content)}, expected: ${'0'.repeat(32)}`);
    expect(standin.assetPaths('pypi-hosted')).toEqual([]);
  });

  it.each([
    ['another :action', { ':action': 'submit' }],
    ['no version', { version: undefined as unknown as string }],
  ])('answers 500 for %s, as Nexus’s handler throws', async (_what, fields) => {
    // Prepare
    const standin = await start();
    const form = new FormData();
    const all: Record<string, string | undefined> = { ':action': 'file_upload', name: 'a', version: '1.0', ...fields };
    for (const [key, value] of Object.entries(all)) if (value !== undefined) form.set(key, value);
    form.set('content', new Blob([new Uint8Array(wheel('a', '1.0').content)]), 'a-1.0-py3-none-any.whl');

    // Act
    const res = await fetch(`${standin.url}/repository/pypi-hosted/`, { method: 'POST', body: form });

    // Assess
    expect(res.status).toBe(500);
    expect(standin.assetPaths('pypi-hosted')).toEqual([]);
  });
});

describe('nexus stand-in: the pypi simple index', () => {
  it('lists the projects at /simple/ and each file of a project with a relative link and #md5=, signatures included', async () => {
    // Prepare
    const standin = await start();
    const plain = wheel('Sample_Pkg', '1.0.0', { requiresPython: '>=3.8' });
    const source = await sdist('Sample_Pkg', '1.0.0');
    const signed = wheel('Sample_Pkg', '1.1.0');
    await uploadAsset(standin.url, 'pypi-hosted', plain);
    await uploadAsset(standin.url, 'pypi-hosted', source);
    await twineUpload(standin.url, 'pypi-hosted', { name: 'Sample_Pkg', version: '1.1.0', file: signed, signature: signature(signed) });
    await uploadAsset(standin.url, 'pypi-hosted', wheel('other', '3.0'));

    // Act
    const root = await get(standin, '/simple/');
    const project = await get(standin, '/simple/sample-pkg/');

    // Assess
    expect(root.status).toBe(200);
    expect([...root.body.matchAll(/<a href="([^"]+)">([^<]+)<\/a>/g)].map((m) => [m[1], m[2]])).toEqual([
      ['other/', 'other'],
      ['sample-pkg/', 'sample-pkg'],
    ]);
    expect(project.status).toBe(200);
    expect(project.type).toMatch(/^text\/html/);
    expect(project.body).toContain('<h1>Links for sample-pkg</h1>');
    const links = [...project.body.matchAll(/<a href="([^"]+)" rel="internal"((?: [a-z-]+="[^"]*")*)>([^<]+)<\/a>/g)].map((m) => ({ href: m[1], extra: m[2], file: m[3] }));
    expect(links).toEqual([
      { href: `../../packages/sample-pkg/1.0.0/${plain.filename}#md5=${md5(plain.content)}`, extra: ' data-requires-python=">=3.8"', file: plain.filename },
      { href: `../../packages/sample-pkg/1.0.0/${source.filename}#md5=${md5(source.content)}`, extra: '', file: source.filename },
      { href: `../../packages/sample-pkg/1.1.0/${signed.filename}#md5=${md5(signed.content)}`, extra: '', file: signed.filename },
      { href: `../../packages/sample-pkg/1.1.0/${signed.filename}.asc#md5=${md5(signature(signed))}`, extra: '', file: `${signed.filename}.asc` },
    ]);
    expect(project.body).not.toContain('sha256');
    expect(project.body).not.toContain('data-gpg-sig');
  });

  it('serves a project page only under its normalised name, and 404 for a project it does not have', async () => {
    // Prepare
    const standin = await start();
    await uploadAsset(standin.url, 'pypi-hosted', wheel('Sample_Pkg', '1.0.0'));

    // Act
    const normalised = await get(standin, '/simple/sample-pkg');
    const asUploaded = await get(standin, '/simple/Sample_Pkg/');
    const unknown = await get(standin, '/simple/nothing/');

    // Assess
    expect(normalised.status).toBe(200);
    expect(asUploaded.status).toBe(404);
    expect(unknown.status).toBe(404);
  });

  it('shows a replaced file’s new md5 on the next read', async () => {
    // Prepare
    const standin = await start();
    const first = wheel('a', '1.0', { payload: 'first' });
    const second = wheel('a', '1.0', { payload: 'second' });
    await uploadAsset(standin.url, 'pypi-hosted', first);
    expect((await get(standin, '/simple/a/')).body).toContain(`#md5=${md5(first.content)}`);

    // Act
    await uploadAsset(standin.url, 'pypi-hosted', second);

    // Assess
    const page = (await get(standin, '/simple/a/')).body;
    expect(page).toContain(`#md5=${md5(second.content)}`);
    expect(page).not.toContain(md5(first.content));
  });

  it('serves a listed file at the link’s target', async () => {
    // Prepare
    const standin = await start();
    const file = wheel('a', '1.0');
    await uploadAsset(standin.url, 'pypi-hosted', file);
    const href = /href="([^"#]+)#/.exec((await get(standin, '/simple/a/')).body)![1]!;

    // Act
    const res = await fetch(new URL(href, `${standin.url}/repository/pypi-hosted/simple/a/`));

    // Assess
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(file.content)).toBe(true);
  });
});
