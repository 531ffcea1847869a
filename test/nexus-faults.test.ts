/**
 * The source misbehaves (5xx, 429 with Retry-After, a body cut short, wrong bytes): Ferry
 * retries what is transient and refuses what is wrong, and never stages a bad checksum.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { content, makeWorld, runFerry, type World } from './support/world.ts';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sealedBundles = async (world: World) => (await readdir(world.bundlesDir).catch(() => [])).filter((f) => f.endsWith('.tar'));

describe('Nexus faults during export', () => {
  let world: World;
  afterEach(async () => world?.close());

  it('retries 500s on the listing and a 429 with Retry-After on a download, then succeeds', async () => {
    // Prepare
    world = await makeWorld();
    world.source.putRawAsset('raw-a', '/f/one.bin', content('one'));
    world.source.injectFault({ method: 'GET', url: /^\/service\/rest\/v1\/components\?repository=raw-a/, kind: 'status', status: 500, times: 2 });
    world.source.injectFault({ method: 'GET', url: /^\/repository\/raw-a\/f\/one\.bin/, kind: 'retry-after', retryAfter: '1', times: 1 });

    // Act
    const run = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);

    // Assess
    expect(run.code, run.stderr).toBe(0);
    const listing = world.source.requests.filter((r) => r.url.startsWith('/service/rest/v1/components?repository=raw-a'));
    expect(listing.map((r) => r.status)).toEqual([500, 500, 200]);
    const downloads = world.source.requests.filter((r) => r.url.startsWith('/repository/raw-a/f/one.bin'));
    expect(downloads.map((r) => r.status)).toEqual([429, 200]);
    expect(run.stderr).toMatch(/retrying/);
    expect(await sealedBundles(world)).toHaveLength(1);
  });

  it('retries a body cut short and stages the full, correct bytes', async () => {
    // Prepare
    world = await makeWorld();
    const bytes = content('long', 200_000);
    world.source.putRawAsset('raw-a', '/f/long.bin', bytes);
    world.source.injectFault({ method: 'GET', url: /^\/repository\/raw-a\/f\/long\.bin/, kind: 'truncate', afterBytes: 65_536, times: 1 });

    // Act
    const run = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);

    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(existsSync(path.join(world.dir, 'export-work/objects/blobs/sha256', sha256(bytes)))).toBe(true);
    expect(world.source.requests.filter((r) => r.url.startsWith('/repository/raw-a/f/long.bin')).length).toBe(2);
  });

  it('refuses wrong bytes: never staged, reported with the path, and shipped once the source is right', async () => {
    // Prepare: every download of bad.bin is corrupted; good.bin is fine
    world = await makeWorld();
    const good = content('good');
    const bad = content('bad', 3000);
    world.source.putRawAsset('raw-a', '/f/good.bin', good);
    world.source.putRawAsset('raw-a', '/f/bad.bin', bad);
    world.source.injectFault({ method: 'GET', url: /^\/repository\/raw-a\/f\/bad\.bin/, kind: 'corrupt', times: 100 });

    // Act
    const first = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);

    // Assess: refused and not staged, the good one shipped
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/raw-a\/f\/bad\.bin/);
    expect(first.stderr).toMatch(/mismatch/);
    const staged = await readdir(path.join(world.dir, 'export-work/objects/blobs/sha256'));
    expect(staged).toEqual([sha256(good)]);
    expect(await sealedBundles(world)).toHaveLength(1);

    // Act again: the source is healthy now; the failed task is retried, not forgotten
    world.source.clearFaults();
    const second = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    expect(second.code, second.stderr).toBe(0);
    expect(await sealedBundles(world)).toHaveLength(2);
    const staged2 = await readdir(path.join(world.dir, 'export-work/objects/blobs/sha256'));
    expect(staged2.sort()).toEqual([sha256(good), sha256(bad)].sort());
  });
});
