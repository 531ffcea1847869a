/**
 * The loop heals for blobs bigger than the media, end to end through the real CLI: a 10 MiB
 * raw artifact through a 3 MiB bundle cap, one part bundle lost. The import is refused,
 * naming the part, and writes a resend request for the whole blob; applied on the export
 * side, the next export ships the blob again in new parts, and the bundles the far side has
 * (the lost one still missing) import with the artifact byte-identical. Two lost bundles
 * with parts of two blobs give two resend requests in one run: one trip back heals both.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBundleSummary } from '../shared/bundle/index.ts';
import { bundles, content, makeWorld, runFerry, type World } from './support/world.ts';

const CAP = 3 * 1024 * 1024;
const BIG = content('big-layer', 10 * 1024 * 1024 + 123);
const BLOB = `sha256:${createHash('sha256').update(BIG).digest('hex')}`;

describe('a lost bundle carrying a part of a blob bigger than the media', () => {
  let world: World;
  let files: string[];

  beforeAll(async () => {
    world = await makeWorld({ exportOverrides: { bundles: { directory: 'bundles', maxBytes: CAP } } });
    world.source.putRawAsset('raw-a', '/layers/big.bin', BIG);
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    expect(exported.code, exported.stderr).toBe(0);
    files = await bundles(world);
    expect(files.length).toBeGreaterThanOrEqual(4);
  }, 120_000);
  afterAll(async () => world?.close());

  it('is healed: a resend request names the blob, the export side ships it again in parts, the artifact arrives byte-identical', async () => {
    // Prepare: every bundle but the second (lost on the way)
    const received = files.filter((_, i) => i !== 1);
    const last = path.basename(files.at(-1)!).replace(/\.tar$/, '');
    const requestFile = path.join(world.receiptsDir, `${last}.resend-request.json`);
    const requests = async () => (await readdir(world.receiptsDir).catch(() => [])).filter((f) => f.endsWith('.resend-request.json'));

    // Act: verify (writes nothing), import (refused, writes the request), carry it back, export, import again
    const verified = await runFerry(['verify', '--config', world.importConfig, '--allow-gap', ...received], world.env);
    const requestsAfterVerify = await requests();
    const refused = await runFerry(['import', '--config', world.importConfig, '--allow-gap', ...received], world.env);
    const targetAfterRefusal = world.target.assetPaths('raw-a');
    const request = JSON.parse(JSON.parse(await readFile(requestFile, 'utf8')).payload);
    const applied = await runFerry(['receipt', 'apply', '--config', world.exportConfig, requestFile], world.env);
    const again = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const resent = (await bundles(world)).slice(files.length);
    const verifiedTogether = await runFerry(['verify', '--config', world.importConfig, '--allow-gap', ...received, ...resent], world.env);
    const healed = await runFerry(['import', '--config', world.importConfig, '--allow-gap', ...received, ...resent], world.env);

    // Assess: refused, naming the part, before any write; the request names the blob and the entry needing it
    expect(verified.code).toBe(1);
    expect(verified.stderr).toMatch(/part at offset \d+ .* is missing: it travels in bundle sequence 2 \(test-source-00000002\.tar\)/);
    expect(requestsAfterVerify).toEqual([]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/part at offset \d+ .* is missing: it travels in bundle sequence 2 \(test-source-00000002\.tar\)/);
    expect(refused.stderr).toContain(`wrote the resend request ${requestFile}`);
    expect(targetAfterRefusal).toEqual([]);
    expect(request.sourceId).toBe('test-source');
    expect(request.bundle).toMatchObject({ name: `${last}.tar`, sequence: files.length });
    expect(request.missing).toEqual([
      { digest: BLOB, size: BIG.length, shippedIn: files.length, neededBy: [{ index: 0, source: { repository: 'raw-a', path: '/layers/big.bin' } }] },
    ]);
    // The export side ships the whole blob again, split into new parts carried by the new bundles
    expect(applied.code, applied.stderr).toBe(0);
    expect(again.code, again.stderr).toBe(0);
    expect(resent.length).toBeGreaterThanOrEqual(4);
    const summaries = await Promise.all(resent.map((f) => readBundleSummary(createReadStream(f), f)));
    const carried = summaries.flatMap((s) => (s.manifest.blobs.parts ?? []).filter((p) => p.shippedIn === s.manifest.sequence));
    expect(carried.every((p) => p.blob === BLOB && p.shippedIn > files.length)).toBe(true);
    expect(carried.reduce((n, p) => n + p.length, 0)).toBe(BIG.length);
    expect(summaries.flatMap((s) => s.manifest.entries)).toEqual([]);
    // The far side, still without the lost bundle, completes the entry
    expect(verifiedTogether.code, verifiedTogether.stderr).toBe(0);
    expect(healed.code, healed.stderr).toBe(0);
    expect(world.target.getAsset('raw-a', '/layers/big.bin')!.content.equals(BIG)).toBe(true);
    // No part stays held: neither the new split's nor the first one's the received bundles brought
    const everyPart = new Set<string>();
    for (const file of [...received, ...resent]) for (const part of (await readBundleSummary(createReadStream(file), file)).manifest.blobs.parts ?? []) everyPart.add(part.digest.slice(7));
    const held = await readdir(path.join(world.dir, 'import-work', 'objects', 'blobs', 'sha256'));
    expect(held.filter((hex) => everyPart.has(hex))).toEqual([]);
  });
});

describe('lost bundles carrying parts of two blobs that complete in different bundles', () => {
  let world: World | undefined;
  afterAll(async () => world?.close());

  it('writes a resend request for each refused bundle in one run, and one trip back heals both', async () => {
    // Prepare: two 3 MiB artifacts through a 1 MiB cap; lose a bundle carrying only a part of
    // the first blob (not its last), and one carrying only a part of the second
    world = await makeWorld({ exportOverrides: { bundles: { directory: 'bundles', maxBytes: 1024 * 1024 } } });
    const a = content('first-big', 3 * 1024 * 1024 + 11);
    const b = content('second-big', 3 * 1024 * 1024 + 22);
    world.source.putRawAsset('raw-a', '/big/a.bin', a);
    world.source.putRawAsset('raw-a', '/big/b.bin', b);
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const files = await bundles(world);
    const carried = await Promise.all(
      files.map(async (file) => {
        const { manifest } = await readBundleSummary(createReadStream(file), file);
        return (manifest.blobs.parts ?? []).filter((p) => p.shippedIn === manifest.sequence);
      }),
    );
    const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const onlyMiddleOf = (blob: string) => carried.findIndex((parts) => parts.length > 0 && parts.every((p) => p.blob === blob && p.offset + p.length < p.size));
    const lost = [onlyMiddleOf(digestOf(a)), onlyMiddleOf(digestOf(b))];
    expect(lost.every((i) => i >= 0)).toBe(true);
    const received = files.filter((_, i) => !lost.includes(i));
    const requests = async () => (await readdir(world!.receiptsDir).catch(() => [] as string[])).filter((f) => f.endsWith('.resend-request.json')).sort();

    // Act
    const refused = await runFerry(['import', '--config', world.importConfig, '--allow-gap', ...received], world.env);
    const written = await requests();
    const afterRefusal = world.target.assetPaths('raw-a');
    for (const file of written) expect((await runFerry(['receipt', 'apply', '--config', world.exportConfig, path.join(world.receiptsDir, file)], world.env)).code).toBe(0);
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const resent = (await bundles(world)).slice(files.length);
    const healed = await runFerry(['import', '--config', world.importConfig, '--allow-gap', ...received, ...resent], world.env);

    // Assess
    expect(refused.code).toBe(1);
    expect(refused.stderr.match(/part at offset \d+ .* is missing/g)).toHaveLength(2);
    expect(written).toHaveLength(2);
    expect(refused.stderr).toContain('wrote the resend requests');
    expect(afterRefusal).toEqual([]);
    expect(healed.code, healed.stderr).toBe(0);
    expect(world.target.getAsset('raw-a', '/big/a.bin')!.content.equals(a)).toBe(true);
    expect(world.target.getAsset('raw-a', '/big/b.bin')!.content.equals(b)).toBe(true);
  }, 120_000);
});

