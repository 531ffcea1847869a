/**
 * One write per byte on the isolated side: an image layer is verified in the bundle, then
 * uploaded from the bundle by range, never copied into the importer's held store first; the
 * receipt still says the far side holds it (in the target registry). A bundle file replaced
 * between its verification and a ranged read is refused by name.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleFileInput, DirObjectStore } from '../shared/adapters/embedded/index.ts';
import { BlobsAtHand, type RangeReader } from '../shared/core/import/at-hand.ts';
import { sha256Of } from '../shared/digest.ts';
import { decodeFarSideDocument } from '../shared/core/receipts/codec.ts';
import { makeImage, makeLayer } from './support/images.ts';
import { imageWorldsPerTest } from './support/image-world.ts';
import { skopeoInspectRaw } from './support/skopeo.ts';
import { bundles as bundleFiles, runFerry } from './support/world.ts';

const perTest = imageWorldsPerTest();

const drain = async (stream: AsyncIterable<unknown>) => {
  for await (const _ of stream);
};

describe('importing by ranged reads of the bundle', () => {
  it('uploads an image layer straight from the bundle: the held store keeps its manifest, not its layer, and the receipt lists both', async () => {
    // Prepare: an image with a 300 KB layer, exported by the real CLI
    const world = await perTest.world();
    const layer = await makeLayer({ 'data/blob': randomBytes(300_000) });
    const image = makeImage({ layers: [layer] });
    await world.publish('ranges/app', '1.0', image);
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const files = await bundleFiles(world);

    // Act
    const imported = await runFerry(['import', '--config', world.importConfig, ...files], world.env);

    // Assess
    expect(imported.code, imported.stderr).toBe(0);
    expect((await skopeoInspectRaw(`${world.target.host}/ranges/app:1.0`)).equals(image.manifest.bytes)).toBe(true);
    const heldDir = path.join(world.dir, 'import-work', 'objects', 'blobs', 'sha256');
    expect(existsSync(path.join(heldDir, layer.digest.slice(7)))).toBe(false);
    expect(existsSync(path.join(heldDir, image.config.digest.slice(7)))).toBe(false);
    expect(existsSync(path.join(heldDir, image.manifest.digest.slice(7)))).toBe(true);
    const [receiptFile] = (await readdir(path.join(world.dir, 'receipts'))).filter((f) => f.endsWith('.receipt.json'));
    const document = decodeFarSideDocument(await readFile(path.join(world.dir, 'receipts', receiptFile!), 'utf8'), 'receipt');
    const held = document.kind === 'receipt' ? document.receipt.blobsHeld : [];
    expect(held).toContainEqual({ digest: layer.digest, size: layer.size });
    expect(held).toContainEqual({ digest: image.manifest.digest, size: image.manifest.bytes.length });
  }, 60_000);

  it('refuses, naming the file, a range of a bundle file replaced since it was verified', async () => {
    // Prepare: a "bundle" file read whole once, as the verify pass reads it, then replaced
    const scratch = await perTest.scratch('ferry-ranges-');
    const file = path.join(scratch, 'src-00000001.tar');
    await writeFile(file, Buffer.alloc(4096, 1));
    const input = bundleFileInput(file);
    await drain(await input.open());
    let read = 0;
    for await (const chunk of await input.openRange!(512, 1024)) read += (chunk as Buffer).length;
    await writeFile(file, Buffer.alloc(8192, 2));

    // Act
    const after = input.openRange!(512, 1024);

    // Assess
    expect(read).toBe(1024);
    await expect(after).rejects.toThrow(`${file} changed since it was verified`);
  });

  it('rechecks every bundle it will read from before a bundle is applied, refusing one replaced since', async () => {
    // Prepare: a verified "bundle" whose blob is recorded as a range, then the file replaced
    const scratch = await perTest.scratch('ferry-ranges-');
    const file = path.join(scratch, 'src-00000002.tar');
    await writeFile(file, Buffer.alloc(4096, 3));
    const input = bundleFileInput(file);
    await drain(await input.open());
    const atHand = new BlobsAtHand(new DirObjectStore(path.join(scratch, 'held')));
    const digest = sha256Of(Buffer.alloc(1024, 3));
    atHand.addRange(digest, input as RangeReader, 512, 1024);
    await atHand.recheck();
    await writeFile(file, Buffer.alloc(5000, 4));

    // Act
    const rechecked = atHand.recheck();

    // Assess
    await expect(rechecked).rejects.toThrow(`${file} changed since it was verified`);
    expect(await atHand.available(digest)).toBe(true);
  });
});

