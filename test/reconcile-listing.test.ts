/**
 * A reconcile run over several carried repositories asks the source for its repository
 * listing once (it only needs to know which are groups), not once per repository; a failed
 * listing is asked again by the next repository.
 */
import { describe, expect, it } from 'vitest';
import { listingOnce, reconcileDeletions } from '../shared/core/export/reconcile.ts';
import type { ScanRepository } from '../shared/core/formats/index.ts';
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
