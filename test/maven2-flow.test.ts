/**
 * Maven components end to end over HTTP on 127.0.0.1: two Nexus stand-ins, the real CLI.
 * Releases go in as one component upload each (the target writes checksums and rebuilds
 * maven-metadata.xml); snapshots by PUT in Maven layout with the metadata Ferry writes last.
 * The judge is Debian's `mvn dependency:get` against the target with checksums enforced,
 * besides byte identity of every file and the metadata parsed.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readBundleSummary } from '../shared/bundle/index.ts';
import type { StandinRepository } from './nexus-standin/index.ts';
import { dirOf, jar, mavenJudge, pom, requireMaven, seedRelease, seedSnapshot, type Gav, type SeedFile } from './support/maven2-fixtures.ts';
import { bundles, makeWorld, runFerry, type World } from './support/world.ts';

const RELEASES = 'maven-releases';
const SNAPSHOTS = 'maven-snapshots';
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');
const isRepositoryFile = (p: string) => /\.(sha1|md5)$/.test(p) || p.endsWith('/maven-metadata.xml');

const repositories = (overrides: Partial<StandinRepository> = {}): StandinRepository[] => [
  { name: RELEASES, format: 'maven2', type: 'hosted', versionPolicy: 'RELEASE', ...overrides },
  { name: SNAPSHOTS, format: 'maven2', type: 'hosted', versionPolicy: 'SNAPSHOT' },
];

function mavenWorld(target: Partial<StandinRepository> = {}, extra: Parameters<typeof makeWorld>[0] = {}): Promise<World> {
  return makeWorld({ format: 'maven2', repositories: [RELEASES, SNAPSHOTS], source: { repositories: repositories() }, target: { repositories: repositories(target) }, ...extra });
}

const libGav = (i: number, version = '1.0.0'): Gav => ({ groupId: `org.example.g${i % 3}`, artifactId: `lib-${i}`, version });

/** pom and jar, and for some: sources, a signature, a classified tar.gz. */
function releaseFiles(gav: Gav, i: number): SeedFile[] {
  const files: SeedFile[] = [{ extension: 'pom', content: pom(gav) }, { extension: 'jar', content: jar(`${gav.artifactId}-${gav.version}`) }];
  if (i % 4 === 0) files.push({ extension: 'jar', classifier: 'sources', content: jar(`${gav.artifactId}-${gav.version}-sources`) });
  if (i % 5 === 0) files.push({ extension: 'jar.asc', content: Buffer.from(`-----BEGIN PGP SIGNATURE-----\n${gav.artifactId}\n-----END PGP SIGNATURE-----\n`) });
  if (i % 7 === 0) files.push({ extension: 'tar.gz', classifier: 'dist', content: Buffer.from(`dist of ${gav.artifactId}`) });
  return files;
}

const snapA = { groupId: 'org.example', artifactId: 'snap-a' };
const snapB = { groupId: 'org.example', artifactId: 'snap-b' };
const snapshotFiles = (ga: typeof snapA, baseVersion: string, build: number, sources: boolean): SeedFile[] => [
  { extension: 'pom', content: pom({ ...ga, version: baseVersion }) },
  { extension: 'jar', content: jar(`${ga.artifactId}-${build}`) },
  ...(sources ? [{ extension: 'jar', classifier: 'sources', content: jar(`${ga.artifactId}-${build}-sources`) }] : []),
];

/** 22 release components (3 listing pages) and two snapshot artifacts of one build each. */
async function seedFirst(world: World): Promise<void> {
  for (let i = 0; i < 22; i++) await seedRelease(world.source, RELEASES, libGav(i), releaseFiles(libGav(i), i));
  await seedSnapshot(world.source, SNAPSHOTS, snapA, { baseVersion: '2.0-SNAPSHOT', timestamp: '20250115.102030', buildNumber: 1, versions: ['2.0-SNAPSHOT'] }, snapshotFiles(snapA, '2.0-SNAPSHOT', 1, true));
  await seedSnapshot(world.source, SNAPSHOTS, snapB, { baseVersion: '0.1-SNAPSHOT', timestamp: '20250116.080000', buildNumber: 1, versions: ['0.1-SNAPSHOT'] }, snapshotFiles(snapB, '0.1-SNAPSHOT', 1, false));
}

/** A new release version, one replaced jar (the source allows redeploy), a second snapshot build without sources. */
async function seedSecond(world: World): Promise<void> {
  await seedRelease(world.source, RELEASES, libGav(0, '1.1.0'), releaseFiles(libGav(0, '1.1.0'), 1));
  await seedRelease(world.source, RELEASES, libGav(1), [{ extension: 'jar', content: jar('lib-1 rebuilt') }]);
  await seedSnapshot(world.source, SNAPSHOTS, snapA, { baseVersion: '2.0-SNAPSHOT', timestamp: '20250117.093000', buildNumber: 2, versions: ['2.0-SNAPSHOT'] }, snapshotFiles(snapA, '2.0-SNAPSHOT', 2, false));
}

const exportOnce = (world: World) => runFerry(['export', '--once', '--config', world.exportConfig], world.env);
const importAll = async (world: World, files?: string[]) => runFerry(['import', '--config', world.importConfig, ...(files ?? (await bundles(world)))], world.env);
const writes = (world: World) => world.target.requests.filter((r) => r.method === 'POST' || r.method === 'PUT');

/** Every file of a component on the source is on the target with the same bytes, and its .sha1 there matches. */
function expectSameContent(world: World, repository: string): void {
  const content = world.source.assetPaths(repository).filter((p) => !isRepositoryFile(p));
  expect(content.length).toBeGreaterThan(0);
  for (const p of content) {
    const there = world.target.getAsset(repository, p);
    expect(there?.content.equals(world.source.getAsset(repository, p)!.content), p).toBe(true);
    expect(world.target.getAsset(repository, `${p}.sha1`)?.content.toString(), `${p}.sha1`).toBe(sha1(there!.content));
  }
}

async function targetCredentials(world: World): Promise<{ username: string; password: string }> {
  return { username: 'ferry-writer', password: (await readFile(path.join(world.dir, 'target-password'), 'utf8')).trim() };
}

const metadataOf = (world: World, repository: string, file: string) => world.target.getAsset(repository, file)?.content.toString() ?? '';
const versionsIn = (xml: string) => [...xml.matchAll(/<version>([^<]+)<\/version>/g)].map((m) => m[1]);

describe('maven components end to end', () => {
  let world: World;
  afterEach(async () => world?.close());

  it('carries releases and snapshots over several pages and an incremental export; mvn resolves every one from the target', async () => {
    // Prepare
    requireMaven();
    world = await mavenWorld();
    await seedFirst(world);
    const first = await exportOnce(world);
    const firstPages = world.source.requests.filter((r) => r.url.startsWith(`/service/rest/v1/components?repository=${RELEASES}`)).length;
    await seedSecond(world);

    // Act
    const second = await exportOnce(world);
    const files = await bundles(world);
    const imported = await importAll(world, files);

    // Assess: the export read 3 pages of releases and shipped no sidecar and no metadata
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    expect(imported.code, imported.stderr).toBe(0);
    expect(firstPages).toBe(3);
    const [one, two] = await Promise.all(files.map((f) => readBundleSummary(createReadStream(f), path.basename(f))));
    const shipped = [...one!.manifest.entries, ...two!.manifest.entries].map((e) => ('path' in e.source ? e.source.path : ''));
    expect(shipped.filter(isRepositoryFile)).toEqual([]);
    expect(two!.manifest.entries.map((e) => ('path' in e.source ? e.source.path : '')).sort()).toEqual(
      [
        '/org/example/g0/lib-0/1.1.0/lib-0-1.1.0.pom',
        '/org/example/g0/lib-0/1.1.0/lib-0-1.1.0.jar',
        '/org/example/g1/lib-1/1.0.0/lib-1-1.0.0.jar',
        '/org/example/snap-a/2.0-SNAPSHOT/snap-a-2.0-20250117.093000-2.pom',
        '/org/example/snap-a/2.0-SNAPSHOT/snap-a-2.0-20250117.093000-2.jar',
      ].sort(),
    );
    // one upload per release component; byte identity everywhere
    const uploads = world.target.requests.filter((r) => r.method === 'POST' && r.url.startsWith('/service/rest/v1/components'));
    expect(uploads).toHaveLength(22 + 2);
    expectSameContent(world, RELEASES);
    expectSameContent(world, SNAPSHOTS);
    // the metadata a client reads
    expect(versionsIn(metadataOf(world, RELEASES, `${dirOf(libGav(0))}/maven-metadata.xml`))).toEqual(['1.0.0', '1.1.0']);
    expect(versionsIn(metadataOf(world, SNAPSHOTS, `${dirOf(snapA)}/maven-metadata.xml`))).toEqual(['2.0-SNAPSHOT']);
    const snapshotMetadata = metadataOf(world, SNAPSHOTS, `${dirOf(snapA)}/2.0-SNAPSHOT/maven-metadata.xml`);
    expect(snapshotMetadata).toContain('<buildNumber>2</buildNumber>');
    expect(snapshotMetadata).toMatch(/<classifier>sources<\/classifier>\s*<extension>jar<\/extension>\s*<value>2\.0-20250115\.102030-1<\/value>/);

    // and Maven itself resolves them from the target, checksums enforced
    const credentials = await targetCredentials(world);
    const releases = await mavenJudge(path.join(world.dir, 'mvn-releases'), `${world.target.url}/repository/${RELEASES}/`, credentials);
    const snapshots = await mavenJudge(path.join(world.dir, 'mvn-snapshots'), `${world.target.url}/repository/${SNAPSHOTS}/`, credentials);
    const checks: [typeof releases, string, string, Buffer][] = [
      [releases, 'org.example.g1:lib-1:1.0.0', 'org/example/g1/lib-1/1.0.0/lib-1-1.0.0.jar', jar('lib-1 rebuilt')],
      [releases, 'org.example.g1:lib-4:1.0.0:jar:sources', 'org/example/g1/lib-4/1.0.0/lib-4-1.0.0-sources.jar', jar('lib-4-1.0.0-sources')],
      [snapshots, 'org.example:snap-a:2.0-SNAPSHOT', 'org/example/snap-a/2.0-SNAPSHOT/snap-a-2.0-SNAPSHOT.jar', jar('snap-a-2')],
      [snapshots, 'org.example:snap-a:2.0-SNAPSHOT:jar:sources', 'org/example/snap-a/2.0-SNAPSHOT/snap-a-2.0-SNAPSHOT-sources.jar', jar('snap-a-1-sources')],
    ];
    for (const [judge, artifact, file, expected] of checks) {
      const got = await judge.get(artifact, file);
      expect(got.code, `${artifact}\n${got.output.slice(-3000)}`).toBe(0);
      expect(got.content?.equals(expected), artifact).toBe(true);
    }
  }, 180_000);

  it('imports the same bundles a second time without writing anything', async () => {
    // Prepare
    world = await mavenWorld();
    await seedFirst(world);
    expect((await exportOnce(world)).code).toBe(0);
    await seedSecond(world);
    expect((await exportOnce(world)).code).toBe(0);
    expect((await importAll(world)).code).toBe(0);
    const before = writes(world).length;
    const jarPath = '/org/example/g1/lib-1/1.0.0/lib-1-1.0.0.jar';
    const uploadsBefore = world.target.uploadCount(RELEASES, jarPath);

    // Act
    const again = await importAll(world);

    // Assess
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/already imported/);
    expect(writes(world).length).toBe(before);
    expect(world.target.uploadCount(RELEASES, jarPath)).toBe(uploadsBefore);
    expect(uploadsBefore).toBe(2);
  });

  it('refuses a replaced jar on an allow_once target before any write of its bundle, naming the entry', async () => {
    // Prepare
    world = await mavenWorld({ writePolicy: 'allow_once' });
    await seedFirst(world);
    await exportOnce(world);
    expect((await importAll(world)).code).toBe(0);
    await seedSecond(world);
    await exportOnce(world);
    const [, second] = await bundles(world);
    const before = writes(world).length;

    // Act
    const refused = await importAll(world, [second!]);

    // Assess
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${RELEASES}/org/example/g1/lib-1/1.0.0/lib-1-1.0.0.jar`);
    expect(refused.stderr).toContain('allow_once');
    expect(writes(world).length).toBe(before);
    expect(world.target.getAsset(RELEASES, '/org/example/g0/lib-0/1.1.0/lib-0-1.1.0.jar')).toBeUndefined();
  });

  it('refuses snapshots mapped to a release repository before any write, naming them', async () => {
    // Prepare
    world = await makeWorld({
      format: 'maven2',
      repositories: [SNAPSHOTS],
      configRepositories: [{ name: SNAPSHOTS, format: 'maven2', target: RELEASES }],
      source: { repositories: repositories().slice(1) },
      target: { repositories: repositories().slice(0, 1) },
    });
    await seedSnapshot(world.source, SNAPSHOTS, snapB, { baseVersion: '0.1-SNAPSHOT', timestamp: '20250116.080000', buildNumber: 1, versions: ['0.1-SNAPSHOT'] }, snapshotFiles(snapB, '0.1-SNAPSHOT', 1, false));
    await exportOnce(world);

    // Act
    const refused = await importAll(world);

    // Assess
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('org.example:snap-b:0.1-20250116.080000-1@jar is a snapshot');
    expect(refused.stderr).toContain('version policy RELEASE');
    expect(writes(world)).toEqual([]);
  });

  it("fails naming the GAV when the target's maven-metadata.xml does not list it, and a re-run finishes", async () => {
    // Prepare: the target answers 404 for the artifact's metadata while the import checks it
    world = await mavenWorld({}, { importOverrides: { indexWaitSeconds: 1 } });
    const gav = libGav(5);
    await seedRelease(world.source, RELEASES, gav, releaseFiles(gav, 1));
    await exportOnce(world);
    world.target.injectFault({ method: 'GET', url: /\/lib-5\/maven-metadata\.xml$/, kind: 'status', status: 404, times: 1000 });

    // Act
    const failed = await importAll(world);
    world.target.clearFaults();
    const rerun = await importAll(world);

    // Assess
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('org.example.g2:lib-5:1.0.0');
    expect(failed.stderr).toContain(`${RELEASES}/org/example/g2/lib-5/maven-metadata.xml`);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(world.target.uploadCount(RELEASES, '/org/example/g2/lib-5/1.0.0/lib-5-1.0.0.jar')).toBe(1);
  });
  it('verifies a bundle of Maven components against the target (ferry verify) without writing anything', async () => {
    // Prepare: release components whose poms the plan reads for their coordinates
    world = await mavenWorld();
    for (const i of [1, 2]) await seedRelease(world.source, RELEASES, libGav(i), releaseFiles(libGav(i), i));
    await exportOnce(world);
    const [file] = await bundles(world);

    // Act
    const verified = await runFerry(['verify', '--config', world.importConfig, file!], world.env);

    // Assess
    expect(verified.code, verified.stderr).toBe(0);
    expect(writes(world)).toEqual([]);
  });
});
