/**
 * The ImportState contract (shared/core/ports.ts), run against every adapter: SQLite,
 * DynamoDB and the in-memory fake. The chain semantics are pinned exactly: which records
 * move the head, how far, and which never do.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { sha256Of, type Digest } from '../../shared/digest.ts';
import type { ImportedBundleRecord, ImportState } from '../../shared/core/ports/index.ts';

/** The optional methods every adapter here has, which the contract covers too. */
type Optional = 'blobLocation' | 'recordBlobLocation' | 'importedAt' | 'recordImportedAt' | 'recordAwaitedParts' | 'blobsAwaiting' | 'partsAwaitedBy' | 'forgetAwaitedParts';

export interface ImportStateHarness {
  /** The state under test; the contract covers the optional methods too (every adapter here has them). */
  state: ImportState & Required<Pick<ImportState, Optional>>;
  /** Another instance on the same storage, as a restarted import would open it. */
  reopen(): Promise<ImportState & Required<Pick<ImportState, Optional>>>;
  close(): Promise<void>;
}

const AT = '2025-01-01T00:00:00.000Z';
const LATER = '2025-01-02T00:00:00.000Z';

/** Digest of bundle `sequence` of the chain `chain` (the same inputs give the same digest). */
function d(sequence: number, chain = 'main'): Digest {
  return sha256Of(`${chain} bundle ${sequence}`);
}

/** The record of bundle `sequence` of `chain`, linked onto bundle `sequence - 1` of the same chain. */
function record(sequence: number, options: { advancesChain?: boolean; previous?: Digest | null; chain?: string; sourceId?: string; importedAt?: string } = {}): ImportedBundleRecord {
  const chain = options.chain ?? 'main';
  return {
    sourceId: options.sourceId ?? 'connected',
    sequence,
    digest: d(sequence, chain),
    previous: options.previous !== undefined ? options.previous : sequence === 1 ? null : d(sequence - 1, chain),
    importedAt: options.importedAt ?? AT,
    advancesChain: options.advancesChain ?? true,
  };
}

export function importStateContract(makeHarness: () => Promise<ImportStateHarness>): void {
  let harness: ImportStateHarness;
  let state: ImportStateHarness['state'];

  beforeEach(async () => {
    harness = await makeHarness();
    state = harness.state;
  });

  afterEach(async () => {
    await harness.close();
  });

  it('knows no chain, no imported bundle and no entry outcome before anything is recorded', async () => {
    // Prepare: nothing recorded

    // Act
    const head = await state.lastImported('connected');
    const imported = await state.importedBundle(d(1));
    const outcome = await state.entryOutcome(d(1), 0);

    // Assess
    expect(head).toBeUndefined();
    expect(imported).toBeUndefined();
    expect(outcome).toBeUndefined();
  });

  it('keeps the latest outcome of each entry, per bundle', async () => {
    // Prepare
    await state.recordEntryOutcome(d(1), 0, 'imported');
    await state.recordEntryOutcome(d(1), 1, 'imported');
    await state.recordEntryOutcome(d(2), 0, 'present');

    // Act
    await state.recordEntryOutcome(d(1), 1, 'present');

    // Assess
    expect(await state.entryOutcome(d(1), 0)).toBe('imported');
    expect(await state.entryOutcome(d(1), 1)).toBe('present');
    expect(await state.entryOutcome(d(1), 2)).toBeUndefined();
    expect(await state.entryOutcome(d(2), 0)).toBe('present');
    expect(await state.entryOutcome(d(2), 1)).toBeUndefined();
  });

  it('records an imported bundle with its sequence, and keeps its first import time when recorded again', async () => {
    // Prepare
    await state.recordBundleImported(record(1, { importedAt: AT }));

    // Act
    await state.recordBundleImported(record(1, { importedAt: LATER }));

    // Assess
    expect(await state.importedBundle(d(1))).toEqual({ sequence: 1, importedAt: AT });
    expect(await state.importedBundle(d(2))).toBeUndefined();
  });

  it('advances the chain to each bundle imported in sequence', async () => {
    // Prepare
    await state.recordBundleImported(record(1));
    const afterFirst = await state.lastImported('connected');

    // Act
    await state.recordBundleImported(record(2));

    // Assess
    expect(afterFirst).toEqual({ sequence: 1, digest: d(1) });
    expect(await state.lastImported('connected')).toEqual({ sequence: 2, digest: d(2) });
  });

  it('records a gap import without moving the chain', async () => {
    // Prepare
    await state.recordBundleImported(record(1));
    await state.recordBundleImported(record(2));

    // Act
    await state.recordBundleImported(record(5, { advancesChain: false }));

    // Assess
    expect(await state.lastImported('connected')).toEqual({ sequence: 2, digest: d(2) });
    expect(await state.importedBundle(d(5))).toEqual({ sequence: 5, importedAt: AT });
  });

  it('starts no chain with a gap import', async () => {
    // Prepare: nothing recorded

    // Act
    await state.recordBundleImported(record(1, { advancesChain: false }));

    // Assess
    expect(await state.lastImported('connected')).toBeUndefined();
    expect(await state.importedBundle(d(1))).toEqual({ sequence: 1, importedAt: AT });
  });

  it('moves the chain over a bundle imported out of sequence once the gap before it is filled: 1, 2, 5, 3, 4 ends at 5', async () => {
    // Prepare
    await state.recordBundleImported(record(1));
    await state.recordBundleImported(record(2));
    await state.recordBundleImported(record(5, { advancesChain: false }));

    // Act
    await state.recordBundleImported(record(3));
    const afterThree = await state.lastImported('connected');
    await state.recordBundleImported(record(4));

    // Assess
    expect(afterThree).toEqual({ sequence: 3, digest: d(3) });
    expect(await state.lastImported('connected')).toEqual({ sequence: 5, digest: d(5) });
  });

  it('moves the chain over a whole run of bundles imported out of sequence, whatever order they came in', async () => {
    // Prepare
    await state.recordBundleImported(record(1));
    await state.recordBundleImported(record(5, { advancesChain: false }));
    await state.recordBundleImported(record(3, { advancesChain: false }));
    await state.recordBundleImported(record(4, { advancesChain: false }));

    // Act
    await state.recordBundleImported(record(2));

    // Assess
    expect(await state.lastImported('connected')).toEqual({ sequence: 5, digest: d(5) });
  });

  it('does not move the chain over a bundle whose previous is not the head digest', async () => {
    // Prepare: bundle 5 links onto a bundle 4 of another chain
    await state.recordBundleImported(record(1));
    await state.recordBundleImported(record(2));
    await state.recordBundleImported(record(5, { advancesChain: false, previous: d(4, 'other') }));

    // Act
    await state.recordBundleImported(record(3));
    await state.recordBundleImported(record(4));

    // Assess
    expect(await state.lastImported('connected')).toEqual({ sequence: 4, digest: d(4) });
  });

  it('does not move the chain over a bundle that skips a sequence', async () => {
    // Prepare: bundle 4 names bundle 2 as its previous, but 3 is missing
    await state.recordBundleImported(record(1));
    await state.recordBundleImported(record(4, { advancesChain: false, previous: d(2) }));

    // Act
    await state.recordBundleImported(record(2));

    // Assess
    expect(await state.lastImported('connected')).toEqual({ sequence: 2, digest: d(2) });
  });

  it('never moves the chain back or sideways for a record at or below the head', async () => {
    // Prepare
    await state.recordBundleImported(record(1));
    await state.recordBundleImported(record(2));
    await state.recordBundleImported(record(3));

    // Act
    const heads = [];
    for (const below of [record(2, { chain: 'other', previous: d(1) }), record(3, { chain: 'other', previous: d(2) }), record(1)]) {
      await state.recordBundleImported(below);
      heads.push(await state.lastImported('connected'));
    }

    // Assess
    expect(heads).toEqual([
      { sequence: 3, digest: d(3) },
      { sequence: 3, digest: d(3) },
      { sequence: 3, digest: d(3) },
    ]);
    expect(await state.importedBundle(d(2, 'other'))).toEqual({ sequence: 2, importedAt: AT });
  });

  it('keeps each source its own chain', async () => {
    // Prepare: a gap bundle of another source that names this source's bundle 1 as previous
    await state.recordBundleImported(record(2, { sourceId: 'elsewhere', advancesChain: false, previous: d(1) }));

    // Act
    await state.recordBundleImported(record(1));

    // Assess
    expect(await state.lastImported('connected')).toEqual({ sequence: 1, digest: d(1) });
    expect(await state.lastImported('elsewhere')).toBeUndefined();
  });

  it('keeps the first location recorded for a blob, per registry', async () => {
    // Prepare
    const blob = sha256Of('layer');
    await state.recordBlobLocation('target', blob, 'team/app');

    // Act
    await state.recordBlobLocation('target', blob, 'team/other');
    await state.recordBlobLocation('mirror', blob, 'mirror/app');

    // Assess
    expect(await state.blobLocation('target', blob)).toBe('team/app');
    expect(await state.blobLocation('mirror', blob)).toBe('mirror/app');
    expect(await state.blobLocation('third', blob)).toBeUndefined();
    expect(await state.blobLocation('target', sha256Of('other layer'))).toBeUndefined();
  });

  it('records what Ferry imported at each place, replaces it, forgets it, and keeps it for a reopened state', async () => {
    // Prepare
    const [one, two] = [sha256Of('one'), sha256Of('two')];

    // Act
    await state.recordImportedAt('raw-a', '/d/x.bin', one);
    await state.recordImportedAt('raw-a', '/d/y.bin', one);
    await state.recordImportedAt('raw-a', '/d/y.bin', two);
    await state.recordImportedAt('docker-hosted', '/team/app:1.0', two);
    await state.recordImportedAt('docker-hosted', '/team/app:1.0', undefined);
    const reopened = await harness.reopen();

    // Assess
    expect(await reopened.importedAt('raw-a', '/d/x.bin')).toBe(one);
    expect(await reopened.importedAt('raw-a', '/d/y.bin')).toBe(two);
    expect(await reopened.importedAt('raw-b', '/d/x.bin')).toBeUndefined();
    expect(await reopened.importedAt('docker-hosted', '/team/app:1.0')).toBeUndefined();
  });

  it('records which blobs wait for which held parts, both ways, forgets a blob whole, and keeps the rest for a reopened state', async () => {
    // Prepare: B and C both begin with part p1 (content-addressed); B has a second part, and a third from a split of it before a resend
    const { state } = harness;
    const [b, c, p1, p2, p3] = [sha256Of('blob B'), sha256Of('blob C'), sha256Of('part 1'), sha256Of('part 2'), sha256Of('part 3')];

    // Act
    await state.recordAwaitedParts(b, [p1, p2]);
    await state.recordAwaitedParts(c, [p1]);
    await state.recordAwaitedParts(b, [p1, p2]);
    await state.recordAwaitedParts(b, [p3]);
    const before = { p1: await state.blobsAwaiting(p1), p2: await state.blobsAwaiting(p2), ofB: await state.partsAwaitedBy(b) };
    await state.forgetAwaitedParts(b);
    const reopened = await harness.reopen();

    // Assess
    expect(before.p1.sort()).toEqual([b, c].sort());
    expect(before.p2).toEqual([b]);
    expect(before.ofB.sort()).toEqual([p1, p2, p3].sort());
    expect(await reopened.blobsAwaiting(p1)).toEqual([c]);
    expect(await reopened.blobsAwaiting(p2)).toEqual([]);
    expect(await reopened.partsAwaitedBy(b)).toEqual([]);
    expect(await reopened.partsAwaitedBy(c)).toEqual([p1]);
    expect(await reopened.blobsAwaiting(sha256Of('no such part'))).toEqual([]);
  });

  it('keeps the chain, imported bundles, entry outcomes and blob locations for a reopened state', async () => {
    // Prepare
    await state.recordEntryOutcome(d(1), 0, 'imported');
    await state.recordEntryOutcome(d(1), 1, 'present');
    await state.recordBundleImported(record(1));
    await state.recordBundleImported(record(3, { advancesChain: false }));
    await state.recordBlobLocation('target', sha256Of('layer'), 'team/app');

    // Act
    const reopened = await harness.reopen();
    await reopened.recordBundleImported(record(2));

    // Assess
    expect(await reopened.entryOutcome(d(1), 0)).toBe('imported');
    expect(await reopened.entryOutcome(d(1), 1)).toBe('present');
    expect(await reopened.importedBundle(d(1))).toEqual({ sequence: 1, importedAt: AT });
    expect(await reopened.lastImported('connected')).toEqual({ sequence: 3, digest: d(3) });
    expect(await reopened.blobLocation('target', sha256Of('layer'))).toBe('team/app');
  });
}
