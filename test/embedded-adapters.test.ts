import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChecksumMismatchError, SizeMismatchError, sha256Of, type Digest } from '../shared/digest.ts';
import type { BundleRecord, CopyTask, StagedEntry } from '../shared/core/ports.ts';
import {
  BlobNotFoundError,
  DirObjectStore,
  EntryNotPendingError,
  InvalidBundleNameError,
  openDatabase,
  SequenceConflictError,
  SqliteExportState,
  SqliteImportState,
  SqliteTaskQueue,
  type TaskEvent,
} from '../shared/adapters/embedded/index.ts';

let dir: string;
const closers: (() => void)[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-embedded-'));
});

afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await rm(dir, { recursive: true, force: true });
});

function exportState(file = path.join(dir, 'state.db')): SqliteExportState {
  const state = new SqliteExportState(file);
  closers.push(() => state.close());
  return state;
}

function taskQueue(file = path.join(dir, 'state.db')): SqliteTaskQueue {
  const queue = new SqliteTaskQueue(file);
  closers.push(() => queue.close());
  return queue;
}

function task(id: string): CopyTask {
  return { kind: 'raw', id, sourceRepository: 'raw-src', path: `/files/${id}`, targetRepository: 'raw-dst', checksums: {} };
}

function entry(pathName: string, content: string, checksums: StagedEntry['checksums'] = {}): StagedEntry {
  return {
    kind: 'raw',
    sourceRepository: 'raw-src',
    path: pathName,
    targetRepository: 'raw-dst',
    digest: sha256Of(content),
    size: content.length,
    checksums,
  };
}

function bundle(sequence: number): BundleRecord {
  return {
    sourceId: 'connected',
    sequence,
    digest: sha256Of(`bundle ${sequence}`),
    name: `ferry-${sequence}.tar`,
    size: 1000 + sequence,
    sealedAt: '2025-01-01T00:00:00.000Z',
  };
}

/** A stream that yields `before` and then fails. */
function failingStream(before: string, error: Error): Readable {
  return new Readable({
    read() {
      if (before !== '') {
        this.push(before);
        before = '';
      } else {
        this.destroy(error);
      }
    },
  });
}

async function listOrEmpty(folder: string): Promise<string[]> {
  return existsSync(folder) ? readdir(folder) : [];
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

describe('DirObjectStore', () => {
  it('stores identical content once and reports the second put as existed', async () => {
    // Prepare
    const store = new DirObjectStore(path.join(dir, 'objects'));

    // Act
    const first = await store.putBlob(Readable.from(['hello ', 'world']));
    const second = await store.putBlob(Readable.from(['hello world']), { expectedDigest: sha256Of('hello world'), expectedSize: 11 });

    // Assess
    expect(first).toEqual({ digest: sha256Of('hello world'), size: 11, existed: false });
    expect(second).toEqual({ digest: sha256Of('hello world'), size: 11, existed: true });
    expect(await readdir(path.join(dir, 'objects', 'blobs', 'sha256'))).toEqual([sha256Of('hello world').slice(7)]);
    expect(await readdir(path.join(dir, 'objects', 'tmp'))).toEqual([]);
    expect(await store.statBlob(first.digest)).toEqual({ size: 11 });
    const source = await store.getBlob(first.digest);
    expect(source.size).toBe(11);
    expect(await readAll(await source.open())).toBe('hello world');
    expect(await readAll(await source.open())).toBe('hello world');
  });

  it('leaves no blob and no temp file when the stream errors midway', async () => {
    // Prepare
    const store = new DirObjectStore(path.join(dir, 'objects'));
    const cut = new Error('connection reset');

    // Act
    const put = store.putBlob(failingStream('partial content', cut));

    // Assess
    await expect(put).rejects.toBe(cut);
    expect(await listOrEmpty(path.join(dir, 'objects', 'blobs', 'sha256'))).toEqual([]);
    expect(await listOrEmpty(path.join(dir, 'objects', 'tmp'))).toEqual([]);
  });

  it('refuses content that does not match the expected digest or size, leaving nothing', async () => {
    // Prepare
    const store = new DirObjectStore(path.join(dir, 'objects'));

    // Act
    const wrongDigest = await store.putBlob(Readable.from(['tampered']), { expectedDigest: sha256Of('original') }).catch((e: unknown) => e);
    const wrongSize = await store.putBlob(Readable.from(['original']), { expectedSize: 99 }).catch((e: unknown) => e);

    // Assess
    expect(wrongDigest).toBeInstanceOf(ChecksumMismatchError);
    expect(wrongSize).toBeInstanceOf(SizeMismatchError);
    expect(await store.statBlob(sha256Of('tampered'))).toBeUndefined();
    expect(await store.statBlob(sha256Of('original'))).toBeUndefined();
    expect(await listOrEmpty(path.join(dir, 'objects', 'tmp'))).toEqual([]);
  });

  it('reports a missing blob with an error naming its digest', async () => {
    // Prepare
    const store = new DirObjectStore(path.join(dir, 'objects'));
    const digest = sha256Of('never stored');

    // Act
    const get = store.getBlob(digest);

    // Assess
    await expect(get).rejects.toBeInstanceOf(BlobNotFoundError);
    await expect(get).rejects.toThrow(digest);
  });

  it('publishes a bundle only when its writer succeeds, and lists bundles by name', async () => {
    // Prepare
    const store = new DirObjectStore(path.join(dir, 'objects'));
    const broken = new Error('disk full');

    // Act
    const failed = store.putBundle('ferry-3.tar', async (out) => {
      out.write('half a bundle');
      await sleep(5);
      throw broken;
    });
    await expect(failed).rejects.toBe(broken);
    const b2 = await store.putBundle('ferry-2.tar', async (out) => {
      await new Promise<void>((resolve) => out.end('second', resolve));
    });
    const b1 = await store.putBundle('ferry-1.tar', async (out) => {
      out.write('first!'); // left open: the store ends it
    });

    // Assess
    expect(b1).toEqual({ size: 6, location: path.join(dir, 'objects', 'bundles', 'ferry-1.tar') });
    expect(b2.size).toBe(6);
    expect(await store.listBundles()).toEqual([
      { name: 'ferry-1.tar', size: 6, location: b1.location },
      { name: 'ferry-2.tar', size: 6, location: b2.location },
    ]);
    expect(await readFile(b1.location, 'utf8')).toBe('first!');
    expect(await readdir(path.join(dir, 'objects', 'tmp'))).toEqual([]);
    await store.deleteBundle('ferry-1.tar');
    expect((await store.listBundles()).map((b) => b.name)).toEqual(['ferry-2.tar']);
  });

  it('writes bundles to a separate bundles directory when one is given', async () => {
    // Prepare
    const bundlesDir = path.join(dir, 'outbox');
    const store = new DirObjectStore(path.join(dir, 'objects'), { bundlesDir });

    // Act
    const written = await store.putBundle('ferry-1.tar', async (out) => void out.end('bundle'));
    const failed = store.putBundle('ferry-2.tar', async () => {
      throw new Error('seal failed');
    });

    // Assess
    await expect(failed).rejects.toThrow('seal failed');
    expect(written.location).toBe(path.join(bundlesDir, 'ferry-1.tar'));
    expect(await store.listBundles()).toEqual([{ name: 'ferry-1.tar', size: 6, location: written.location }]);
    expect(await readdir(path.join(bundlesDir, '.ferry-tmp'))).toEqual([]);
  });

  it('rejects bundle names that could leave the bundles directory', async () => {
    // Prepare
    const store = new DirObjectStore(path.join(dir, 'objects'));
    const write = async () => {};

    // Act / Assess
    for (const name of ['../escape.tar', 'a/b.tar', 'a\\b.tar', '..', '.hidden', '']) {
      await expect(store.putBundle(name, write)).rejects.toBeInstanceOf(InvalidBundleNameError);
    }
    expect(existsSync(path.join(dir, 'escape.tar'))).toBe(false);
  });

  it('removes stale temp files left by a crash, but not fresh ones', async () => {
    // Prepare
    const tmp = path.join(dir, 'objects', 'tmp');
    await mkdir(tmp, { recursive: true });
    await writeFile(path.join(tmp, 'stale.part'), 'crashed write');
    await writeFile(path.join(tmp, 'fresh.part'), 'write in progress elsewhere');
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(path.join(tmp, 'stale.part'), twoHoursAgo, twoHoursAgo);

    // Act
    const store = new DirObjectStore(path.join(dir, 'objects'));
    await store.putBlob(Readable.from(['x']));

    // Assess
    expect(await readdir(tmp)).toEqual(['fresh.part']);
  });
});

describe('SqliteExportState', () => {
  it('advances a watermark only from the expected value and only forwards', async () => {
    // Prepare
    const state = exportState();

    // Act
    const created = await state.advanceWatermark('raw-src', undefined, '2025-01-01T10:00:00Z');
    const createdAgain = await state.advanceWatermark('raw-src', undefined, '2025-01-01T11:00:00Z');
    const moved = await state.advanceWatermark('raw-src', '2025-01-01T11:00:00+01:00', '2025-01-01T12:00:00Z');
    const stale = await state.advanceWatermark('raw-src', '2025-01-01T10:00:00.000Z', '2025-01-01T13:00:00Z');
    const backwards = await state.advanceWatermark('raw-src', '2025-01-01T12:00:00.000Z', '2025-01-01T11:59:59.999Z');
    const same = await state.advanceWatermark('raw-src', '2025-01-01T12:00:00.000Z', '2025-01-01T12:00:00Z');

    // Assess
    expect([created, createdAgain, moved, stale, backwards, same]).toEqual([true, false, true, false, false, false]);
    expect(await state.getWatermark('raw-src')).toBe('2025-01-01T12:00:00.000Z');
    expect(await state.getWatermark('other')).toBeUndefined();
  });

  it('lets exactly one of two writers on the same file advance a watermark', async () => {
    // Prepare
    const file = path.join(dir, 'shared.db');
    const a = exportState(file);
    const b = exportState(file);
    await a.advanceWatermark('raw-src', undefined, '2025-01-01T00:00:00Z');
    const base = (await b.getWatermark('raw-src'))!;

    // Act
    const results = await Promise.all([
      a.advanceWatermark('raw-src', base, '2025-01-02T00:00:00Z'),
      b.advanceWatermark('raw-src', base, '2025-01-03T00:00:00Z'),
    ]);

    // Assess
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results[0] ? '2025-01-02T00:00:00.000Z' : '2025-01-03T00:00:00.000Z';
    expect(await a.getWatermark('raw-src')).toBe(winner);
    expect(await b.getWatermark('raw-src')).toBe(winner);
  });

  it('keeps, replaces and clears a scan checkpoint', async () => {
    // Prepare
    const state = exportState();
    const checkpoint = { startedAt: '2025-01-01T00:00:00.000Z', since: null, continuationToken: 'page-2' };

    // Act
    await state.putScanCheckpoint('raw-src', checkpoint);
    const stored = await state.getScanCheckpoint('raw-src');
    await state.putScanCheckpoint('raw-src', { ...checkpoint, continuationToken: null });
    const replaced = await state.getScanCheckpoint('raw-src');
    await state.putScanCheckpoint('raw-src', undefined);

    // Assess
    expect(stored).toEqual(checkpoint);
    expect(replaced?.continuationToken).toBeNull();
    expect(await state.getScanCheckpoint('raw-src')).toBeUndefined();
  });

  it('records the same asset content once and lists pending entries in staging order', async () => {
    // Prepare
    const state = exportState();

    // Act
    const first = await state.addPendingEntry(entry('/a.jar', 'v1', { sha1: 'AB12' }));
    const duplicate = await state.addPendingEntry(entry('/a.jar', 'v1', { sha1: 'ab12' }));
    const newContent = await state.addPendingEntry(entry('/a.jar', 'v2'));
    const otherPath = await state.addPendingEntry(entry('/b.jar', 'v1'));

    // Assess
    expect([first, duplicate, newContent, otherPath]).toEqual([true, false, true, true]);
    const pending = await state.listPendingEntries();
    expect(pending.map((e) => [e.path, e.digest])).toEqual([
      ['/a.jar', sha256Of('v1')],
      ['/a.jar', sha256Of('v2')],
      ['/b.jar', sha256Of('v1')],
    ]);
    expect(pending[0]).toMatchObject({ checksums: { sha1: 'ab12' }, size: 2, kind: 'raw', targetRepository: 'raw-dst' });
    expect(pending[0]!.seq).toBeLessThan(pending[1]!.seq);
  });

  it('matches entries by sha256 when given, else by sha1, else not at all', async () => {
    // Prepare
    const state = exportState();
    await state.addPendingEntry(entry('/a.jar', 'v1', { sha1: 'aaaa' }));
    const sha256 = sha256Of('v1').slice(7);

    // Act
    const results = {
      bySha256: await state.hasEntry('raw-src', '/a.jar', { sha256: sha256.toUpperCase() }),
      sha256Wins: await state.hasEntry('raw-src', '/a.jar', { sha256: sha256Of('v2').slice(7), sha1: 'aaaa' }),
      bySha1: await state.hasEntry('raw-src', '/a.jar', { sha1: 'aaaa', md5: 'ffff' }),
      sha1Differs: await state.hasEntry('raw-src', '/a.jar', { sha1: 'bbbb' }),
      md5Only: await state.hasEntry('raw-src', '/a.jar', { md5: 'ffff' }),
      otherPath: await state.hasEntry('raw-src', '/b.jar', { sha256 }),
      otherRepo: await state.hasEntry('raw-other', '/a.jar', { sha256 }),
    };

    // Assess
    expect(results).toEqual({
      bySha256: true,
      sha256Wins: false,
      bySha1: true,
      sha1Differs: false,
      md5Only: false,
      otherPath: false,
      otherRepo: false,
    });
  });

  it('refuses a seal out of sequence, naming expected and got', async () => {
    // Prepare
    const state = exportState();

    // Act
    const skipped = state.recordSeal(bundle(2), [], []);

    // Assess
    await expect(skipped).rejects.toBeInstanceOf(SequenceConflictError);
    await expect(skipped).rejects.toThrow('expected 1, got 2');
    await state.recordSeal(bundle(1), [], []);
    await expect(state.recordSeal(bundle(1), [], [])).rejects.toThrow('expected 2, got 1');
    expect(await state.getLastBundle('connected')).toEqual(bundle(1));
  });

  it('seals atomically: a failing seal changes nothing, a good one moves everything', async () => {
    // Prepare
    const state = exportState();
    await state.addPendingEntry(entry('/a.jar', 'a'));
    await state.addPendingEntry(entry('/b.jar', 'b'));
    const [a, b] = await state.listPendingEntries();

    // Act
    const failing = state.recordSeal(bundle(1), [a!.seq, 999], [a!.digest]);
    await expect(failing).rejects.toBeInstanceOf(EntryNotPendingError);
    const afterFailure = {
      last: await state.getLastBundle('connected'),
      pending: (await state.listPendingEntries()).length,
      shipped: await state.shippedIn(a!.digest),
    };
    await state.recordSeal(bundle(1), [a!.seq], [a!.digest]);
    const resealing = state.recordSeal(bundle(2), [a!.seq], []);

    // Assess
    expect(afterFailure).toEqual({ last: undefined, pending: 2, shipped: undefined });
    await expect(resealing).rejects.toBeInstanceOf(EntryNotPendingError);
    expect(await state.getLastBundle('connected')).toEqual(bundle(1));
    expect((await state.listPendingEntries()).map((e) => e.seq)).toEqual([b!.seq]);
    expect(await state.shippedIn(a!.digest)).toBe(1);
    expect(await state.hasEntry('raw-src', '/a.jar', { sha256: a!.digest.slice(7) })).toBe(true);
  });

  it('records blobs held by the far side without overwriting what a bundle shipped', async () => {
    // Prepare
    const state = exportState();
    await state.recordSeal(bundle(1), [], [sha256Of('shipped')]);

    // Act
    await state.recordHeldBlobs([sha256Of('shipped'), sha256Of('held')], 7);

    // Assess
    expect(await state.shippedIn(sha256Of('shipped'))).toBe(1);
    expect(await state.shippedIn(sha256Of('held'))).toBe(7);
    expect(await state.shippedIn(sha256Of('unknown'))).toBeUndefined();
  });
});

describe('SqliteTaskQueue', () => {
  it('queues an id once, even after it is done', async () => {
    // Prepare
    const queue = taskQueue();
    await queue.enqueue([task('a'), task('b'), task('a')]);
    const firstRun: string[] = [];
    await queue.drain(async (t) => void firstRun.push(t.id), { concurrency: 2 });

    // Act
    await queue.enqueue([task('a'), task('c')]);
    const secondRun: string[] = [];
    const result = await queue.drain(async (t) => void secondRun.push(t.id), { concurrency: 2 });

    // Assess
    expect(firstRun.sort()).toEqual(['a', 'b']);
    expect(secondRun).toEqual(['c']);
    expect(result).toEqual({ done: 1, dead: [] });
    expect(queue.counts()).toEqual({ ready: 0, running: 0, done: 3, dead: 0 });
  });

  it('keeps queued tasks across a reopen of the file', async () => {
    // Prepare
    const file = path.join(dir, 'queue.db');
    const first = new SqliteTaskQueue(file);
    await first.enqueue([task('a'), task('b')]);
    first.close();

    // Act
    const reopened = taskQueue(file);

    // Assess
    expect(reopened.counts()).toEqual({ ready: 2, running: 0, done: 0, dead: 0 });
  });

  it('runs at most `concurrency` handlers at once and picks up tasks enqueued while draining', async () => {
    // Prepare
    const queue = taskQueue();
    await queue.enqueue(Array.from({ length: 20 }, (_, i) => task(`t${i}`)));
    let inFlight = 0;
    let maxInFlight = 0;
    const ran: string[] = [];

    // Act
    const result = await queue.drain(
      async (t) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        if (t.id === 't0') await queue.enqueue([task('late')]);
        await sleep(10);
        ran.push(t.id);
        inFlight--;
      },
      { concurrency: 4 },
    );

    // Assess
    expect(maxInFlight).toBe(4);
    expect(result.done).toBe(21);
    expect(ran).toContain('late');
    expect(queue.counts()).toEqual({ ready: 0, running: 0, done: 21, dead: 0 });
  });

  it('retries a failing task, then dead-letters it with its error kept', async () => {
    // Prepare
    const queue = taskQueue();
    await queue.enqueue([task('flaky'), task('broken')]);
    const events: string[] = [];
    let flakyFailures = 0;

    // Act
    const result = await queue.drain(
      async (t) => {
        if (t.id === 'broken') throw new Error(`upstream 502 for ${t.id}`);
        if (flakyFailures++ === 0) throw new Error('reset');
      },
      {
        concurrency: 2,
        maxAttempts: 3,
        backoffMs: 1,
        onEvent: (e: TaskEvent) => events.push(`${e.type}:${e.task.id}:${e.attempt}`),
      },
    );

    // Assess
    expect(result.done).toBe(1);
    expect(result.dead).toEqual([{ task: task('broken'), error: 'upstream 502 for broken' }]);
    expect(events.filter((e) => e.includes(':broken:'))).toEqual([
      'start:broken:1',
      'retry:broken:1',
      'start:broken:2',
      'retry:broken:2',
      'start:broken:3',
      'dead:broken:3',
    ]);
    expect(events.filter((e) => e.includes(':flaky:'))).toEqual(['start:flaky:1', 'retry:flaky:1', 'start:flaky:2', 'done:flaky:2']);
    expect(queue.deadTasks()).toMatchObject([{ task: task('broken'), error: 'upstream 502 for broken', attempts: 3 }]);
    expect(queue.counts()).toEqual({ ready: 0, running: 0, done: 1, dead: 1 });

    // Act: the operator requeues the dead letter once upstream is fixed
    expect(queue.requeueDead()).toBe(1);
    const rerun = await queue.drain(async () => {}, { concurrency: 1 });

    // Assess
    expect(rerun).toEqual({ done: 1, dead: [] });
    expect(queue.counts()).toEqual({ ready: 0, running: 0, done: 2, dead: 0 });
  });

  it('stops taking tasks when aborted and leaves the rest ready', async () => {
    // Prepare
    const queue = taskQueue();
    await queue.enqueue(Array.from({ length: 10 }, (_, i) => task(`t${i}`)));
    const controller = new AbortController();
    let started = 0;

    // Act: abort once the second task has started
    const result = await queue.drain(
      async () => {
        if (++started === 2) controller.abort();
        await sleep(5);
      },
      { concurrency: 2, signal: controller.signal },
    );

    // Assess
    expect(result.done).toBe(2);
    expect(queue.counts()).toEqual({ ready: 8, running: 0, done: 2, dead: 0 });
  });

  it('survives kill -9 mid-drain: a new queue finishes every task, none lost', async () => {
    // Prepare
    const file = path.join(dir, 'crash.db');
    const effects = path.join(dir, 'effects.log');
    await writeFile(effects, '');
    const ids = Array.from({ length: 60 }, (_, i) => `t${String(i).padStart(2, '0')}`);
    const setup = new SqliteTaskQueue(file);
    await setup.enqueue(ids.map(task));
    setup.close();
    const child = spawn(process.execPath, [path.join(import.meta.dirname, 'fixtures', 'queue-crash-child.ts'), file, effects], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const exited = once(child, 'exit');

    // Act: kill the child once a few tasks have had their effect
    const deadline = Date.now() + 20_000;
    while ((await readFile(effects, 'utf8')).split('\n').filter(Boolean).length < 5) {
      if (Date.now() > deadline) throw new Error('child made no progress');
      if (child.exitCode !== null) throw new Error(`child exited early with ${child.exitCode}`);
      await sleep(5);
    }
    child.kill('SIGKILL');
    const [, signal] = await exited;
    const raw = openDatabase(file);
    const left = raw.prepare("SELECT state, COUNT(*) AS n FROM tasks WHERE state != 'done' GROUP BY state").all();
    raw.close();
    const recovered = taskQueue(file);
    const result = await recovered.drain(async (t) => writeFile(effects, `${t.id}\n`, { flag: 'a' }), { concurrency: 3 });

    // Assess
    expect(signal).toBe('SIGKILL');
    expect(left.find((row) => row.state === 'running')?.n).toBeGreaterThan(0);
    expect(result.done).toBeGreaterThan(0);
    expect(recovered.counts()).toEqual({ ready: 0, running: 0, done: 60, dead: 0 });
    const ran = (await readFile(effects, 'utf8')).split('\n').filter(Boolean);
    expect(new Set(ran)).toEqual(new Set(ids));
  });
});

describe('SqliteImportState', () => {
  it('keeps entry outcomes, imported bundles and the chain across a reopen', async () => {
    // Prepare
    const file = path.join(dir, 'import.db');
    const bundleDigest: Digest = sha256Of('bundle 1');
    const first = new SqliteImportState(file);
    await first.recordEntryOutcome(bundleDigest, 0, 'imported');
    await first.recordEntryOutcome(bundleDigest, 1, 'present');
    await first.recordBundleImported({ sourceId: 'connected', sequence: 1, digest: bundleDigest, importedAt: '2025-01-01T00:00:00.000Z', advancesChain: true });
    first.close();

    // Act
    const reopened = new SqliteImportState(file);
    closers.push(() => reopened.close());

    // Assess
    expect(await reopened.entryOutcome(bundleDigest, 0)).toBe('imported');
    expect(await reopened.entryOutcome(bundleDigest, 1)).toBe('present');
    expect(await reopened.entryOutcome(bundleDigest, 2)).toBeUndefined();
    expect(await reopened.importedBundle(bundleDigest)).toEqual({ sequence: 1, importedAt: '2025-01-01T00:00:00.000Z' });
    expect(await reopened.lastImported('connected')).toEqual({ sequence: 1, digest: bundleDigest });
  });

  it('moves the chain only forward and not at all for a gap import', async () => {
    // Prepare
    const state = new SqliteImportState(path.join(dir, 'import.db'));
    closers.push(() => state.close());
    const at = '2025-01-01T00:00:00.000Z';
    await state.recordBundleImported({ sourceId: 'connected', sequence: 2, digest: sha256Of('b2'), importedAt: at, advancesChain: true });

    // Act
    await state.recordBundleImported({ sourceId: 'connected', sequence: 1, digest: sha256Of('b1'), importedAt: at, advancesChain: true });
    await state.recordBundleImported({ sourceId: 'connected', sequence: 5, digest: sha256Of('b5'), importedAt: at, advancesChain: false });

    // Assess
    expect(await state.lastImported('connected')).toEqual({ sequence: 2, digest: sha256Of('b2') });
    expect(await state.importedBundle(sha256Of('b1'))).toEqual({ sequence: 1, importedAt: at });
    expect(await state.importedBundle(sha256Of('b5'))).toEqual({ sequence: 5, importedAt: at });
  });
});
