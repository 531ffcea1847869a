/**
 * A bundle manifest of every kind of entry, with the image documents behind its images, for
 * the report's renderer tests: a raw file, a multi-platform image with a cosign signature,
 * an SBOM referrer and a BuildKit attestation manifest, an image wholly shipped before, a
 * Maven sources jar, an npm tarball the far side holds per a receipt, a signed wheel, and a
 * blob sent again. Digests are real (sha256 of the bytes), so documents check out.
 */
import { sha256Of, type Digest } from '../../shared/digest.ts';
import type { BundleManifest } from '../../shared/bundle/index.ts';
import { ImageDocuments } from '../../shared/bundle/report/index.ts';

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export const blob = (text: string) => ({ digest: sha256Of(text), size: Buffer.byteLength(text) });
const doc = (value: object) => {
  const bytes = Buffer.from(JSON.stringify(value));
  return { bytes, digest: sha256Of(bytes), size: bytes.length };
};

export interface ReportFixture {
  manifest: BundleManifest;
  documents: Map<Digest, Buffer>;
  /** The digests the tests name. */
  ids: Record<'amd64' | 'arm64' | 'attestation' | 'sig' | 'sbom' | 'index' | 'layer' | 'raw' | 'npm' | 'resent' | 'baseManifest' | 'baseLayer', Digest>;
}

/** Every kind of entry; `rawPath` and `npmTag` let tests put hostile text where the source decides it. */
export function reportFixture(options: { rawPath?: string; component?: string; distTag?: string; bundleSequence?: number } = {}): ReportFixture {
  const layer = blob('layer bytes');
  const configAmd = doc({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  const configArm = doc({ architecture: 'arm64', os: 'linux', variant: 'v8', rootfs: { type: 'layers', diff_ids: [] } });
  const image = (config: { digest: Digest; size: number }) => doc({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }] });
  const amd64 = image(configAmd);
  const arm64 = image(configArm);
  const attestation = doc({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configAmd }, layers: [{ mediaType: 'application/vnd.in-toto+json', ...layer }] });
  const index = doc({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      { mediaType: OCI_MANIFEST, digest: amd64.digest, size: amd64.size, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: OCI_MANIFEST, digest: arm64.digest, size: arm64.size, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { mediaType: OCI_MANIFEST, digest: attestation.digest, size: attestation.size, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': amd64.digest } },
    ],
  });
  const sigPayload = blob('{"critical":{}}');
  const sig = doc({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...blob('{}') }, layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', ...sigPayload }] });
  const spdx = blob('{"spdxVersion":"SPDX-2.3"}');
  const sbom = doc({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/spdx+json', config: { mediaType: 'application/vnd.oci.empty.v1+json', ...blob('{}') }, layers: [{ mediaType: 'application/spdx+json', ...spdx }], subject: { mediaType: OCI_INDEX, digest: index.digest, size: index.size } });
  const baseManifest = blob('base manifest');
  const baseLayer = blob('base layer, shipped in bundle 3');
  const raw = blob('raw artifact');
  const jar = blob('sources jar');
  const npm = blob('npm tarball');
  const wheel = blob('wheel');
  const asc = blob('wheel signature');
  const resent = blob('asked for again');
  const sequence = options.bundleSequence ?? 7;
  const imageBlobs = [configAmd, configArm, layer, blob('{}'), sigPayload, spdx].map(({ digest, size }) => ({ digest, size }));
  const uniqueImageBlobs = [...new Map(imageBlobs.map((b) => [b.digest, b])).values()];
  const manifest: BundleManifest = {
    format: 'ferry.bundle.v2',
    sourceId: 'corp-nexus',
    sequence,
    previous: sequence === 1 ? null : sha256Of('bundle 6'),
    createdAt: '2026-11-23T19:00:00.000Z',
    entries: [
      { kind: 'raw', source: { repository: 'raw-a', path: options.rawPath ?? '/dir/app.bin' }, target: { repository: 'raw-mirror', path: options.rawPath ?? '/dir/app.bin' }, digest: raw.digest, size: raw.size, checksums: { sha1: 'a'.repeat(40), md5: 'b'.repeat(32) } },
      {
        kind: 'image',
        source: { repository: 'docker-hosted', name: 'team/app', tag: '1.0.0' },
        target: { repository: 'docker-hosted', name: 'team/app', tag: '1.0.0' },
        digest: index.digest,
        size: index.size,
        mediaType: OCI_INDEX,
        manifests: [amd64, arm64, attestation].map((m) => ({ mediaType: OCI_MANIFEST, digest: m.digest, size: m.size })),
        blobs: uniqueImageBlobs,
        referrers: [
          { mediaType: OCI_MANIFEST, digest: sig.digest, size: sig.size, tag: `sha256-${index.digest.slice(7)}.sig` },
          { mediaType: OCI_MANIFEST, digest: sbom.digest, size: sbom.size },
        ],
      },
      {
        kind: 'image',
        source: { repository: 'docker-hosted', name: 'team/base', tag: '2.0' },
        target: { repository: 'docker-hosted', name: 'team/base', tag: '2.0' },
        digest: baseManifest.digest,
        size: baseManifest.size,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        manifests: [],
        blobs: [baseLayer],
        referrers: [],
      },
      {
        kind: 'maven2',
        source: { repository: 'maven-releases', path: '/org/example/widget/1.0.0/widget-1.0.0-sources.jar' },
        target: { repository: 'maven-releases', path: '/org/example/widget/1.0.0/widget-1.0.0-sources.jar' },
        digest: jar.digest,
        size: jar.size,
        checksums: { sha1: 'c'.repeat(40) },
        component: { group: 'org.example', name: options.component ?? 'widget', version: '1.0.0' },
        maven: { baseVersion: '1.0.0', extension: 'jar', classifier: 'sources' },
      },
      {
        kind: 'npm',
        source: { repository: 'npm-hosted', path: '/@acme/lib/-/lib-2.1.0.tgz' },
        target: { repository: 'npm-hosted', path: '/@acme/lib/-/lib-2.1.0.tgz' },
        digest: npm.digest,
        size: npm.size,
        checksums: { sha1: 'd'.repeat(40), sha512: 'e'.repeat(128) },
        component: { group: 'acme', name: 'lib', version: '2.1.0' },
        distTags: { latest: options.distTag ?? '2.1.0', next: '3.0.0-beta.1' },
      },
      {
        kind: 'pypi',
        source: { repository: 'pypi-hosted', path: '/packages/sample/1.0.0/sample-1.0.0-py3-none-any.whl' },
        target: { repository: 'pypi-hosted', path: '/packages/sample/1.0.0/sample-1.0.0-py3-none-any.whl' },
        digest: wheel.digest,
        size: wheel.size,
        checksums: { md5: 'f'.repeat(32) },
        component: { group: null, name: 'sample', version: '1.0.0' },
        signature: asc,
      },
    ],
    blobs: {
      included: [raw, index, amd64, arm64, attestation, ...uniqueImageBlobs, sig, sbom, jar, wheel, asc, resent].map(({ digest, size }) => ({ digest, size })),
      required: [
        { ...baseManifest, shippedIn: 3 },
        { ...baseLayer, shippedIn: 3 },
        { ...npm, shippedIn: 0 },
      ],
    },
    layout: { index: sha256Of('index.json') },
  };
  const documents = new Map<Digest, Buffer>([index, amd64, arm64, attestation, sig, sbom, configAmd, configArm].map((d) => [d.digest, 'bytes' in d ? d.bytes : Buffer.alloc(0)]));
  return {
    manifest,
    documents,
    ids: { amd64: amd64.digest, arm64: arm64.digest, attestation: attestation.digest, sig: sig.digest, sbom: sbom.digest, index: index.digest, layer: layer.digest, raw: raw.digest, npm: npm.digest, resent: resent.digest, baseManifest: baseManifest.digest, baseLayer: baseLayer.digest },
  };
}

/** The fixture's documents as a reader would have collected them: each added when met. */
export function documentsOf(fixture: ReportFixture): ImageDocuments {
  const documents = new ImageDocuments(fixture.manifest);
  for (let missing = documents.missing(), guard = 0; missing.length > 0 && guard < 5; missing = documents.missing(), guard++) {
    for (const digest of missing) {
      const bytes = fixture.documents.get(digest);
      if (bytes !== undefined) documents.add(digest, bytes);
    }
  }
  return documents;
}
