/**
 * The scan's promises, with in-memory ports: the watermark moves only after every task it
 * covers is queued; a crash resumes from the checkpointed page; the overlap absorbs skew.
 */
import { describe, expect, it } from 'vitest';
import { silentLog } from '../shared/core/log.ts';
import { taskLabel } from '../shared/core/export/copy.ts';
import { changedSince, scanRepository } from '../shared/core/export/scan.ts';
import { rawTaskId } from '../shared/core/formats/raw/export.ts';
import type { CopyTask, SourceAsset, SourceComponent } from '../shared/core/ports/index.ts';
import { generateKeyPairSync } from 'node:crypto';
import { SourceMismatchError } from '../shared/core/export/errors.ts';
import { makeExporter } from '../shared/core/export/exporter.ts';
import { localSigner } from '../shared/signing.ts';
import { FakeSource, MemoryExportState, MemoryObjectStore, MemoryQueue } from './support/fakes.ts';

const repo = { name: 'raw-a', format: 'raw' as const, target: 'raw-a' };

function component(i: number, lastModified: string | null): SourceComponent {
  const asset: SourceAsset = { path: `/c/${i}.bin`, checksums: { sha1: i.toString(16).padStart(40, '0') }, lastModified, size: 10 };
  return { id: `id${i}`, repository: 'raw-a', format: 'raw', group: '/c', name: `c/${i}.bin`, version: null, assets: [asset] };
}

function fixedClock(iso: string) {
  return { now: () => new Date(iso) };
}

describe('scanRepository', () => {
  it('queues every component on the first scan and sets the watermark to the scan start', async () => {
    // Prepare
    const source = new FakeSource();
    source.pages = [
      { items: [component(1, '2026-01-01T00:00:00.000Z'), component(2, '2026-01-02T00:00:00.000Z')], continuationToken: '1' },
      { items: [component(3, null)], continuationToken: null },
    ];
    const state = new MemoryExportState();
    const queue = new MemoryQueue();

    // Act
    const result = await scanRepository({ source, queue, state, clock: fixedClock('2026-02-01T00:00:00.000Z'), log: silentLog }, repo, { overlapMs: 0 });

    // Assess
    expect(result.queued).toBe(3);
    expect(queue.tasks.size).toBe(3);
    expect(state.watermarks.get('raw-a')).toBe('2026-02-01T00:00:00.000Z');
    expect(state.checkpoints.size).toBe(0);
  });

  it('does not move the watermark when queueing fails, and resumes from the checkpointed page', async () => {
    // Prepare: the queue fails on the second page
    const source = new FakeSource();
    source.pages = [
      { items: [component(1, '2026-01-01T00:00:00.000Z')], continuationToken: '1' },
      { items: [component(2, '2026-01-01T00:00:00.000Z')], continuationToken: '2' },
      { items: [component(3, '2026-01-01T00:00:00.000Z')], continuationToken: null },
    ];
    const state = new MemoryExportState();
    const queue = new MemoryQueue();
    queue.failOnCall = 2;
    const deps = { source, queue, state, clock: fixedClock('2026-02-01T00:00:00.000Z'), log: silentLog };

    // Act
    await expect(scanRepository(deps, repo, { overlapMs: 0 })).rejects.toThrow('queue unavailable');
    const watermarkAfterCrash = state.watermarks.get('raw-a');
    const checkpointAfterCrash = state.checkpoints.get('raw-a');
    deps.clock = fixedClock('2026-03-01T00:00:00.000Z');
    const resumed = await scanRepository(deps, repo, { overlapMs: 0 });

    // Assess
    expect(watermarkAfterCrash).toBeUndefined();
    expect(checkpointAfterCrash?.continuationToken).toBe('1');
    expect(resumed.resumed).toBe(true);
    expect(source.tokensAsked).toEqual([null, '1']);
    expect([...queue.tasks.values()].map((t) => taskLabel(t)).sort()).toEqual(['raw-a/c/1.bin', 'raw-a/c/2.bin', 'raw-a/c/3.bin']);
    // the watermark is the start of the scan that was resumed, not of the resumption
    expect(state.watermarks.get('raw-a')).toBe('2026-02-01T00:00:00.000Z');
  });

  it('catches an asset stamped before the watermark by a Nexus clock that lags, thanks to the overlap', async () => {
    // Prepare: watermark at 12:00 (our clock); Nexus lags 4 minutes and stamps a later upload 11:57
    const source = new FakeSource();
    source.pages = [{ items: [component(1, '2026-01-01T11:57:00.000Z'), component(2, '2026-01-01T10:00:00.000Z')], continuationToken: null }];
    const state = new MemoryExportState();
    state.watermarks.set('raw-a', '2026-01-01T12:00:00.000Z');
    const queue = new MemoryQueue();

    // Act
    await scanRepository({ source, queue, state, clock: fixedClock('2026-01-01T13:00:00.000Z'), log: silentLog }, repo, { overlapMs: 10 * 60_000 });

    // Assess: the skewed one is queued, the old one is not
    expect([...queue.tasks.values()].map((t) => taskLabel(t))).toEqual(['raw-a/c/1.bin']);
    expect(state.watermarks.get('raw-a')).toBe('2026-01-01T13:00:00.000Z');
  });

  it('does not queue an asset whose content is already recorded (re-scans are harmless)', async () => {
    // Prepare
    const source = new FakeSource();
    const c = component(7, '2026-01-01T00:00:00.000Z');
    source.pages = [{ items: [c], continuationToken: null }];
    const state = new MemoryExportState();
    await state.addPendingEntry({ kind: 'raw', sourceRepository: 'raw-a', path: '/c/7.bin', targetRepository: 'raw-a', digest: `sha256:${'a'.repeat(64)}`, size: 10, checksums: c.assets[0]!.checksums });
    const queue = new MemoryQueue();

    // Act
    const result = await scanRepository({ source, queue, state, clock: fixedClock('2026-02-01T00:00:00.000Z'), log: silentLog }, repo, { overlapMs: 0 });

    // Assess
    expect(result.queued).toBe(0);
  });
});

describe('task ids and change detection', () => {
  it.each([
    { a: { sha256: 'ab' }, b: { sha256: 'ab' }, same: true },
    { a: { sha256: 'ab' }, b: { sha256: 'cd' }, same: false },
    { a: { sha1: '01' }, b: { sha1: '01', md5: 'x' }, same: true },
  ])('content $a vs $b → same id: $same', ({ a, b, same }) => {
    expect(rawTaskId('r', '/p', a, null) === rawTaskId('r', '/p', b, null)).toBe(same);
  });

  it.each([
    { lastModified: '2026-01-01T00:00:00.000Z', since: '2026-01-01T00:00:00.000Z', changed: true },
    { lastModified: '2025-12-31T23:59:59.999Z', since: '2026-01-01T00:00:00.000Z', changed: false },
    { lastModified: null, since: '2026-01-01T00:00:00.000Z', changed: true },
    { lastModified: '2020-01-01T00:00:00.000Z', since: null, changed: true },
  ])('lastModified $lastModified since $since → $changed', ({ lastModified, since, changed }) => {
    expect(changedSince({ path: '/x', checksums: {}, lastModified, size: null }, since)).toBe(changed);
  });
});

describe('a scan cut short (a Lambda near its timeout)', () => {
  it('stops after a durable page, keeps the watermark, and the next call continues from the checkpoint', async () => {
    // Prepare
    const source = new FakeSource();
    source.pages = [
      { items: [component(1, null)], continuationToken: '1' },
      { items: [component(2, null)], continuationToken: '2' },
      { items: [component(3, null)], continuationToken: null },
    ];
    const state = new MemoryExportState();
    const queue = new MemoryQueue();
    const deps = { source, queue, state, clock: fixedClock('2026-02-01T00:00:00.000Z'), log: silentLog };

    // Act
    const first = await scanRepository(deps, repo, { overlapMs: 0, shouldStop: () => true });
    const second = await scanRepository(deps, repo, { overlapMs: 0 });

    // Assess
    expect(first.complete).toBe(false);
    expect(first.pages).toBe(1);
    expect(second.complete).toBe(true);
    expect(source.tokensAsked).toEqual([null, '1']);
    expect(queue.tasks.size).toBe(3);
    expect(state.watermarks.get('raw-a')).toBe('2026-02-01T00:00:00.000Z');
  });
});

describe('exporter.scan', () => {
  it('does not scan a repository the source has in another format, and reports it; the others are scanned', async () => {
    // Prepare: raw-b is declared raw but the source says helm
    const source = new FakeSource();
    source.listed = [
      { name: 'raw-a', format: 'raw', type: 'hosted' },
      { name: 'raw-b', format: 'helm', type: 'hosted' },
    ];
    source.pages = [{ items: [component(1, null)], continuationToken: null }];
    const exporter = makeExporter(
      { source, store: new MemoryObjectStore(), queue: new MemoryQueue(), state: new MemoryExportState(), clock: fixedClock('2026-02-01T00:00:00.000Z'), log: silentLog, signer: localSigner(generateKeyPairSync('ed25519').privateKey) },
      { sourceId: 's', repositories: [repo, { name: 'raw-b', format: 'raw', target: 'raw-b' }], overlapMs: 0, scanConcurrency: 2, maxBundleBytes: 1 << 20 },
    );

    // Act
    const { results, failures } = await exporter.scan();

    // Assess
    expect(results.map((r) => r.repository)).toEqual(['raw-a']);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.error).toBeInstanceOf(SourceMismatchError);
    expect((failures[0]!.error as Error).message).toBe('raw-b: declared raw, but the source Nexus says raw-b is a helm hosted repository');
  });
});

/** A listing that logs each page read as it starts, answers after a macrotask, and can fail reading one page. */
class LoggedSource extends FakeSource {
  events: string[] = [];
  failReading: number | undefined;
  override async *componentPages(_repository: string, continuationToken?: string | null) {
    this.tokensAsked.push(continuationToken ?? null);
    for (let index = continuationToken ? Number(continuationToken) : 0; index < this.pages.length; index++) {
      this.events.push(`read ${index}`);
      await new Promise((resolve) => setImmediate(resolve)); // the round trip
      if (this.failReading === index) throw new Error(`listing page ${index} failed`);
      yield this.pages[index]!;
    }
  }
}

/** A queue that logs which page's tasks it queued (by component number, one per page here). */
class LoggedQueue extends MemoryQueue {
  readonly events: string[];
  constructor(events: string[]) {
    super();
    this.events = events;
  }
  override async enqueue(tasks: CopyTask[]) {
    await super.enqueue(tasks);
    this.events.push(`queue ${tasks.map((t) => taskLabel(t)).join(',')}`);
  }
}

function threePages(source: FakeSource): void {
  source.pages = [
    { items: [component(1, null)], continuationToken: '1' },
    { items: [component(2, null)], continuationToken: '2' },
    { items: [component(3, null)], continuationToken: null },
  ];
}

describe('the scan reads one page ahead', () => {
  it('requests the next page before the current page is queued, and queues the pages in order', async () => {
    // Prepare
    const source = new LoggedSource();
    threePages(source);
    const queue = new LoggedQueue(source.events);

    // Act
    const result = await scanRepository({ source, queue, state: new MemoryExportState(), clock: fixedClock('2026-02-01T00:00:00.000Z'), log: silentLog }, repo, { overlapMs: 0 });

    // Assess: page 1 is on its way while page 0 is recorded; pages are recorded in listing order
    expect(source.events).toEqual(['read 0', 'read 1', 'queue raw-a/c/1.bin', 'read 2', 'queue raw-a/c/2.bin', 'queue raw-a/c/3.bin']);
    expect(result.pages).toBe(3);
  });

  it('reports a failure reading the next page only after the current page is queued and checkpointed', async () => {
    // Prepare: page 1 fails while page 0 is being recorded
    const source = new LoggedSource();
    threePages(source);
    source.failReading = 1;
    const state = new MemoryExportState();
    const queue = new MemoryQueue();
    const deps = { source, queue, state, clock: fixedClock('2026-02-01T00:00:00.000Z'), log: silentLog };

    // Act
    await expect(scanRepository(deps, repo, { overlapMs: 0 })).rejects.toThrow('listing page 1 failed');
    const queuedBeforeResume = [...queue.tasks.values()].map((t) => taskLabel(t));
    const checkpoint = state.checkpoints.get('raw-a');
    source.failReading = undefined;
    const resumed = await scanRepository(deps, repo, { overlapMs: 0 });

    // Assess
    expect(queuedBeforeResume).toEqual(['raw-a/c/1.bin']);
    expect(checkpoint?.continuationToken).toBe('1');
    expect(state.watermarks.get('raw-a')).toBe('2026-02-01T00:00:00.000Z');
    expect(resumed.resumed).toBe(true);
    expect(source.tokensAsked).toEqual([null, '1']);
    expect(queue.tasks.size).toBe(3);
  });

  it('leaves the page read ahead to the next run when paused: not queued, not counted', async () => {
    // Prepare: time runs out while page 0 is recorded (not yet when it arrived)
    const source = new LoggedSource();
    threePages(source);
    const state = new MemoryExportState();
    const queue = new MemoryQueue();
    const deps = { source, queue, state, clock: fixedClock('2026-02-01T00:00:00.000Z'), log: silentLog };
    const answers = [false, true];

    // Act
    const paused = await scanRepository(deps, repo, { overlapMs: 0, shouldStop: () => answers.shift() ?? true });
    const queuedWhenPaused = [...queue.tasks.values()].map((t) => taskLabel(t));

    // Assess: page 1 was read ahead, yet only page 0 counts; the checkpoint names page 1
    expect(source.events).toEqual(['read 0', 'read 1']);
    expect(paused).toMatchObject({ pages: 1, components: 1, queued: 1, complete: false });
    expect(queuedWhenPaused).toEqual(['raw-a/c/1.bin']);
    expect(state.checkpoints.get('raw-a')?.continuationToken).toBe('1');
  });

  it('reads no page ahead when told to stop: the page it would not use is not read twice', async () => {
    // Prepare
    const source = new LoggedSource();
    threePages(source);
    const deps = { source, queue: new MemoryQueue(), state: new MemoryExportState(), clock: fixedClock('2026-02-01T00:00:00.000Z'), log: silentLog };

    // Act
    const paused = await scanRepository(deps, repo, { overlapMs: 0, shouldStop: () => true });
    const resumed = await scanRepository(deps, repo, { overlapMs: 0 });

    // Assess: each page read once across both runs
    expect(paused.pages).toBe(1);
    expect(resumed.pages).toBe(2);
    expect(source.events).toEqual(['read 0', 'read 1', 'read 2']);
  });
});
