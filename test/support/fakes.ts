/**
 * In-memory fakes of the core's ports, for core unit tests. They keep the ports'
 * contracts (atomic commit, conditional watermark, dedupe) but nothing durable.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  BlobNotFoundError,
  BundleNotFoundError,
  BundleNotStagedError,
  EntryNotPendingError,
  InvalidDigestError,
  InvalidTimestampError,
  SequenceConflictError,
} from '../../shared/core/ports/errors.ts';
import { HashingStream, isDigest, type Digest } from '../../shared/digest.ts';
import type {
  ArtifactSource,
  BlobSource,
  BundleRecord,
  Checksums,
  CopyTask,
  ExportState,
  ImportedBundleRecord,
  ImportState,
  ObjectStore,
  PendingEntry,
  ResendRequest,
  ScanCheckpoint,
  SourcePage,
  StagedEntry,
  TaskQueue,
} from '../../shared/core/ports/index.ts';
import { checkBundleName } from '../../shared/core/ports/object-store-rules.ts';
import { isReportFileName, reportFileName } from '../../shared/bundle/report/name.ts';

export class MemoryObjectStore implements ObjectStore {
  readonly blobs = new Map<Digest, Buffer>();
  readonly bundles = new Map<string, Buffer>();
  async deleteBlob(digest: Digest) {
    this.blobs.delete(checkDigest('blob digest', digest));
  }
  async statBlob(digest: Digest) {
    const b = this.blobs.get(checkDigest('blob digest', digest));
    return b ? { size: b.length } : undefined;
  }
  async putBlob(content: Readable, options: { expectedDigest?: Digest; expectedSize?: number } = {}) {
    if (options.expectedDigest !== undefined && !isDigest(options.expectedDigest)) {
      content.destroy();
      throw new InvalidDigestError('expected blob digest', options.expectedDigest);
    }
    const hashing = new HashingStream({
      what: 'blob',
      ...(options.expectedDigest ? { expected: { sha256: options.expectedDigest.slice(7) } } : {}),
      ...(options.expectedSize !== undefined ? { expectedSize: options.expectedSize } : {}),
    });
    const chunks: Buffer[] = [];
    await pipeline(content, hashing, async (source: AsyncIterable<Buffer>) => {
      for await (const c of source) chunks.push(c);
    });
    const existed = this.blobs.has(hashing.digest);
    if (!existed) this.blobs.set(hashing.digest, Buffer.concat(chunks));
    return { digest: hashing.digest, size: hashing.size, existed };
  }
  async getBlob(digest: Digest): Promise<BlobSource> {
    const b = this.blobs.get(checkDigest('blob digest', digest));
    if (!b) throw new BlobNotFoundError(digest, 'memory');
    return { size: b.length, open: async () => Readable.from([b]) };
  }
  readonly staged = new Map<string, Buffer>();
  async stageBundle(name: string, digest: Digest, write: (out: Writable) => Promise<void>) {
    checkBundleName(name);
    checkDigest('bundle digest', digest);
    const chunks: Buffer[] = [];
    const out = new Writable({
      write(chunk: Buffer, _e, cb) {
        chunks.push(chunk);
        cb();
      },
    });
    await write(out);
    const data = Buffer.concat(chunks);
    this.staged.set(`${name}\n${digest}`, data);
    return { size: data.length };
  }
  async publishBundle(name: string, digest: Digest) {
    checkBundleName(name);
    checkDigest('bundle digest', digest);
    const staged = this.staged.get(`${name}\n${digest}`);
    if (staged !== undefined) this.bundles.set(name, staged);
    const published = this.bundles.get(name);
    if (published === undefined) throw new BundleNotStagedError(name, digest, 'memory');
    for (const key of [...this.staged.keys()]) if (key.startsWith(`${name}\n`)) this.staged.delete(key);
    return { size: published.length, location: `memory:${name}` };
  }
  async deleteBundle(name: string) {
    this.bundles.delete(checkBundleName(name));
  }
  async putBundleReport(name: string, html: string) {
    const report = reportFileName(checkBundleName(name));
    this.bundles.set(checkBundleName(report), Buffer.from(html, 'utf8'));
    return { location: `memory:${report}` };
  }
  async openBundle(name: string) {
    const published = this.bundles.get(checkBundleName(name));
    if (published === undefined) throw new BundleNotFoundError(name, 'memory');
    return Readable.from([published]);
  }
  async listBundles() {
    return [...this.bundles]
      .filter(([name]) => !isReportFileName(name))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, b]) => ({ name, size: b.length, location: `memory:${name}` }));
  }
  async *listBlobs() {
    for (const digest of [...this.blobs.keys()].sort()) yield { digest, size: this.blobs.get(digest)!.length };
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
  /** Stored normalised (UTC, milliseconds) so that equal instants compare equal, as the adapters do. */
  async advanceWatermark(repository: string, expected: string | undefined, to: string) {
    const next = normaliseInstant(`watermark for ${repository}`, to);
    const previous = expected === undefined ? undefined : normaliseInstant(`expected watermark for ${repository}`, expected);
    const current = this.watermarks.get(repository);
    if (current !== previous) return false;
    if (previous !== undefined && next <= previous) return false;
    this.watermarks.set(repository, next);
    return true;
  }
  async getScanCheckpoint(repository: string) {
    return this.checkpoints.get(repository);
  }
  async putScanCheckpoint(repository: string, checkpoint: ScanCheckpoint | undefined) {
    if (checkpoint) this.checkpoints.set(repository, checkpoint);
    else this.checkpoints.delete(repository);
  }
  /** By sha256 (the entry's content address) when given, else by sha1, else no match; only the path's latest entry counts. */
  async hasEntry(repo: string, path: string, checksums: Checksums) {
    return (await this.entryAt(repo, path, checksums)).known;
  }
  async entryAt(repo: string, path: string, checksums: Checksums) {
    const latest = this.#latestAt(repo, path);
    if (latest === undefined) return { known: false, latestSeq: undefined };
    const sha256 = checksums.sha256?.toLowerCase();
    const sha1 = checksums.sha1?.toLowerCase();
    const matches = sha256 !== undefined ? latest.digest === `sha256:${sha256}` : sha1 !== undefined && latest.checksums.sha1 === sha1;
    return { known: latest.kind !== 'tombstone' && matches, latestSeq: latest.seq };
  }
  /** A duplicate: the path's latest entry is the same content (or the same tombstone). */
  async addPendingEntry(entry: StagedEntry) {
    if (this.#latestAt(entry.sourceRepository, entry.path)?.digest === entry.digest) return false;
    const checksums: Checksums = {};
    for (const algorithm of ['sha256', 'sha1', 'md5', 'sha512'] as const) {
      const value = entry.checksums[algorithm];
      if (value !== undefined) checksums[algorithm] = value.toLowerCase();
    }
    this.entries.push({ ...structuredClone(entry), checksums, seq: this.entries.length + 1 });
    return true;
  }
  async listPendingEntries() {
    return this.entries.filter((e) => e.sealedIn === undefined).map(({ sealedIn: _, ...e }) => structuredClone(e));
  }
  async latestEntries(repo: string, path: string, options: { prefix: boolean }) {
    const latest = new Map<string, StagedEntry>();
    for (const { seq: _, sealedIn: __, ...e } of this.entries) {
      if (e.sourceRepository === repo && e.kind !== 'tombstone' && (options.prefix ? e.path.startsWith(path) : e.path === path)) latest.set(e.path, structuredClone(e));
    }
    return [...latest.values()];
  }
  async ledgerPaths(repo: string) {
    return [...new Set(this.entries.filter((e) => e.sourceRepository === repo).map((e) => e.path))].sort();
  }
  /** The latest entry (content or tombstone) at a path. */
  #latestAt(repo: string, path: string): PendingEntry | undefined {
    return this.entries.findLast((e) => e.sourceRepository === repo && e.path === path);
  }
  async shippedIn(digest: Digest) {
    return this.shipped.get(digest);
  }
  async recordHeldBlobs(digests: Digest[], seq: number) {
    for (const d of digests) if (!this.shipped.has(d)) this.shipped.set(d, seq);
  }
  async getLastBundle(sourceId: string) {
    const last = this.bundles.filter((b) => b.sourceId === sourceId).at(-1);
    return last && { ...last };
  }
  async recordSeal(bundle: BundleRecord, seqs: number[], included: Digest[]) {
    const last = await this.getLastBundle(bundle.sourceId);
    if (bundle.sequence !== (last?.sequence ?? 0) + 1) throw new SequenceConflictError(bundle.sourceId, (last?.sequence ?? 0) + 1, bundle.sequence);
    const notPending = seqs.filter((seq) => !this.entries.some((e) => e.seq === seq && e.sealedIn === undefined));
    if (notPending.length > 0) throw new EntryNotPendingError(bundle.sequence, notPending);
    this.bundles.push({ ...bundle });
    for (const e of this.entries) if (seqs.includes(e.seq)) e.sealedIn = bundle.sequence;
    for (const d of included) if (!this.shipped.has(d)) this.shipped.set(d, bundle.sequence);
  }
  resends: ResendRequest[] = [];
  async requestResend(blobs: ResendRequest[]) {
    this.resends = this.resends.filter((r) => !this.shipped.has(r.digest));
    for (const blob of blobs) {
      this.shipped.delete(blob.digest);
      if (!this.resends.some((r) => r.digest === blob.digest)) this.resends.push({ ...blob });
    }
  }
  async listResends() {
    return this.resends.filter((r) => !this.shipped.has(r.digest)).map((r) => ({ ...r }));
  }
  async markBundlePublished(sourceId: string, sequence: number) {
    const bundle = this.bundles.find((b) => b.sourceId === sourceId && b.sequence === sequence);
    if (bundle) bundle.published = true;
  }
}

export class MemoryImportState implements ImportState {
  chain = new Map<string, { sequence: number; digest: Digest }>();
  imported = new Map<Digest, ImportedBundleRecord>();
  outcomes = new Map<string, 'imported' | 'present'>();
  locations = new Map<string, string>();
  async lastImported(sourceId: string) {
    const head = this.chain.get(sourceId);
    return head && { ...head };
  }
  async importedBundle(digest: Digest) {
    const record = this.imported.get(digest);
    return record && { sequence: record.sequence, importedAt: record.importedAt };
  }
  async entryOutcome(bundleDigest: Digest, index: number) {
    return this.outcomes.get(`${bundleDigest}#${index}`);
  }
  async recordEntryOutcome(bundleDigest: Digest, index: number, outcome: 'imported' | 'present') {
    this.outcomes.set(`${bundleDigest}#${index}`, outcome);
  }
  async recordBundleImported(record: ImportedBundleRecord) {
    if (!this.imported.has(record.digest)) this.imported.set(record.digest, { ...record });
    if (!record.advancesChain) return;
    let head: { sequence: number; digest: Digest } | undefined = { sequence: record.sequence, digest: record.digest };
    while (head !== undefined && (this.chain.get(record.sourceId)?.sequence ?? 0) < head.sequence) {
      this.chain.set(record.sourceId, head);
      const from: { sequence: number; digest: Digest } = head;
      const next = [...this.imported.values()].find((b) => b.sourceId === record.sourceId && b.sequence === from.sequence + 1 && b.previous === from.digest);
      head = next && { sequence: next.sequence, digest: next.digest };
    }
  }
  readonly importedPlaces = new Map<string, Digest>();
  async importedAt(repository: string, path: string) {
    return this.importedPlaces.get(`${repository}\n${path}`);
  }
  async recordImportedAt(repository: string, path: string, digest: Digest | undefined) {
    if (digest === undefined) this.importedPlaces.delete(`${repository}\n${path}`);
    else this.importedPlaces.set(`${repository}\n${path}`, digest);
  }
  async blobLocation(registry: string, digest: Digest) {
    return this.locations.get(`${registry}#${digest}`);
  }
  async recordBlobLocation(registry: string, digest: Digest, name: string) {
    if (!this.locations.has(`${registry}#${digest}`)) this.locations.set(`${registry}#${digest}`, name);
  }
  /** Part digest → the blobs waiting for it. */
  readonly awaited = new Map<Digest, Set<Digest>>();
  async recordAwaitedParts(blob: Digest, parts: readonly Digest[]) {
    for (const part of parts) this.awaited.set(part, (this.awaited.get(part) ?? new Set()).add(blob));
  }
  async blobsAwaiting(part: Digest) {
    return [...(this.awaited.get(part) ?? [])];
  }
  async partsAwaitedBy(blob: Digest) {
    return [...this.awaited].filter(([, blobs]) => blobs.has(blob)).map(([part]) => part);
  }
  async forgetAwaitedParts(blob: Digest) {
    for (const blobs of this.awaited.values()) blobs.delete(blob);
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
  listed: { name: string; format: string; type: string }[] = [{ name: 'raw-a', format: 'raw', type: 'hosted' }];
  async repositories() {
    return this.listed;
  }
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
  /** What `HEAD /repository/R<path>` answers: served while its content is here. */
  async hasPath(repository: string, path: string) {
    return this.contents.has(`${repository}${path}`);
  }
  async downloadAsset<T>(repository: string, path: string, _expected: unknown, consume: (body: Readable) => Promise<T>) {
    const data = this.contents.get(`${repository}${path}`);
    if (!data) throw new Error(`404 ${repository}${path}`);
    return consume(Readable.from([data]));
  }
  async readContent(repository: string, path: string) {
    return this.contents.get(`${repository}${path}`);
  }
}


function checkDigest(what: string, digest: Digest): Digest {
  if (!isDigest(digest)) throw new InvalidDigestError(what, digest);
  return digest;
}

function normaliseInstant(what: string, value: string): string {
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw new InvalidTimestampError(what, value);
  return new Date(time).toISOString();
}
