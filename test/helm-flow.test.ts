/**
 * Helm charts end to end over HTTP on 127.0.0.1: two Nexus stand-ins, the real CLI. The
 * judge is what a helm client reads: the target's index.yaml (rebuilt by the stand-in a
 * moment after each upload, as Nexus does), with each chart's digest.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readBundleSummary } from '../shared/bundle/index.ts';
import { tgz } from './nexus-standin/archives.ts';
import { bundles, carryAndInspect, content, makeWorld, runFerry, type World } from './support/world.ts';

const REPO = 'helm-hosted';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A chart archive as `helm package` makes it: `<name>/Chart.yaml` plus files. */
function chart(name: string, version: string, seed = `${name}-${version}`): Promise<Buffer> {
  return tgz([
    { name: `${name}/Chart.yaml`, content: `apiVersion: v2\nname: ${name}\nversion: ${version}\ndescription: ${seed}\n` },
    { name: `${name}/values.yaml`, content: `seed: ${seed}\n` },
    { name: `${name}/templates/blob.bin`, content: content(seed, 1500) },
  ]);
}

/** A provenance file: the signed Chart.yaml body and the chart's hash (the signature itself is not checked by Nexus). */
function provenance(name: string, version: string, archive: Buffer): Buffer {
  return Buffer.from(
    `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\napiVersion: v2\nname: ${name}\nversion: ${version}\n\n...\nfiles:\n  ${name}-${version}.tgz: sha256:${sha256(archive)}\n` +
      '-----BEGIN PGP SIGNATURE-----\n\nwsBcBAEBCgAQBQJ\n-----END PGP SIGNATURE-----\n',
  );
}

async function seedChart(world: World, name: string, version: string, seed?: string): Promise<Buffer> {
  const archive = await chart(name, version, seed);
  await world.source.seedUpload(REPO, { files: [{ field: 'helm.asset', filename: `${name}-${version}.tgz`, content: archive }] });
  return archive;
}

/** index.yaml as a helm client reads it: chart name → version → digest. */
async function targetIndex(world: World): Promise<Map<string, string>> {
  const response = await fetch(`${world.target.url}/repository/${REPO}/index.yaml`, {
    headers: { authorization: `Basic ${Buffer.from('ferry-writer:target-pa55').toString('base64')}` },
  });
  const index = parse(await response.text()) as { entries: Record<string, { version: string; digest: string; urls: string[] }[]> };
  const out = new Map<string, string>();
  for (const [name, versions] of Object.entries(index.entries)) for (const v of versions) out.set(`${name} ${v.version}`, v.digest);
  return out;
}

function expectSameFiles(world: World): void {
  const paths = world.source.assetPaths(REPO);
  expect(world.target.assetPaths(REPO).sort()).toEqual([...paths].sort());
  for (const p of paths) expect(world.target.getAsset(REPO, p)!.content.equals(world.source.getAsset(REPO, p)!.content), p).toBe(true);
}

describe('helm charts end to end', () => {
  let world: World;
  afterEach(async () => world?.close());

  it('carries 23 charts over 3 listing pages, one with its provenance file; index.yaml on the target lists each with its digest', async () => {
    // Prepare: 22 charts and a signed one, on pages of 10
    world = await makeWorld({ format: 'helm', repositories: [REPO] });
    const archives = new Map<string, Buffer>();
    for (let i = 0; i < 22; i++) archives.set(`chart-${i} 1.0.${i}`, await seedChart(world, `chart-${i}`, `1.0.${i}`));
    const signed = await seedChart(world, 'signed', '2.0.0');
    archives.set('signed 2.0.0', signed);
    await world.source.seedUpload(REPO, { files: [{ field: 'helm.asset', filename: 'signed-2.0.0.tgz.prov', content: provenance('signed', '2.0.0', signed) }] });

    // Act
    const { exported, files, imported, inspected } = await carryAndInspect(world);

    // Assess
    expect(exported.code, exported.stderr).toBe(0);
    expect(imported.code, imported.stderr).toBe(0);
    expect(inspected.stdout).toMatch(/^ {2}helm {3}chart chart-0 1\.0\.0 {2}helm-hosted\/chart-0-1\.0\.0\.tgz → helm-hosted\/chart-0-1\.0\.0\.tgz/m);
    expect(inspected.stdout).toContain('chart signed 2.0.0 (provenance)');
    expect(world.source.requests.filter((r) => r.url.startsWith(`/service/rest/v1/components?repository=${REPO}`))).toHaveLength(3);
    const summary = await readBundleSummary(createReadStream(files[0]!), 'bundle');
    expect(summary.manifest.format).toBe('ferry.bundle.v2');
    expect(summary.manifest.entries).toHaveLength(24);
    expect(summary.manifest.entries.every((e) => e.kind === 'helm')).toBe(true);
    const prov = summary.manifest.entries.find((e) => e.source.repository === REPO && 'path' in e.source && e.source.path.endsWith('.prov'));
    expect(prov).toMatchObject({ component: { group: null, name: 'signed', version: '2.0.0' } });
    expectSameFiles(world);
    const index = await targetIndex(world);
    expect(index.size).toBe(23);
    for (const [key, archive] of archives) expect(index.get(key), key).toBe(sha256(archive));
  });

  it('ships only new versions and a replaced chart the next time, and a second import of both bundles writes nothing', async () => {
    // Prepare: a first bundle, imported
    world = await makeWorld({ format: 'helm', repositories: [REPO] });
    for (let i = 0; i < 3; i++) await seedChart(world, 'web', `1.${i}.0`);
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    expect((await runFerry(['import', '--config', world.importConfig, ...(await bundles(world))], world.env)).code).toBe(0);

    // Act: two new versions, and web 1.1.0 pushed again with other bytes
    await seedChart(world, 'web', '1.3.0');
    await seedChart(world, 'web', '2.0.0');
    const replaced = await seedChart(world, 'web', '1.1.0', 'rebuilt');
    const second = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const files = await bundles(world);
    const imported = await runFerry(['import', '--config', world.importConfig, ...files], world.env);
    const uploadsBefore = world.target.requests.filter((r) => r.method === 'POST').length;
    const again = await runFerry(['import', '--config', world.importConfig, ...files], world.env);

    // Assess
    expect(second.code, second.stderr).toBe(0);
    expect(files).toHaveLength(2);
    const two = await readBundleSummary(createReadStream(files[1]!), 'bundle 2');
    expect(two.manifest.entries.map((e) => ('path' in e.target ? e.target.path : '')).sort()).toEqual(['/web-1.1.0.tgz', '/web-1.3.0.tgz', '/web-2.0.0.tgz']);
    expect(imported.code, imported.stderr).toBe(0);
    expectSameFiles(world);
    expect((await targetIndex(world)).get('web 1.1.0')).toBe(sha256(replaced));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout + again.stderr).toMatch(/already imported/);
    expect(world.target.requests.filter((r) => r.method === 'POST').length).toBe(uploadsBefore);
  });

  it('fails naming the chart when index.yaml never lists it, and a re-run finishes once it does', async () => {
    // Prepare: the target's index.yaml answers 404 for as long as the import waits (1 s)
    world = await makeWorld({ format: 'helm', repositories: [REPO], importOverrides: { indexWaitSeconds: 1 } });
    await seedChart(world, 'api', '3.1.4');
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const files = await bundles(world);
    world.target.injectFault({ method: 'GET', url: /\/index\.yaml$/, kind: 'status', status: 404, times: 1000 });

    // Act
    const failed = await runFerry(['import', '--config', world.importConfig, ...files], world.env);
    world.target.clearFaults();
    const rerun = await runFerry(['import', '--config', world.importConfig, ...files], world.env);

    // Assess
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('chart api 3.1.4');
    expect(failed.stderr).toMatch(/index\.yaml does not list chart api 3\.1\.4/);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(world.target.uploadCount(REPO, '/api-3.1.4.tgz')).toBe(1);
  });

  it('refuses, before any write, a chart version an allow_once target holds with other bytes', async () => {
    // Prepare: the target already has web 1.0.0, built differently
    world = await makeWorld({ format: 'helm', repositories: [REPO], target: { repositories: [{ name: REPO, format: 'helm', type: 'hosted', writePolicy: 'allow_once' }] } });
    await seedChart(world, 'web', '1.0.0');
    await seedChart(world, 'web', '1.0.1');
    await world.target.seedUpload(REPO, { files: [{ field: 'helm.asset', filename: 'web-1.0.0.tgz', content: await chart('web', '1.0.0', 'other build') }] });
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);

    // Act
    const refused = await runFerry(['import', '--config', world.importConfig, ...(await bundles(world))], world.env);

    // Assess
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/helm-hosted\/web-1\.0\.0\.tgz.*allow_once/);
    expect(world.target.assetPaths(REPO)).toEqual(['/web-1.0.0.tgz']);
  });
});
