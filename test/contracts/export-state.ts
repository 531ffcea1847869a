/**
 * The ExportState contract (shared/core/ports.ts), run against every adapter: SQLite,
 * DynamoDB and the in-memory fake. Adapter-only behaviour (seals larger than one
 * transaction, roll-forward, 20 concurrent sealers) stays in each adapter's own tests.
 * Longer than most files because the port is: one port, one suite.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { sha256Of, type Digest } from '../../shared/digest.ts';
import type { BundleRecord, ExportState, StagedEntry } from '../../shared/core/ports/index.ts';
import { EntryNotPendingError, InvalidTimestampError, SequenceConflictError } from '../../shared/core/ports/errors.ts';
import type { ImageDetail } from '../../shared/core/formats/docker/detail.ts';
import { exportStateTombstoneContract } from './export-state-tombstones.ts';
import { exportStateRevertContract } from './export-state-reverts.ts';

export interface ExportStateHarness {
  state: ExportState;
  /** The source id this harness's bundles are recorded under (fresh for each harness). */
  sourceId: string;
  /** Another instance on the same storage: a second process or connection. */
  open(): Promise<ExportState>;
  close(): Promise<void>;
}

export function exportStateContract(makeHarness: () => Promise<ExportStateHarness>): void {
  let harness: ExportStateHarness;
  let state: ExportState;
  let bundle: (sequence: number, published?: boolean) => BundleRecord;

  beforeEach(async () => {
    harness = await makeHarness();
    state = harness.state;
    const sourceId = harness.sourceId;
    bundle = (sequence, published = false) => ({
      sourceId,
      sequence,
      digest: sha256Of(`${sourceId} bundle ${sequence}`),
      name: `${sourceId}-${String(sequence).padStart(8, '0')}.tar`,
      size: 1000 + sequence,
      sealedAt: `2025-01-01T00:00:0${sequence % 10}.000Z`,
      published,
    });
  });

  afterEach(async () => {
    await harness.close();
  });

  // ───────────── watermarks and checkpoints ─────────────

  it('has no watermark until one is set, and keeps each repository its own', async () => {
    // Prepare
    const before = await state.getWatermark('raw-src');

    // Act
    await state.advanceWatermark('raw-src', undefined, '2025-01-01T10:00:00.000Z');
    await state.advanceWatermark('raw-other', undefined, '2025-06-01T10:00:00.000Z');

    // Assess
    expect(before).toBeUndefined();
    expect(await state.getWatermark('raw-src')).toBe('2025-01-01T10:00:00.000Z');
    expect(await state.getWatermark('raw-other')).toBe('2025-06-01T10:00:00.000Z');
    expect(await state.getWatermark('raw-third')).toBeUndefined();
  });

  it('advances a watermark only from the expected value and only forwards, comparing instants', async () => {
    // Prepare: the states below are reached in order

    // Act
    const created = await state.advanceWatermark('raw-src', undefined, '2025-01-01T10:00:00Z');
    const createdAgain = await state.advanceWatermark('raw-src', undefined, '2025-01-01T11:00:00Z');
    const moved = await state.advanceWatermark('raw-src', '2025-01-01T11:00:00+01:00', '2025-01-01T12:00:00Z');
    const stale = await state.advanceWatermark('raw-src', '2025-01-01T10:00:00.000Z', '2025-01-01T13:00:00Z');
    const backwards = await state.advanceWatermark('raw-src', '2025-01-01T12:00:00.000Z', '2025-01-01T11:59:59.999Z');
    const same = await state.advanceWatermark('raw-src', '2025-01-01T12:00:00.000Z', '2025-01-01T14:00:00+02:00');

    // Assess
    expect({ created, createdAgain, moved, stale, backwards, same }).toEqual({
      created: true,
      createdAgain: false,
      moved: true,
      stale: false,
      backwards: false,
      same: false,
    });
    expect(await state.getWatermark('raw-src')).toBe('2025-01-01T12:00:00.000Z');
  });

  it('refuses a watermark that is not an instant with InvalidTimestampError, changing nothing', async () => {
    // Prepare
    await state.advanceWatermark('raw-src', undefined, '2025-01-01T00:00:00.000Z');

    // Act
    const badTarget = await state.advanceWatermark('raw-src', '2025-01-01T00:00:00.000Z', 'tomorrow').catch((e: unknown) => e);
    const badExpected = await state.advanceWatermark('raw-src', 'yesterday', '2025-02-01T00:00:00.000Z').catch((e: unknown) => e);
    const badFirst = await state.advanceWatermark('raw-new', undefined, 'not a time').catch((e: unknown) => e);

    // Assess
    expect(badTarget).toBeInstanceOf(InvalidTimestampError);
    expect(badExpected).toBeInstanceOf(InvalidTimestampError);
    expect(badFirst).toBeInstanceOf(InvalidTimestampError);
    expect(await state.getWatermark('raw-src')).toBe('2025-01-01T00:00:00.000Z');
    expect(await state.getWatermark('raw-new')).toBeUndefined();
  });

  it('lets exactly one of two writers holding the same expected value advance a watermark', async () => {
    // Prepare
    const other = await harness.open();
    await state.advanceWatermark('raw-src', undefined, '2025-01-01T00:00:00Z');
    const base = (await other.getWatermark('raw-src')) as string;

    // Act
    const results = await Promise.all([
      state.advanceWatermark('raw-src', base, '2025-01-02T00:00:00Z'),
      other.advanceWatermark('raw-src', base, '2025-01-03T00:00:00Z'),
    ]);

    // Assess
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results[0] ? '2025-01-02T00:00:00.000Z' : '2025-01-03T00:00:00.000Z';
    expect(await state.getWatermark('raw-src')).toBe(winner);
    expect(await other.getWatermark('raw-src')).toBe(winner);
  });

  it('keeps, replaces and clears a scan checkpoint per repository', async () => {
    // Prepare
    const checkpoint = { startedAt: '2025-01-01T00:00:00.000Z', since: '2024-12-31T23:55:00.000Z', continuationToken: 'page-2' };
    const other = { startedAt: '2025-01-02T00:00:00.000Z', since: null, continuationToken: null };

    // Act
    await state.putScanCheckpoint('raw-src', checkpoint);
    await state.putScanCheckpoint('raw-other', other);
    const stored = await state.getScanCheckpoint('raw-src');
    await state.putScanCheckpoint('raw-src', { ...checkpoint, continuationToken: null });
    const replaced = await state.getScanCheckpoint('raw-src');
    await state.putScanCheckpoint('raw-src', undefined);
    await state.putScanCheckpoint('raw-never', undefined);

    // Assess
    expect(stored).toEqual(checkpoint);
    expect(replaced).toEqual({ ...checkpoint, continuationToken: null });
    expect(await state.getScanCheckpoint('raw-src')).toBeUndefined();
    expect(await state.getScanCheckpoint('raw-other')).toEqual(other);
    expect(await state.getScanCheckpoint('raw-never')).toBeUndefined();
  });

  // ───────────── entries ─────────────

  it('records the same asset content once, even when it is added concurrently', async () => {
    // Prepare
    const staged = entry('/a/file.bin', 'v1', { sha1: 'aa'.repeat(20) });

    // Act
    const added = await Promise.all(Array.from({ length: 5 }, () => state.addPendingEntry(staged)));
    const againLater = await state.addPendingEntry(staged);
    const otherCase = await state.addPendingEntry(entry('/a/file.bin', 'v1', { sha1: 'AA'.repeat(20) }));

    // Assess
    expect(added.filter(Boolean)).toHaveLength(1);
    expect(againLater).toBe(false);
    expect(otherCase).toBe(false);
    expect(await state.listPendingEntries()).toHaveLength(1);
  });

  it('lists pending entries in staging order, each with every field as recorded', async () => {
    // Prepare
    const raw = entry('/a.jar', 'v1', { sha1: 'AB'.repeat(20), md5: 'cd'.repeat(16), sha256: sha256Of('v1').slice(7), sha512: 'ef'.repeat(64) });
    const image = imageEntry();

    // Act
    const results = [
      await state.addPendingEntry(raw),
      await state.addPendingEntry(entry('/a.jar', 'v2')),
      await state.addPendingEntry(image),
      await state.addPendingEntry(entry('/b.jar', 'v1')),
    ];
    const pending = await state.listPendingEntries();

    // Assess
    expect(results).toEqual([true, true, true, true]);
    expect(pending.map((e) => [e.path, e.digest])).toEqual([
      ['/a.jar', sha256Of('v1')],
      ['/a.jar', sha256Of('v2')],
      [image.path, image.digest],
      ['/b.jar', sha256Of('v1')],
    ]);
    const seqs = pending.map((e) => e.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(4);
    const { seq: _rawSeq, ...rawBack } = pending[0]!;
    expect(rawBack).toEqual({ ...raw, checksums: { sha1: 'ab'.repeat(20), md5: 'cd'.repeat(16), sha256: sha256Of('v1').slice(7), sha512: 'ef'.repeat(64) } });
    const { seq: _imageSeq, ...imageBack } = pending[2]!;
    expect(imageBack).toEqual(image);
  });

  it('finds the latest entry at a path, pending or sealed, passing over tombstones and other paths', async () => {
    // Prepare: two contents at /a.jar (the first sealed), a tombstone at /a.jar, another path and repository
    await state.addPendingEntry(entry('/a.jar', 'v1'));
    await state.recordSeal(bundle(1), (await state.listPendingEntries()).map((e) => e.seq), []);
    await state.addPendingEntry(entry('/a.jar', 'v2', { sha1: 'ab'.repeat(20) }));
    await state.addPendingEntry({ ...entry('/a.jar', 'tombstone of v2'), kind: 'tombstone', size: 0, detail: { of: 'raw' } });
    await state.addPendingEntry(entry('/a.jar.sha1', 'v9'));
    await state.addPendingEntry({ ...entry('/a.jar', 'elsewhere'), sourceRepository: 'raw-other' });

    // Act
    const found = await state.latestEntries!('raw-src', '/a.jar', { prefix: false });
    const none = await state.latestEntries!('raw-src', '/missing.jar', { prefix: false });

    // Assess
    expect(found).toEqual([entry('/a.jar', 'v2', { sha1: 'ab'.repeat(20) })]);
    expect(none).toEqual([]);
  });

  it('lists every path of a source repository with an entry, sealed, pending or tombstoned, once each, in path order', async () => {
    // Prepare
    await state.addPendingEntry(entry('/b/one.jar', 'v1'));
    await state.recordSeal(bundle(1), (await state.listPendingEntries()).map((e) => e.seq), []);
    await state.addPendingEntry(entry('/b/one.jar', 'v2'));
    await state.addPendingEntry(entry('/a/two.jar', 'v1'));
    await state.addPendingEntry({ ...entry('/a/two.jar', 'tombstone of v1'), kind: 'tombstone', size: 0, detail: { of: 'raw' } });
    await state.addPendingEntry({ ...entry('/c/other.jar', 'elsewhere'), sourceRepository: 'raw-other' });

    // Act
    const paths = await state.ledgerPaths!('raw-src');

    // Assess
    expect(paths).toEqual(['/a/two.jar', '/b/one.jar']);
    expect(await state.ledgerPaths!('raw-none')).toEqual([]);
  });

  it('matches entries by sha256 when given, else by sha1, else not at all', async () => {
    // Prepare
    await state.addPendingEntry(entry('/a.jar', 'v1', { sha1: 'aa'.repeat(20) }));
    const sha256 = sha256Of('v1').slice(7);

    // Act
    const results = {
      bySha256: await state.hasEntry('raw-src', '/a.jar', { sha256 }),
      bySha256Upper: await state.hasEntry('raw-src', '/a.jar', { sha256: sha256.toUpperCase() }),
      sha256Wins: await state.hasEntry('raw-src', '/a.jar', { sha256: sha256Of('v2').slice(7), sha1: 'aa'.repeat(20) }),
      bySha1: await state.hasEntry('raw-src', '/a.jar', { sha1: 'AA'.repeat(20), md5: 'ff'.repeat(16) }),
      sha1Differs: await state.hasEntry('raw-src', '/a.jar', { sha1: 'bb'.repeat(20) }),
      md5Only: await state.hasEntry('raw-src', '/a.jar', { md5: 'ff'.repeat(16) }),
      none: await state.hasEntry('raw-src', '/a.jar', {}),
      otherPath: await state.hasEntry('raw-src', '/b.jar', { sha256 }),
      otherRepo: await state.hasEntry('raw-other', '/a.jar', { sha256 }),
    };

    // Assess
    expect(results).toEqual({
      bySha256: true,
      bySha256Upper: true,
      sha256Wins: false,
      bySha1: true,
      sha1Differs: false,
      md5Only: false,
      none: false,
      otherPath: false,
      otherRepo: false,
    });
  });

  // ───────────── seals ─────────────

  it('numbers bundles from 1 and refuses a seal out of sequence with SequenceConflictError naming expected and got', async () => {
    // Prepare
    const before = await state.getLastBundle(harness.sourceId);

    // Act
    const skipped = await state.recordSeal(bundle(2), [], []).catch((e: unknown) => e);
    await state.recordSeal(bundle(1), [], []);
    const repeated = await state.recordSeal(bundle(1), [], []).catch((e: unknown) => e);

    // Assess
    expect(before).toBeUndefined();
    expect(skipped).toBeInstanceOf(SequenceConflictError);
    expect(skipped).toMatchObject({ sourceId: harness.sourceId, expected: 1, got: 2 });
    expect((skipped as Error).message).toContain('expected 1, got 2');
    expect(repeated).toBeInstanceOf(SequenceConflictError);
    expect(repeated).toMatchObject({ expected: 2, got: 1 });
    expect(await state.getLastBundle(harness.sourceId)).toEqual(bundle(1));
    expect(await state.getLastBundle(`${harness.sourceId}-other`)).toBeUndefined();
  });

  it('seals atomically: the bundle becomes the last, its entries leave the pending set, its blobs enter the ledger', async () => {
    // Prepare
    await state.addPendingEntry(entry('/a.jar', 'a'));
    await state.addPendingEntry(entry('/b.jar', 'b'));
    await state.addPendingEntry(entry('/c.jar', 'c'));
    const [a, b, c] = await state.listPendingEntries();

    // Act
    await state.recordSeal(bundle(1), [a!.seq, c!.seq], [a!.digest, c!.digest]);

    // Assess
    expect(await state.getLastBundle(harness.sourceId)).toEqual(bundle(1));
    expect((await state.listPendingEntries()).map((e) => e.seq)).toEqual([b!.seq]);
    expect(await state.shippedIn(a!.digest)).toBe(1);
    expect(await state.shippedIn(c!.digest)).toBe(1);
    expect(await state.shippedIn(b!.digest)).toBeUndefined();
    expect(await state.hasEntry('raw-src', '/a.jar', { sha256: a!.digest.slice(7) })).toBe(true);
  });

  it('changes nothing when a seal names an entry that is not pending, naming it in EntryNotPendingError', async () => {
    // Prepare
    await state.addPendingEntry(entry('/a.jar', 'a'));
    await state.addPendingEntry(entry('/b.jar', 'b'));
    const [a, b] = await state.listPendingEntries();
    const unknown = b!.seq + 1000;

    // Act
    const neverRecorded = await state.recordSeal(bundle(1), [a!.seq, unknown], [a!.digest]).catch((e: unknown) => e);
    const afterFailure = {
      last: await state.getLastBundle(harness.sourceId),
      pending: (await state.listPendingEntries()).map((e) => e.seq),
      shipped: await state.shippedIn(a!.digest),
    };
    await state.recordSeal(bundle(1), [a!.seq], [a!.digest]);
    const resealed = await state.recordSeal(bundle(2), [a!.seq, b!.seq], [b!.digest]).catch((e: unknown) => e);

    // Assess
    expect(neverRecorded).toBeInstanceOf(EntryNotPendingError);
    expect((neverRecorded as EntryNotPendingError).seqs).toEqual([unknown]);
    expect(afterFailure).toEqual({ last: undefined, pending: [a!.seq, b!.seq], shipped: undefined });
    expect(resealed).toBeInstanceOf(EntryNotPendingError);
    expect((resealed as EntryNotPendingError).seqs).toEqual([a!.seq]);
    expect(await state.getLastBundle(harness.sourceId)).toEqual(bundle(1));
    expect((await state.listPendingEntries()).map((e) => e.seq)).toEqual([b!.seq]);
    expect(await state.shippedIn(b!.digest)).toBeUndefined();
  });

  it('changes nothing when a seal is out of sequence', async () => {
    // Prepare
    await state.addPendingEntry(entry('/a.jar', 'a'));
    const [a] = await state.listPendingEntries();

    // Act
    const conflict = await state.recordSeal(bundle(3), [a!.seq], [a!.digest]).catch((e: unknown) => e);

    // Assess
    expect(conflict).toBeInstanceOf(SequenceConflictError);
    expect(await state.getLastBundle(harness.sourceId)).toBeUndefined();
    expect((await state.listPendingEntries()).map((e) => e.seq)).toEqual([a!.seq]);
    expect(await state.shippedIn(a!.digest)).toBeUndefined();
  });

  it('records a bundle unpublished until it is marked published, which is idempotent', async () => {
    // Prepare
    await state.recordSeal(bundle(1, false), [], []);
    const recorded = await state.getLastBundle(harness.sourceId);

    // Act
    await state.markBundlePublished(harness.sourceId, 1);
    await state.markBundlePublished(harness.sourceId, 1);

    // Assess
    expect(recorded).toEqual(bundle(1, false));
    expect(await state.getLastBundle(harness.sourceId)).toEqual(bundle(1, true));
    expect(await (await harness.open()).getLastBundle(harness.sourceId)).toEqual(bundle(1, true));
  });

  it('keeps a bundle recorded as published published', async () => {
    // Prepare
    const published = bundle(1, true);

    // Act
    await state.recordSeal(published, [], []);

    // Assess
    expect(await state.getLastBundle(harness.sourceId)).toEqual(published);
  });

  // ───────────── the shipped ledger and resends ─────────────

  it('records blobs a receipt reports held, keeping the earliest record of each', async () => {
    // Prepare
    await state.recordSeal(bundle(1), [], [sha256Of('shipped')]);

    // Act
    await state.recordHeldBlobs([sha256Of('shipped'), sha256Of('held')], 7);
    await state.recordHeldBlobs([sha256Of('held'), sha256Of('held elsewhere')], 9);
    await state.recordHeldBlobs([sha256Of('from another chain')], 0);

    // Assess
    expect(await state.shippedIn(sha256Of('shipped'))).toBe(1);
    expect(await state.shippedIn(sha256Of('held'))).toBe(7);
    expect(await state.shippedIn(sha256Of('held elsewhere'))).toBe(9);
    expect(await state.shippedIn(sha256Of('from another chain'))).toBe(0);
    expect(await state.shippedIn(sha256Of('unknown'))).toBeUndefined();
  });

  it('keeps the earlier ledger record when a seal includes a blob a receipt already reported', async () => {
    // Prepare
    await state.recordHeldBlobs([sha256Of('held')], 0);

    // Act
    await state.recordSeal(bundle(1), [], [sha256Of('held'), sha256Of('new')]);

    // Assess
    expect(await state.shippedIn(sha256Of('held'))).toBe(0);
    expect(await state.shippedIn(sha256Of('new'))).toBe(1);
  });

  it('takes a blob the far side lacks out of the shipped ledger and lists its request as asked', async () => {
    // Prepare
    const layer = sha256Of('layer');
    const asset = sha256Of('asset');
    const unshipped = sha256Of('never shipped');
    await state.recordSeal(bundle(1), [], [layer, asset]);

    // Act
    await state.requestResend([
      { digest: layer, size: 5, from: { repository: 'docker-hosted', name: 'team/app' } },
      { digest: asset, size: 6, from: { repository: 'raw-src', path: '/a.jar' } },
      { digest: unshipped, size: 7 },
    ]);
    const resends = await state.listResends();

    // Assess
    expect(await state.shippedIn(layer)).toBeUndefined();
    expect(await state.shippedIn(asset)).toBeUndefined();
    expect(await state.shippedIn(unshipped)).toBeUndefined();
    expect([...resends].sort(byDigest)).toEqual(
      [
        { digest: layer, size: 5, from: { repository: 'docker-hosted', name: 'team/app' } },
        { digest: asset, size: 6, from: { repository: 'raw-src', path: '/a.jar' } },
        { digest: unshipped, size: 7 },
      ].sort(byDigest),
    );
  });

  it('lists a blob asked for twice once, where it was first asked, oldest request first', async () => {
    // Prepare: digests chosen so that digest order is the reverse of request order
    const [first, second] = [sha256Of('resend a'), sha256Of('resend b')].sort().reverse() as [Digest, Digest];
    await state.recordSeal(bundle(1), [], [first, second]);

    // Act
    await state.requestResend([{ digest: first, size: 1 }]);
    await state.requestResend([{ digest: second, size: 2 }]);
    await state.requestResend([{ digest: first, size: 1 }]);
    const resends = await state.listResends();

    // Assess
    expect(resends).toEqual([
      { digest: first, size: 1 },
      { digest: second, size: 2 },
    ]);
    expect(await state.shippedIn(first)).toBeUndefined();
  });

  it('satisfies a resend request once a seal includes the blob again', async () => {
    // Prepare
    const [again, waiting] = [sha256Of('sealed again'), sha256Of('still waiting')];
    await state.recordSeal(bundle(1), [], [again, waiting]);
    await state.requestResend([
      { digest: again, size: 1 },
      { digest: waiting, size: 2 },
    ]);

    // Act
    await state.recordSeal(bundle(2), [], [again]);

    // Assess
    expect(await state.listResends()).toEqual([{ digest: waiting, size: 2 }]);
    expect(await state.shippedIn(again)).toBe(2);
  });

  it('satisfies a resend request once a receipt reports the blob held', async () => {
    // Prepare
    const blob = sha256Of('found after all');
    await state.recordSeal(bundle(1), [], [blob]);
    await state.requestResend([{ digest: blob, size: 3 }]);

    // Act
    await state.recordHeldBlobs([blob], 1);

    // Assess
    expect(await state.listResends()).toEqual([]);
    expect(await state.shippedIn(blob)).toBe(1);
  });

  it('takes a blob asked for again after its request was satisfied as a new request', async () => {
    // Prepare
    const [lostTwice, other] = [sha256Of('lost twice'), sha256Of('other')];
    await state.recordSeal(bundle(1), [], [lostTwice, other]);
    await state.requestResend([{ digest: lostTwice, size: 1 }]);
    await state.requestResend([{ digest: other, size: 2 }]);
    await state.recordSeal(bundle(2), [], [lostTwice]);

    // Act
    await state.requestResend([{ digest: lostTwice, size: 1 }]);

    // Assess
    expect(await state.shippedIn(lostTwice)).toBeUndefined();
    expect(await state.listResends()).toEqual([
      { digest: other, size: 2 },
      { digest: lostTwice, size: 1 },
    ]);
  });

  // ───────────── sharing ─────────────

  it('shows another instance on the same storage everything recorded', async () => {
    // Prepare
    await state.advanceWatermark('raw-src', undefined, '2025-01-01T00:00:00.000Z');
    await state.putScanCheckpoint('raw-src', { startedAt: '2025-01-02T00:00:00.000Z', since: null, continuationToken: 'p3' });
    await state.addPendingEntry(entry('/a.jar', 'a'));
    await state.addPendingEntry(entry('/b.jar', 'b'));
    const [a] = await state.listPendingEntries();
    await state.recordSeal(bundle(1), [a!.seq], [a!.digest]);
    await state.requestResend([{ digest: sha256Of('lost'), size: 4 }]);

    // Act
    const other = await harness.open();

    // Assess
    expect(await other.getWatermark('raw-src')).toBe('2025-01-01T00:00:00.000Z');
    expect(await other.getScanCheckpoint('raw-src')).toEqual({ startedAt: '2025-01-02T00:00:00.000Z', since: null, continuationToken: 'p3' });
    expect((await other.listPendingEntries()).map((e) => e.path)).toEqual(['/b.jar']);
    expect(await other.hasEntry('raw-src', '/a.jar', { sha256: a!.digest.slice(7) })).toBe(true);
    expect(await other.getLastBundle(harness.sourceId)).toEqual(bundle(1));
    expect(await other.shippedIn(a!.digest)).toBe(1);
    expect(await other.listResends()).toEqual([{ digest: sha256Of('lost'), size: 4 }]);
  });

  // ───────────── after deletions ─────────────

  exportStateTombstoneContract(() => ({ state, sourceId: harness.sourceId, other: () => harness.open() }));

  // ───────────── content that comes back ─────────────

  exportStateRevertContract(() => ({ state, sourceId: harness.sourceId, other: () => harness.open() }));
}

/** A raw entry of `raw-src` whose blob is `content`. */
export function entry(path: string, content: string, checksums: StagedEntry['checksums'] = {}): StagedEntry {
  return {
    kind: 'raw',
    sourceRepository: 'raw-src',
    path,
    targetRepository: 'raw-dst',
    digest: sha256Of(content),
    size: content.length,
    checksums,
  };
}

function imageEntry(): StagedEntry {
  const manifest = '{"schemaVersion":2}';
  const image: ImageDetail = {
    name: 'team/app',
    tag: 'v1.2.0',
    targetName: 'mirror/team/app',
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256Of('amd64 manifest'), size: 512 }],
    blobs: [
      { digest: sha256Of('config'), size: 100 },
      { digest: sha256Of('layer'), size: 2048 },
    ],
    referrers: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256Of('signature'), size: 300, tag: 'sha256-abc.sig' }],
  };
  return {
    kind: 'image',
    sourceRepository: 'docker-hosted',
    path: '/v2/team/app/manifests/v1.2.0',
    targetRepository: 'docker-mirror',
    digest: sha256Of(manifest),
    size: manifest.length,
    checksums: { sha256: sha256Of(manifest).slice(7) },
    detail: image,
  };
}

function byDigest(a: { digest: string }, b: { digest: string }): number {
  return a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0;
}
