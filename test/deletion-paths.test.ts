/**
 * A component deletion names coordinates, not paths: `pathsOf` turns them into the ledger
 * path (or directory prefix) that holds the component's files. Checked against the Nexus
 * stand-in (faithful to NEXUS.md), format by format: every asset of the deleted component is
 * covered, and no asset of a neighbouring component (another version, a name that begins the
 * same) is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NexusClient } from '../shared/adapters/nexus/client.ts';
import { pathsOf, type DeletedPaths } from '../shared/core/export/tombstones.ts';
import { seedNupkg } from './support/nuget-fixtures.ts';
import type { ScanRepository } from '../shared/core/export/scan.ts';
import type { SourceComponent } from '../shared/core/ports/index.ts';
import { tgz } from './nexus-standin/archives.ts';
import { startNexusStandin, type NexusStandin } from './nexus-standin/index.ts';
import { npmTarball } from './support/npm-fixtures.ts';
import { sdist, wheel } from './support/pypi-fixtures.ts';

const chart = (name: string, version: string) => tgz([{ name: `${name}/Chart.yaml`, content: `apiVersion: v2\nname: ${name}\nversion: ${version}\n` }]);
const maven = (groupId: string, artifactId: string, version: string) => ({
  fields: { 'maven2.groupId': groupId, 'maven2.artifactId': artifactId, 'maven2.version': version, 'maven2.asset1.extension': 'jar', 'maven2.asset2.extension': 'jar', 'maven2.asset2.classifier': 'sources' },
  files: [
    { field: 'maven2.asset1', filename: `${artifactId}-${version}.jar`, content: Buffer.from(`${artifactId} ${version}`) },
    { field: 'maven2.asset2', filename: `${artifactId}-${version}-sources.jar`, content: Buffer.from(`${artifactId} ${version} sources`) },
  ],
});

let nexus: NexusStandin;
let source: NexusClient;

beforeAll(async () => {
  nexus = await startNexusStandin({
    repositories: (['raw', 'maven2', 'npm', 'pypi', 'helm', 'nuget'] as const).map((format) => ({ name: `${format}-a`, format, type: 'hosted' as const })),
  });
  source = new NexusClient({ baseUrl: nexus.url });
  nexus.putRawAsset('raw-a', '/tools/cli-1.0.tar.gz', 'one');
  nexus.putRawAsset('raw-a', '/tools/cli-1.0.tar.gz.sha1', 'two');
  for (const [g, a, v] of [['org.example', 'lib', '1.0'], ['org.example', 'lib', '1.0.1'], ['org.example', 'library', '1.0']] as const) await nexus.seedUpload('maven2-a', maven(g, a, v));
  for (const [name, version] of [['left-pad', '1.0.0'], ['left-pad', '1.0.01'], ['left', '1.0.0']] as const) {
    await nexus.seedUpload('npm-a', { files: [{ field: 'npm.asset', filename: `${name}-${version}.tgz`, content: await npmTarball(name, version) }] });
  }
  for (const [name, version] of [['widgets', '1.0'], ['widgets', '1.0.1'], ['widgets-extra', '1.0']] as const) {
    for (const file of [wheel(name, version), await sdist(name, version)]) await nexus.seedUpload('pypi-a', { files: [{ field: 'pypi.asset', filename: file.filename, content: file.content }] });
  }
  for (const [id, version] of [['Contoso.Widgets', '1.0.0'], ['Contoso.Widgets', '1.0.0.1'], ['Contoso.Widgets.Extra', '1.0.0']] as const) await seedNupkg(nexus, 'nuget-a', id, version);
  for (const [name, version] of [['web', '1.0.0'], ['web', '1.0.01'], ['webapp', '1.0.0']] as const) {
    await nexus.seedUpload('helm-a', { files: [{ field: 'helm.asset', filename: `${name}-${version}.tgz`, content: await chart(name, version) }] });
  }
});
afterAll(async () => {
  await source?.close();
  await nexus?.close();
});

async function componentsOf(repository: string): Promise<SourceComponent[]> {
  const all: SourceComponent[] = [];
  for await (const page of source.componentPages(repository)) all.push(...page.items);
  return all;
}

const covers = (wheres: DeletedPaths[], path: string) => wheres.some((where) => (where.prefix ? path.startsWith(where.path) : path === where.path));

describe('pathsOf: a component deletion, mapped to the paths the source stored it at', () => {
  it.each(['maven2', 'npm', 'pypi', 'helm', 'nuget'] as const)('%s: every asset of the component, and none of its neighbours', async (format) => {
    // Prepare
    const repository = { name: `${format}-a`, format, target: `${format}-b`, carryDeletions: true } as ScanRepository;
    const components = await componentsOf(repository.name);
    expect(components.length).toBeGreaterThanOrEqual(3);

    for (const component of components) {
      // Act
      const where = pathsOf(repository, {
        repository: repository.name,
        action: 'DELETED',
        kind: 'component',
        ids: [component.id],
        component: { group: component.group ?? undefined, name: component.name, version: component.version ?? undefined },
      });

      // Assess
      expect(where, `${component.name} ${component.version}`).toBeDefined();
      const own = component.assets.map((a) => a.path);
      const others = components.filter((c) => c !== component).flatMap((c) => c.assets.map((a) => a.path));
      expect(own.filter((p) => !covers(where!, p)), `${format} ${component.name} ${component.version}: own assets not covered`).toEqual([]);
      expect(others.filter((p) => covers(where!, p)), `${format} ${component.name} ${component.version}: neighbours covered`).toEqual([]);
    }
  });

  it('raw: an asset deletion names exactly its path, with or without the leading slash', () => {
    const repository = { name: 'raw-a', format: 'raw', target: 'raw-b', carryDeletions: true } as ScanRepository;
    for (const name of ['tools/cli-1.0.tar.gz', '/tools/cli-1.0.tar.gz']) {
      expect(pathsOf(repository, { repository: 'raw-a', action: 'DELETED', kind: 'asset', ids: ['x'], name })).toEqual([{ path: '/tools/cli-1.0.tar.gz', prefix: false }]);
    }
  });
});
