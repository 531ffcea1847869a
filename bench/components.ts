/**
 * The package-repository scenario: many small components rather than a few big blobs, where
 * the cost is requests, not bytes. A Maven repository of 2,000 components (pom, jar and
 * sources jar: about 6,000 files, plus the checksum sidecars Nexus lists beside them) and a
 * raw repository of the same files, each exported and imported by the real CLI between two
 * Nexus stand-ins; reported as components per second and requests per component.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { makeWorld, type World } from '../test/support/world.ts';
import { measureFerry, mustSucceed, type Measured } from './measure.ts';
import type { Context } from './scenarios.ts';

export interface ComponentsResult {
  format: 'maven2' | 'raw';
  components: number;
  files: number;
  export: Measured;
  import: Measured;
  /** Requests the source Nexus answered during the export, the target during the import. */
  exportRequests: number;
  importRequests: number;
}

/** Small files, as a Maven repository's mostly are: sizes vary per component. */
function file(seed: number, kind: string, size: number): Buffer {
  const out = Buffer.alloc(size, 0x20);
  out.write(`${kind} ${seed} `.repeat(Math.ceil(size / 16)).slice(0, size));
  return out;
}

const pom = (i: number) =>
  Buffer.from(`<?xml version="1.0"?>\n<project><modelVersion>4.0.0</modelVersion><groupId>org.bench.g${i % 50}</groupId><artifactId>lib-${i}</artifactId><version>1.${i % 7}.0</version></project>\n`);

async function seedMaven(world: World, components: number): Promise<number> {
  for (let i = 0; i < components; i++) {
    await world.source.seedUpload('maven-releases', {
      fields: {
        'maven2.groupId': `org.bench.g${i % 50}`,
        'maven2.artifactId': `lib-${i}`,
        'maven2.version': `1.${i % 7}.0`,
        'maven2.asset1.extension': 'pom',
        'maven2.asset2.extension': 'jar',
        'maven2.asset3.extension': 'jar',
        'maven2.asset3.classifier': 'sources',
      },
      files: [
        { field: 'maven2.asset1', filename: `lib-${i}.pom`, content: pom(i) },
        { field: 'maven2.asset2', filename: `lib-${i}.jar`, content: file(i, 'jar', 8_000 + (i % 17) * 1000) },
        { field: 'maven2.asset3', filename: `lib-${i}-sources.jar`, content: file(i, 'src', 4_000 + (i % 13) * 500) },
      ],
    });
  }
  return components * 3;
}

function seedRaw(world: World, components: number): number {
  for (let i = 0; i < components; i++) {
    const dir = `/org/bench/g${i % 50}/lib-${i}/1.${i % 7}.0`;
    world.source.putRawAsset('raw-releases', `${dir}/lib-${i}.pom`, pom(i));
    world.source.putRawAsset('raw-releases', `${dir}/lib-${i}.jar`, file(i, 'jar', 8_000 + (i % 17) * 1000));
    world.source.putRawAsset('raw-releases', `${dir}/lib-${i}-sources.jar`, file(i, 'src', 4_000 + (i % 13) * 500));
  }
  return components * 3;
}

export async function componentsScenario(ctx: Context, format: 'maven2' | 'raw', count: number): Promise<ComponentsResult> {
  const components = Math.max(10, Math.round(count * ctx.scale));
  const repository = format === 'maven2' ? 'maven-releases' : 'raw-releases';
  // Nexus 3.74+ lists 100 components a page; older versions 10 (more requests per component).
  const world = await makeWorld({ format, repositories: [repository], source: { pageSize: 100 }, exportOverrides: { copy: { concurrency: 8, maxAttempts: 3 } }, importOverrides: { concurrency: 8 } });
  ctx.defer(() => world.close());
  ctx.log(`components: seeding ${components} ${format} components`);
  const files = format === 'maven2' ? await seedMaven(world, components) : seedRaw(world, components);
  ctx.log(`components: ${format} export`);
  const before = world.source.requests.length;
  const exported = mustSucceed(`${format} export`, await measureFerry(['export', '--once', '--config', world.exportConfig], world.env, ctx.scratch));
  const exportRequests = world.source.requests.length - before;
  const bundles = (await readdir(world.bundlesDir)).filter((f) => f.endsWith('.tar')).sort().map((f) => path.join(world.bundlesDir, f));
  ctx.log(`components: ${format} import`);
  const targetBefore = world.target.requests.length;
  const imported = mustSucceed(`${format} import`, await measureFerry(['import', '--config', world.importConfig, ...bundles], world.env, ctx.scratch));
  return { format, components, files, export: exported, import: imported, exportRequests, importRequests: world.target.requests.length - targetBefore };
}
