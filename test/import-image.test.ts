/**
 * Image import against a registry that, like docker-registry 2.8, corrupts its view of a
 * digest when two writes of that digest to one repository overlap. Two tags of one image
 * in one bundle must still both arrive, each blob written once.
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { BundleManifest, ImageBundleEntry } from '../shared/bundle/index.ts';
import { sha256Of, type Digest } from '../shared/digest.ts';
import { applyImageEntries, makeSingleFlight } from '../shared/core/formats/docker/apply.ts';
import { silentLog } from '../shared/core/log.ts';
import type { BlobSource, ImageRegistry } from '../shared/core/ports/index.ts';
import { SqliteImportState } from '../shared/adapters/embedded/import-state.ts';
import { MemoryObjectStore } from './support/fakes.ts';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** Registry fake: a write that overlaps another write of the same name+digest fails. */
class OverlapSensitiveRegistry implements Partial<ImageRegistry> {
  readonly blobs = new Set<string>();
  readonly manifests = new Map<string, Digest>();
  readonly writes: string[] = [];
  readonly #writing = new Set<string>();

  async #write(key: string, work: () => void) {
    if (this.#writing.has(key)) throw new Error(`overlapping writes of ${key}`);
    this.#writing.add(key);
    this.writes.push(key);
    await sleep(5);
    this.#writing.delete(key);
    work();
  }
  async headBlob(name: string, digest: Digest) {
    return this.blobs.has(`${name}@${digest}`) ? { size: 1 } : undefined;
  }
  async uploadBlob(name: string, digest: Digest, source: BlobSource) {
    for await (const _ of await source.open());
    await this.#write(`${name}@${digest}`, () => this.blobs.add(`${name}@${digest}`));
  }
  async mountBlob() {
    return false;
  }
  async headManifest(name: string, reference: string) {
    const digest = this.manifests.get(`${name}:${reference}`);
    return digest === undefined ? undefined : { digest, mediaType: MANIFEST, size: 1 };
  }
  async putManifest(name: string, reference: string, manifest: { mediaType: string; bytes: Buffer }) {
    const digest = sha256Of(manifest.bytes);
    await this.#write(`${name}@${digest}`, () => {
      this.manifests.set(`${name}:${reference}`, digest);
      this.manifests.set(`${name}:${digest}`, digest);
    });
    return digest;
  }
}

describe('image import with two tags of one image', () => {
  it('writes each blob and manifest once, never two writes of one digest at a time', async () => {
    // Prepare: one image (config + layer + manifest), tagged twice in one bundle
    const held = new MemoryObjectStore();
    const put = async (bytes: Buffer) => (await held.putBlob(Readable.from([bytes]))).digest;
    const layer = await put(Buffer.from('layer bytes'));
    const config = await put(Buffer.from('{"architecture":"amd64"}'));
    const manifestBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: { digest: config }, layers: [{ digest: layer }] }));
    const manifestDigest = await put(manifestBytes);
    const entry = (tag: string): ImageBundleEntry => ({
      kind: 'image',
      source: { repository: 'docker-hosted', name: 'plain/app', tag },
      target: { repository: 'docker-hosted', name: 'plain/app', tag },
      digest: manifestDigest,
      size: manifestBytes.length,
      mediaType: MANIFEST,
      manifests: [],
      blobs: [
        { digest: config, size: 24 },
        { digest: layer, size: 11 },
      ],
      referrers: [],
    });
    const manifest = { sequence: 1, entries: [entry('1.2.0'), entry('v1.5.3')], blobs: { included: [], required: [] } } as unknown as BundleManifest;
    const registry = new OverlapSensitiveRegistry();
    const state = new SqliteImportState(':memory:');

    // Act
    const steps = manifest.entries.map((e, index) => ({ index, entry: e as ImageBundleEntry, repository: 'docker-hosted', label: `docker-hosted/plain/app:${(e as ImageBundleEntry).target.tag}`, action: 'apply' as const }));
    const failures = await applyImageEntries(
      {
        registryFor: () => ({ key: 'target', registry: registry as unknown as ImageRegistry }),
        available: async (digest) => (await held.statBlob(digest)) !== undefined,
        blob: (digest) => held.getBlob(digest),
        state,
        log: silentLog,
      },
      manifest,
      sha256Of(Buffer.from('bundle')),
      steps,
      { concurrency: 4, progress: () => undefined },
    );

    // Assess
    expect(failures).toEqual([]);
    expect(registry.manifests.get('plain/app:1.2.0')).toBe(manifestDigest);
    expect(registry.manifests.get('plain/app:v1.5.3')).toBe(manifestDigest);
    expect(registry.writes.filter((w) => w === `plain/app@${layer}`)).toHaveLength(1);
    expect(registry.writes.filter((w) => w === `plain/app@${config}`)).toHaveLength(1);
    state.close();
  });
});

describe('makeSingleFlight', () => {
  it('runs work for one key one at a time, and other keys freely', async () => {
    // Prepare
    const once = makeSingleFlight();
    const log: string[] = [];
    const job = (key: string, label: string) =>
      once(key, async () => {
        log.push(`start ${label}`);
        await sleep(5);
        log.push(`end ${label}`);
      });

    // Act
    await Promise.all([job('a', 'a1'), job('a', 'a2'), job('b', 'b1')]);

    // Assess
    expect(log.indexOf('end a1')).toBeLessThan(log.indexOf('start a2'));
    expect(log.indexOf('start b1')).toBeLessThan(log.indexOf('end a1'));
  });

  it('lets the next caller run after a failure, and reports the failure to its own caller only', async () => {
    // Prepare
    const once = makeSingleFlight();

    // Act
    const first = once('k', async () => {
      await sleep(5);
      throw new Error('first failed');
    });
    const second = once('k', async () => 'second ran');

    // Assess
    await expect(first).rejects.toThrow('first failed');
    await expect(second).resolves.toBe('second ran');
  });
});
