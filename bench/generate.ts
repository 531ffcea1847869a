/**
 * Benchmark images, generated and pushed streaming: a layer is a gzip-compressed tar of
 * one file of pseudo-random bytes (an AES-CTR keystream: fast, deterministic per seed and,
 * like real layers, incompressible), written to a temp file while both digests are taken.
 * No layer is ever held in memory, whatever its size.
 */
import { createCipheriv, createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack } from 'tar-stream';
import { sha256Of, type Digest } from '../shared/digest.ts';
import { OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, type RegistryClient } from '../shared/adapters/registry/index.ts';

export interface FileLayer {
  /** The compressed layer on disk, until `dropLayerFile`. */
  file: string;
  digest: Digest;
  size: number;
  diffId: Digest;
}

export interface BenchImage {
  layers: FileLayer[];
  config: { bytes: Buffer; digest: Digest };
  manifest: { bytes: Buffer; digest: Digest; mediaType: string };
}

const CHUNK = 1024 * 1024;
const EPOCH = new Date('2024-01-01T00:00:00Z');

/** `size` bytes of AES-128-CTR keystream keyed by `seed`, in 1 MiB chunks. */
function keystream(seed: string, size: number): Readable {
  const key = createHash('sha256').update(`key:${seed}`).digest().subarray(0, 16);
  const iv = createHash('sha256').update(`iv:${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, iv);
  const zeros = Buffer.alloc(CHUNK);
  let left = size;
  return new Readable({
    highWaterMark: 4 * CHUNK,
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, CHUNK);
      left -= n;
      this.push(cipher.update(n === CHUNK ? zeros : zeros.subarray(0, n)));
    },
  });
}

/** A pass-through that hashes and counts what flows by. */
class Tap extends Transform {
  readonly hash: Hash = createHash('sha256');
  size = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    callback(null, chunk);
  }
}

/**
 * Writes a layer holding one file of `contentBytes` pseudo-random bytes to `dir`. gzip
 * level 0 (stored deflate blocks, still a valid gzip stream): random content does not
 * compress at any level, so the layer is the same size, and generation runs ~300 MB/s
 * instead of ~40 MB/s at level 1.
 */
export async function makeFileLayer(dir: string, seed: string, contentBytes: number): Promise<FileLayer> {
  const file = path.join(dir, `layer-${seed.replace(/[^a-z0-9-]/gi, '_')}.tar.gz`);
  const tar = pack();
  const uncompressed = new Tap();
  const compressed = new Tap();
  const written = pipeline(tar, uncompressed, createGzip({ level: 0, chunkSize: 256 * 1024 }), compressed, createWriteStream(file));
  const entry = tar.entry({ name: `data/${seed}.bin`, size: contentBytes, mode: 0o644, mtime: EPOCH, uid: 0, gid: 0 });
  await pipeline(keystream(seed, contentBytes), entry);
  tar.finalize();
  await written;
  return { file, digest: `sha256:${compressed.hash.digest('hex')}`, size: compressed.size, diffId: `sha256:${uncompressed.hash.digest('hex')}` };
}

/** An OCI image over `layers`, its config naming each layer's diffID. */
export function makeBenchImage(layers: FileLayer[], label: string): BenchImage {
  const config = {
    created: EPOCH.toISOString(),
    architecture: 'amd64',
    os: 'linux',
    config: { Labels: { 'ferry.bench': label } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: EPOCH.toISOString(), created_by: `ferry bench layer ${i}` })),
  };
  const configBytes = Buffer.from(JSON.stringify(config), 'utf8');
  const configDigest = sha256Of(configBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: configDigest, size: configBytes.length },
    layers: layers.map((l) => ({ mediaType: OCI_LAYER_GZIP, digest: l.digest, size: l.size })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2), 'utf8');
  return {
    layers,
    config: { bytes: configBytes, digest: configDigest },
    manifest: { bytes: manifestBytes, digest: sha256Of(manifestBytes), mediaType: OCI_MANIFEST },
  };
}

/** Bytes of every blob of `image`: layers, config and manifest. */
export function imageBytes(image: BenchImage): number {
  return image.layers.reduce((n, l) => n + l.size, 0) + image.config.bytes.length + image.manifest.bytes.length;
}

/** Pushes layers (streamed from their files; chunked when big), config, then the manifest under `tag`. */
export async function pushBenchImage(client: RegistryClient, repository: string, tag: string, image: BenchImage): Promise<void> {
  for (const layer of image.layers) {
    if ((await client.headBlob(repository, layer.digest)) !== undefined) continue;
    await client.uploadBlob(repository, layer.digest, { size: layer.size, open: async () => createReadStream(layer.file, { highWaterMark: CHUNK }) });
  }
  const configBytes = image.config.bytes;
  if ((await client.headBlob(repository, image.config.digest)) === undefined) {
    await client.uploadBlob(repository, image.config.digest, { size: configBytes.length, open: async () => Readable.from([configBytes]) });
  }
  await client.putManifest(repository, tag, image.manifest);
}

export async function dropLayerFile(layer: FileLayer): Promise<void> {
  await rm(layer.file, { force: true });
}
