/**
 * What the import side keeps of split blobs once a batch verified: the blob put together,
 * not its parts twice over; but a part that a blob still waiting for its last part also
 * lists (content-addressed: two blobs that begin alike, split at the same offsets, share it)
 * stays, or that blob could never be put together — whether that blob's parts came in this
 * batch or were held by an earlier import (recorded in the import state).
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { BundleManifest, BundlePart } from '../shared/bundle/index.ts';
import { SplitBlobs } from '../shared/core/import/split-blobs.ts';
import { sha256Of, type Digest } from '../shared/digest.ts';
import { SqliteImportState } from '../shared/adapters/embedded/index.ts';
import { MemoryObjectStore } from './support/fakes.ts';

const PART = 1000;

/** `bytes` split in parts of PART bytes, all shipped in bundle 1 unless `carried` says how many. */
function partsOf(bytes: Buffer, carried = Math.ceil(bytes.length / PART)): { blob: Digest; parts: BundlePart[]; carried: BundlePart[] } {
  const blob = sha256Of(bytes);
  const parts: BundlePart[] = [];
  for (let offset = 0; offset < bytes.length; offset += PART) {
    const length = Math.min(PART, bytes.length - offset);
    parts.push({ blob, size: bytes.length, offset, length, digest: sha256Of(bytes.subarray(offset, offset + length)), shippedIn: 1 });
  }
  return { blob, parts: parts.slice(0, carried), carried: parts.slice(0, carried) };
}

const manifestOf = (parts: BundlePart[]) => ({ sequence: 1, blobs: { included: [], required: [], parts } }) as unknown as BundleManifest;

describe('SplitBlobs.dropAssembledParts', () => {
  it('removes the parts of a blob put together, and keeps a part a blob still unassembled also lists', async () => {
    // Prepare: A (3 parts) complete in this bundle; B begins with A's first 1000 bytes and
    // lacks its last part, so its first part is A's first part
    const a = Buffer.concat([Buffer.alloc(PART, 1), Buffer.alloc(PART, 2), Buffer.alloc(500, 3)]);
    const b = Buffer.concat([Buffer.alloc(PART, 1), Buffer.alloc(PART, 9), Buffer.alloc(700, 8)]);
    const split = { a: partsOf(a), b: partsOf(b, 2) };
    expect(split.b.parts[0]!.digest).toBe(split.a.parts[0]!.digest);
    const held = new MemoryObjectStore();
    const blobs = new SplitBlobs(held, true);
    const manifest = manifestOf([...split.a.parts, ...split.b.parts]);
    const bytesOf = (part: BundlePart, of: Buffer) => of.subarray(part.offset, part.offset + part.length);
    for (const part of split.a.parts) await blobs.onPart(manifest, part, Readable.from([bytesOf(part, a)]));
    for (const part of split.b.parts) await blobs.onPart(manifest, part, Readable.from([bytesOf(part, b)]));

    // Act
    await blobs.complete('bundle-1.tar', manifest);
    const unfinished = await blobs.unfinished();
    await blobs.dropAssembledParts();

    // Assess: A held whole, its own parts gone; the shared part and B's second part kept
    expect(unfinished).toEqual([]);
    expect(held.blobs.get(split.a.blob)?.equals(a)).toBe(true);
    expect(held.blobs.has(split.a.parts[1]!.digest)).toBe(false);
    expect(held.blobs.has(split.a.parts[2]!.digest)).toBe(false);
    expect(held.blobs.has(split.a.parts[0]!.digest)).toBe(true);
    expect(held.blobs.has(split.b.parts[1]!.digest)).toBe(true);
  });

  it('removes the parts left behind by a run stopped after the blob was put together', async () => {
    // Prepare: the blob already held whole, its parts still there, the bundle verified again
    const a = Buffer.concat([Buffer.alloc(PART, 4), Buffer.alloc(300, 5)]);
    const { blob, parts } = partsOf(a);
    const held = new MemoryObjectStore();
    await held.putBlob(Readable.from([a]));
    for (const part of parts) await held.putBlob(Readable.from([a.subarray(part.offset, part.offset + part.length)]));
    const blobs = new SplitBlobs(held, true);

    // Act
    await blobs.complete('bundle-1.tar', manifestOf(parts));
    await blobs.dropAssembledParts();

    // Assess
    expect([...held.blobs.keys()]).toEqual([blob]);
  });

  it('keeps a part an earlier import held for a blob still waiting, when another blob sharing it is put together; removes it once that blob is too', async () => {
    // Prepare: import 1 holds B's first two parts (B's last part comes later); its first
    // part is A's first part. Import 2 carries A whole, import 3 B's last part.
    const a = Buffer.concat([Buffer.alloc(PART, 1), Buffer.alloc(PART, 2), Buffer.alloc(500, 3)]);
    const b = Buffer.concat([Buffer.alloc(PART, 1), Buffer.alloc(PART, 9), Buffer.alloc(700, 8)]);
    const split = { a: partsOf(a), b: partsOf(b) };
    const held = new MemoryObjectStore();
    const state = new SqliteImportState(':memory:');
    const bytesOf = (part: BundlePart, of: Buffer) => of.subarray(part.offset, part.offset + part.length);
    const importOne = async (manifest: BundleManifest, carried: { part: BundlePart; of: Buffer }[]) => {
      const blobs = new SplitBlobs(held, true, state);
      for (const { part, of } of carried) await blobs.onPart(manifest, part, Readable.from([bytesOf(part, of)]));
      await blobs.complete('bundle.tar', manifest);
      const unfinished = await blobs.unfinished();
      await blobs.dropAssembledParts();
      return unfinished;
    };
    const bFirst = split.b.parts.slice(0, 2);

    // Act
    const first = await importOne(manifestOf(bFirst), bFirst.map((part) => ({ part, of: b })));
    const second = await importOne(manifestOf(split.a.parts), split.a.parts.map((part) => ({ part, of: a })));
    const sharedKept = held.blobs.has(split.a.parts[0]!.digest);
    const third = await importOne(manifestOf(split.b.parts), [{ part: split.b.parts[2]!, of: b }]);

    // Assess: B is put together from the part A shared; then no part is held, and no record left
    expect([first, second, third]).toEqual([[], [], []]);
    expect(sharedKept).toBe(true);
    expect(held.blobs.get(split.b.blob)?.equals(b)).toBe(true);
    expect([...held.blobs.keys()].sort()).toEqual([split.a.blob, split.b.blob].sort());
    for (const part of split.b.parts) expect(await state.blobsAwaiting(part.digest)).toEqual([]);
  });

  it('removes, once a blob is put together from a split anew (a resend), the parts an earlier import held of its first split', async () => {
    // Prepare: import 1 holds B's first two parts of 1000 bytes, then its last part is lost;
    // import 2 carries B again, split at other offsets (700 bytes), and puts it together
    const b = Buffer.from(Array.from({ length: 2500 }, (_, i) => (i * 7) % 251));
    const first = partsOf(b).parts.slice(0, 2);
    const blob = sha256Of(b);
    const again: BundlePart[] = [];
    for (let offset = 0; offset < b.length; offset += 700) {
      const length = Math.min(700, b.length - offset);
      again.push({ blob, size: b.length, offset, length, digest: sha256Of(b.subarray(offset, offset + length)), shippedIn: 2 });
    }
    const held = new MemoryObjectStore();
    const state = new SqliteImportState(':memory:');
    const importOne = async (manifest: BundleManifest, carried: BundlePart[]) => {
      const blobs = new SplitBlobs(held, true, state);
      for (const part of carried) await blobs.onPart(manifest, part, Readable.from([b.subarray(part.offset, part.offset + part.length)]));
      await blobs.complete('bundle.tar', manifest);
      const unfinished = await blobs.unfinished();
      await blobs.dropAssembledParts();
      return unfinished;
    };

    // Act
    await importOne(manifestOf(first), first);
    const heldBetween = held.blobs.size;
    const unfinished = await importOne(manifestOf(again), again);

    // Assess: only B is held, and nothing waits
    expect(heldBetween).toBe(2);
    expect(unfinished).toEqual([]);
    expect([...held.blobs.keys()]).toEqual([blob]);
    expect(await state.partsAwaitedBy(blob)).toEqual([]);
  });
});
