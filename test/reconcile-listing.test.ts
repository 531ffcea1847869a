/**
 * A reconcile run over several carried repositories asks the source for its repository
 * listing once (it only needs to know which are groups), not once per repository; a failed
 * listing is asked again by the next repository. It reads the ledger's paths, and the
 * entries of the paths gone only; a path the listing missed but the source serves (uploaded
 * again meanwhile) gets no tombstone.
 */
import { describe, expect, it } from 'vitest';
import { listingOnce, reconcileDeletions } from '../shared/core/export/reconcile.ts';
import type { ScanRepository } from '../shared/core/formats/index.ts';
import { sha256Of } from '../shared/digest.ts';
import { FakeSource, MemoryExportState } from './support/fakes.ts';

class CountingSource extends FakeSource {
  listings = 0;
  failNext = false;
  override async repositories() {
    this.listings += 1;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('source unreachable');
    }
    return super.repositories();
  }
}

const carried = ['raw-a', 'raw-b', 'raw-c'].map((name) => ({ name, format: 'raw', target: `${name}-t`, carryDeletions: true }) as ScanRepository);

describe('listingOnce', () => {
  it('lets a reconcile of three carried repositories list the source\'s repositories once', async () => {
    // Prepare
    const source = new CountingSource();
    source.listed = carried.map((r) => ({ name: r.name, format: 'raw', type: 'hosted' }));
    const state = new MemoryExportState();

    // Act
    const listed = listingOnce(source);
    const results = [];
    for (const repository of carried) results.push(await reconcileDeletions({ source: listed, state }, repository));

    // Assess
    expect(results.map((r) => r.repository)).toEqual(['raw-a', 'raw-b', 'raw-c']);
    expect(source.listings).toBe(1);
  });

  it('asks again after a failed listing instead of failing every repository with it', async () => {
    // Prepare
    const source = new CountingSource();
    source.failNext = true;
    const listed = listingOnce(source);

    // Act
    const first = await listed.repositories().catch((error: Error) => error.message);
    const second = await listed.repositories();

    // Assess
    expect(first).toBe('source unreachable');
    expect(second).toEqual(source.listed);
    expect(source.listings).toBe(2);
  });
});

describe('reconcileDeletions', () => {
  it('reads the entries of the paths gone only, and records no tombstone for a path the source serves though its listing missed it', async () => {
    // Prepare: three paths staged; the source lists one, serves another it did not list (uploaded again meanwhile), and lost the third
    const source = new FakeSource();
    source.listed = [{ name: 'raw-a', format: 'raw', type: 'hosted' }];
    const asset = (path: string) => ({ path, checksums: {}, lastModified: null, size: null });
    source.pages = [{ items: [{ id: 'c1', repository: 'raw-a', format: 'raw', group: null, name: 'kept', version: null, assets: [asset('/kept.bin')] }], continuationToken: null }];
    source.contents.set('raw-a/again.bin', Buffer.from('uploaded again'));
    const state = new MemoryExportState();
    const staged = (path: string) => ({ kind: 'raw', sourceRepository: 'raw-a', path, targetRepository: 'raw-a-t', digest: sha256Of(path), size: 1, checksums: {} });
    for (const path of ['/kept.bin', '/again.bin', '/gone.bin']) await state.addPendingEntry(staged(path));
    const asked: string[] = [];
    const latestEntries = state.latestEntries.bind(state);
    state.latestEntries = async (repo, path, options) => {
      asked.push(`${path}${options.prefix ? '*' : ''}`);
      return latestEntries(repo, path, options);
    };

    // Act
    const result = await reconcileDeletions({ source, state }, carried[0]!);

    // Assess
    expect(result).toEqual({ repository: 'raw-a', staged: 1 });
    expect(asked).toEqual(['/gone.bin']);
    const tombstones = (await state.listPendingEntries()).filter((e) => e.kind === 'tombstone');
    expect(tombstones.map((t) => t.path)).toEqual(['/gone.bin']);
  });
});

