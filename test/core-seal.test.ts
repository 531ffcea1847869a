/**
 * Sealing: which blobs ship, which are required, and how the size cap spills entries.
 */
import { describe, expect, it } from 'vitest';
import { planBundles } from '../shared/core/export/seal.ts';
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

describe('planBundles', () => {
  it.each([
    {
      name: 'one bundle, one blob per new digest, shared digests once',
      pending: [entry(1, d('a'), 100), entry(2, d('b'), 100), entry(3, d('a'), 100)],
      shipped: {},
      max: 1_000_000,
      expect: [{ entries: [1, 2, 3], included: [d('a'), d('b')], required: [] }],
    },
    {
      name: 'a blob shipped in an earlier bundle is required, not included',
      pending: [entry(1, d('a'), 100), entry(2, d('c'), 100)],
      shipped: { [d('c')]: 4 },
      max: 1_000_000,
      expect: [{ entries: [1, 2], included: [d('a')], required: [[d('c'), 4]] }],
    },
    {
      name: 'the cap spills into the next bundle, which requires blobs from the first',
      pending: [entry(1, d('a'), 40_000), entry(2, d('b'), 40_000), entry(3, d('a'), 40_000)],
      shipped: {},
      max: 70_000,
      expect: [
        { entries: [1], included: [d('a')], required: [] },
        { entries: [2, 3], included: [d('b')], required: [[d('a'), 7]] },
      ],
    },
  ])('$name', async ({ pending, shipped, max, expect: expected }) => {
    // Act
    const plan = await planBundles(pending, async (digest) => (shipped as Record<string, number>)[digest], 7, max);

    // Assess
    expect(plan.oversized).toEqual([]);
    expect(
      plan.bundles.map((b) => ({ entries: b.entries.map((e) => e.seq), included: b.included.map((x) => x.digest), required: [...b.required].map(([k, v]) => [k, v.shippedIn]) })),
    ).toEqual(expected);
  });

  it('leaves an entry pending and reports it when the cap leaves no room to split its blob, sealing the rest', async () => {
    // Act: a 20 kB cap is mostly tar and manifest overhead (blobs bigger than a usable cap are split: split-plan.test.ts)
    const plan = await planBundles([entry(1, d('a'), 10), entry(2, d('b'), 5_000_000), entry(3, d('c'), 10)], async () => undefined, 1, 20_000);

    // Assess
    expect(plan.oversized.map((e) => e.seq)).toEqual([2]);
    expect(plan.bundles.map((b) => b.entries.map((e) => e.seq))).toEqual([[1, 3]]);
  });
});
