/**
 * The ExportState contract, continued: the entry ledger once deletions are carried. Content
 * staged at a path counts as known only until a tombstone is recorded there after it; the
 * same content staged again is then a new entry, recorded once however often it is offered.
 * Run by exportStateContract (export-state.ts), so every adapter runs these too.
 */
import { expect, it } from 'vitest';
import type { ExportState } from '../../shared/core/ports/index.ts';
import { tombstoneFor } from '../../shared/core/export/tombstones.ts';
import { sha256Of } from '../../shared/digest.ts';
import { entry } from './export-state.ts';

export function exportStateTombstoneContract(current: () => { state: ExportState; sourceId: string; other: () => Promise<ExportState> }): void {
  it('takes content staged before a tombstone at its path as unknown and records it again once, then as known', async () => {
    // Prepare: v1 staged, sealed and tombstoned at /a.jar; /b.jar holds the same bytes and no tombstone
    const { state, sourceId, other } = current();
    const v1 = entry('/a.jar', 'v1', { sha1: 'aa'.repeat(20) });
    await state.addPendingEntry(v1);
    await state.addPendingEntry(entry('/b.jar', 'v1'));
    await state.recordSeal(sealed(sourceId, 1), (await state.listPendingEntries()).map((e) => e.seq), [v1.digest]);
    await state.addPendingEntry(tombstoneFor(v1));
    const second = await other();

    // Act
    const knownAfterTombstone = {
      bySha256: await state.hasEntry('raw-src', '/a.jar', { sha256: v1.digest.slice(7) }),
      bySha1: await state.hasEntry('raw-src', '/a.jar', { sha1: 'AA'.repeat(20) }),
      otherPath: await state.hasEntry('raw-src', '/b.jar', { sha256: v1.digest.slice(7) }),
    };
    const added = await Promise.all([state.addPendingEntry(v1), state.addPendingEntry(v1), second.addPendingEntry(v1)]);
    const againLater = await second.addPendingEntry(v1);
    const knownAgain = await second.hasEntry('raw-src', '/a.jar', { sha256: v1.digest.slice(7) });

    // Assess
    expect(knownAfterTombstone).toEqual({ bySha256: false, bySha1: false, otherPath: true });
    expect(added.filter(Boolean)).toHaveLength(1);
    expect(againLater).toBe(false);
    expect(knownAgain).toBe(true);
    const pending = await state.listPendingEntries();
    expect(pending.map((e) => [e.kind, e.path])).toEqual([['tombstone', '/a.jar'], ['raw', '/a.jar']]);
    expect(pending[1]!.seq).toBeGreaterThan(pending[0]!.seq);
    expect(await state.latestEntries!('raw-src', '/a.jar', { prefix: false })).toEqual([v1]);
    expect(await state.shippedIn(v1.digest)).toBe(1);
  });

  it('takes content as unknown after a tombstone of other content at its path', async () => {
    // Prepare: v1 then v2 at /a.jar; the deletion removes v2 (the latest)
    const { state } = current();
    await state.addPendingEntry(entry('/a.jar', 'v1'));
    await state.addPendingEntry(entry('/a.jar', 'v2'));
    await state.addPendingEntry(tombstoneFor(entry('/a.jar', 'v2')));

    // Act
    const known = await state.hasEntry('raw-src', '/a.jar', { sha256: sha256Of('v1').slice(7) });
    const added = await state.addPendingEntry(entry('/a.jar', 'v1'));

    // Assess
    expect(known).toBe(false);
    expect(added).toBe(true);
  });

  it('keeps content staged again with no tombstone between known and records it once', async () => {
    // Prepare: v1 sealed at /a.jar; tombstones elsewhere (another path, another repository) change nothing here
    const { state, sourceId } = current();
    const v1 = entry('/a.jar', 'v1');
    await state.addPendingEntry(v1);
    await state.recordSeal(sealed(sourceId, 1), (await state.listPendingEntries()).map((e) => e.seq), [v1.digest]);
    await state.addPendingEntry(tombstoneFor(entry('/b.jar', 'v1')));
    await state.addPendingEntry(tombstoneFor({ ...v1, sourceRepository: 'raw-other' }));

    // Act
    const added = await Promise.all([state.addPendingEntry(v1), state.addPendingEntry(v1)]);
    const known = await state.hasEntry('raw-src', '/a.jar', { sha256: v1.digest.slice(7) });

    // Assess
    expect(added).toEqual([false, false]);
    expect(known).toBe(true);
    expect((await state.listPendingEntries()).map((e) => e.kind)).toEqual(['tombstone', 'tombstone']);
  });

  it('records a tombstone again only after content was staged again at its path', async () => {
    // Prepare
    const { state } = current();
    const v1 = entry('/a.jar', 'v1');
    await state.addPendingEntry(v1);

    // Act: deleted (the event delivered twice), uploaded again, deleted again (twice)
    const results = [];
    for (const step of ['delete', 'delete', 'upload', 'delete', 'delete'] as const) {
      results.push(await state.addPendingEntry(step === 'delete' ? tombstoneFor(v1) : v1));
    }

    // Assess
    expect(results).toEqual([true, false, true, true, false]);
    expect((await state.listPendingEntries()).map((e) => e.kind)).toEqual(['raw', 'tombstone', 'raw', 'tombstone']);
  });

  it('names the latest tombstone at a path as its latest entry, so a copy task after it is told apart from one before', async () => {
    // Prepare
    const { state } = current();
    const v1 = entry('/a.jar', 'v1');
    const asked = { sha256: v1.digest.slice(7) };
    await state.addPendingEntry(v1);
    const staged = await state.entryAt('raw-src', '/a.jar', asked);
    await state.addPendingEntry(tombstoneFor(v1));
    await state.addPendingEntry(v1);
    await state.addPendingEntry(tombstoneFor(v1));

    // Act
    const latest = await state.entryAt('raw-src', '/a.jar', asked);
    const elsewhere = [await state.entryAt('raw-src', '/b.jar', asked), await state.entryAt('raw-other', '/a.jar', asked)];

    // Assess
    const seqs = (await state.listPendingEntries()).map((e) => e.seq);
    expect(staged).toEqual({ known: true, latestSeq: seqs[0] });
    expect(latest).toEqual({ known: false, latestSeq: seqs.at(-1) });
    expect(elsewhere.map((at) => at.latestSeq)).toEqual([undefined, undefined]);
  });

  it('finds the latest entry of every path under a prefix, as a full reconcile reads the ledger', async () => {
    // Prepare: a maven-like tree, one path tombstoned, one restaged, a path longer than a sort key holds, other repositories and prefixes
    const { state, sourceId } = current();
    const long = `/com/acme/${'deep/'.repeat(250)}lib.jar`;
    const jar = entry('/com/acme/lib/1.0/lib-1.0.jar', 'jar v1');
    await state.addPendingEntry(jar);
    await state.addPendingEntry(entry('/com/acme/lib/1.0/lib-1.0.pom', 'pom v1'));
    await state.recordSeal(sealed(sourceId, 1), (await state.listPendingEntries()).map((e) => e.seq), [jar.digest]);
    await state.addPendingEntry(entry('/com/acme/lib/1.0/lib-1.0.pom', 'pom v2'));
    await state.addPendingEntry(tombstoneFor(jar));
    await state.addPendingEntry(entry('/com/acme/lib/1.1/lib-1.1.jar', 'jar 1.1'));
    await state.addPendingEntry(entry(long, 'long'));
    await state.addPendingEntry(entry('/com/acme/library/1.0/x.jar', 'sibling'));
    await state.addPendingEntry(entry('/org/other/1.0/o.jar', 'other'));
    await state.addPendingEntry({ ...entry('/com/acme/lib/2.0/lib-2.0.jar', 'elsewhere'), sourceRepository: 'raw-other' });

    // Act
    const byPath = async (path: string) => (await state.latestEntries!('raw-src', path, { prefix: true })).map((e) => [e.path, e.digest]).sort();
    const lib = await byPath('/com/acme/lib/');
    const all = await byPath('/');
    const underLong = await byPath(long.slice(0, -'lib.jar'.length));
    const none = await byPath('/net/');

    // Assess: tombstones aside, each path's latest content; the tombstoned jar still names what it removed
    expect(lib).toEqual([
      ['/com/acme/lib/1.0/lib-1.0.jar', jar.digest],
      ['/com/acme/lib/1.0/lib-1.0.pom', sha256Of('pom v2')],
      ['/com/acme/lib/1.1/lib-1.1.jar', sha256Of('jar 1.1')],
    ]);
    expect(all.map(([path]) => path)).toEqual([...lib.map(([path]) => path), long, '/com/acme/library/1.0/x.jar', '/org/other/1.0/o.jar'].sort());
    expect(underLong).toEqual([[long, sha256Of('long')]]);
    expect(none).toEqual([]);
    expect((await state.latestEntries!('raw-src', '/com/acme/lib/1.0/lib-1.0.pom', { prefix: true }))[0]).toEqual(entry('/com/acme/lib/1.0/lib-1.0.pom', 'pom v2'));
  });
}

function sealed(sourceId: string, sequence: number) {
  return { sourceId, sequence, digest: sha256Of(`bundle ${sequence}`), name: `b-${sequence}.tar`, size: 1, sealedAt: '2025-01-01T00:00:00.000Z', published: true };
}
