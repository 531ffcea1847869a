/**
 * Real container images for tests, built in memory: gzip-compressed tar layers, an image
 * config whose rootfs lists the layers' diffIDs, and an OCI or Docker schema-2 manifest
 * (or an index / manifest list over several platforms). Deterministic: same input, same
 * digests.
 */
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { sha256Of, type Digest } from '../../shared/digest.ts';
import type { BlobSource } from '../../shared/core/ports/index.ts';
import {
  DOCKER_CONFIG,
  DOCKER_LAYER_GZIP,
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER_GZIP,
  OCI_MANIFEST,
  type OciDescriptor,
  type Platform,
  type RegistryClient,
} from '../../shared/adapters/registry/index.ts';

export type ImageFormat = 'oci' | 'docker';

export interface Layer {
  /** gzip-compressed tar, as stored in the registry. */
  bytes: Buffer;
  digest: Digest;
  size: number;
  /** sha256 of the uncompressed tar: what the config's rootfs.diff_ids lists. */
  diffId: Digest;
}

export interface TestImage {
  format: ImageFormat;
  platform: Platform;
  config: { bytes: Buffer; digest: Digest; size: number; mediaType: string };
  layers: Layer[];
  manifest: { bytes: Buffer; digest: Digest; mediaType: string };
  /** Config and layers by digest. */
  blobs: Map<Digest, Buffer>;
}

export interface TestIndex {
  format: ImageFormat;
  images: TestImage[];
  manifest: { bytes: Buffer; digest: Digest; mediaType: string };
}

const EPOCH = new Date('2024-01-01T00:00:00Z');

export async function makeLayer(files: Record<string, string | Buffer>): Promise<Layer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  const collected = new Promise<Buffer>((resolve, reject) => {
    tar.on('data', (chunk: unknown) => {
      chunks.push(chunk as Buffer);
    });
    tar.on('end', () => resolve(Buffer.concat(chunks)));
    tar.on('error', reject);
  });
  for (const [name, content] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
    const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    await new Promise<void>((resolve, reject) => {
      tar.entry({ name, size: data.length, mode: 0o644, mtime: EPOCH, uid: 0, gid: 0 }, data, (error) => (error ? reject(error) : resolve()));
    });
  }
  tar.finalize();
  const raw = await collected;
  // gzip's header carries no timestamp from zlib (mtime 0), so this is deterministic.
  const bytes = gzipSync(raw, { level: 6 });
  return { bytes, digest: sha256Of(bytes), size: bytes.length, diffId: sha256Of(raw) };
}

export interface MakeImageOptions {
  layers: Layer[];
  platform?: Platform;
  format?: ImageFormat;
  labels?: Record<string, string>;
}

export function makeImage(options: MakeImageOptions): TestImage {
  const format = options.format ?? 'oci';
  const platform: Platform = options.platform ?? { os: 'linux', architecture: 'amd64' };
  const config = {
    created: EPOCH.toISOString(),
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Labels: options.labels ?? {} },
    rootfs: { type: 'layers', diff_ids: options.layers.map((l) => l.diffId) },
    history: options.layers.map((_, i) => ({ created: EPOCH.toISOString(), created_by: `ferry test layer ${i}` })),
  };
  const configBytes = Buffer.from(JSON.stringify(config), 'utf8');
  const configMediaType = format === 'oci' ? OCI_CONFIG : DOCKER_CONFIG;
  const layerMediaType = format === 'oci' ? OCI_LAYER_GZIP : DOCKER_LAYER_GZIP;
  const mediaType = format === 'oci' ? OCI_MANIFEST : DOCKER_MANIFEST;
  const configDigest = sha256Of(configBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: configMediaType, digest: configDigest, size: configBytes.length },
    layers: options.layers.map((l) => ({ mediaType: layerMediaType, digest: l.digest, size: l.size })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 3), 'utf8');
  const blobs = new Map<Digest, Buffer>([[configDigest, configBytes]]);
  for (const layer of options.layers) blobs.set(layer.digest, layer.bytes);
  return {
    format,
    platform,
    config: { bytes: configBytes, digest: configDigest, size: configBytes.length, mediaType: configMediaType },
    layers: options.layers,
    manifest: { bytes: manifestBytes, digest: sha256Of(manifestBytes), mediaType },
    blobs,
  };
}

/** A multi-platform OCI index or Docker manifest list over `images`. */
export function makeIndex(images: TestImage[], format: ImageFormat = 'oci'): TestIndex {
  const mediaType = format === 'oci' ? OCI_INDEX : DOCKER_MANIFEST_LIST;
  const manifests: OciDescriptor[] = images.map((image) => ({
    mediaType: image.manifest.mediaType,
    digest: image.manifest.digest,
    size: image.manifest.bytes.length,
    platform: image.platform,
  }));
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests }, null, 2), 'utf8');
  return { format, images, manifest: { bytes, digest: sha256Of(bytes), mediaType } };
}

export function bufferSource(bytes: Buffer): BlobSource {
  return { size: bytes.length, open: async () => Readable.from([bytes]) };
}

/** Blobs first (skipping those the registry has), then the manifest under `tagOrDigest`. */
export async function pushImage(client: RegistryClient, repository: string, tagOrDigest: string, image: TestImage): Promise<Digest> {
  for (const [digest, bytes] of image.blobs) {
    if ((await client.headBlob(repository, digest)) !== undefined) continue;
    await client.uploadBlob(repository, digest, bufferSource(bytes));
  }
  return client.putManifest(repository, tagOrDigest, image.manifest);
}

/** Every image by digest, then the index under `tag`. */
export async function pushIndex(client: RegistryClient, repository: string, tag: string, index: TestIndex): Promise<Digest> {
  for (const image of index.images) await pushImage(client, repository, image.manifest.digest, image);
  return client.putManifest(repository, tag, index.manifest);
}
