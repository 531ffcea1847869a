/**
 * Images beyond the simple case: multi-platform indexes and platform filters, referrers
 * (cosign tags, OCI 1.1 subject), Bearer-token registries, and receipts closing the loop.
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readBundleSummary } from '../shared/bundle/index.ts';
import { decodeFarSideDocument, encodeReceipt, RECEIPT_FORMAT } from '../shared/core/receipts/codec.ts';
import { sha256Of } from '../shared/digest.ts';
import { OCI_EMPTY, OCI_INDEX, OCI_MANIFEST } from '../shared/oci/media-types.ts';
import { bufferSource, makeImage, makeIndex, makeLayer, pushImage, type TestImage } from './support/images.ts';
import { makeImageWorld, type ImageWorld } from './support/image-world.ts';
import { skopeoInspectRaw } from './support/skopeo.ts';
import { bundles as bundleFiles, runFerry } from './support/world.ts';

async function twoPlatformIndex() {
  const amd = makeImage({ layers: [await makeLayer({ 'bin/app': 'amd64 build\n'.repeat(500) })], platform: { os: 'linux', architecture: 'amd64' } });
  const arm = makeImage({ layers: [await makeLayer({ 'bin/app': 'arm64 build\n'.repeat(500) })], platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  return { amd, arm, index: makeIndex([amd, arm]) };
}

async function exportAndImport(world: ImageWorld) {
  const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
  const files = await bundleFiles(world);
  const imported = files.length > 0 ? await runFerry(['import', '--config', world.importConfig, ...files], world.env) : undefined;
  return { exported, imported, files };
}

/**
 * Pushes an SBOM artifact whose subject is `subject`, and — docker-registry 2.8 has no
 * referrers API — the OCI referrers tag schema index listing it, as clients do.
 */
async function attachSbom(world: ImageWorld, name: string, subject: TestImage, sbomText: string) {
  const sbom = Buffer.from(sbomText);
  const empty = Buffer.from('{}');
  await world.sourceClient.uploadBlob(name, sha256Of(sbom), bufferSource(sbom));
  await world.sourceClient.uploadBlob(name, sha256Of(empty), bufferSource(empty));
  const referrer = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/spdx+json',
      config: { mediaType: OCI_EMPTY, digest: sha256Of(empty), size: empty.length },
      layers: [{ mediaType: 'application/spdx+json', digest: sha256Of(sbom), size: sbom.length }],
      subject: { mediaType: subject.manifest.mediaType, digest: subject.manifest.digest, size: subject.manifest.bytes.length },
    }),
  );
  await world.sourceClient.putManifest(name, sha256Of(referrer), { mediaType: OCI_MANIFEST, bytes: referrer });
  const referrersTag = `sha256-${subject.manifest.digest.slice(7)}`;
  const referrersIndex = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha256Of(referrer), size: referrer.length, artifactType: 'application/spdx+json' }] }),
  );
  await world.sourceClient.putManifest(name, referrersTag, { mediaType: OCI_INDEX, bytes: referrersIndex });
  return { referrer, referrersTag, referrersIndex };
}

describe('image variants', () => {
  let world: ImageWorld;
  afterEach(async () => world?.close());

  it('carries a two-platform index with both platforms, digests unchanged', async () => {
    // Prepare
    world = await makeImageWorld();
    const { amd, arm, index } = await twoPlatformIndex();
    await world.publish('multi/app', '3.1.0', index);

    // Act
    const { exported, imported } = await exportAndImport(world);

    // Assess
    expect(exported.code, exported.stderr).toBe(0);
    expect(imported?.code, imported?.stderr).toBe(0);
    expect((await skopeoInspectRaw(`${world.target.host}/multi/app:3.1.0`)).equals(index.manifest.bytes)).toBe(true);
    expect((await skopeoInspectRaw(`${world.target.host}/multi/app@${amd.manifest.digest}`)).equals(amd.manifest.bytes)).toBe(true);
    expect((await skopeoInspectRaw(`${world.target.host}/multi/app@${arm.manifest.digest}`)).equals(arm.manifest.bytes)).toBe(true);
  });

  it('with a platform filter ships only that platform and a rewritten index, and says so', async () => {
    // Prepare
    world = await makeImageWorld({ docker: { platforms: ['linux/arm64'] } });
    const { amd, arm, index } = await twoPlatformIndex();
    await world.publish('multi/app', '3.1.0', index);

    // Act
    const { exported, imported, files } = await exportAndImport(world);

    // Assess
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toMatch(/index rewritten to platforms linux\/arm64/);
    expect(imported?.code, imported?.stderr).toBe(0);
    const summary = await readBundleSummary(createReadStream(files[0]!), 'b');
    const shipped = summary.manifest.blobs.included.map((b) => b.digest);
    expect(shipped).toContain(arm.manifest.digest);
    expect(shipped).not.toContain(amd.manifest.digest);
    expect(shipped).not.toContain(amd.layers[0]!.digest);
    const targetIndex = JSON.parse((await skopeoInspectRaw(`${world.target.host}/multi/app:3.1.0`)).toString());
    expect(targetIndex.manifests.map((m: { digest: string }) => m.digest)).toEqual([arm.manifest.digest]);
  });

  it('knows a platform-filtered index by its rewritten digest: a scan that finds the tag again copies nothing and warns no more', async () => {
    // Prepare: exported once; the next scan lists the tag again (inside its overlap)
    world = await makeImageWorld({ docker: { platforms: ['linux/arm64'] } });
    const { index } = await twoPlatformIndex();
    await world.publish('multi/again', '1.0.0', index);
    const first = await runFerry(['export', '--once', '-v', '--config', world.exportConfig], world.env);

    // Act
    const again = await runFerry(['export', '--once', '-v', '--config', world.exportConfig], world.env);

    // Assess
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/index rewritten to platforms linux\/arm64/);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/index rewritten/);
    expect((await readdir(world.bundlesDir)).filter((f) => f.endsWith('.tar'))).toHaveLength(1);
  });

  it('refuses to ship a partial index when a child manifest is missing and no platforms are set', async () => {
    // Prepare: an index whose arm64 child has vanished from the source registry
    world = await makeImageWorld();
    const { arm, index } = await twoPlatformIndex();
    await world.publish('multi/broken', '1.0.0', index);
    await world.sourceClient.deleteManifest('multi/broken', arm.manifest.digest);

    // Act
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);

    // Assess
    expect(exported.code).toBe(1);
    expect(exported.stderr).toMatch(/multi\/broken:1\.0\.0.*refusing to ship a partial index/);
    expect(exported.stderr).toContain(arm.manifest.digest);
    expect(await bundleFiles(world).catch(() => [])).toEqual([]);
  });

  it('discovers a plain registry through its catalog and tags list, keeping only the tags the filters select', async () => {
    // Prepare: tags pushed to the registry only (the Nexus stand-in lists nothing)
    world = await makeImageWorld({ docker: { discovery: 'registry', images: { exclude: '^internal/' }, tags: { semver: '>=1.2.0 <2' } } });
    const layer = await makeLayer({ 'app/x': 'x\n' });
    const image = makeImage({ layers: [layer] });
    for (const tag of ['1.1.0', '1.2.0', 'v1.5.3', '2.0.0', 'latest']) await pushImage(world.sourceClient, 'plain/app', tag, image);
    await pushImage(world.sourceClient, 'internal/tool', '1.3.0', image);

    // Act
    const { exported, imported, files } = await exportAndImport(world);

    // Assess
    expect(exported.code, exported.stderr).toBe(0);
    expect(imported?.code, imported?.stderr).toBe(0);
    const summary = await readBundleSummary(createReadStream(files[0]!), 'b');
    expect(summary.manifest.entries.map((e) => (e.kind === 'image' ? `${e.source.name}:${e.source.tag}` : '')).sort()).toEqual(['plain/app:1.2.0', 'plain/app:v1.5.3']);
    expect(await world.targetClient.headManifest('plain/app', 'latest')).toBeUndefined();
    expect((await skopeoInspectRaw(`${world.target.host}/plain/app:v1.5.3`)).equals(image.manifest.bytes)).toBe(true);
  });

  it('carries a cosign-style .sig tag and an OCI 1.1 referrer with their subject', async () => {
    // Prepare: a subject, a cosign signature tag, and an SBOM artifact whose subject is it
    world = await makeImageWorld();
    const subject = makeImage({ layers: [await makeLayer({ 'app/signed': 'signed\n' })] });
    await world.publish('signed/app', '1.0.0', subject);
    const signature = makeImage({ layers: [await makeLayer({ 'signature.json': '{"critical":{}}' })] });
    const sigTag = `sha256-${subject.manifest.digest.slice(7)}.sig`;
    await world.publish('signed/app', sigTag, signature);
    const { referrer, referrersIndex } = await attachSbom(world, 'signed/app', subject, '{"spdxVersion":"SPDX-2.3"}');

    // Act
    const { exported, imported, files } = await exportAndImport(world);

    // Assess: one entry (the subject), with both referrers travelling in it
    expect(exported.code, exported.stderr).toBe(0);
    expect(imported?.code, imported?.stderr).toBe(0);
    const summary = await readBundleSummary(createReadStream(files[0]!), 'b');
    expect(summary.manifest.entries).toHaveLength(1);
    expect((await skopeoInspectRaw(`${world.target.host}/signed/app:${sigTag}`)).equals(signature.manifest.bytes)).toBe(true);
    expect((await skopeoInspectRaw(`${world.target.host}/signed/app@${sha256Of(referrer)}`)).equals(referrer)).toBe(true);
    const targetReferrers = await skopeoInspectRaw(`${world.target.host}/signed/app:sha256-${subject.manifest.digest.slice(7)}`);
    expect(targetReferrers.equals(referrersIndex)).toBe(true);
  });

  it('carries a signature and a referrer pushed after their image was exported, alone, needing their subject on the target', async () => {
    // Prepare: push and export the image; then sign it (cosign tag) and attach an SBOM (referrers tag schema)
    world = await makeImageWorld();
    const subject = makeImage({ layers: [await makeLayer({ 'app/late': 'signed later\n' })] });
    await world.publish('late/app', '1.0.0', subject);
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const signature = makeImage({ layers: [await makeLayer({ 'signature.json': '{"critical":{"late":true}}' })] });
    const sigTag = `sha256-${subject.manifest.digest.slice(7)}.sig`;
    await world.publish('late/app', sigTag, signature);
    const { referrer, referrersTag, referrersIndex } = await attachSbom(world, 'late/app', subject, '{"spdxVersion":"SPDX-2.3","name":"late"}');
    world.nexus.putDockerTag('docker-hosted', 'late/app', referrersTag, referrersIndex, OCI_INDEX);

    // Act: the second export; its bundle alone (no subject on the target), then the chain in order
    const second = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const files = await bundleFiles(world);
    const alone = await runFerry(['import', '--allow-gap', '--config', world.importConfig, files[1]!], world.env);
    const tagsAfterAlone = await world.targetClient.headManifest('late/app', sigTag);
    const inOrder = await runFerry(['import', '--config', world.importConfig, ...files], world.env);

    // Assess
    expect(second.code, second.stderr).toBe(0);
    expect(files).toHaveLength(2);
    const summary = await readBundleSummary(createReadStream(files[1]!), 'b');
    expect(summary.manifest.entries.map((e) => (e.kind === 'image' ? e.target.tag : '')).sort()).toEqual([referrersTag, sigTag].sort());
    expect(summary.manifest.blobs.included.map((b) => b.digest)).not.toContain(subject.manifest.digest);
    expect(alone.code).toBe(1);
    expect(alone.stderr).toContain(`its subject ${subject.manifest.digest} is neither on the target nor in this bundle`);
    expect(tagsAfterAlone).toBeUndefined();
    expect(inOrder.code, inOrder.stderr).toBe(0);
    expect((await world.targetClient.headManifest('late/app', sigTag))?.digest).toBe(signature.manifest.digest);
    expect((await skopeoInspectRaw(`${world.target.host}/late/app:${sigTag}`)).equals(signature.manifest.bytes)).toBe(true);
    expect((await skopeoInspectRaw(`${world.target.host}/late/app@${sha256Of(referrer)}`)).equals(referrer)).toBe(true);
    expect((await skopeoInspectRaw(`${world.target.host}/late/app:${referrersTag}`)).equals(referrersIndex)).toBe(true);
  });

  it('exports from and imports to registries that demand Bearer tokens', async () => {
    // Prepare
    world = await makeImageWorld({ auth: 'token' });
    const image = makeImage({ layers: [await makeLayer({ 'app/token': 'token auth\n' })] });
    await world.publish('secure/app', '0.9.0', image);
    const tokensBefore = world.target.tokenRequests ?? 0;

    // Act
    const { exported, imported } = await exportAndImport(world);

    // Assess
    expect(exported.code, exported.stderr).toBe(0);
    expect(imported?.code, imported?.stderr).toBe(0);
    expect((world.target.tokenRequests ?? 0) - tokensBefore).toBeGreaterThan(0);
    expect((await skopeoInspectRaw(`${world.target.host}/secure/app:0.9.0`, { creds: world.creds! })).equals(image.manifest.bytes)).toBe(true);
    expect(exported.stderr + imported!.stderr).not.toContain(world.creds!.password);
  });

  it('refuses a bundle whose required blob the far side lacks before any write, naming blob and bundle, and writes a resend request', async () => {
    // Prepare: bundle 1 ships the base; bundle 2 needs it; the importer skips bundle 1 (--allow-gap)
    world = await makeImageWorld();
    const baseLayer = await makeLayer({ 'base/lib': Buffer.alloc(50_000, 1) });
    await world.publish('gap/base', '1', makeImage({ layers: [baseLayer] }));
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const needsBase = makeImage({ layers: [baseLayer, await makeLayer({ 'app/x': 'x' })] });
    const standalone = makeImage({ layers: [await makeLayer({ 'app/y': 'y' })] });
    await world.publish('gap/needs-base', '1', needsBase);
    await world.publish('gap/standalone', '1', standalone);
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const files = await bundleFiles(world);

    // Act
    const run = await runFerry(['import', '--allow-gap', '--config', world.importConfig, files[1]!], world.env);

    // Assess: nothing written, not even the image that needs nothing missing
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(baseLayer.digest);
    expect(run.stderr).toMatch(/bundle sequence 1/);
    expect(await world.targetClient.headManifest('gap/standalone', '1')).toBeUndefined();
    expect(await world.targetClient.headManifest('gap/needs-base', '1')).toBeUndefined();
    const request = decodeFarSideDocument(await readFile(path.join(world.dir, 'receipts', 'image-source-00000002.resend-request.json'), 'utf8'), 'resend');
    expect(request.kind).toBe('resend-request');
    if (request.kind === 'resend-request') {
      expect(request.request.missing.map((m) => m.digest)).toEqual([baseLayer.digest]);
      expect(request.request.missing[0]!.neededBy[0]!.source).toEqual({ repository: 'docker-hosted', name: 'gap/needs-base', tag: '1' });
    }
  });

  it('fetches again from the source a layer a wrong receipt kept it from staging, once the far side asks for it', async () => {
    // Prepare: a receipt of another chain (unsigned: no keys in this world) says layer L is held,
    // so the export side never fetches it; the far side has no such layer
    world = await makeImageWorld();
    const layer = await makeLayer({ 'lib/never-held': Buffer.alloc(40_000, 5) });
    const lie = path.join(world.dir, 'other.receipt.json');
    await writeFile(
      lie,
      await encodeReceipt(
        {
          format: RECEIPT_FORMAT,
          sourceId: 'other-site',
          bundle: { name: 'other-site-00000001.tar', digest: sha256Of('other'), sequence: 1 },
          importedAt: '2026-12-01T00:00:00.000Z',
          entries: [],
          summary: { imported: 0, present: 0 },
          blobsHeld: [{ digest: layer.digest, size: layer.size }],
        },
        undefined,
      ),
    );
    expect((await runFerry(['receipt', 'apply', '--config', world.exportConfig, lie], world.env)).code).toBe(0);
    const image = makeImage({ layers: [layer] });
    await world.publish('fetch/again', '1', image);
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const [first] = await bundleFiles(world);

    // Act: refused, asked for, applied, exported (the layer fetched again), imported together
    const refused = await runFerry(['import', '--config', world.importConfig, first!], world.env);
    const request = path.join(world.dir, 'receipts', 'image-source-00000001.resend-request.json');
    const applied = await runFerry(['receipt', 'apply', '--config', world.exportConfig, request], world.env);
    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    const files = await bundleFiles(world);
    const imported = await runFerry(['import', '--config', world.importConfig, ...files], world.env);

    // Assess
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(layer.digest);
    expect(applied.code, applied.stderr).toBe(0);
    expect(exported.code, exported.stderr).toBe(0);
    expect(files).toHaveLength(2);
    expect((await readBundleSummary(createReadStream(files[1]!), 'b')).manifest.blobs.included).toEqual([{ digest: layer.digest, size: layer.size }]);
    expect(imported.code, imported.stderr).toBe(0);
    expect((await skopeoInspectRaw(`${world.target.host}/fetch/again:1`)).equals(image.manifest.bytes)).toBe(true);
  });

  it('a receipt applied on another export side keeps what the far side holds out of its bundles', async () => {
    // Prepare: export side A ships an image; the far side imports it and writes a receipt.
    // Export side B (its own chain and state) has never shipped anything.
    world = await makeImageWorld();
    const shared = await makeLayer({ 'shared/big': Buffer.alloc(80_000, 9) });
    await world.publish('loop/one', '1', makeImage({ layers: [shared] }));
    const { imported } = await exportAndImport(world);
    expect(imported?.code, imported?.stderr).toBe(0);
    const receipts = (await readdir(path.join(world.dir, 'receipts'))).map((f) => path.join(world.dir, 'receipts', f));
    const configB = path.join(world.dir, 'export-b.yaml');
    const textA = await readFile(world.exportConfig, 'utf8');
    await writeFile(configB, textA.replace('sourceId: image-source', 'sourceId: image-source-b').replace('workDir: export-work', 'workDir: export-work-b').replace('directory: bundles', 'directory: bundles-b'));
    const two = makeImage({ layers: [shared, await makeLayer({ 'two/own': 'own' })] });
    await world.publish('loop/two', '1', two);

    // Act: B learns from A's receipt, exports, and the far side imports B's bundle
    const applied = await runFerry(['receipt', 'apply', '--config', configB, ...receipts], world.env);
    const exportedB = await runFerry(['export', '--once', '--config', configB], world.env);
    const [bundleB] = (await readdir(path.join(world.dir, 'bundles-b'))).filter((f) => f.endsWith('.tar')).map((f) => path.join(world.dir, 'bundles-b', f));
    const importedB = await runFerry(['import', '--config', world.importConfig, bundleB!], world.env);

    // Assess: the shared layer is required (held per receipt), not shipped, yet arrives
    expect(applied.code, applied.stderr).toBe(0);
    expect(exportedB.code, exportedB.stderr).toBe(0);
    const summary = await readBundleSummary(createReadStream(bundleB!), 'b');
    expect(summary.manifest.blobs.included.map((b) => b.digest)).not.toContain(shared.digest);
    expect(summary.manifest.blobs.required).toContainEqual({ digest: shared.digest, size: shared.size, shippedIn: 0 });
    expect(importedB.code, importedB.stderr).toBe(0);
    expect((await skopeoInspectRaw(`${world.target.host}/loop/two:1`)).equals(two.manifest.bytes)).toBe(true);
  });
});
