/**
 * The ExportState contract, continued: content that comes back to a path. A raw artifact
 * overwritten and then restored to its earlier bytes (v1, v2, v1) must travel again, or the
 * far side keeps v2 while the source has v1: content counts as known only while it is the
 * latest entry at its path. Run by exportStateContract (export-state.ts), so every adapter
 * runs these too.
 */
import { expect, it } from 'vitest';
import type { ExportState } from '../../shared/core/ports/index.ts';
import { tombstoneFor } from '../../shared/core/export/tombstones.ts';
import { sha256Of } from '../../shared/digest.ts';
import { entry } from './export-state.ts';

export function exportStateRevertContract(current: () => { state: ExportState; sourceId: string; other: () => Promise<ExportState> }): void {
  it('takes content that came back after other content at its path as unknown and records it again once, then as known', async () => {
    // Prepare: v1 staged and sealed at /a.jar, then v2 staged there; /b.jar holds v1's bytes and nothing after them
    const { state, sourceId, other } = current();
    const v1 = entry('/a.jar', 'v1', { sha1: 'aa'.repeat(20) });
    const v2 = entry('/a.jar', 'v2', { sha1: 'bb'.repeat(20) });
    await state.addPendingEntry(v1);
    await state.addPendingEntry(entry('/b.jar', 'v1'));
    await state.recordSeal(sealed(sourceId, 1), (await state.listPendingEntries()).map((e) => e.seq), [v1.digest]);
    await state.addPendingEntry(v2);
    const second = await other();

    // Act
    const knownAfterV2 = {
      v1BySha256: await state.hasEntry('raw-src', '/a.jar', { sha256: v1.digest.slice(7) }),
      v1BySha1: await state.hasEntry('raw-src', '/a.jar', { sha1: 'AA'.repeat(20) }),
      v2: await state.hasEntry('raw-src', '/a.jar', { sha256: v2.digest.slice(7) }),
      otherPath: await state.hasEntry('raw-src', '/b.jar', { sha256: v1.digest.slice(7) }),
    };
    const added = await Promise.all([state.addPendingEntry(v1), state.addPendingEntry(v1), second.addPendingEntry(v1)]);
    const againLater = await second.addPendingEntry(v1);
    const knownAfterV1 = {
      v1: await second.hasEntry('raw-src', '/a.jar', { sha256: v1.digest.slice(7) }),
      v2: await second.hasEntry('raw-src', '/a.jar', { sha1: 'bb'.repeat(20) }),
    };

    // Assess
    expect(knownAfterV2).toEqual({ v1BySha256: false, v1BySha1: false, v2: true, otherPath: true });
    expect(added.filter(Boolean)).toHaveLength(1);
    expect(againLater).toBe(false);
    expect(knownAfterV1).toEqual({ v1: true, v2: false });
    const pending = await state.listPendingEntries();
    expect(pending.map((e) => [e.path, e.digest])).toEqual([['/a.jar', v2.digest], ['/a.jar', v1.digest]]);
    expect(pending[1]!.seq).toBeGreaterThan(pending[0]!.seq);
    expect(await state.latestEntries!('raw-src', '/a.jar', { prefix: false })).toEqual([v1]);
    expect(await state.shippedIn(v1.digest)).toBe(1);
  });

  it('records the same content offered again with nothing else at its path between once, sealed or pending', async () => {
    // Prepare: v1 sealed at /a.jar, v2 at another path and in another repository
    const { state, sourceId } = current();
    const v1 = entry('/a.jar', 'v1');
    await state.addPendingEntry(v1);
    await state.recordSeal(sealed(sourceId, 1), (await state.listPendingEntries()).map((e) => e.seq), [v1.digest]);
    await state.addPendingEntry(entry('/b.jar', 'v2'));
    await state.addPendingEntry({ ...entry('/a.jar', 'v2'), sourceRepository: 'raw-other' });
    await state.addPendingEntry(entry('/c.jar', 'c'));

    // Act
    const sealedAgain = await Promise.all([state.addPendingEntry(v1), state.addPendingEntry(v1)]);
    const pendingAgain = await state.addPendingEntry(entry('/c.jar', 'c'));
    const known = await state.hasEntry('raw-src', '/a.jar', { sha256: v1.digest.slice(7) });

    // Assess
    expect({ sealedAgain, pendingAgain, known }).toEqual({ sealedAgain: [false, false], pendingAgain: false, known: true });
    expect((await state.listPendingEntries()).map((e) => e.path)).toEqual(['/b.jar', '/a.jar', '/c.jar']);
  });

  it('records each change at a path once, content back and forth and deletions among them', async () => {
    // Prepare
    const { state } = current();
    const [v1, v2] = [entry('/a.jar', 'v1'), entry('/a.jar', 'v2')];
    const steps = [v1, v2, v1, v1, tombstoneFor(v1), tombstoneFor(v1), v1, v2, v2, tombstoneFor(v2), v2];

    // Act
    const results = [];
    for (const step of steps) results.push(await state.addPendingEntry(step));

    // Assess
    expect(results).toEqual([true, true, true, false, true, false, true, true, false, true, true]);
    const kinds = (await state.listPendingEntries()).map((e) => (e.kind === 'tombstone' ? 'x' : e.digest === v1.digest ? '1' : '2'));
    expect(kinds.join('')).toBe('121x12x2');
    expect(await state.hasEntry('raw-src', '/a.jar', { sha256: v2.digest.slice(7) })).toBe(true);
    expect(await state.hasEntry('raw-src', '/a.jar', { sha256: v1.digest.slice(7) })).toBe(false);
  });

  it('answers in one read whether content is known at a path and which entry is the latest there', async () => {
    // Prepare
    const { state } = current();
    const [v1, v2] = [entry('/a.jar', 'v1', { sha1: 'aa'.repeat(20) }), entry('/a.jar', 'v2')];
    const none = await state.entryAt('raw-src', '/a.jar', { sha256: v1.digest.slice(7) });
    await state.addPendingEntry(v1);
    const afterV1 = [await state.entryAt('raw-src', '/a.jar', { sha1: 'aa'.repeat(20) }), await state.entryAt('raw-src', '/a.jar', { sha256: v2.digest.slice(7) })];
    await state.addPendingEntry(v2);
    const afterV2 = await state.entryAt('raw-src', '/a.jar', { sha256: v1.digest.slice(7) });
    await state.addPendingEntry(tombstoneFor(v2));

    // Act
    const afterTombstone = await state.entryAt('raw-src', '/a.jar', { sha256: v2.digest.slice(7) });
    const unmatchable = await state.entryAt('raw-src', '/a.jar', {});
    const elsewhere = [await state.entryAt('raw-src', '/b.jar', { sha256: v1.digest.slice(7) }), await state.entryAt('raw-other', '/a.jar', { sha256: v1.digest.slice(7) })];

    // Assess
    const seqs = (await state.listPendingEntries()).map((e) => e.seq);
    expect(none).toEqual({ known: false, latestSeq: undefined });
    expect(afterV1).toEqual([{ known: true, latestSeq: seqs[0] }, { known: false, latestSeq: seqs[0] }]);
    expect(afterV2).toEqual({ known: false, latestSeq: seqs[1] });
    expect(afterTombstone).toEqual({ known: false, latestSeq: seqs[2] });
    expect(unmatchable).toEqual({ known: false, latestSeq: seqs[2] });
    expect(elsewhere).toEqual([{ known: false, latestSeq: undefined }, { known: false, latestSeq: undefined }]);
  });
}

function sealed(sourceId: string, sequence: number) {
  return { sourceId, sequence, digest: sha256Of(`bundle ${sequence}`), name: `b-${sequence}.tar`, size: 1, sealedAt: '2025-01-01T00:00:00.000Z', published: true };
}
