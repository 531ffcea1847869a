/**
 * The receipt loop heals, both ways, through the real CLI. When the far side lacks a blob
 * the near side believes it holds (a wiped held store, a wrong receipt), the import stops
 * before any write and writes a signed resend request; applied on the export side, the next
 * bundle carries the blob; the two bundles then import together. And a receipt of this
 * chain cannot make the export side believe what this chain never shipped.
 */
import { createPrivateKey } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readBundleSummary } from '../shared/bundle/index.ts';
import { decodeReceipt, encodeReceipt, RECEIPT_FORMAT, RESEND_FORMAT, type Receipt, type ResendRequestDocument } from '../shared/core/receipts/codec.ts';
import { sha256Of } from '../shared/digest.ts';
import { generateSigningKeyPair, localSigner } from '../shared/signing.ts';
import { content, makeWorld, runFerry, type World } from './support/world.ts';

interface LoopWorld extends World {
  export(): Promise<string[]>;
  bundles(): Promise<string[]>;
  /** Signs a receipt as the far side would (its receipt key). */
  forgeReceipt(receipt: Receipt, file: string): Promise<string>;
}

async function makeLoopWorld(): Promise<LoopWorld> {
  const receiptKeys = generateSigningKeyPair();
  const world = await makeWorld({
    importOverrides: { receipts: { directory: 'receipts', signingKeyFile: 'import.key' } },
    exportOverrides: { receipts: { trustedPublicKeyFiles: ['import.pub'] } },
  });
  await writeFile(path.join(world.dir, 'import.key'), receiptKeys.privateKeyPem, { mode: 0o600 });
  await writeFile(path.join(world.dir, 'import.pub'), receiptKeys.publicKeyPem);
  const bundles = async () => (await readdir(world.bundlesDir).catch(() => [])).filter((f) => f.endsWith('.tar')).sort().map((f) => path.join(world.bundlesDir, f));
  return {
    ...world,
    bundles,
    async export() {
      const before = new Set(await bundles());
      const run = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
      expect(run.code, run.stderr).toBe(0);
      return (await bundles()).filter((b) => !before.has(b));
    },
    async forgeReceipt(receipt, name) {
      const file = path.join(world.dir, name);
      await writeFile(file, await encodeReceipt(receipt, localSigner(createPrivateKey(receiptKeys.privateKeyPem))));
      return file;
    },
  };
}

const summaryOf = (file: string) => readBundleSummary(createReadStream(file), path.basename(file));

describe('the receipt loop heals', () => {
  let world: LoopWorld | undefined;
  afterEach(async () => world?.close());

  it('a far side that lost a blob asks for it again; the next bundle carries it and the two import together', async () => {
    // Prepare: bundle 1 carries X and is imported; then the far side loses its held blobs
    world = await makeLoopWorld();
    const x = content('x', 4000);
    world.source.putRawAsset('raw-a', '/a/x.bin', x);
    const [b1] = await world.export();
    expect((await runFerry(['import', '--config', world.importConfig, b1!], world.env)).code).toBe(0);
    await rm(path.join(world.dir, 'import-work', 'objects'), { recursive: true, force: true });
    world.source.putRawAsset('raw-a', '/b/x-copy.bin', x);
    world.source.putRawAsset('raw-a', '/b/new.bin', content('new', 1000));
    const [b2] = await world.export();
    const requiredInB2 = (await summaryOf(b2!)).manifest.blobs.required;

    // Act
    const refused = await runFerry(['import', '--config', world.importConfig, b2!], world.env);
    const targetAfterRefusal = world.target.assetPaths('raw-a');
    const request = path.join(world.receiptsDir, 'test-source-00000002.resend-request.json');
    const applied = await runFerry(['receipt', 'apply', '--config', world.exportConfig, request], world.env);
    const [b3] = await world.export();
    const verifiedTogether = await runFerry(['verify', '--config', world.importConfig, b2!, b3!], world.env);
    const healed = await runFerry(['import', '--config', world.importConfig, b2!, b3!], world.env);

    // Assess
    expect(requiredInB2).toEqual([{ digest: sha256Of(x), size: x.length, shippedIn: 1 }]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(sha256Of(x));
    expect(refused.stderr).toContain('bundle sequence 1');
    expect(refused.stderr).toContain('wrote the resend request');
    expect(targetAfterRefusal).toEqual(['/a/x.bin']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('the next bundle carries them again');
    const b3Summary = await summaryOf(b3!);
    expect(b3Summary.manifest.blobs.included.map((b) => b.digest)).toEqual([sha256Of(x)]);
    expect(b3Summary.manifest.entries).toEqual([]);
    expect(verifiedTogether.code, verifiedTogether.stderr).toBe(0);
    expect(healed.code, healed.stderr).toBe(0);
    expect(world.target.getAsset('raw-a', '/b/x-copy.bin')?.content.equals(x)).toBe(true);
    expect(world.target.getAsset('raw-a', '/b/new.bin')?.content.equals(content('new', 1000))).toBe(true);
  });

  it('a receipt of another chain that wrongly says the far side holds a blob is healed the same way', async () => {
    // Prepare: another export site's receipt (signed by the far side's key) claims Y is held
    world = await makeLoopWorld();
    const y = content('y', 3000);
    const lie = await world.forgeReceipt(
      {
        format: RECEIPT_FORMAT,
        sourceId: 'other-site',
        bundle: { name: 'other-site-00000001.tar', digest: sha256Of('other bundle'), sequence: 1 },
        importedAt: '2026-12-01T00:00:00.000Z',
        entries: [],
        summary: { imported: 0, present: 0 },
        blobsHeld: [{ digest: sha256Of(y), size: y.length }],
      },
      'other-site.receipt.json',
    );
    expect((await runFerry(['receipt', 'apply', '--config', world.exportConfig, lie], world.env)).code).toBe(0);
    world.source.putRawAsset('raw-a', '/c/y.bin', y);
    const [b1] = await world.export();

    // Act
    const refused = await runFerry(['import', '--config', world.importConfig, b1!], world.env);
    const request = path.join(world.receiptsDir, 'test-source-00000001.resend-request.json');
    const applied = await runFerry(['receipt', 'apply', '--config', world.exportConfig, request], world.env);
    const [b2] = await world.export();
    const healed = await runFerry(['import', '--config', world.importConfig, b1!, b2!], world.env);

    // Assess
    expect((await summaryOf(b1!)).manifest.blobs.required).toEqual([{ digest: sha256Of(y), size: y.length, shippedIn: 0 }]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('a receipt said this side held it');
    expect(applied.code, applied.stderr).toBe(0);
    expect((await summaryOf(b2!)).manifest.blobs.included.map((b) => b.digest)).toEqual([sha256Of(y)]);
    expect(healed.code, healed.stderr).toBe(0);
    expect(world.target.getAsset('raw-a', '/c/y.bin')?.content.equals(y)).toBe(true);
  });

  it('ignores, with a warning, blobs a receipt of this chain lists that the chain never shipped up to its bundle', async () => {
    // Prepare: a receipt of this chain for bundle 1 that also lists Z, which no bundle shipped
    world = await makeLoopWorld();
    world.source.putRawAsset('raw-a', '/d/1.bin', content('d1', 500));
    const [b1] = await world.export();
    expect((await runFerry(['import', '--config', world.importConfig, b1!], world.env)).code).toBe(0);
    const z = content('z', 2500);
    const honest = path.join(world.receiptsDir, 'test-source-00000001.receipt.json');
    const receipt = decodeReceipt(await readFile(honest, 'utf8'), 'honest');
    const lie = await world.forgeReceipt({ ...receipt, blobsHeld: [...receipt.blobsHeld, { digest: sha256Of(z), size: z.length }] }, 'own-chain-lie.receipt.json');

    // Act
    const applied = await runFerry(['receipt', 'apply', '--config', world.exportConfig, lie], world.env);
    world.source.putRawAsset('raw-a', '/d/z.bin', z);
    const [b2] = await world.export();

    // Assess
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr).toContain('ignored 1 blob(s) the receipt says the far side holds but this chain never shipped up to bundle 1');
    expect(applied.stderr).toContain(sha256Of(z));
    const b2Summary = await summaryOf(b2!);
    expect(b2Summary.manifest.blobs.included.map((b) => b.digest)).toEqual([sha256Of(z)]);
    expect(b2Summary.manifest.blobs.required).toEqual([]);
  });

  it('bundles imported together each get a receipt the export side takes whole: none lists what a later bundle shipped', async () => {
    // Prepare: two bundles of this chain, each with a blob of its own, imported in one run
    world = await makeLoopWorld();
    world.source.putRawAsset('raw-a', '/e/1.bin', content('e1', 700));
    const [b1] = await world.export();
    world.source.putRawAsset('raw-a', '/e/2.bin', content('e2', 900));
    const [b2] = await world.export();
    expect((await runFerry(['import', '--config', world.importConfig, b1!, b2!], world.env)).code).toBe(0);
    const receiptOf = (sequence: number) => path.join(world!.receiptsDir, `test-source-0000000${sequence}.receipt.json`);

    // Act: applied in the order they were written
    const first = await runFerry(['receipt', 'apply', '--config', world.exportConfig, receiptOf(1)], world.env);
    const second = await runFerry(['receipt', 'apply', '--config', world.exportConfig, receiptOf(2)], world.env);

    // Assess: no warning, and each receipt lists its own bundle's blob, the second both
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    expect(first.stderr + second.stderr).not.toContain('never shipped');
    const held = async (sequence: number) => decodeReceipt(await readFile(receiptOf(sequence), 'utf8'), `receipt ${sequence}`).blobsHeld.map((b) => b.digest);
    expect(await held(1)).toEqual([sha256Of(content('e1', 700))]);
    expect((await held(2)).sort()).toEqual([sha256Of(content('e1', 700)), sha256Of(content('e2', 900))].sort());
  });

  it('refuses a resend request for another source, naming it, and records nothing', async () => {
    // Prepare: a resend request written for a chain this export side is not
    world = await makeLoopWorld();
    const file = path.join(world.dir, 'elsewhere.resend-request.json');
    const signer = localSigner(createPrivateKey(await readFile(path.join(world.dir, 'import.key'))));
    const request: ResendRequestDocument = {
      format: RESEND_FORMAT,
      sourceId: 'other-site',
      bundle: { name: 'other-site-00000004.tar', digest: sha256Of('b4'), sequence: 4 },
      requestedAt: '2026-12-01T00:00:00.000Z',
      missing: [{ digest: sha256Of('m'), size: 1, shippedIn: 2, neededBy: [{ index: 0, source: { repository: 'raw-a', path: '/m.bin' } }] }],
    };
    await writeFile(file, await encodeReceipt(request, signer));

    // Act
    const applied = await runFerry(['receipt', 'apply', '--config', world.exportConfig, file], world.env);

    // Assess
    expect(applied.code).toBe(1);
    expect(applied.stderr).toContain('a resend request for source other-site: apply it on that source\'s export side (this one is test-source)');
  });
});
