/**
 * Docker / OCI images end to end against the real CNCF registry (docker-registry from
 * Debian) on both sides, with skopeo as the independent judge of what arrived.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBundleSummary } from '../shared/bundle/index.ts';
import { makeImage, makeIndex, makeLayer, type Layer, type TestImage, type TestIndex } from './support/images.ts';
import { makeImageWorld, type ImageWorld } from './support/image-world.ts';
import { skopeoCopy, skopeoInspectRaw, skopeoInspectRawAt } from './support/skopeo.ts';
import { runFerry, spawnFerry, bundles as bundleFiles } from './support/world.ts';

const summaryOf = (file: string) => readBundleSummary(createReadStream(file), path.basename(file));

describe('images with layer-level delta', () => {
  let world: ImageWorld;
  let base: Layer[];
  const first: { name: string; tag: string; image: TestImage }[] = [];

  beforeAll(async () => {
    world = await makeImageWorld();
    base = [await makeLayer({ 'etc/os-release': 'ID=ferrytest\n', 'bin/sh': Buffer.alloc(300_000, 7) }), await makeLayer({ 'usr/lib/libc.so': Buffer.alloc(200_000, 3) })];
    for (let i = 0; i < 10; i++) {
      const own = await makeLayer({ [`app/app-${i}`]: `application ${i}\n`.repeat(1000 + i) });
      const image = makeImage({ layers: [...base, own], format: i % 2 === 0 ? 'oci' : 'docker' });
      first.push({ name: `team/app-${i}`, tag: '1.0.0', image });
      await world.publish(`team/app-${i}`, '1.0.0', image);
    }
  });
  afterAll(async () => world?.close());

  it('carries 10 images sharing two base layers; every target manifest is bit-identical (skopeo)', async () => {
    // Act
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const files = await bundleFiles(world);
    const imported = await runFerry(['import', '--config', world.importConfig, ...files], world.env);

    // Assess
    expect(exported.code, exported.stderr).toBe(0);
    expect(imported.code, imported.stderr).toBe(0);
    expect(files).toHaveLength(1);
    const summary = await summaryOf(files[0]!);
    const baseShipped = summary.manifest.blobs.included.filter((b) => base.some((l) => l.digest === b.digest));
    expect(baseShipped).toHaveLength(2); // each base layer once, not ten times
    for (const { name, tag, image } of first) {
      const sourceRaw = await skopeoInspectRaw(`${world.source.host}/${name}:${tag}`);
      const targetRaw = await skopeoInspectRaw(`${world.target.host}/${name}:${tag}`);
      expect(targetRaw.equals(sourceRaw), `${name}:${tag}`).toBe(true);
      expect(targetRaw.equals(image.manifest.bytes)).toBe(true);
    }
    const ociDir = await mkdtemp(path.join(tmpdir(), 'ferry-oci-'));
    await skopeoCopy(`docker://${world.target.host}/team/app-3:1.0.0`, `oci:${ociDir}:app-3`);
    expect((await stat(path.join(ociDir, 'index.json'))).isFile()).toBe(true);
  });

  it('is an OCI layout that skopeo reads straight from the bundle', async () => {
    // Prepare
    const [file] = await bundleFiles(world);

    // Act
    const raw = await skopeoInspectRawAt(`oci-archive:${file}:team/app-4:1.0.0`);

    // Assess
    expect(raw.equals(first[4]!.image.manifest.bytes)).toBe(true);
  });

  it('ships exactly the new layers, configs and manifests of 3 new tags, listing the base as required', async () => {
    // Prepare: 3 new tags, one new layer each on the shared base
    const added: TestImage[] = [];
    for (let i = 0; i < 3; i++) {
      const own = await makeLayer({ [`app/new-${i}`]: `new ${i}\n`.repeat(2000 + i) });
      const image = makeImage({ layers: [...base, own] });
      added.push(image);
      await world.publish('team/app-0', `2.${i}.0`, image);
    }

    // Act
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const files = await bundleFiles(world);
    const imported = await runFerry(['import', '--config', world.importConfig, files[1]!], world.env);

    // Assess
    expect(exported.code, exported.stderr).toBe(0);
    expect(imported.code, imported.stderr).toBe(0);
    const second = await summaryOf(files[1]!);
    const shippedBytes = second.manifest.blobs.included.reduce((n, b) => n + b.size, 0);
    const expectedBytes = added.reduce((n, image) => n + image.layers[2]!.size + image.config.size + image.manifest.bytes.length, 0);
    expect(shippedBytes).toBe(expectedBytes);
    const required = second.manifest.blobs.required.map((b) => b.digest).sort();
    expect(required).toEqual(base.map((l) => l.digest).sort());
    expect(second.manifest.blobs.required.every((b) => b.shippedIn === 1)).toBe(true);
    for (let i = 0; i < 3; i++) {
      const targetRaw = await skopeoInspectRaw(`${world.target.host}/team/app-0:2.${i}.0`);
      expect(targetRaw.equals(added[i]!.manifest.bytes)).toBe(true);
    }
  });

  it('ships a moved tag as its new manifest and only its new blobs', async () => {
    // Prepare: 1.0.0 of app-1 now points at a new image on the same base
    const own = await makeLayer({ 'app/moved': 'moved\n'.repeat(3000) });
    const moved = makeImage({ layers: [...base, own] });
    await world.publish('team/app-1', '1.0.0', moved);

    // Act
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const files = await bundleFiles(world);
    const imported = await runFerry(['import', '--config', world.importConfig, files.at(-1)!], world.env);

    // Assess
    expect(exported.code, exported.stderr).toBe(0);
    expect(imported.code, imported.stderr).toBe(0);
    const last = await summaryOf(files.at(-1)!);
    expect(last.manifest.entries).toHaveLength(1);
    expect(last.manifest.blobs.included.map((b) => b.digest).sort()).toEqual([own.digest, moved.config.digest, moved.manifest.digest].sort());
    expect((await skopeoInspectRaw(`${world.target.host}/team/app-1:1.0.0`)).equals(moved.manifest.bytes)).toBe(true);
  });
});

describe('skopeo reading OCI-typed images straight from a bundle (docs/bundle-format.md)', () => {
  let world: ImageWorld;
  let file: string;
  let image: TestImage;
  let index: TestIndex;

  /** A blob of the OCI layout directory skopeo wrote. */
  const blobIn = (dir: string, digest: string) => readFile(path.join(dir, 'blobs/sha256', digest.slice(7)));

  beforeAll(async () => {
    world = await makeImageWorld();
    image = makeImage({ layers: [await makeLayer({ 'bin/tool': 'tool\n'.repeat(800) })] });
    const platform = (architecture: string) =>
      (async () => makeImage({ layers: [await makeLayer({ 'bin/app': `${architecture} build\n`.repeat(500) })], platform: { os: 'linux', architecture } }))();
    index = makeIndex([await platform('amd64'), await platform('arm64')]);
    await world.publish('oci/tool', '1.0.0', image);
    await world.publish('oci/multi', '2.0.0', index);
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    expect(exported.code, exported.stderr).toBe(0);
    file = (await bundleFiles(world))[0]!;
  });
  afterAll(async () => world?.close());

  it('copies an OCI image manifest out of the bundle with its manifest and blobs bit-identical', async () => {
    // Prepare
    const dir = path.join(world.dir, 'copied-tool');

    // Act
    await skopeoCopy(`oci-archive:${file}:oci/tool:1.0.0`, `oci:${dir}:tool`, { all: false });

    // Assess
    const copied = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    expect(copied.manifests.map((m) => m.digest)).toEqual([image.manifest.digest]);
    expect((await blobIn(dir, image.manifest.digest)).equals(image.manifest.bytes)).toBe(true);
    for (const [digest, bytes] of image.blobs) expect((await blobIn(dir, digest)).equals(bytes), digest).toBe(true);
  });

  it('reads an OCI index from the bundle and copies every platform with --all', async () => {
    // Prepare
    const dir = path.join(world.dir, 'copied-multi');

    // Act
    const raw = await skopeoInspectRawAt(`oci-archive:${file}:oci/multi:2.0.0`);
    await skopeoCopy(`oci-archive:${file}:oci/multi:2.0.0`, `oci:${dir}:multi`, { all: true });

    // Assess
    expect(raw.equals(index.manifest.bytes)).toBe(true);
    const copied = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    expect(copied.manifests.map((m) => m.digest)).toEqual([index.manifest.digest]);
    for (const child of index.images) {
      expect((await blobIn(dir, child.manifest.digest)).equals(child.manifest.bytes)).toBe(true);
      for (const [digest, bytes] of child.blobs) expect((await blobIn(dir, digest)).equals(bytes), digest).toBe(true);
    }
  });
});

describe('an image import killed with SIGKILL', () => {
  let world: ImageWorld;
  afterAll(async () => world?.close());

  it('never leaves a tag pointing at an incomplete image, and a re-run completes', async () => {
    // Prepare: 12 images with sizeable layers, one bundle
    world = await makeImageWorld();
    const base = await makeLayer({ 'base/blob': Buffer.alloc(400_000, 5) });
    const images: { name: string; image: TestImage }[] = [];
    for (let i = 0; i < 12; i++) {
      const own = await makeLayer({ [`app/${i}`]: Buffer.alloc(600_000 + i, i + 1) });
      const image = makeImage({ layers: [base, own] });
      images.push({ name: `kill/app-${i}`, image });
      await world.publish(`kill/app-${i}`, 'v1', image);
    }
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const [bundle] = await bundleFiles(world);

    // Act: kill the importer as soon as some tag has landed on the target
    const child = spawnFerry(['import', '--config', world.importConfig, bundle!], world.env);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 30_000;
    let tagged = 0;
    while (tagged === 0 && child.exitCode === null && Date.now() < deadline) {
      tagged = (await Promise.all(images.map((i) => world.targetClient.headManifest(i.name, 'v1')))).filter(Boolean).length;
    }
    child.kill('SIGKILL');
    await exited;

    // Assess (after the kill): every tag that exists points at an image whose blobs are all there
    let complete = 0;
    for (const { name, image } of images) {
      const head = await world.targetClient.headManifest(name, 'v1');
      if (head === undefined) continue;
      expect(head.digest).toBe(image.manifest.digest);
      for (const digest of image.blobs.keys()) expect(await world.targetClient.headBlob(name, digest), `${name} ${digest}`).toBeDefined();
      complete += 1;
    }
    expect(complete).toBeGreaterThan(0);
    expect(complete, "the kill landed mid-import").toBeLessThan(images.length);

    // Act again, then assess: everything is there
    const rerun = await runFerry(['import', '--config', world.importConfig, bundle!], world.env);
    expect(rerun.code, rerun.stderr).toBe(0);
    for (const { name, image } of images) {
      expect((await skopeoInspectRaw(`${world.target.host}/${name}:v1`)).equals(image.manifest.bytes)).toBe(true);
    }
  });
});
