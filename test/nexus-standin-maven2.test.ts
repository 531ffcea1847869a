/**
 * The stand-in's maven2 format, over HTTP: the component upload's fields, coordinates from a
 * pom, its errors in Nexus's words, the checksum files and the artifact-level
 * maven-metadata.xml an upload leaves, the listing's maven2 block, and the maven client's
 * PUT, which stores what it is given and rebuilds nothing.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { NexusStandin } from './nexus-standin/index.ts';
import { standinsPerTest } from './support/standins.ts';
import { jar, pom } from './support/maven2-fixtures.ts';

const start = standinsPerTest({
  repositories: [
    { name: 'releases', format: 'maven2', type: 'hosted' },
    { name: 'snapshots', format: 'maven2', type: 'hosted', versionPolicy: 'SNAPSHOT' },
    { name: 'mixed', format: 'maven2', type: 'hosted', versionPolicy: 'MIXED' },
    { name: 'once', format: 'maven2', type: 'hosted', writePolicy: 'allow_once' },
  ],
});

const gav = { groupId: 'org.example', artifactId: 'widget', version: '1.0.0' };
const sha1 = (b: Buffer | string) => createHash('sha1').update(b).digest('hex');

async function upload(standin: NexusStandin, repository: string, fields: Record<string, string>, files: [string, Buffer][]): Promise<{ status: number; body: string }> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  for (const [name, content] of files) form.append(name, new Blob([new Uint8Array(content)]), 'upload.bin');
  const res = await fetch(`${standin.url}/service/rest/v1/components?repository=${repository}`, { method: 'POST', body: form });
  return { status: res.status, body: await res.text() };
}

const messages = (body: string) => (JSON.parse(body) as { message: string }[]).map((e) => e.message);
const get = async (standin: NexusStandin, path: string) => {
  const res = await fetch(`${standin.url}/repository/${path}`);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
};
const put = async (standin: NexusStandin, path: string, body: Buffer | string) =>
  (await fetch(`${standin.url}/repository/${path}`, { method: 'PUT', body: typeof body === 'string' ? body : new Uint8Array(body) })).status;

const releaseFields = { 'maven2.groupId': gav.groupId, 'maven2.artifactId': gav.artifactId, 'maven2.version': gav.version };

describe('nexus stand-in: maven2 component upload', () => {
  it('stores each asset at its Maven path with .sha1 and .md5 beside it, all listed as assets of the component', async () => {
    // Prepare
    const standin = await start();
    const main = jar('main');
    const sources = jar('sources');

    // Act
    const res = await upload(
      standin,
      'releases',
      { ...releaseFields, 'maven2.asset1.extension': 'jar', 'maven2.asset2.extension': 'jar', 'maven2.asset2.classifier': 'sources' },
      [['maven2.asset1', main], ['maven2.asset2', sources]],
    );

    // Assess
    expect(res.status, res.body).toBe(204);
    const dir = '/org/example/widget/1.0.0';
    expect(standin.assetPaths('releases')).toEqual([
      `${dir}/widget-1.0.0.jar`,
      `${dir}/widget-1.0.0.jar.sha1`,
      `${dir}/widget-1.0.0.jar.md5`,
      `${dir}/widget-1.0.0-sources.jar`,
      `${dir}/widget-1.0.0-sources.jar.sha1`,
      `${dir}/widget-1.0.0-sources.jar.md5`,
      '/org/example/widget/maven-metadata.xml',
      '/org/example/widget/maven-metadata.xml.sha1',
      '/org/example/widget/maven-metadata.xml.md5',
    ]);
    expect((await get(standin, `releases${dir}/widget-1.0.0-sources.jar`)).body.equals(sources)).toBe(true);
    expect((await get(standin, `releases${dir}/widget-1.0.0-sources.jar.sha1`)).body.toString()).toBe(sha1(sources));
    const listing = (await (await fetch(`${standin.url}/service/rest/v1/components?repository=releases`)).json()) as {
      items: { group: string; name: string; version: string; assets: { path: string; maven2: Record<string, string> }[] }[];
    };
    expect(listing.items).toHaveLength(1);
    const [component] = listing.items;
    expect([component!.group, component!.name, component!.version]).toEqual(['org.example', 'widget', '1.0.0']);
    expect(component!.assets.map((a) => a.path)).toHaveLength(6);
    expect(component!.assets.find((a) => a.path.endsWith('-sources.jar'))!.maven2).toEqual({
      groupId: 'org.example',
      artifactId: 'widget',
      version: '1.0.0',
      baseVersion: '1.0.0',
      extension: 'jar',
      classifier: 'sources',
      asset_kind: 'ARTIFACT',
    });
    expect(component!.assets.find((a) => a.path.endsWith('.jar.sha1'))!.maven2).toMatchObject({ extension: 'jar.sha1', asset_kind: 'ARTIFACT_SUBORDINATE' });
  });

  it('rebuilds the artifact-level maven-metadata.xml after each upload, listing every version', async () => {
    // Prepare
    const standin = await start();
    for (const version of ['1.10', '1.2']) {
      await upload(standin, 'releases', { ...releaseFields, 'maven2.version': version, 'maven2.asset1.extension': 'jar' }, [['maven2.asset1', jar(version)]]);
    }

    // Act
    const metadata = await get(standin, 'releases/org/example/widget/maven-metadata.xml');
    const checksum = await get(standin, 'releases/org/example/widget/maven-metadata.xml.sha1');

    // Assess
    const xml = metadata.body.toString();
    expect(xml).toMatch(/<versions>\s*<version>1\.2<\/version>\s*<version>1\.10<\/version>\s*<\/versions>/);
    expect(xml).toContain('<latest>1.10</latest>');
    expect(xml).toContain('<release>1.10</release>');
    expect(checksum.body.toString()).toBe(sha1(metadata.body));
    // a component-less asset: in the assets listing, in no component
    const assets = (await (await fetch(`${standin.url}/service/rest/v1/assets?repository=releases`)).json()) as { items: { path: string; maven2: Record<string, string> }[] };
    expect(assets.items.find((a) => a.path === '/org/example/widget/maven-metadata.xml')?.maven2).toEqual({ asset_kind: 'REPOSITORY_METADATA' });
    const components = (await (await fetch(`${standin.url}/service/rest/v1/components?repository=releases`)).json()) as { items: { assets: { path: string }[] }[] };
    expect(components.items.flatMap((c) => c.assets.map((a) => a.path)).filter((p) => p.includes('maven-metadata'))).toEqual([]);
  });

  it('takes the coordinates from a pom asset, with groupId and version from its parent when absent', async () => {
    // Prepare
    const standin = await start();
    const child = pom({ groupId: 'org.example.parent', artifactId: 'child', version: '3.1' }, { parent: true });

    // Act
    const res = await upload(standin, 'releases', { 'maven2.asset1.extension': 'pom', 'maven2.asset2.extension': 'jar' }, [['maven2.asset1', child], ['maven2.asset2', jar('c')]]);

    // Assess
    expect(res.status, res.body).toBe(204);
    expect(standin.assetPaths('releases').filter((p) => !/\.(sha1|md5)$/.test(p) && !p.endsWith('maven-metadata.xml'))).toEqual([
      '/org/example/parent/child/3.1/child-3.1.pom',
      '/org/example/parent/child/3.1/child-3.1.jar',
    ]);
  });

  it("answers Nexus's validation messages: missing component fields, missing extension, unknown fields, identical coordinates, no assets", async () => {
    // Prepare
    const standin = await start();
    const one = jar('one');

    // Act
    const missing = await upload(standin, 'releases', { 'maven2.asset1.extension': 'jar' }, [['maven2.asset1', one]]);
    const noExtension = await upload(standin, 'releases', releaseFields, [['maven2.asset1', one]]);
    const unknown = await upload(standin, 'releases', { ...releaseFields, 'maven2.foo': 'x', 'maven2.asset1.extension': 'jar', 'maven2.asset1.bar': 'y' }, [['maven2.asset1', one]]);
    const twice = await upload(standin, 'releases', { ...releaseFields, 'maven2.asset1.extension': 'jar', 'maven2.asset2.extension': 'jar' }, [['maven2.asset1', one], ['maven2.asset2', jar('two')]]);
    const none = await upload(standin, 'releases', releaseFields, []);

    // Assess
    expect(missing.status).toBe(400);
    expect(messages(missing.body)).toEqual(["Missing required component field 'Group ID'", "Missing required component field 'Artifact ID'", "Missing required component field 'Version'"]);
    expect(messages(noExtension.body)).toEqual(["Missing required asset field 'Extension' on '1'"]);
    expect(messages(unknown.body)).toEqual(["Unknown component field 'foo'", "Unknown field 'bar' on asset '1'"]);
    expect(messages(twice.body)).toEqual(['The assets 1 and 2 have identical coordinates']);
    expect(none.status).toBe(400);
    expect(messages(none.body)).toContain('No assets found in upload');
    expect(standin.assetPaths('releases')).toEqual([]);
  });

  it('refuses an invalid pom, a snapshot repository, a snapshot into a release repository, and a redeploy on allow_once', async () => {
    // Prepare
    const standin = await start();
    const jarFields = { ...releaseFields, 'maven2.asset1.extension': 'jar' };
    await upload(standin, 'once', jarFields, [['maven2.asset1', jar('first')]]);

    // Act
    const notXml = await upload(standin, 'releases', { 'maven2.asset1.extension': 'pom' }, [['maven2.asset1', Buffer.from('not a pom')]]);
    const property = await upload(standin, 'releases', { 'maven2.asset1.extension': 'pom' }, [['maven2.asset1', pom({ ...gav, version: '${revision}' })]]);
    const snapshotRepo = await upload(standin, 'snapshots', jarFields, [['maven2.asset1', jar('s')]]);
    const mismatch = await upload(standin, 'releases', { ...jarFields, 'maven2.version': '1.0-SNAPSHOT' }, [['maven2.asset1', jar('s')]]);
    const redeploy = await upload(standin, 'once', jarFields, [['maven2.asset1', jar('second')]]);
    const mixed = await upload(standin, 'mixed', { ...jarFields, 'maven2.version': '1.0-SNAPSHOT' }, [['maven2.asset1', jar('m')]]);

    // Assess
    expect(messages(notXml.body)).toEqual(['The provided POM file is invalid.']);
    expect(messages(property.body)).toEqual(['The provided POM file is invalid.  Could not retrieve valid G:A:V parameters (org.example:widget:${revision})']);
    expect(messages(snapshotRepo.body)).toEqual(['Upload to snapshot repositories not supported, use the maven client.']);
    expect(messages(mismatch.body)).toEqual(["Version policy mismatch, cannot upload SNAPSHOT content to RELEASE repositories for file 'org/example/widget/1.0-SNAPSHOT/widget-1.0-SNAPSHOT.jar'"]);
    expect(redeploy.status).toBe(400);
    expect(messages(redeploy.body)).toEqual(['once/org/example/widget/1.0.0/widget-1.0.0.jar cannot be updated']);
    expect(mixed.status).toBe(204);
    expect(standin.assetPaths('releases')).toEqual([]);
    expect(standin.assetPaths('snapshots')).toEqual([]);
  });

  it('publishes its upload spec', async () => {
    // Prepare
    const standin = await start();

    // Act
    const spec = (await (await fetch(`${standin.url}/service/rest/v1/formats/maven2/upload-specs`)).json()) as { componentFields: { name: string; optional: boolean }[]; assetFields: { name: string }[] };

    // Assess
    expect(spec.componentFields.map((f) => [f.name, f.optional])).toEqual([['groupId', false], ['artifactId', false], ['version', false], ['generate-pom', true], ['packaging', true]]);
    expect(spec.assetFields.map((f) => f.name)).toEqual(['classifier', 'extension']);
  });
});

describe('nexus stand-in: maven2 repository view', () => {
  const dir = 'org/example/widget/1.0-SNAPSHOT';
  const file = `${dir}/widget-1.0-20250115.102030-1.jar`;

  it('stores what the maven client PUTs on a snapshot repository and generates no metadata', async () => {
    // Prepare
    const standin = await start();
    const content = jar('snap');

    // Act
    const stored = await put(standin, `snapshots/${file}`, content);
    const sidecar = await put(standin, `snapshots/${file}.sha1`, sha1(content));
    const before = await get(standin, `snapshots/${dir}/maven-metadata.xml`);
    const metadata = await put(standin, `snapshots/${dir}/maven-metadata.xml`, '<metadata/>');
    const after = await get(standin, `snapshots/${dir}/maven-metadata.xml`);

    // Assess
    expect([stored, sidecar, metadata]).toEqual([201, 201, 201]);
    expect(before.status).toBe(404);
    expect(after.body.toString()).toBe('<metadata/>');
    expect(await get(standin, 'snapshots/org/example/widget/maven-metadata.xml')).toMatchObject({ status: 404 });
    const listing = (await (await fetch(`${standin.url}/service/rest/v1/components?repository=snapshots`)).json()) as { items: { version: string; assets: { path: string; maven2: Record<string, string> }[] }[] };
    expect(listing.items.map((c) => c.version)).toEqual(['1.0-20250115.102030-1']);
    expect(listing.items[0]!.assets[0]!.maven2).toMatchObject({ version: '1.0-20250115.102030-1', baseVersion: '1.0-SNAPSHOT', extension: 'jar' });
  });

  it('refuses a snapshot PUT on a release repository, and lets metadata (not files) be rewritten on allow_once', async () => {
    // Prepare
    const standin = await start();
    const release = 'org/example/widget/1.0.0/widget-1.0.0.jar';
    await put(standin, `once/${release}`, jar('a'));
    await put(standin, 'once/org/example/widget/maven-metadata.xml', '<metadata>1</metadata>');

    // Act
    const snapshotInRelease = await fetch(`${standin.url}/repository/releases/${file}`, { method: 'PUT', body: 'x' });
    const fileAgain = await put(standin, `once/${release}`, jar('b'));
    const metadataAgain = await put(standin, 'once/org/example/widget/maven-metadata.xml', '<metadata>2</metadata>');

    // Assess
    expect(snapshotInRelease.status).toBe(400);
    expect(await snapshotInRelease.text()).toContain('Version policy mismatch, cannot upload SNAPSHOT content to RELEASE repositories');
    expect(fileAgain).toBe(400);
    expect(metadataAgain).toBe(201);
    expect((await get(standin, 'once/org/example/widget/maven-metadata.xml')).body.toString()).toBe('<metadata>2</metadata>');
  });
});
