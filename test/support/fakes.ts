/**
 * In-memory fakes of the core's ports, for core unit tests. They keep the ports'
 * contracts (atomic commit, conditional watermark, dedupe) but nothing durable.
 */
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HashingStream, type Digest } from '../../shared/digest.ts';
import type {
  ArtifactSource,
  BlobSource,
  BundleRecord,
  Checksums,
  CopyTask,
  ExportState,
  ObjectStore,
  PendingEntry,
  ScanCheckpoint,
  SourcePage,
  StagedEntry,
  TaskQueue,
} from '../../shared/core/ports.ts';

export class MemoryObjectStore implements ObjectStore {
  readonly blobs = new Map<Digest, Buffer>();
  readonly bundles = new Map<string, Buffer>();
  async statBlob(digest: Digest) {
    const b = this.blobs.get(digest);
    return b ? { size: b.length } : undefined;
  }
  async putBlob(content: Readable, options: { expectedDigest?: Digest; expectedSize?: number } = {}) {
    const hashing = new HashingStream({ what: 'blob', ...(options.expectedDigest ? { expected: { sha256: options.expectedDigest.slice(7) } } : {}) });
    const chunks: Buffer[] = [];
    await pipeline(content, hashing, async (source: AsyncIterable<Buffer>) => {
      for await (const c of source) chunks.push(c);
    });
    const existed = this.blobs.has(hashing.digest);
    if (!existed) this.blobs.set(hashing.digest, Buffer.concat(chunks));
    return { digest: hashing.digest, size: hashing.size, existed };
  }
  async getBlob(digest: Digest): Promise<BlobSource> {
    const b = this.blobs.get(digest);
    if (!b) throw new Error(`blob ${digest} not found`);
    return { size: b.length, open: async () => Readable.from([b]) };
  }
  async putBundle(name: string, write: (out: Writable) => Promise<void>) {
    const chunks: Buffer[] = [];
    const { Writable: W } = await import('node:stream');
    const out = new W({
      write(chunk: Buffer, _e, cb) {
        chunks.push(chunk);
        cb();
      },
    });
    await write(out);
    const data = Buffer.concat(chunks);
    this.bundles.set(name, data);
    return { size: data.length, location: `memory:${name}` };
  }
  async deleteBundle(name: string) {
    this.bundles.delete(name);
  }
  async listBundles() {
    return [...this.bundles].map(([name, b]) => ({ name, size: b.length, location: `memory:${name}` }));
  }
}

export class MemoryExportState implements ExportState {
  watermarks = new Map<string, string>();
  checkpoints = new Map<string, ScanCheckpoint>();
  entries: (PendingEntry & { sealedIn?: number })[] = [];
  shipped = new Map<Digest, number>();
  bundles: BundleRecord[] = [];
  async getWatermark(repository: string) {
    return this.watermarks.get(repository);
  }
  async advanceWatermark(repository: string, expected: string | undefined, to: string) {
    const current = this.watermarks.get(repository);
    if (current !== expected) return false;
    if (current !== undefined && Date.parse(to) <= Date.parse(current)) return false;
    this.watermarks.set(repository, to);
    return true;
  }
  async getScanCheckpoint(repository: string) {
    return this.checkpoints.get(repository);
  }
  async putScanCheckpoint(repository: string, checkpoint: ScanCheckpoint | undefined) {
    if (checkpoint) this.checkpoints.set(repository, checkpoint);
    else this.checkpoints.delete(repository);
  }
  async hasEntry(repo: string, path: string, checksums: Checksums) {
    return this.entries.some(
      (e) => e.sourceRepository === repo && e.path === path && (checksums.sha256 ? e.checksums.sha256 === checksums.sha256 : checksums.sha1 !== undefined && e.checksums.sha1 === checksums.sha1),
    );
  }
  async addPendingEntry(entry: StagedEntry) {
    if (this.entries.some((e) => e.sourceRepository === entry.sourceRepository && e.path === entry.path && e.digest === entry.digest)) return false;
    this.entries.push({ ...entry, seq: this.entries.length + 1 });
    return true;
  }
  async listPendingEntries() {
    return this.entries.filter((e) => e.sealedIn === undefined);
  }
  async shippedIn(digest: Digest) {
    return this.shipped.get(digest);
  }
  async recordHeldBlobs(digests: Digest[], seq: number) {
    for (const d of digests) if (!this.shipped.has(d)) this.shipped.set(d, seq);
  }
  async getLastBundle(sourceId: string) {
    return this.bundles.filter((b) => b.sourceId === sourceId).at(-1);
  }
  async recordSeal(bundle: BundleRecord, seqs: number[], included: Digest[]) {
    const last = await this.getLastBundle(bundle.sourceId);
    if (bundle.sequence !== (last?.sequence ?? 0) + 1) throw new Error(`sequence conflict: expected ${(last?.sequence ?? 0) + 1}, got ${bundle.sequence}`);
    this.bundles.push(bundle);
    for (const e of this.entries) if (seqs.includes(e.seq)) e.sealedIn = bundle.sequence;
    for (const d of included) if (!this.shipped.has(d)) this.shipped.set(d, bundle.sequence);
  }
}

export class MemoryQueue implements TaskQueue {
  tasks = new Map<string, CopyTask>();
  enqueueCalls = 0;
  /** Throw on the Nth enqueue call (1-based) to simulate a crash mid-scan. */
  failOnCall: number | undefined;
  async enqueue(tasks: CopyTask[]) {
    this.enqueueCalls += 1;
    if (this.failOnCall === this.enqueueCalls) throw new Error('queue unavailable');
    for (const t of tasks) this.tasks.set(t.id, t);
  }
}

/** A source whose pages are given directly; records which tokens were asked for. */
export class FakeSource implements ArtifactSource {
  pages: SourcePage[] = [];
  contents = new Map<string, Buffer>();
  tokensAsked: (string | null)[] = [];
  async *componentPages(_repository: string, continuationToken?: string | null) {
    this.tokensAsked.push(continuationToken ?? null);
    let index = continuationToken ? Number(continuationToken) : 0;
    while (index < this.pages.length) {
      yield this.pages[index]!;
      index += 1;
    }
  }
  async downloadAsset<T>(repository: string, path: string, _expected: unknown, consume: (body: Readable) => Promise<T>) {
    const data = this.contents.get(`${repository}${path}`);
    if (!data) throw new Error(`404 ${repository}${path}`);
    return consume(Readable.from([data]));
  }
}
