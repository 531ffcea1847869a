/**
 * The writer and the streaming verifier with split blobs: part members are written from
 * slices of the staged blob, checked against their digests, and handed to `onPart`.
 */
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BUNDLE_FORMAT_V3, partMember, readBundleSummary, verifyBundle, writeBundle, type BundlePart } from '../shared/bundle/index.ts';
import { sha256Of, type Digest } from '../shared/digest.ts';
import { generateSigningKeyPair, localSigner } from '../shared/signing.ts';
import { DirObjectStore } from '../shared/adapters/embedded/object-store.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const pair = generateSigningKeyPair();
const privateKey = createPrivateKey(pair.privateKeyPem);
const publicKey = createPublicKey(pair.publicKeyPem);
const BLOB = randomBytes(300_000);
const blob = sha256Of(BLOB);
const slice = (offset: number, length: number) => BLOB.subarray(offset, offset + length);
const part = (offset: number, length: number, shippedIn: number): BundlePart => ({ blob, size: BLOB.length, offset, length, digest: sha256Of(slice(offset, length)), shippedIn });

async function bundleOf(parts: BundlePart[], staged: Buffer = BLOB): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  await writeBundle(out, {
    manifest: {
      format: BUNDLE_FORMAT_V3,
      sourceId: 'corp-nexus',
      sequence: 2,
      previous: sha256Of('bundle 1'),
      createdAt: '2026-11-23T19:00:00.000Z',
      entries: [{ kind: 'raw', source: { repository: 'raw-a', path: '/big.bin' }, target: { repository: 'raw-a', path: '/big.bin' }, digest: blob, size: BLOB.length, checksums: {} }],
      blobs: { included: [], required: [], parts },
    },
    // Several chunks, so slices cross chunk boundaries.
    blobs: async (digest: Digest) => {
      expect(digest).toBe(blob);
      return { size: staged.length, open: async () => Readable.from([staged.subarray(0, 70_001), staged.subarray(70_001, 200_000), staged.subarray(200_000)]) };
    },
    signer: localSigner(privateKey),
  });
  return Buffer.concat(chunks);
}

describe('bundles carrying parts of a split blob', () => {
  it('writes each carried part as parts/sha256/<blob>/<offset> and verifies it into onPart', async () => {
    // Prepare: the first part came in bundle 1, this bundle carries the other two
    const parts = [part(0, 100_000, 1), part(100_000, 120_000, 2), part(220_000, 80_000, 2)];
    const tar = await bundleOf(parts);
    const seen: { offset: number; bytes: Buffer }[] = [];

    // Act
    const summary = await readBundleSummary(Readable.from([tar]), 'corp-nexus-00000002.tar');
    await verifyBundle(Readable.from([tar]), {
      where: 'corp-nexus-00000002.tar',
      trustedKeys: [publicKey],
      onPart: async (p, content) => {
        const chunks: Buffer[] = [];
        for await (const chunk of content) chunks.push(chunk as Buffer);
        seen.push({ offset: p.offset, bytes: Buffer.concat(chunks) });
      },
    });

    // Assess
    expect(summary.members.map((m) => m.name).filter((n) => n.startsWith('parts/'))).toEqual([partMember(parts[1]!), partMember(parts[2]!)]);
    expect(partMember(parts[1]!)).toBe(`parts/sha256/${blob.slice(7)}/100000`);
    expect(seen.map((s) => s.offset)).toEqual([100_000, 220_000]);
    expect(Buffer.concat(seen.map((s) => s.bytes)).equals(BLOB.subarray(100_000))).toBe(true);
  });

  it('reads a part of a staged blob by range from the directory store, without its prefix', async () => {
    // Prepare
    const dir = await mkdtemp(path.join(tmpdir(), 'ferry-parts-'));
    const store = new DirObjectStore(path.join(dir, 'objects'));
    await store.putBlob(Readable.from([BLOB]));

    // Act
    const source = await store.getBlob(blob);
    const chunks: Buffer[] = [];
    for await (const chunk of await source.openRange!(100_000, 219_999)) chunks.push(chunk as Buffer);
    await rm(dir, { recursive: true, force: true });

    // Assess
    expect(Buffer.concat(chunks).equals(slice(100_000, 120_000))).toBe(true);
  });

  it('refuses to seal a part whose staged bytes differ from the digest the manifest names', async () => {
    // Prepare: staging rotted after the digests were taken
    const rotten = Buffer.from(BLOB);
    rotten[150_000] = rotten[150_000]! ^ 1;

    // Act / Assess
    await expect(bundleOf([part(0, 100_000, 1), part(100_000, 200_000, 2)], rotten)).rejects.toThrow(`blob ${sha256Of(slice(100_000, 200_000))}: staged content sha256 mismatch`);
  });
});
