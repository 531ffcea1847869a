/**
 * The bundle report end to end: a real export of raw files, a signed multi-platform image
 * with an SBOM, and an npm package seals a bundle with its report beside it; `ferry report`
 * makes one for any bundle (verified with keys or the import config, refused when the bundle
 * is tampered); and Debian's chromium, headless, renders it: the entries are in the DOM, a
 * name from the source stays text, and a screenshot is taken.
 */
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBundleSummary, type BundleManifest } from '../shared/bundle/index.ts';
import { RegistryClient } from '../shared/adapters/registry/index.ts';
import { sha256Of } from '../shared/digest.ts';
import { OCI_EMPTY, OCI_INDEX, OCI_MANIFEST } from '../shared/oci/media-types.ts';
import { dumpDom, screenshot } from './support/chromium.ts';
import { bufferSource, makeImage, makeIndex, makeLayer, pushImage, pushIndex, type TestIndex } from './support/images.ts';
import { seedNpm } from './support/npm-fixtures.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';
import { bundles, makeWorld, runFerry, type World } from './support/world.ts';

const HOSTILE = '/evil/<script>document.title="owned"</script>.bin';

/** A cosign-style signature tag and an SBOM in the OCI referrers tag schema (docker-registry 2.8 has no referrers API). */
async function signAndAttachSbom(client: RegistryClient, name: string, subject: TestIndex): Promise<void> {
  const signature = makeImage({ layers: [await makeLayer({ 'signature.json': '{"critical":{}}' })] });
  await pushImage(client, name, `sha256-${subject.manifest.digest.slice(7)}.sig`, signature);
  const sbom = Buffer.from('{"spdxVersion":"SPDX-2.3","name":"team/app"}');
  const empty = Buffer.from('{}');
  await client.uploadBlob(name, sha256Of(sbom), bufferSource(sbom));
  await client.uploadBlob(name, sha256Of(empty), bufferSource(empty));
  const referrer = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/spdx+json',
      config: { mediaType: OCI_EMPTY, digest: sha256Of(empty), size: empty.length },
      layers: [{ mediaType: 'application/spdx+json', digest: sha256Of(sbom), size: sbom.length }],
      subject: { mediaType: OCI_INDEX, digest: subject.manifest.digest, size: subject.manifest.bytes.length },
    }),
  );
  await client.putManifest(name, sha256Of(referrer), { mediaType: OCI_MANIFEST, bytes: referrer });
  const listing = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha256Of(referrer), size: referrer.length, artifactType: 'application/spdx+json' }] });
  await client.putManifest(name, `sha256-${subject.manifest.digest.slice(7)}`, { mediaType: OCI_INDEX, bytes: Buffer.from(listing) });
}

describe('bundle reports, rendered by a real headless browser', () => {
  let world: World;
  let registry: TestRegistry;
  let client: RegistryClient;
  let image: TestIndex;
  let first: string;
  let manifest: BundleManifest;
  let bundleDigest: string;

  beforeAll(async () => {
    registry = await startRegistry();
    const repositories = [
      { name: 'raw-a', format: 'raw', type: 'hosted' as const },
      { name: 'docker-hosted', format: 'docker', type: 'hosted' as const },
      { name: 'npm-hosted', format: 'npm', type: 'hosted' as const },
    ];
    const configRepositories = [{ name: 'raw-a', format: 'raw' }, { name: 'docker-hosted', format: 'docker', registry: { url: registry.url } }, { name: 'npm-hosted', format: 'npm' }];
    world = await makeWorld({ repositories: ['raw-a'], source: { repositories }, target: { repositories }, configRepositories });
    client = new RegistryClient({ baseUrl: registry.url });
    world.source.putRawAsset('raw-a', HOSTILE, Buffer.from('not a script\n'));
    world.source.putRawAsset('raw-a', '/tools/cli-1.4.2.bin', Buffer.alloc(40_000, 7));
    const amd = makeImage({ layers: [await makeLayer({ 'bin/app': 'amd64 build\n'.repeat(300) })] });
    const arm = makeImage({ layers: [await makeLayer({ 'bin/app': 'arm64 build\n'.repeat(300) })], platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    image = makeIndex([amd, arm]);
    await pushIndex(client, 'team/app', '1.0.0', image);
    world.source.putDockerTag('docker-hosted', 'team/app', '1.0.0', image.manifest.bytes, image.manifest.mediaType);
    await signAndAttachSbom(client, 'team/app', image);
    await seedNpm(world.source, 'npm-hosted', '@acme/lib', '2.1.0');

    const exported = await runFerry(['export', '--once', '--config', world.exportConfig], world.env);
    expect(exported.code, exported.stderr).toBe(0);
    first = (await bundles(world))[0]!;
    const summary = await readBundleSummary(createReadStream(first), path.basename(first));
    manifest = summary.manifest;
    bundleDigest = summary.manifestDigest;
  });
  afterAll(async () => {
    await client?.close();
    await registry?.close();
    await world?.close();
  });

  it('seals a bundle of raw files, an image and an npm package with its report beside it, saying it is not verified', async () => {
    // Act
    const names = await readdir(world.bundlesDir);
    const sealed = await readFile(path.join(world.bundlesDir, 'test-source-00000001.html'), 'utf8');

    // Assess
    expect(names.filter((n) => !n.startsWith('.')).sort()).toEqual(['test-source-00000001.html', 'test-source-00000001.tar']);
    expect(new Set(manifest.entries.map((e) => e.kind))).toEqual(new Set(['raw', 'image', 'npm']));
    expect(sealed).toContain('Written when the bundle was sealed');
    expect(sealed).toContain('linux/amd64, linux/arm64/v8'); // from the index the seal read from its staged blobs
    expect(sealed).toContain(bundleDigest);
  });

  it('renders a verified report in chromium: every entry with its version and digest is in the DOM, and a name from the source stays text', async () => {
    // Prepare
    const page = path.join(world.dir, 'verified.html');

    // Act
    const made = await runFerry(['report', first, '-k', world.publicKeyFile, '-o', page], world.env);
    const dom = await dumpDom(page);

    // Assess
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toContain('verified (signed by sha256:');
    expect(dom).toContain('<strong>Verified.</strong>');
    expect(dom).not.toContain('NOT verified');
    for (const text of [bundleDigest, 'test-source', '/tools/cli-1.4.2.bin', 'team/app:1.0.0', 'linux/amd64, linux/arm64/v8', '@acme/lib@2.1.0', 'latest → 2.1.0', 'signature', 'SBOM', 'application/spdx+json']) {
      expect(dom, text).toContain(text);
    }
    for (const entry of manifest.entries) expect(dom, entry.digest).toContain(entry.digest);
    // The hostile path is text in the DOM: chromium made no script element of it, and the title is the page's.
    expect(dom).toContain('/evil/&lt;script&gt;document.title="owned"&lt;/script&gt;.bin');
    expect(dom).not.toMatch(/<script/i);
    expect(dom).toContain('<title>Ferry bundle test-source-00000001.tar</title>');
  });

  it('takes a screenshot of the report', async () => {
    // Prepare
    const page = path.join(world.dir, 'shot.html');
    const png = path.join(world.dir, 'report.png');
    expect((await runFerry(['report', first, '-k', world.publicKeyFile, '-o', page], world.env)).code).toBe(0);

    // Act
    await screenshot(page, png, 1280, 1600);

    // Assess: a PNG, and not a blank one (a white 1280×1600 page compresses to a few KiB)
    const bytes = await readFile(png);
    expect(bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    expect(bytes.readUInt32BE(16)).toBe(1280);
    expect(bytes.length).toBeGreaterThan(50_000);
  });

  it('says plainly that a report made without keys is NOT verified, and writes it beside the bundle by default', async () => {
    // Prepare
    const copy = path.join(world.dir, 'copy', path.basename(first));
    await mkdir(path.dirname(copy), { recursive: true });
    await copyFile(first, copy);

    // Act
    const made = await runFerry(['report', copy], world.env);
    const dom = await dumpDom(path.join(path.dirname(copy), 'test-source-00000001.html'));

    // Assess
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toContain('NOT verified');
    expect(dom).toContain('<strong>NOT verified.</strong>');
    expect(dom).toContain('were not checked');
    expect(dom).toContain('linux/amd64, linux/arm64/v8'); // read from the index as the bundle streamed past
  });

  it('verifies with the import configuration’s trusted keys', async () => {
    // Act
    const made = await runFerry(['report', first, '-c', world.importConfig, '-o', path.join(world.dir, 'by-config.html')], world.env);

    // Assess
    expect(made.code, made.stderr).toBe(0);
    expect(await readFile(path.join(world.dir, 'by-config.html'), 'utf8')).toContain('the import configuration import.yaml (trust.publicKeyFiles)');
  });

  it('refuses a tampered bundle when given keys, and writes no report', async () => {
    // Prepare: one byte changed inside the 40,000-byte raw file's blob
    const tampered = path.join(world.dir, 'tampered.tar');
    const bytes = await readFile(first);
    bytes[bytes.indexOf(Buffer.alloc(1000, 7)) + 500] = 8;
    await writeFile(tampered, bytes);

    // Act
    const made = await runFerry(['report', tampered, '-k', world.publicKeyFile, '-o', path.join(world.dir, 'tampered.html')], world.env);

    // Assess
    expect(made.code).toBe(1);
    expect(made.stderr).toMatch(/tampered\.tar: member blobs\/sha256\/[0-9a-f]{64}: sha256 mismatch/);
    await expect(stat(path.join(world.dir, 'tampered.html'))).rejects.toThrow(/ENOENT/);
  });

  it('lists what a later bundle requires from the first: a new tag of the same image', async () => {
    // Prepare
    world.source.putDockerTag('docker-hosted', 'team/app', 'stable', image.manifest.bytes, image.manifest.mediaType);
    await client.putManifest('team/app', 'stable', image.manifest);
    expect((await runFerry(['export', '--once', '--config', world.exportConfig], world.env)).code).toBe(0);
    const second = (await bundles(world))[1]!;

    // Act
    const dom = await dumpDom(path.join(world.bundlesDir, 'test-source-00000002.html'));

    // Assess
    expect(path.basename(second)).toBe('test-source-00000002.tar');
    expect(dom).toContain('team/app:stable');
    expect(dom).toContain('Required from earlier bundles');
    expect(dom).toContain(image.manifest.digest);
    expect(dom).toMatch(/<td>bundle 1<\/td>/);
    expect(dom).toContain(bundleDigest); // the previous bundle's digest
  });

  it('refuses --config together with --public-key as bad usage', async () => {
    // Act
    const made = await runFerry(['report', first, '-c', world.importConfig, '-k', world.publicKeyFile], world.env);

    // Assess
    expect(made.code).toBe(2);
    expect(made.stderr).toContain('--config or --public-key, not both');
  });
});
