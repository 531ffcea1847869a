/**
 * The maven2 format's own rules, without servers: which listed assets are content, the
 * coordinates read from a listing or from a path alone (a webhook's asset), the refusals
 * before any write, and merging maven-metadata.xml with what a target already has.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Maven2BundleEntry } from '../shared/bundle/index.ts';
import { maven2Spec } from '../shared/core/formats/maven2/index.ts';
import { mergeArtifactMetadata, mergeVersionMetadata, parseVersionMetadata, renderVersionMetadata } from '../shared/core/formats/maven2/metadata.ts';
import type { ImportDeps } from '../shared/core/formats/format.ts';
import type { PackageCopyTask, SourceAsset, TargetRepository } from '../shared/core/ports/index.ts';

const asset = (path: string, attributes?: Record<string, string>): SourceAsset => ({ path, checksums: { sha1: 'a'.repeat(40) }, lastModified: null, size: 1, attributes });
const dir = '/org/example/widget';

function entry(path: string, version: string, maven: Maven2BundleEntry['maven']): Maven2BundleEntry {
  const side = { repository: 'maven-releases', path };
  return { kind: 'maven2', source: side, target: side, digest: `sha256:${'0'.repeat(64)}`, size: 1, checksums: {}, component: { group: 'org.example', name: 'widget', version }, maven };
}

const target = (versionPolicy: string): TargetRepository => ({ name: 'maven-releases', format: 'maven2', type: 'hosted', online: true, writePolicy: 'allow', versionPolicy });
/** Import deps holding one blob (a pom), as the plan sees them. */
const holding = (content: Buffer) =>
  ({ held: { statBlob: async () => ({ size: content.length }), getBlob: async () => ({ size: content.length, open: async () => Readable.from([content]) }) } }) as unknown as ImportDeps;
const refusal = (e: Maven2BundleEntry, policy: string, deps = holding(Buffer.alloc(0))) =>
  maven2Spec.refuse!({ index: 0, entry: e, label: 'x', repository: 'maven-releases', target: target(policy) }, deps);

describe('maven2 format', () => {
  it('carries every file of a GAV, .asc included, and leaves checksum sidecars and maven-metadata.xml to the target', () => {
    // Prepare
    const paths = [
      `${dir}/1.0/widget-1.0.jar`,
      `${dir}/1.0/widget-1.0.jar.asc`,
      `${dir}/1.0/widget-1.0.jar.sha1`,
      `${dir}/1.0/widget-1.0.jar.asc.md5`,
      `${dir}/1.0/widget-1.0.pom.sha512`,
      `${dir}/maven-metadata.xml`,
      `${dir}/maven-metadata.xml.sha256`,
      `${dir}/1.0-SNAPSHOT/maven-metadata.xml`,
      '/.index/nexus-maven-repository-index.gz',
    ];

    // Act
    const carried = paths.filter((p) => maven2Spec.identify(asset(p), undefined) !== undefined);

    // Assess
    expect(carried).toEqual([`${dir}/1.0/widget-1.0.jar`, `${dir}/1.0/widget-1.0.jar.asc`]);
  });

  it("reads a snapshot's coordinates from its path alone (an asset webhook), timestamped version included", async () => {
    // Prepare
    const path = `${dir}/1.0-SNAPSHOT/widget-1.0-20250115.102030-7-tests.tar.gz`;

    // Act
    const identified = maven2Spec.identify(asset(path), undefined)!;
    const task = { kind: 'maven2', path, component: identified.component, sourceRepository: 'snapshots' } as PackageCopyTask;
    const fields = await maven2Spec.entryFields({} as never, task, {} as never);

    // Assess
    expect(identified.component).toEqual({ group: 'org.example', name: 'widget', version: '1.0-20250115.102030-7' });
    expect(fields).toEqual({ maven: { baseVersion: '1.0-SNAPSHOT', extension: 'tar.gz', classifier: 'tests' } });
  });

  it("takes the listing's maven2 block when it spells the path, and the file name when it does not", async () => {
    // Prepare
    const component = { group: 'org.example', name: 'widget', version: '1.0' };
    const task = (path: string, attributes: Record<string, string>) => ({ kind: 'maven2', path, component, sourceRepository: 'r', attributes }) as PackageCopyTask;

    // Act
    const listed = await maven2Spec.entryFields({} as never, task(`${dir}/1.0/widget-1.0-linux.x86.zip`, { extension: 'x86.zip', classifier: 'linux', baseVersion: '1.0' }), {} as never);
    const odd = await maven2Spec.entryFields({} as never, task(`${dir}/1.0/widget-1.0.jar.asc`, { extension: 'jar' }), {} as never);

    // Assess
    expect(listed).toEqual({ maven: { baseVersion: '1.0', extension: 'x86.zip', classifier: 'linux' } });
    expect(odd).toEqual({ maven: { baseVersion: '1.0', extension: 'jar.asc', classifier: null } });
  });

  it('names a file by its GAV, classifier and extension, and refuses a version the target repository does not take', async () => {
    // Prepare
    const release = entry(`${dir}/1.0/widget-1.0-sources.jar`, '1.0', { baseVersion: '1.0', extension: 'jar', classifier: 'sources' });
    const snapshot = entry(`${dir}/1.0-SNAPSHOT/widget-1.0-20250115.102030-1.jar`, '1.0-20250115.102030-1', { baseVersion: '1.0-SNAPSHOT', extension: 'jar', classifier: null });
    const misplaced = entry(`${dir}/1.0/elsewhere.jar`, '1.0', { baseVersion: '1.0', extension: 'jar', classifier: null });

    // Act
    const words = [maven2Spec.coordinates(release), maven2Spec.coordinates(snapshot)];

    // Assess
    expect(words).toEqual(['org.example:widget:1.0:sources@jar', 'org.example:widget:1.0-20250115.102030-1@jar']);
    expect(await refusal(snapshot, 'RELEASE')).toMatch(/is a snapshot, and maven-releases takes only releases \(version policy RELEASE\)/);
    expect(await refusal(release, 'SNAPSHOT')).toMatch(/is a release, and maven-releases takes only snapshots/);
    expect([await refusal(release, 'MIXED'), await refusal(snapshot, 'MIXED'), await refusal(release, 'RELEASE')]).toEqual([undefined, undefined, undefined]);
    expect(await refusal(misplaced, 'RELEASE')).toMatch(/not at \/org\/example\/widget\/1\.0\/widget-1\.0\.jar/);
  });

  it('refuses, in the plan, a release pom that declares other coordinates than its path (Nexus would file the component by the pom)', async () => {
    // Prepare
    const pom = entry(`${dir}/1.0/widget-1.0.pom`, '1.0', { baseVersion: '1.0', extension: 'pom', classifier: null });
    const xml = (version: string) => Buffer.from(`<project><groupId>org.example</groupId><artifactId>widget</artifactId><version>${version}</version></project>`);

    // Act
    const same = await refusal(pom, 'RELEASE', holding(xml('1.0')));
    const other = await refusal(pom, 'RELEASE', holding(xml('1.1')));
    const property = await refusal(pom, 'RELEASE', holding(xml('${revision}')));

    // Assess
    expect(same).toBeUndefined();
    expect(other).toContain('the pom declares org.example:widget:1.1, not org.example:widget:1.0');
    expect(property).toContain('declares no usable groupId:artifactId:version');
  });

  it("merges snapshot builds into the target's version metadata: the latest build per file wins, nothing changes when merged again", () => {
    // Prepare
    const base = { groupId: 'org.example', artifactId: 'widget', version: '1.0-SNAPSHOT' };
    const build = (n: number, classifier: string | null) => ({ classifier, extension: 'jar', value: `1.0-2025011${n}.000000-${n}`, updated: `2025011${n}000000` });
    const there = parseVersionMetadata(renderVersionMetadata(mergeVersionMetadata(undefined, base, [build(1, null), build(1, 'sources'), build(3, null)])));

    // Act
    const merged = mergeVersionMetadata(there, base, [build(2, null), build(2, 'sources')]);
    const again = mergeVersionMetadata(merged, base, [build(2, null)]);

    // Assess
    expect(merged.snapshot).toEqual({ timestamp: '20250113.000000', buildNumber: 3 });
    expect(merged.files.map((f) => `${f.classifier}:${f.value}`).sort()).toEqual(['null:1.0-20250113.000000-3', 'sources:1.0-20250112.000000-2']);
    expect(renderVersionMetadata(again).equals(renderVersionMetadata(merged))).toBe(true);
  });

  it("appends new versions to the target's artifact metadata, keeping latest and release right", () => {
    // Prepare
    const there = { groupId: 'g', artifactId: 'a', versions: ['1.0', '1.10'], latest: '1.10', release: '1.10', lastUpdated: '20250101000000' };

    // Act
    const merged = mergeArtifactMetadata(there, { groupId: 'g', artifactId: 'a' }, ['1.2', '2.0-SNAPSHOT', '1.0'], '20250102000000');

    // Assess
    expect(merged).toEqual({ groupId: 'g', artifactId: 'a', versions: ['1.0', '1.10', '1.2', '2.0-SNAPSHOT'], latest: '2.0-SNAPSHOT', release: '1.10', lastUpdated: '20250102000000' });
  });
});
