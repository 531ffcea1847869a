/**
 * An image layer bigger than the media (`bundles.maxBytes`), through the real CLI and
 * docker-registry 2.8 on both sides: the layer travels as parts across several bundles, the
 * import puts it together and verifies it before the first write, the image arrives as
 * skopeo reads it, and the layer does not stay held once its registry has it (later imports
 * mount it from there, as they do every layer). A lost part bundle of a layer whose image
 * entry waits in a later bundle is asked for again from that bundle, naming the image.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { readBundleSummary } from '../shared/bundle/index.ts';
import { makeImage, makeLayer } from './support/images.ts';
import { imageWorldsPerTest, type ImageWorld } from './support/image-world.ts';
import { skopeoCopy, skopeoInspectRaw } from './support/skopeo.ts';
import { bundles, runFerry } from './support/world.ts';

const CAP = 1024 * 1024;

const perTest = imageWorldsPerTest();

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** The held store's blobs (`import-work/objects/blobs/sha256/<hex>`). */
async function heldBlobs(w: ImageWorld): Promise<string[]> {
  return readdir(path.join(w.dir, 'import-work', 'objects', 'blobs', 'sha256')).catch(() => [] as string[]);
}

describe('an image layer bigger than the media', () => {
  it('travels in parts across bundles within the cap, arrives as skopeo reads it, and is not held once the registry has it', async () => {
    // Prepare: a layer of about 3 MiB of random bytes (gzip cannot shrink it) through a 1 MiB cap
    const world = await perTest.world();
    const config = parse(await readFile(world.exportConfig, 'utf8')) as Record<string, unknown>;
    await writeFile(world.exportConfig, stringify({ ...config, bundles: { directory: 'bundles', maxBytes: CAP } }));
    const layer = await makeLayer({ 'data/big.bin': randomBytes(3 * CAP + 4321) });
    const image = makeImage({ layers: [layer] });
    await world.publish('split/app', '1.0', image);

    // Act
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const files = await bundles(world);
    const verified = await runFerry(['verify', '--config', world.importConfig, ...files], world.env);
    const imported = await runFerry(['import', '--config', world.importConfig, ...files], world.env);
    const scratch = await perTest.scratch('ferry-split-layer-');
    await skopeoCopy(`docker://${world.target.host}/split/app:1.0`, `oci:${scratch}:app`, { all: false });

    // Assess
    expect(exported.code, exported.stderr).toBe(0);
    expect(files.length).toBeGreaterThanOrEqual(4);
    const parts = [];
    for (const file of files) {
      const summary = await readBundleSummary(createReadStream(file), file);
      expect((await stat(file)).size).toBeLessThanOrEqual(CAP);
      parts.push(...(summary.manifest.blobs.parts ?? []).filter((p) => p.shippedIn === summary.manifest.sequence));
    }
    expect(new Set(parts.map((p) => p.blob))).toEqual(new Set([layer.digest]));
    expect(parts.reduce((n, p) => n + p.length, 0)).toBe(layer.bytes.length);
    expect(verified.code, verified.stderr).toBe(0);
    expect(imported.code, imported.stderr).toBe(0);
    expect((await skopeoInspectRaw(`${world.target.host}/split/app:1.0`)).equals(image.manifest.bytes)).toBe(true);
    const copied = await readFile(path.join(scratch, 'blobs', 'sha256', layer.digest.slice(7)));
    expect(sha256(copied)).toBe(layer.digest.slice(7));
    const held = await heldBlobs(world);
    expect(held).not.toContain(layer.digest.slice(7));
    for (const part of parts) expect(held).not.toContain(part.digest.slice(7));
  }, 120_000);

  it('lost in part, asks again for the layer from the bundle whose entry needs it, naming the image; one trip back heals it', async () => {
    // Prepare: two layers of about 3 MiB each: the first completes in a bundle without the
    // image entry (it waits for the second); the bundle carrying the first layer's middle part is lost
    const world = await perTest.world();
    const config = parse(await readFile(world.exportConfig, 'utf8')) as Record<string, unknown>;
    await writeFile(world.exportConfig, stringify({ ...config, bundles: { directory: 'bundles', maxBytes: CAP } }));
    const first = await makeLayer({ 'data/one.bin': randomBytes(3 * CAP + 11) });
    const second = await makeLayer({ 'data/two.bin': randomBytes(3 * CAP + 22) });
    const image = makeImage({ layers: [first, second] });
    await world.publish('split/two', '1.0', image);
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const files = await bundles(world);
    const manifests = await Promise.all(files.map(async (file) => (await readBundleSummary(createReadStream(file), file)).manifest));
    const lost = manifests.findIndex((m) => (m.blobs.parts ?? []).some((p) => p.shippedIn === m.sequence && p.blob === first.digest && p.offset > 0 && p.offset + p.length < p.size));
    const holder = manifests.findIndex((m) => m.entries.length > 0);
    expect(lost).toBeGreaterThanOrEqual(0);
    const received = files.filter((_, i) => i !== lost);
    const requestFile = path.join(world.dir, 'receipts', `${path.basename(files[holder]!, '.tar')}.resend-request.json`);

    // Act
    const refused = await runFerry(['import', '--config', world.importConfig, '--allow-gap', ...received], world.env);
    const request = JSON.parse(JSON.parse(await readFile(requestFile, 'utf8')).payload);
    const applied = await runFerry(['receipt', 'apply', '--config', world.exportConfig, requestFile], world.env);
    const again = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const resent = (await bundles(world)).slice(files.length);
    const healed = await runFerry(['import', '--config', world.importConfig, '--allow-gap', ...received, ...resent], world.env);

    // Assess: the image entry is not in the bundle completing the first layer, yet the request names it
    expect(manifests[holder]!.blobs.parts?.at(-1)?.blob).toBe(second.digest);
    expect(refused.code).toBe(1);
    expect(request.bundle.sequence).toBe(manifests[holder]!.sequence);
    expect(request.missing).toEqual([
      expect.objectContaining({ digest: first.digest, neededBy: [{ index: 0, source: { repository: 'docker-hosted', name: 'split/two', tag: '1.0' } }] }),
    ]);
    expect([applied.code, again.code]).toEqual([0, 0]);
    expect(healed.code, healed.stderr).toBe(0);
    expect((await skopeoInspectRaw(`${world.target.host}/split/two:1.0`)).equals(image.manifest.bytes)).toBe(true);
  }, 120_000);
});

