/**
 * Content that comes back, end to end through the real CLI: a raw artifact overwritten and
 * then restored to its earlier bytes, a docker tag moved to another image and back. The far
 * side must end up with what the source has again ("nothing lost"), and what it was sent
 * before is required from the earlier bundle, not sent twice.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readBundleSummary } from '../shared/bundle/index.ts';
import { makeImage, makeLayer, pushImage, type TestImage } from './support/images.ts';
import { makeImageWorld, type ImageWorld } from './support/image-world.ts';
import { bundles, content, makeWorld, runFerry, type World } from './support/world.ts';

async function exportOnce(world: { exportConfig: string; env: NodeJS.ProcessEnv }): Promise<void> {
  const run = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
  expect(run.code, run.stderr).toBe(0);
}

async function importAll(world: { importConfig: string; env: NodeJS.ProcessEnv }, files: string[]): Promise<void> {
  const run = await runFerry(['import', '--config', world.importConfig, ...files], world.env);
  expect(run.code, run.stderr).toBe(0);
}

/** Exports, imports what the export sealed, and answers every bundle so far. */
async function carry(world: World | ImageWorld, before: number): Promise<string[]> {
  await exportOnce(world);
  const files = await bundles(world);
  await importAll(world, files.slice(before));
  return files;
}

const summary = (file: string) => readBundleSummary(createReadStream(file), path.basename(file));

describe('content restored to what it was before', () => {
  let world: World | ImageWorld | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it('a raw artifact overwritten and then restored to its earlier bytes is carried again and is back on the target, byte for byte', async () => {
    // Prepare: v1 carried, then overwritten with v2 and carried; v2 uploaded again with the same bytes carries nothing
    const raw = await makeWorld();
    world = raw;
    const [v1, v2] = [content('version one', 3000), content('version two', 2500)];
    raw.source.putRawAsset('raw-a', '/r/app.bin', v1);
    await carry(raw, 0);
    raw.source.putRawAsset('raw-a', '/r/app.bin', v2);
    await carry(raw, 1);
    raw.source.putRawAsset('raw-a', '/r/app.bin', v2);
    await exportOnce(raw);
    expect(await bundles(raw), 'the same bytes again: no bundle').toHaveLength(2);
    expect(raw.target.getAsset('raw-a', '/r/app.bin')?.content).toEqual(v2);

    // Act: v1's bytes restored on the source; a second run finds nothing more
    raw.source.putRawAsset('raw-a', '/r/app.bin', v1);
    await exportOnce(raw);
    await exportOnce(raw);
    const files = await bundles(raw);
    expect(files, 'one bundle more, and only one').toHaveLength(3);
    await importAll(raw, files.slice(2));

    // Assess
    const third = await summary(files[2]!);
    const digest = `sha256:${createHash('sha256').update(v1).digest('hex')}`;
    expect(third.manifest.entries).toEqual([expect.objectContaining({ kind: 'raw', target: { repository: 'raw-a', path: '/r/app.bin' }, digest })]);
    expect(third.manifest.blobs).toEqual({ included: [], required: [{ digest, size: 3000, shippedIn: 1 }] });
    expect(raw.target.getAsset('raw-a', '/r/app.bin')?.content).toEqual(v1);
  });

  it.each([
    { discovery: 'nexus', how: 'listed by Nexus' },
    { discovery: 'registry', how: 'found in a plain registry catalog' },
  ] as const)('a docker tag $how moved to another image and back is carried again and names its first manifest on the target', async ({ discovery }) => {
    // Prepare: team/app:1.0 on image one, carried; then on image two (same base layer), carried
    const images = await makeImageWorld({ docker: { discovery } });
    world = images;
    const publish = (image: TestImage) => (discovery === 'nexus' ? images.publish('team/app', '1.0', image) : pushImage(images.sourceClient, 'team/app', '1.0', image));
    const base = await makeLayer({ 'etc/os-release': 'ID=ferrytest\n' });
    const one = makeImage({ layers: [base, await makeLayer({ 'app/version': '1\n' })] });
    const two = makeImage({ layers: [base, await makeLayer({ 'app/version': '2\n' })] });
    await publish(one);
    await carry(images, 0);
    await publish(two);
    await carry(images, 1);
    expect((await images.targetClient.headManifest('team/app', '1.0'))?.digest).toBe(two.manifest.digest);

    // Act: the tag moved back to image one; a second run finds nothing more
    await publish(one);
    await exportOnce(images);
    await exportOnce(images);
    const files = await bundles(images);
    expect(files, 'one bundle more, and only one').toHaveLength(3);
    await importAll(images, files.slice(2));

    // Assess: every blob of image one was shipped in bundle 1
    const third = await summary(files[2]!);
    expect(third.manifest.entries).toEqual([expect.objectContaining({ kind: 'image', digest: one.manifest.digest })]);
    expect(third.manifest.blobs.included).toEqual([]);
    expect(third.manifest.blobs.required.map((b) => b.shippedIn)).toEqual(third.manifest.blobs.required.map(() => 1));
    expect(third.manifest.blobs.required.map((b) => b.digest)).toContain(one.manifest.digest);
    expect((await images.targetClient.headManifest('team/app', '1.0'))?.digest).toBe(one.manifest.digest);
  });
});
