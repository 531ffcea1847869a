/**
 * Blobs bigger than the media, end to end through the real CLI: a 10 MiB raw artifact with
 * a 3 MiB bundle cap travels as parts across several bundles and arrives byte-identical; a
 * missing part or a tampered one is refused before any write.
 */
import { createHash } from 'node:crypto';
import { createPrivateKey } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_FORMAT_V1, BUNDLE_FORMAT_V3, partMember, readBundleSummary, writeBundle } from '../shared/bundle/index.ts';
import type { Digest } from '../shared/digest.ts';
import { localSigner } from '../shared/signing.ts';
import { bundles, content, makeWorld, runFerry, type World } from './support/world.ts';

const CAP = 3 * 1024 * 1024;
const BIG = content('big-layer', 10 * 1024 * 1024 + 123);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Byte offset of a tar member's data (ustar: 512-byte headers, data padded to 512). */
function memberOffset(buf: Buffer, name: string): number {
  let at = 0;
  while (at + 512 <= buf.length) {
    const memberName = buf.subarray(at, at + 100).toString('utf8').replace(/\0.*$/s, '');
    if (memberName === '') break;
    const size = parseInt(buf.subarray(at + 124, at + 136).toString('utf8').replace(/\0.*$/s, '').trim(), 8);
    if (memberName === name) return at + 512;
    at += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${name} not in the bundle`);
}

describe('a blob bigger than bundles.maxBytes travels as parts', () => {
  let world: World;
  let files: string[];
  let exported: Awaited<ReturnType<typeof runFerry>>;

  beforeAll(async () => {
    world = await makeWorld({ exportOverrides: { bundles: { directory: 'bundles', maxBytes: CAP } } });
    world.source.putRawAsset('raw-a', '/layers/big.bin', BIG);
    world.source.putRawAsset('raw-b', '/small/one.txt', content('small', 4000));
    exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    files = await bundles(world);
  }, 120_000);
  afterAll(async () => world?.close());

  it('seals every bundle within the cap, the parts named by blob digest and offset in signed v3 manifests', async () => {
    // Prepare: exported in beforeAll
    // Act
    const summaries = await Promise.all(files.map((f) => readBundleSummary(createReadStream(f), path.basename(f))));

    // Assess
    expect(exported.code, exported.stderr).toBe(0);
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const file of files) expect((await stat(file)).size).toBeLessThanOrEqual(CAP);
    const blob = `sha256:${sha256(BIG)}`;
    const carried = summaries.flatMap((s) => (s.manifest.blobs.parts ?? []).filter((p) => p.shippedIn === s.manifest.sequence));
    expect(carried.map((p) => p.offset)).toEqual(carried.map((_, i) => carried.slice(0, i).reduce((n, p) => n + p.length, 0)));
    expect(carried.reduce((n, p) => n + p.length, 0)).toBe(BIG.length);
    for (const part of carried) {
      expect(part.blob).toBe(blob);
      expect(part.digest).toBe(`sha256:${sha256(BIG.subarray(part.offset, part.offset + part.length))}`);
    }
    for (const s of summaries) {
      const own = (s.manifest.blobs.parts ?? []).filter((p) => p.shippedIn === s.manifest.sequence);
      expect(s.manifest.format).toBe(own.length > 0 ? BUNDLE_FORMAT_V3 : BUNDLE_FORMAT_V1);
      expect(s.members.filter((m) => m.name.startsWith('parts/')).map((m) => m.name)).toEqual(own.map(partMember));
    }
    const last = summaries.find((s) => s.manifest.entries.some((e) => e.digest === blob))!;
    const lastParts = last.manifest.blobs.parts!;
    expect(lastParts.at(-1)!.offset + lastParts.at(-1)!.length).toBe(BIG.length);
    expect(lastParts.map((p) => p.offset)).toEqual(carried.map((p) => p.offset));
  });

  it('lists the parts in the HTML report beside each bundle and in ferry inspect', async () => {
    // Act
    const pages = await Promise.all(files.map((f) => readFile(f.replace(/\.tar$/, '.html'), 'utf8')));
    const inspected = await runFerry(['inspect', files.at(-1)!], world.env);

    // Assess
    for (const page of pages.slice(0, -1)) expect(page).toContain('Parts of blobs bigger than the media');
    const last = pages.at(-1)!;
    expect(last).toContain(`sha256:${sha256(BIG)}`);
    expect(last).toContain('this bundle');
    expect(inspected.stdout).toMatch(/parts {7}1 carried .* of 1 blob\(s\) bigger than the media; 1 complete in this bundle/);
    expect(inspected.stdout).toContain('shipped in parts');
  });

  it('verify checks every part and the blob they make', async () => {
    // Act
    const verified = await runFerry(['verify', '--config', world.importConfig, ...files], world.env);

    // Assess
    expect(verified.code, verified.stderr + verified.stdout).toBe(0);
  });

  it('refuses an import with one part bundle missing, naming the part, before any write', async () => {
    // Prepare: every bundle but the second
    const without = files.filter((_, i) => i !== 1);

    // Act
    const verified = await runFerry(['verify', '--config', world.importConfig, '--allow-gap', ...without], world.env);
    const imported = await runFerry(['import', '--config', world.importConfig, '--allow-gap', ...without], world.env);

    // Assess
    for (const run of [verified, imported]) {
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain(`blob sha256:${sha256(BIG)}`);
      expect(run.stderr).toMatch(/part at offset \d+ .* is missing: it travels in bundle sequence 2 \(test-source-00000002\.tar\)/);
    }
    expect(world.target.assetPaths('raw-a')).toEqual([]);
    expect(world.target.assetPaths('raw-b')).toEqual([]);
  });

  it('refuses a tampered part before any write', async () => {
    // Prepare: one flipped byte in the second bundle's part
    const dir = path.join(world.dir, 'tampered');
    await mkdir(dir, { recursive: true });
    const copies = await Promise.all(files.map(async (f) => {
      const to = path.join(dir, path.basename(f));
      await copyFile(f, to);
      return to;
    }));
    const second = await readBundleSummary(createReadStream(copies[1]!), 'second');
    const part = second.manifest.blobs.parts!.find((p) => p.shippedIn === 2)!;
    const buf = await readFile(copies[1]!);
    const at = memberOffset(buf, partMember(part)) + 1000;
    buf[at] = buf[at]! ^ 0x01;
    await writeFile(copies[1]!, buf);

    // Act
    const verified = await runFerry(['verify', '--config', world.importConfig, ...copies], world.env);
    const imported = await runFerry(['import', '--config', world.importConfig, ...copies], world.env);

    // Assess
    for (const run of [verified, imported]) {
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain(`member ${partMember(part)}: sha256 mismatch`);
    }
    expect(world.target.assetPaths('raw-a')).toEqual([]);
    expect(world.target.assetPaths('raw-b')).toEqual([]);
  });

  it('refuses parts that are each intact but do not make the blob the signed manifest names, before any write', async () => {
    // Prepare: a bundle of another chain, signed by the trusted key, whose parts are BIG's but whose blob digest is not
    const forged = path.join(world.dir, 'forged-00000001.tar');
    const blob = `sha256:${sha256(content('not-big', BIG.length))}` as Digest;
    const third = Math.floor(BIG.length / 3);
    const parts = [0, third, 2 * third].map((offset, i) => {
      const length = i === 2 ? BIG.length - offset : third;
      return { blob, size: BIG.length, offset, length, digest: `sha256:${sha256(BIG.subarray(offset, offset + length))}` as Digest, shippedIn: 1 };
    });
    const out = createWriteStream(forged);
    await writeBundle(out, {
      manifest: {
        format: BUNDLE_FORMAT_V3, sourceId: 'forged', sequence: 1, previous: null, createdAt: new Date().toISOString(),
        entries: [{ kind: 'raw', source: { repository: 'raw-a', path: '/forged.bin' }, target: { repository: 'raw-a', path: '/forged.bin' }, digest: blob, size: BIG.length, checksums: {} }],
        blobs: { included: [], required: [], parts },
      },
      blobs: async () => ({ size: BIG.length, open: async () => Readable.from([BIG]) }),
      signer: localSigner(createPrivateKey(await readFile(path.join(world.dir, 'export.key'), 'utf8'))),
    });

    // Act
    const verified = await runFerry(['verify', '--config', world.importConfig, forged], world.env);
    const imported = await runFerry(['import', '--config', world.importConfig, forged], world.env);

    // Assess
    for (const run of [verified, imported]) {
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain(`forged-00000001.tar: blob ${blob} put together from its parts:`);
    }
    expect(world.target.assetPaths('raw-a')).toEqual([]);
  });

  it('keeps the parts of earlier imports until the last one comes, then only the blob they make; the artifact arrives byte-identical', async () => {
    // Act: every bundle but the last, then (verified alone, its earlier parts held) the last
    const first = await runFerry(['import', '--config', world.importConfig, ...files.slice(0, -1)], world.env);
    const afterFirst = world.target.assetPaths('raw-a');
    const heldAfterFirst = await heldBlobs(world.dir);
    const verified = await runFerry(['verify', '--config', world.importConfig, files.at(-1)!], world.env);
    const last = await runFerry(['import', '--config', world.importConfig, files.at(-1)!], world.env);

    // Assess
    expect(first.code, first.stderr).toBe(0);
    expect(afterFirst).toEqual([]);
    expect(verified.code, verified.stderr + verified.stdout).toBe(0);
    expect(last.code, last.stderr).toBe(0);
    expect(world.target.getAsset('raw-a', '/layers/big.bin')!.content.equals(BIG)).toBe(true);
    expect(world.target.assetPaths('raw-b')).toEqual(['/small/one.txt']);
    const receipt = JSON.parse(await readFile(path.join(world.receiptsDir, path.basename(files.at(-1)!).replace(/\.tar$/, '.receipt.json')), 'utf8'));
    const payload = JSON.parse(receipt.payload);
    expect(payload.entries.map((e: { path: string; outcome: string }) => [e.path, e.outcome])).toContainEqual(['/layers/big.bin', 'imported']);
    expect(payload.blobsHeld).toContainEqual({ digest: `sha256:${sha256(BIG)}`, size: BIG.length });
    // The held store: the earlier parts while the blob waited for its last; then the blob alone
    const partDigests = new Set<string>();
    for (const file of files) for (const part of (await readBundleSummary(createReadStream(file), file)).manifest.blobs.parts ?? []) partDigests.add(part.digest);
    const earlier = (await readBundleSummary(createReadStream(files.at(-2)!), files.at(-2)!)).manifest.blobs.parts!.map((p) => p.digest);
    expect(earlier.every((d) => heldAfterFirst.includes(d))).toBe(true);
    const heldAfterLast = await heldBlobs(world.dir);
    expect(heldAfterLast).toContain(`sha256:${sha256(BIG)}`);
    expect(heldAfterLast.filter((d) => partDigests.has(d))).toEqual([]);
  });

  it('takes back every receipt: each part a receipt lists that this chain shipped by then is recorded, none ignored', async () => {
    // Act: each receipt applied on the export side in turn. Those written while the blob waited
    // for its last part list the parts held then; the last lists the blob, its parts removed.
    const receipts = (await readdir(world.receiptsDir)).filter((f) => f.endsWith('.receipt.json')).sort();
    const applied = [];
    for (const receipt of receipts) applied.push(await runFerry(['receipt', 'apply', '--config', world.exportConfig, path.join(world.receiptsDir, receipt)], world.env));

    // Assess
    const parts = new Set<string>();
    for (const file of files) for (const part of (await readBundleSummary(createReadStream(file), file)).manifest.blobs.parts ?? []) parts.add(part.digest);
    const told = new Set<string>();
    for (const receipt of receipts) {
      for (const held of JSON.parse(JSON.parse(await readFile(path.join(world.receiptsDir, receipt), 'utf8')).payload).blobsHeld as { digest: string }[]) told.add(held.digest);
    }
    expect(receipts).toHaveLength(files.length);
    for (const run of applied) expect(run.code, run.stderr).toBe(0);
    expect(parts.size).toBeGreaterThan(2);
    expect([...parts].filter((d) => told.has(d)).length).toBeGreaterThan(0);
    // A part is ignored only by a receipt older than the bundle that shipped it (held early, by
    // the refused import above); the forged bundle's parts are not this chain's at all
    const shippedIn = new Map<string, number>();
    for (const file of files) for (const part of (await readBundleSummary(createReadStream(file), file)).manifest.blobs.parts ?? []) shippedIn.set(part.digest, part.shippedIn);
    const wronglyIgnored = applied.flatMap((run, i) =>
      [...(run.stderr + run.stdout).matchAll(/sha256:[0-9a-f]{64}/g)].map((m) => m[0]).filter((d) => shippedIn.has(d) && shippedIn.get(d)! <= i + 1),
    );
    expect(wronglyIgnored).toEqual([]);
  });

  it('does not ship the split blob again: a later entry with its bytes requires it from the bundle that completed it', async () => {
    // Prepare: the same bytes under another path
    world.source.putRawAsset('raw-b', '/copy/big.bin', BIG);

    // Act
    const again = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const now = await bundles(world);
    const next = await readBundleSummary(createReadStream(now.at(-1)!), 'next');
    const imported = await runFerry(['import', '--config', world.importConfig, now.at(-1)!], world.env);

    // Assess
    expect(again.code, again.stderr).toBe(0);
    expect(now).toHaveLength(files.length + 1);
    expect((await stat(now.at(-1)!)).size).toBeLessThan(64 * 1024);
    expect(next.manifest.blobs.required).toEqual([{ digest: `sha256:${sha256(BIG)}`, size: BIG.length, shippedIn: files.length }]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(world.target.getAsset('raw-b', '/copy/big.bin')!.content.equals(BIG)).toBe(true);
  });
});

/** The digests in the import side's held store (import-work/objects). */
async function heldBlobs(worldDir: string): Promise<string[]> {
  const dir = path.join(worldDir, 'import-work', 'objects', 'blobs', 'sha256');
  return (await readdir(dir).catch(() => [] as string[])).map((hex) => `sha256:${hex}`);
}
