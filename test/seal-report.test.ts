/**
 * The report a seal writes beside each bundle: written for what it seals, written again by
 * the run that finishes a seal interrupted after its record (the manifest read back from the
 * published bundle), and never a reason for a seal to fail.
 */
import { createPrivateKey } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { sealPending } from '../shared/core/export/seal.ts';
import type { Log } from '../shared/core/log.ts';
import { generateSigningKeyPair, localSigner } from '../shared/signing.ts';
import { MemoryExportState, MemoryObjectStore } from './support/fakes.ts';

const clock = { now: () => new Date('2026-11-23T19:00:00.000Z') };
const signer = localSigner(createPrivateKey(generateSigningKeyPair().privateKeyPem));

function collectingLog(): Log & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info() {}, error() {}, debug() {}, warn: (message) => warnings.push(message) };
}

async function stage(store: MemoryObjectStore, state: MemoryExportState, paths: string[]): Promise<void> {
  for (const p of paths) {
    const stored = await store.putBlob(Readable.from([Buffer.from(`content of ${p}`)]));
    await state.addPendingEntry({ kind: 'raw', sourceRepository: 'raw-a', path: p, targetRepository: 'raw-b', digest: stored.digest, size: stored.size, checksums: { sha256: stored.digest.slice(7) } });
  }
}

const reportOf = (store: MemoryObjectStore, name: string) => store.bundles.get(name)?.toString('utf8');

describe('the report a seal writes', () => {
  it('is written beside each bundle sealed, saying which key sealed it and that nobody verified it since', async () => {
    // Prepare
    const store = new MemoryObjectStore();
    const state = new MemoryExportState();
    await stage(store, state, ['/a/one.bin', '/a/two.bin']);

    // Act
    const result = await sealPending({ store, state, clock, log: collectingLog(), sourceId: 'corp-nexus', signer }, { maxBytes: 1024 * 1024 });

    // Assess
    const [sealed] = result.bundles;
    expect(sealed?.report).toBe('memory:corp-nexus-00000001.html');
    const report = reportOf(store, 'corp-nexus-00000001.html')!;
    for (const text of ['/a/one.bin', '/a/two.bin', 'raw-a → raw-b', sealed!.digest, signer.keyId, 'Written when the bundle was sealed', 'NOT verified.']) expect(report, text).toContain(text);
    expect((await store.listBundles()).map((b) => b.name)).toEqual(['corp-nexus-00000001.tar']);
  });

  it('is written by the run that publishes a bundle an interrupted seal recorded, from the manifest read back', async () => {
    // Prepare: a seal recorded bundle 1 and stopped before publishing it
    const store = new MemoryObjectStore();
    const state = new MemoryExportState();
    await stage(store, state, ['/a/one.bin']);
    const publish = store.publishBundle.bind(store);
    store.publishBundle = async () => {
      throw new Error('killed before publishing');
    };
    await expect(sealPending({ store, state, clock, log: collectingLog(), sourceId: 'corp-nexus', signer }, { maxBytes: 1024 * 1024 })).rejects.toThrow('killed');
    store.publishBundle = publish;
    const uninterrupted = new MemoryObjectStore();
    const fresh = new MemoryExportState();
    await stage(uninterrupted, fresh, ['/a/one.bin']);
    await sealPending({ store: uninterrupted, state: fresh, clock, log: collectingLog(), sourceId: 'corp-nexus', signer }, { maxBytes: 1024 * 1024 });

    // Act
    const result = await sealPending({ store, state, clock, log: collectingLog(), sourceId: 'corp-nexus', signer }, { maxBytes: 1024 * 1024 });

    // Assess: the same page an uninterrupted seal writes
    expect(result.republished.map((b) => [b.name, b.report])).toEqual([['corp-nexus-00000001.tar', 'memory:corp-nexus-00000001.html']]);
    expect(reportOf(store, 'corp-nexus-00000001.html')).toBe(reportOf(uninterrupted, 'corp-nexus-00000001.html'));
  });

  it('never fails a seal: a report that cannot be written is a warning naming `ferry report`, and the bundle is published and marked', async () => {
    // Prepare
    const store = new MemoryObjectStore();
    const state = new MemoryExportState();
    const log = collectingLog();
    await stage(store, state, ['/a/one.bin']);
    store.putBundleReport = async () => {
      throw new Error('disk full');
    };

    // Act
    const result = await sealPending({ store, state, clock, log, sourceId: 'corp-nexus', signer }, { maxBytes: 1024 * 1024 });

    // Assess
    expect(result.bundles.map((b) => [b.name, b.report])).toEqual([['corp-nexus-00000001.tar', undefined]]);
    expect((await state.getLastBundle('corp-nexus'))?.published).toBe(true);
    expect(log.warnings).toEqual(['corp-nexus-00000001.tar is sealed and published, but its report could not be written (`ferry report` makes it again): disk full']);
  });
});
