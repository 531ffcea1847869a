/**
 * PyPI packages end to end over HTTP on 127.0.0.1: two Nexus stand-ins, the real CLI. The
 * judge is pip: `pip download --no-deps --index-url <target>/repository/R/simple` reads the
 * target's PEP 503 index and verifies each file against the index's hash fragment. Sdists
 * would need a build step (and its backend from the network), so they are judged by the
 * index's hash and byte identity instead.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { readBundleSummary, type PypiBundleEntry } from '../shared/bundle/index.ts';
import { formatOf } from '../shared/core/formats/index.ts';
import type { PackageCopyTask, SourceAsset, SourceComponent } from '../shared/core/ports/index.ts';
import { md5, pipDownload, requirePip, sdist, sha256, signature, twineUpload, wheel, type DistFile } from './support/pypi-fixtures.ts';
import { bundles, carryAndInspect, makeWorld, runFerry, type World } from './support/world.ts';

const REPO = 'pypi-hosted';

interface Credentials {
  username: string;
  password: string;
}

/** The source's reader, as the export config names it. */
async function sourceCredentials(world: World): Promise<Credentials> {
  const config = parse(await readFile(world.exportConfig, 'utf8')) as { source: { credentials: { username: string } } };
  return { username: config.source.credentials.username, password: world.env['FERRY_SOURCE_PASSWORD']! };
}

/** The target's writer, as the import config names it. */
async function targetCredentials(world: World): Promise<Credentials> {
  const config = parse(await readFile(world.importConfig, 'utf8')) as { target: { credentials: { username: string; passwordFile: string } } };
  const password = (await readFile(path.join(world.dir, config.target.credentials.passwordFile), 'utf8')).trim();
  return { username: config.target.credentials.username, password };
}

async function seedFile(world: World, file: DistFile): Promise<DistFile> {
  await world.source.seedUpload(REPO, { files: [{ field: 'pypi.asset', filename: file.filename, content: file.content }] });
  return file;
}

/** A signed file, uploaded as twine does (the components API cannot take a signature). */
async function seedSigned(world: World, name: string, version: string, file: DistFile): Promise<Buffer> {
  const asc = signature(file);
  const res = await twineUpload(world.source.url, REPO, { name, version, file, signature: asc }, await sourceCredentials(world));
  expect(res.status, await res.text()).toBe(200);
  return asc;
}

async function entriesOf(file: string): Promise<PypiBundleEntry[]> {
  const summary = await readBundleSummary(createReadStream(file), path.basename(file));
  return summary.manifest.entries as PypiBundleEntry[];
}

function expectSameFiles(world: World): void {
  const paths = world.source.assetPaths(REPO);
  expect(world.target.assetPaths(REPO).sort()).toEqual([...paths].sort());
  for (const p of paths) expect(world.target.getAsset(REPO, p)!.content.equals(world.source.getAsset(REPO, p)!.content), p).toBe(true);
}

/** The target's simple index page of a project: file name → its link's hash fragment. */
async function targetIndex(world: World, project: string): Promise<Map<string, string>> {
  const { username, password } = await targetCredentials(world);
  const res = await fetch(`${world.target.url}/repository/${REPO}/simple/${project}/`, {
    headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` },
  });
  expect(res.status, `/simple/${project}/`).toBe(200);
  const links = new Map<string, string>();
  for (const m of (await res.text()).matchAll(/<a href="[^"#]*\/([^/"#]+)#([^"]+)"/g)) links.set(m[1]!, m[2]!);
  return links;
}

/** pip downloads `requirements` from the target; every file it saves must be byte-identical to `expected`. */
async function expectPipGets(world: World, expected: DistFile[], requirements: string[]): Promise<void> {
  const dest = await mkdtemp(path.join(tmpdir(), 'ferry-pip-'));
  try {
    const { username, password } = await targetCredentials(world);
    const index = new URL(`${world.target.url}/repository/${REPO}/simple`);
    index.username = username;
    index.password = password;
    const run = await pipDownload(index.toString(), requirements, dest);
    expect(run.code, run.output).toBe(0);
    expect((await readdir(dest)).sort()).toEqual(expected.map((f) => f.filename).sort());
    for (const file of expected) expect((await readFile(path.join(dest, file.filename))).equals(file.content), file.filename).toBe(true);
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
}

describe('pypi packages end to end', () => {
  let world: World;
  beforeAll(() => requirePip());
  afterEach(async () => world?.close());

  it('carries 23 components over 3 listing pages — wheels, sdists and a signed wheel with its .asc — byte for byte; pip downloads every wheel from the target', async () => {
    // Prepare: 18 wheels, 3 sdists, a project with both, and a signed wheel
    world = await makeWorld({ format: 'pypi', repositories: [REPO] });
    const wheels: DistFile[] = [];
    for (let i = 0; i < 18; i++) wheels.push(await seedFile(world, wheel(`proj-${i}`, '1.0.0', { requiresPython: '>=3.8' })));
    const sdists: DistFile[] = [];
    for (let i = 0; i < 3; i++) sdists.push(await seedFile(world, await sdist(`src-pkg-${i}`, '0.1.0')));
    const dualWheel = await seedFile(world, wheel('Dual_Pkg', '1.0.0'));
    const dualSdist = await seedFile(world, await sdist('Dual_Pkg', '1.0.0'));
    const signed = wheel('signed', '1.0.0');
    const asc = await seedSigned(world, 'signed', '1.0.0', signed);

    // Act
    const { exported, files, imported, inspected } = await carryAndInspect(world);

    // Assess: 3 pages, one entry per file, the signature as the signed wheel's extra blob
    expect(exported.code, exported.stderr).toBe(0);
    expect(imported.code, imported.stderr).toBe(0);
    expect(inspected.stdout).toContain(`signed==1.0.0 (${signed.filename})`);
    expect(inspected.stdout).toContain(`dual-pkg==1.0.0 (${dualSdist.filename})`);
    expect(world.source.requests.filter((r) => r.url.startsWith(`/service/rest/v1/components?repository=${REPO}`))).toHaveLength(3);
    const entries = await entriesOf(files[0]!);
    expect(entries).toHaveLength(24);
    const signedEntry = entries.find((e) => e.source.path.endsWith(signed.filename))!;
    expect(signedEntry.signature).toEqual({ digest: `sha256:${sha256(asc)}`, size: asc.length });
    expect(entries.filter((e) => e.signature !== null)).toHaveLength(1);
    expect(signedEntry.component).toEqual({ group: null, name: 'signed', version: '1.0.0' });
    // every file and the .asc byte-identical
    expectSameFiles(world);
    expect(world.target.getAsset(REPO, `/packages/signed/1.0.0/${signed.filename}.asc`)!.content.equals(asc)).toBe(true);
    // the signed wheel went through twine's upload API (the only one that takes a signature), the rest through pypi.asset
    expect(world.target.requests.filter((r) => r.method === 'POST' && r.url === `/repository/${REPO}/`).map((r) => r.status)).toEqual([200]);
    expect(world.target.requests.filter((r) => r.method === 'POST' && r.url.startsWith('/service/rest/v1/components')).map((r) => r.status)).toEqual(Array(23).fill(204));
    // pip, verifying each wheel against the index's hash fragment
    await expectPipGets(world, [...wheels, dualWheel, signed], [...wheels.map((_, i) => `proj-${i}==1.0.0`), 'dual-pkg==1.0.0', 'signed==1.0.0']);
  });

  it('sdists (which pip would have to build): the target’s simple index lists each with the md5 of the carried bytes, and the bytes are the same', async () => {
    // Prepare
    world = await makeWorld({ format: 'pypi', repositories: [REPO] });
    const files = [await seedFile(world, await sdist('Src_Only', '2.0.0')), await seedFile(world, await sdist('Src_Only', '2.1.0'))];

    // Act
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const imported = await runFerry(['import', '--config', world.importConfig, ...(await bundles(world))], world.env);

    // Assess
    expect(exported.code, exported.stderr).toBe(0);
    expect(imported.code, imported.stderr).toBe(0);
    const index = await targetIndex(world, 'src-only');
    for (const file of files) expect(index.get(file.filename), file.filename).toBe(`md5=${md5(file.content)}`);
    expectSameFiles(world);
  });

  it('ships only new versions and a replaced file in the next bundle; after both imports the target serves the new bytes', async () => {
    // Prepare: a first bundle of a wheel, an sdist and a signed wheel
    world = await makeWorld({ format: 'pypi', repositories: [REPO] });
    await seedFile(world, wheel('alpha', '1.0.0', { payload: 'first build' }));
    await seedFile(world, await sdist('beta', '1.0.0'));
    const gamma = wheel('gamma', '1.0.0');
    await seedSigned(world, 'gamma', '1.0.0', gamma);
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);

    // Act: new versions (one signed) and alpha 1.0.0 rebuilt in place (the source allows redeploy)
    const alphaNew = await seedFile(world, wheel('alpha', '1.1.0'));
    const betaNew = await seedFile(world, await sdist('beta', '1.1.0'));
    const gammaNew = wheel('gamma', '1.1.0');
    const gammaAsc = await seedSigned(world, 'gamma', '1.1.0', gammaNew);
    const alphaRebuilt = await seedFile(world, wheel('alpha', '1.0.0', { payload: 'second build' }));
    const second = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const files = await bundles(world);
    const imported = await runFerry(['import', '--config', world.importConfig, ...files], world.env);

    // Assess
    expect(second.code, second.stderr).toBe(0);
    expect(files).toHaveLength(2);
    const next = await entriesOf(files[1]!);
    expect(next.map((e) => e.source.path).sort()).toEqual(
      [
        `/packages/alpha/1.0.0/${alphaRebuilt.filename}`,
        `/packages/alpha/1.1.0/${alphaNew.filename}`,
        `/packages/beta/1.1.0/${betaNew.filename}`,
        `/packages/gamma/1.1.0/${gammaNew.filename}`,
      ].sort(),
    );
    expect(next.find((e) => e.component.name === 'gamma')!.signature).toEqual({ digest: `sha256:${sha256(gammaAsc)}`, size: gammaAsc.length });
    expect(imported.code, imported.stderr).toBe(0);
    expectSameFiles(world);
    expect(world.target.getAsset(REPO, `/packages/alpha/1.0.0/${alphaRebuilt.filename}`)!.content.equals(alphaRebuilt.content)).toBe(true);
    expect((await targetIndex(world, 'beta')).get(betaNew.filename)).toBe(`md5=${md5(betaNew.content)}`);
    // pip takes one version of a project per run
    await expectPipGets(world, [alphaRebuilt, gammaNew], ['alpha==1.0.0', 'gamma==1.1.0']);
    await expectPipGets(world, [alphaNew], ['alpha==1.1.0']);
  });

  it('imports the same bundles a second time without an upload, also from a fresh import state', async () => {
    // Prepare: two bundles imported once
    world = await makeWorld({ format: 'pypi', repositories: [REPO] });
    await seedFile(world, wheel('alpha', '1.0.0'));
    const gamma = wheel('gamma', '1.0.0');
    await seedSigned(world, 'gamma', '1.0.0', gamma);
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    await seedFile(world, await sdist('beta', '1.0.0'));
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const files = await bundles(world);
    expect(files).toHaveLength(2);
    const first = await runFerry(['import', '--config', world.importConfig, ...files], world.env);
    expect(first.code, first.stderr).toBe(0);
    const paths = world.target.assetPaths(REPO);
    const uploads = () => paths.map((p) => world.target.uploadCount(REPO, p));
    const before = uploads();
    const fresh = path.join(world.dir, 'import-fresh.yaml');
    await writeFile(fresh, stringify({ ...parse(await readFile(world.importConfig, 'utf8')), workDir: 'import-work-fresh', receipts: { directory: 'receipts-fresh' } }));

    // Act
    const again = await runFerry(['import', '--config', world.importConfig, ...files], world.env);
    const anew = await runFerry(['import', '--config', fresh, ...files], world.env);

    // Assess
    expect(before).toEqual(paths.map(() => 1));
    expect(paths).toHaveLength(4);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/already imported/);
    expect(anew.code, anew.stderr).toBe(0);
    expect(uploads()).toEqual(before);
    expect(world.target.requests.filter((r) => r.method === 'POST')).toHaveLength(3);
    expectSameFiles(world);
  });

  it('fails an import whose target index does not list a file, naming it; the re-run finishes', async () => {
    // Prepare: the target's index page for alpha answers 404 once (a Nexus that lost it)
    world = await makeWorld({ format: 'pypi', repositories: [REPO] });
    const alpha = await seedFile(world, wheel('alpha', '1.0.0'));
    await seedFile(world, wheel('beta', '1.0.0'));
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const files = await bundles(world);
    world.target.injectFault({ method: 'GET', url: /\/simple\/alpha\/$/, kind: 'status', status: 404 });

    // Act
    const failed = await runFerry(['import', '--config', world.importConfig, ...files], world.env);
    const rerun = await runFerry(['import', '--config', world.importConfig, ...files], world.env);

    // Assess
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`${REPO}/packages/alpha/1.0.0/${alpha.filename}`);
    expect(failed.stderr).toContain(`${REPO}/simple/alpha/ is not there (404)`);
    expect(failed.stderr).not.toContain('beta');
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(world.target.uploadCount(REPO, `/packages/alpha/1.0.0/${alpha.filename}`)).toBe(1);
  });
});

describe('the pypi module’s view of source assets', () => {
  const pypi = formatOf('pypi');
  const repository = { name: 'pypi-proxy', format: 'pypi' as const, target: 'pypi-hosted' };
  const asset = (path: string): SourceAsset => ({ path, checksums: { sha1: 'a'.repeat(40), md5: 'b'.repeat(32) }, lastModified: null, size: 10 });
  const component = (name: string, version: string, paths: string[]): SourceComponent => ({ id: 'c', repository: 'pypi-proxy', format: 'pypi', group: '', name, version, assets: paths.map(asset) });

  it.each(['/simple/', '/simple/alpha/', '/packages/alpha/1.0.0/alpha-1.0.0-py3-none-any.whl.asc'])('carries nothing for %s (generated, or travels with its file)', (path) => {
    // Act
    const task = pypi.taskForAsset(repository, asset(path), component('alpha', '1.0.0', [path]));

    // Assess
    expect(task).toBeUndefined();
  });

  it('takes the component from the listing, and notes whether the listing shows a signature beside the file', () => {
    // Prepare
    const file = '/packages/alpha/1.0.0/alpha-1.0.0-py3-none-any.whl';

    // Act
    const signed = pypi.taskForAsset(repository, asset(file), component('alpha', '1.0.0', [file, `${file}.asc`])) as PackageCopyTask;
    const unsigned = pypi.taskForAsset(repository, asset(file), component('alpha', '1.0.0', [file])) as PackageCopyTask;

    // Assess
    expect(signed).toMatchObject({ kind: 'pypi', path: file, component: { group: null, name: 'alpha', version: '1.0.0' }, attributes: { signature: 'listed' } });
    expect(unsigned.attributes).toEqual({ signature: 'absent' });
  });

  it.each([
    ['/packages/3d/ab/0123abcd/Python_Dateutil-2.8.2-py2.py3-none-any.whl', 'python-dateutil', '2.8.2'],
    ['/packages/source/p/python-dateutil/python-dateutil-2.8.2.tar.gz', 'python-dateutil', '2.8.2'],
    ['/packages/requests/2.31.0/requests-2.31.0.tar.gz', 'requests', '2.31.0'],
  ])('reads the component of %s from its path when nothing else names it (a webhook), and sends it to the hosted layout', (path, name, version) => {
    // Act
    const task = pypi.taskForAsset(repository, asset(path)) as PackageCopyTask;
    const entry = pypi.bundleEntry({
      kind: 'pypi', sourceRepository: 'pypi-proxy', path, targetRepository: 'pypi-hosted', digest: `sha256:${'c'.repeat(64)}`, size: 10,
      checksums: task.checksums, detail: { component: task.component, fields: { signature: null } }, seq: 1,
    }) as PypiBundleEntry;

    // Assess
    expect(task.component).toEqual({ group: null, name, version });
    expect(task.attributes).toBeUndefined();
    expect(entry.source.path).toBe(path);
    expect(entry.target.path).toBe(`/packages/${name}/${version}/${path.slice(path.lastIndexOf('/') + 1)}`);
    expect(pypi.coordinates(entry)).toBe(`${name}==${version} (${path.slice(path.lastIndexOf('/') + 1)})`);
  });

  it('fetches a signature again from <file>.asc and the file from its own path', () => {
    // Prepare
    const path = '/packages/alpha/1.0.0/alpha-1.0.0-py3-none-any.whl';
    const signatureDigest = `sha256:${'d'.repeat(64)}` as const;
    const entry = {
      kind: 'pypi', source: { repository: 'pypi-hosted', path }, target: { repository: 'pypi-hosted', path }, digest: `sha256:${'c'.repeat(64)}`, size: 10,
      checksums: {}, component: { group: null, name: 'alpha', version: '1.0.0' }, signature: { digest: signatureDigest, size: 300 },
    } as PypiBundleEntry;

    // Act
    const signatureSource = pypi.resendSource(entry, signatureDigest);
    const fileSource = pypi.resendSource(entry, entry.digest);

    // Assess
    expect(signatureSource).toEqual({ repository: 'pypi-hosted', path: `${path}.asc` });
    expect(fileSource).toEqual({ repository: 'pypi-hosted', path });
  });
});
