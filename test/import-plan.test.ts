/**
 * The import plan's refusals that no end-to-end flow produces easily, with in-memory ports.
 */
import { describe, expect, it } from 'vitest';
import type { BundleManifest } from '../shared/bundle/index.ts';
import { sha256Of, type Digest } from '../shared/digest.ts';
import { planImport } from '../shared/core/import/plan.ts';
import { silentLog } from '../shared/core/log.ts';
import type { ArtifactTarget, TargetRepository } from '../shared/core/ports/index.ts';
import type { RawStep } from '../shared/core/formats/raw/import.ts';
import { MemoryImportState, MemoryObjectStore } from './support/fakes.ts';

function target(repositories: TargetRepository[]): ArtifactTarget {
  const never = async () => {
    throw new Error('the plan never writes');
  };
  return {
    repositories: async () => repositories,
    async *listAssets() {},
    uploadRaw: never,
    uploadComponent: never,
    putContent: never,
    postForm: never,
    readContent: async () => undefined,
  };
}

function manifestWith(paths: [string, string][]): BundleManifest {
  const entries = paths.map(([path, content]) => ({
    kind: 'raw' as const,
    source: { repository: 'raw-a', path },
    target: { repository: 'raw-a', path },
    digest: sha256Of(content),
    size: content.length,
    checksums: {},
  }));
  return {
    format: 'ferry.bundle.v1',
    sourceId: 's',
    sequence: 1,
    previous: null,
    createdAt: '2026-12-01T00:00:00.000Z',
    entries,
    blobs: { included: [...new Set(paths.map(([, c]) => c))].map((c) => ({ digest: sha256Of(c), size: c.length })), required: [] },
    layout: { index: sha256Of('index') },
  };
}

const deps = (repositories: TargetRepository[]) => {
  const held = new MemoryObjectStore();
  return {
  target: target(repositories),
  held,
  blob: (digest: Digest) => held.getBlob(digest),
  state: new MemoryImportState(),
  log: silentLog,
  targetRepository: (name: string) => name,
  registryFor: () => undefined,
  available: async () => true,
  };
};

describe('planImport', () => {
  it('refuses the second write of other content to one path of an allow_once repository, within one bundle', async () => {
    // Prepare: the artifact was replaced between two seals, both versions in one bundle
    const repo: TargetRepository = { name: 'raw-a', format: 'raw', type: 'hosted', online: true, writePolicy: 'allow_once' };
    const manifest = manifestWith([
      ['/p.bin', 'first'],
      ['/p.bin', 'second'],
    ]);

    // Act
    const plan = await planImport(deps([repo]), manifest, sha256Of('bundle'));

    // Assess
    expect(plan.refusals).toEqual([{ index: 1, entry: 'raw-a/p.bin', reason: expect.stringContaining('an earlier entry of this bundle writes other content to it') }]);
  });

  it('plans both writes on an allow repository, in order', async () => {
    // Prepare
    const repo: TargetRepository = { name: 'raw-a', format: 'raw', type: 'hosted', online: true, writePolicy: 'allow' };
    const manifest = manifestWith([
      ['/p.bin', 'first'],
      ['/p.bin', 'second'],
    ]);

    // Act
    const plan = await planImport(deps([repo]), manifest, sha256Of('bundle'));

    // Assess
    expect(plan.refusals).toEqual([]);
    expect((plan.steps[0]!.steps as RawStep[]).map((s) => [s.index, s.action])).toEqual([
      [0, 'upload'],
      [1, 'upload'],
    ]);
  });

  it('names a blob no one has, with every entry that needs it', async () => {
    // Prepare
    const repo: TargetRepository = { name: 'raw-a', format: 'raw', type: 'hosted', online: undefined, writePolicy: undefined };
    const manifest = manifestWith([
      ['/one.bin', 'same'],
      ['/two.bin', 'same'],
    ]);

    // Act
    const plan = await planImport({ ...deps([repo]), available: async () => false }, manifest, sha256Of('bundle'));

    // Assess
    expect(plan.missing).toEqual([
      {
        digest: sha256Of('same'),
        size: 4,
        shippedIn: 1,
        neededBy: [
          { index: 0, entry: 'raw-a/one.bin' },
          { index: 1, entry: 'raw-a/two.bin' },
        ],
      },
    ]);
  });
});
