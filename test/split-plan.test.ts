/**
 * Blobs bigger than the cap: how the planner splits them into parts (pure), and the
 * `blobs.parts` rules of the manifest.
 */
import { describe, expect, it } from 'vitest';
import { planBundles } from '../shared/core/export/seal.ts';
import { manifestParts, partDigests } from '../shared/core/export/split.ts';
import { Readable } from 'node:stream';
import { sha256Of } from '../shared/digest.ts';
import { MemoryObjectStore } from './support/fakes.ts';
import { BUNDLE_FORMAT, BUNDLE_FORMAT_V3, bundleFormatFor, validateManifest, type BundlePart } from '../shared/bundle/index.ts';
import type { PendingEntry } from '../shared/core/ports/index.ts';
import type { Digest } from '../shared/digest.ts';

const d = (c: string): Digest => `sha256:${c.repeat(64)}`;
const entry = (seq: number, digest: Digest, size: number): PendingEntry => ({
  seq,
  kind: 'raw',
  sourceRepository: 'raw-a',
  path: `/e/${seq}`,
  targetRepository: 'raw-a',
  digest,
  size,
  checksums: {},
});
const MiB = 1024 * 1024;
const tarBytes = (size: number) => 512 + Math.ceil(size / 512) * 512;

describe('planBundles with a blob bigger than the cap', () => {
  it('splits it into contiguous parts, each bundle within the cap, the entry with the last part', async () => {
    // Act
    const plan = await planBundles([entry(1, d('b'), 10 * MiB + 7)], async () => undefined, 5, 3 * MiB);

    // Assess
    expect(plan.oversized).toEqual([]);
    expect(plan.bundles.length).toBe(4);
    const parts = plan.bundles.flatMap((b) => b.parts);
    expect(parts.map((p) => p.shippedIn)).toEqual([5, 6, 7, 8]);
    expect(parts.reduce((n, p) => n + p.length, 0)).toBe(10 * MiB + 7);
    parts.forEach((p, i) => expect(p.offset).toBe(parts.slice(0, i).reduce((n, q) => n + q.length, 0)));
    for (const bundle of plan.bundles) {
      expect(16 * 1024 + bundle.parts.reduce((n, p) => n + tarBytes(p.length), 0)).toBeLessThanOrEqual(bundle.bytes);
      expect(bundle.bytes).toBeLessThanOrEqual(3 * MiB);
    }
    expect(plan.bundles.map((b) => b.entries.map((e) => e.seq))).toEqual([[], [], [], [1]]);
    expect(plan.bundles.every((b) => b.included.length === 0 && b.required.size === 0)).toBe(true);
  });

  it('fills the open bundle first, and a later entry needing the blob requires it from the bundle that completed it', async () => {
    // Act
    const plan = await planBundles([entry(1, d('a'), MiB), entry(2, d('b'), 5 * MiB), entry(3, d('b'), 5 * MiB)], async () => undefined, 1, 3 * MiB);

    // Assess
    const [first] = plan.bundles;
    expect(first!.entries.map((e) => e.seq)).toEqual([1]);
    expect(first!.parts.map((p) => p.offset)).toEqual([0]);
    const completedIn = plan.bundles.findIndex((b) => b.parts.some((p) => p.offset + p.length === p.size)) + 1;
    const holder = plan.bundles.find((b) => b.entries.some((e) => e.seq === 2))!;
    expect(plan.bundles.indexOf(holder) + 1).toBe(completedIn);
    expect(holder.entries.map((e) => e.seq)).toEqual([2, 3]);
    expect(holder.required.size).toBe(0);
  });

  it('lists in each manifest the blob parts up to its own last one', async () => {
    // Prepare
    const plan = await planBundles([entry(1, d('b'), 7 * MiB)], async () => undefined, 1, 3 * MiB);

    // Act
    const listed = plan.bundles.map((b, i) => manifestParts(b, i + 1, plan.bundles).map((p) => p.shippedIn));

    // Assess
    expect(listed).toEqual([[1], [1, 2], [1, 2, 3]]);
  });

  it('splits a blob the far side asked for again that is bigger than the cap', async () => {
    // Act
    const plan = await planBundles([], async () => undefined, 1, 3 * MiB, [{ digest: d('r'), size: 4 * MiB }]);

    // Assess
    expect(plan.oversizedResends).toEqual([]);
    expect(plan.bundles.map((b) => b.parts.map((p) => [p.blob, p.shippedIn]))).toEqual([[[d('r'), 1]], [[d('r'), 2]]]);
    expect(plan.bundles.flatMap((b) => b.entries)).toEqual([]);
  });

  it('goes on with a split an earlier seal left unfinished: the parts it published are listed, not planned again', async () => {
    // Prepare: bundle 3 carried the first 2 MiB of a 7 MiB blob, then that seal stopped
    const earlier: BundlePart = { blob: d('b'), size: 7 * MiB, offset: 0, length: 2 * MiB, digest: d('1'), shippedIn: 3 };

    // Act
    const plan = await planBundles([entry(1, d('b'), 7 * MiB)], async () => undefined, 4, 3 * MiB, [], new Map([[d('b'), [earlier]]]));

    // Assess
    const parts = plan.bundles.flatMap((b) => b.parts);
    expect(parts[0]!.offset).toBe(2 * MiB);
    expect(parts.reduce((n, p) => n + p.length, 0)).toBe(5 * MiB);
    expect(plan.earlier).toEqual([earlier]);
    const listed = plan.bundles.map((b, i) => manifestParts(b, 4 + i, plan.bundles, plan.earlier).map((p) => [p.offset, p.shippedIn]));
    expect(listed.at(-1)![0]).toEqual([0, 3]);
    expect(listed.at(-1)!.map(([, shippedIn]) => shippedIn)).toEqual([3, ...plan.bundles.map((_, i) => 4 + i)]);
    expect(plan.bundles.at(-1)!.entries.map((e) => e.seq)).toEqual([1]);
  });

  it.each<[string, BundlePart]>([
    ['of another size', { blob: d('b'), size: 8 * MiB, offset: 0, length: 2 * MiB, digest: d('1'), shippedIn: 3 }],
    ['not from offset 0', { blob: d('b'), size: 7 * MiB, offset: MiB, length: 2 * MiB, digest: d('1'), shippedIn: 3 }],
    ['of a sequence this plan seals', { blob: d('b'), size: 7 * MiB, offset: 0, length: 2 * MiB, digest: d('1'), shippedIn: 4 }],
  ])('starts the split over when the unfinished parts are %s', async (_what, earlier) => {
    // Act
    const plan = await planBundles([entry(1, d('b'), 7 * MiB)], async () => undefined, 4, 3 * MiB, [], new Map([[d('b'), [earlier]]]));

    // Assess
    expect(plan.bundles[0]!.parts[0]!.offset).toBe(0);
    expect(plan.earlier).toEqual([]);
  });

  it('starts a resend over, whatever an earlier seal left of the blob', async () => {
    // Act
    const earlier: BundlePart = { blob: d('r'), size: 4 * MiB, offset: 0, length: 2 * MiB, digest: d('1'), shippedIn: 1 };
    const plan = await planBundles([], async () => undefined, 2, 3 * MiB, [{ digest: d('r'), size: 4 * MiB }], new Map([[d('r'), [earlier]]]));

    // Assess
    expect(plan.bundles[0]!.parts[0]!.offset).toBe(0);
    expect(plan.earlier).toEqual([]);
  });

  it('keeps the entry pending when a blob it needs is split but the cap leaves no room for data', async () => {
    // Act
    const plan = await planBundles([entry(1, d('b'), MiB)], async () => undefined, 1, 24 * 1024);

    // Assess
    expect(plan.oversized.map((e) => e.seq)).toEqual([1]);
    expect(plan.bundles).toEqual([]);
  });
});

describe('partDigests', () => {
  it('hashes each part from its own offset, the bytes before a continued split left out', async () => {
    // Prepare
    const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    const store = new MemoryObjectStore();
    await store.putBlob(Readable.from([bytes.subarray(0, 1234), bytes.subarray(1234)]));
    const blob = sha256Of(bytes);
    const part = (offset: number, length: number) => ({ blob, size: bytes.length, offset, length, shippedIn: 2 });

    // Act
    const digests = await partDigests(store, blob, [part(2000, 1500), part(3500, 1500)]);

    // Assess
    expect(digests).toEqual(new Map([[2000, sha256Of(bytes.subarray(2000, 3500))], [3500, sha256Of(bytes.subarray(3500))]]));
  });
});

describe('the manifest rules for blobs.parts', () => {
  const blob = d('b');
  const part = (offset: number, length: number, shippedIn: number, size = 300): BundlePart => ({ blob, size, offset, length, digest: d(String((offset / 100) % 10)), shippedIn });
  const manifest = (parts: BundlePart[], overrides: Record<string, unknown> = {}) => ({
    format: BUNDLE_FORMAT_V3,
    sourceId: 'corp-nexus',
    sequence: 3,
    previous: d('f'),
    createdAt: '2026-11-23T19:00:00.000Z',
    entries: [{ kind: 'raw', source: { repository: 'raw-a', path: '/x.bin' }, target: { repository: 'raw-a', path: '/x.bin' }, digest: blob, size: 300, checksums: {} }],
    blobs: { included: [], required: [], parts },
    layout: { index: d('e') },
    ...overrides,
  });

  it('accepts a blob completed in this bundle from parts of earlier ones, and names v3 for bundles with parts', () => {
    // Act
    const parsed = validateManifest(manifest([part(0, 100, 1), part(100, 100, 2), part(200, 100, 3)]), 'manifest');

    // Assess
    expect(parsed.blobs.parts).toHaveLength(3);
    expect(bundleFormatFor(parsed.entries, parsed.blobs.parts)).toBe(BUNDLE_FORMAT_V3);
    expect(bundleFormatFor(parsed.entries)).not.toBe(BUNDLE_FORMAT_V3);
  });

  it.each([
    { what: 'a gap between parts', parts: [part(0, 100, 1), part(200, 100, 3)], problem: 'blobs.parts[1].offset: must be 100' },
    { what: 'a last part this bundle does not carry', parts: [part(0, 100, 1), part(100, 200, 2)], problem: 'blobs.parts[1].shippedIn: a blob\'s parts are listed up to the last one this bundle carries' },
    { what: 'a part past the blob\'s end', parts: [part(0, 100, 3), part(100, 300, 3)], problem: 'blobs.parts[1].length: ends past the blob\'s size 300' },
    { what: 'a part from a later bundle', parts: [part(0, 100, 4), part(100, 200, 3)], problem: 'blobs.parts[0].shippedIn: must not be later than this bundle (3)' },
    { what: 'an entry naming a blob not yet complete', parts: [part(0, 100, 2), part(100, 100, 3)], problem: 'entries[0].digest: sha256:' },
  ])('refuses $what', ({ parts, problem }) => {
    // Act / Assess
    expect(() => validateManifest(manifest(parts), 'manifest')).toThrow(problem);
  });

  it('refuses parts in a v2 manifest', () => {
    // Act / Assess
    expect(() => validateManifest(manifest([part(0, 300, 3)], { format: BUNDLE_FORMAT }), 'manifest')).toThrow(`blobs.parts: needs format ${BUNDLE_FORMAT_V3}`);
  });
});
