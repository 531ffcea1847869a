/**
 * What only the embedded adapters do: the directory layout of the object store (temp
 * files, staged bundles, a separate bundles directory, stale temp cleanup) and the SQLite
 * task queue's worker pool (dedupe by id, concurrency, retries and dead letters, abort,
 * kill -9 mid-drain). What every adapter of a port promises is in test/contracts/, run
 * against these adapters by test/contracts-embedded.test.ts.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Of } from '../shared/digest.ts';
import type { CopyTask } from '../shared/core/ports/index.ts';
import { DirObjectStore, openDatabase, SqliteTaskQueue, type TaskEvent } from '../shared/adapters/embedded/index.ts';
import { failingStream } from './contracts/object-store.ts';

let dir: string;
const closers: (() => void)[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-embedded-'));
});

afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await rm(dir, { recursive: true, force: true });
});

function taskQueue(file = path.join(dir, 'state.db')): SqliteTaskQueue {
  const queue = new SqliteTaskQueue(file);
  closers.push(() => queue.close());
  return queue;
}

function task(id: string): CopyTask {
  return { kind: 'raw', id, sourceRepository: 'raw-src', path: `/files/${id}`, targetRepository: 'raw-dst', checksums: {} };
}


async function listOrEmpty(folder: string): Promise<string[]> {
  return existsSync(folder) ? readdir(folder) : [];
}

describe('DirObjectStore', () => {
  it('keeps blobs at blobs/sha256/<hex> and leaves no temp file after a put, a broken stream or a mismatch', async () => {
    // Prepare
    const store = new DirObjectStore(path.join(dir, 'objects'));

    // Act
    const stored = await store.putBlob(Readable.from(['hello ', 'world']));
    await store.putBlob(Readable.from(['hello world'])); // existed: the second copy is dropped
    await store.putBlob(failingStream('partial content', new Error('connection reset'))).catch(() => undefined);
    await store.putBlob(Readable.from(['tampered']), { expectedDigest: sha256Of('original') }).catch(() => undefined);
    await store.putBlob(Readable.from(['original']), { expectedSize: 99 }).catch(() => undefined);

    // Assess
    expect(store.blobPath(stored.digest)).toBe(path.join(dir, 'objects', 'blobs', 'sha256', stored.digest.slice(7)));
    expect(await readdir(path.join(dir, 'objects', 'blobs', 'sha256'))).toEqual([sha256Of('hello world').slice(7)]);
    expect(await readFile(store.blobPath(stored.digest), 'utf8')).toBe('hello world');
    expect(await readdir(path.join(dir, 'objects', 'tmp'))).toEqual([]);
  });

  it('stages bundles as bundles/.ferry-staged/<name>.<hex> and publishes them to bundles/<name>, leaving no temp file', async () => {
    // Prepare
    const store = new DirObjectStore(path.join(dir, 'objects'));
    const bundles = path.join(dir, 'objects', 'bundles');
    const digest = sha256Of('manifest 1');
    await store.stageBundle('ferry-1.tar', sha256Of('crashed manifest'), async (out) => void out.end('orphan'));
    await store.stageBundle('ferry-1.tar', digest, async (out) => void out.end('bundle'));
    await store.stageBundle('ferry-2.tar', sha256Of('manifest 2'), async () => {
      throw new Error('disk full');
    }).catch(() => undefined);
    const stagedBefore = (await readdir(path.join(bundles, '.ferry-staged'))).sort();

    // Act
    const published = await store.publishBundle('ferry-1.tar', digest);

    // Assess
    expect(stagedBefore).toEqual([`ferry-1.tar.${sha256Of('crashed manifest').slice(7)}`, `ferry-1.tar.${digest.slice(7)}`].sort());
    expect(published).toEqual({ size: 6, location: path.join(bundles, 'ferry-1.tar') });
    expect(await readFile(published.location, 'utf8')).toBe('bundle');
    expect(await readdir(path.join(bundles, '.ferry-staged'))).toEqual([]);
    expect(await readdir(path.join(dir, 'objects', 'tmp'))).toEqual([]);
  });

  it('writes bundles to a separate bundles directory when one is given', async () => {
    // Prepare
    const bundlesDir = path.join(dir, 'outbox');
    const store = new DirObjectStore(path.join(dir, 'objects'), { bundlesDir });
    await store.stageBundle('ferry-1.tar', sha256Of('manifest 1'), async (out) => void out.end('bundle'));

    // Act
    const written = await store.publishBundle('ferry-1.tar', sha256Of('manifest 1'));
    const failed = store.stageBundle('ferry-2.tar', sha256Of('manifest 2'), async () => {
      throw new Error('seal failed');
    });

    // Assess
    await expect(failed).rejects.toThrow('seal failed');
    expect(written.location).toBe(path.join(bundlesDir, 'ferry-1.tar'));
    expect(await store.listBundles()).toEqual([{ name: 'ferry-1.tar', size: 6, location: written.location }]);
    expect(await readdir(path.join(bundlesDir, '.ferry-tmp'))).toEqual([]);
    expect(await readdir(path.join(bundlesDir, '.ferry-staged'))).toEqual([]);
    expect(await listOrEmpty(path.join(dir, 'objects', 'bundles'))).toEqual([]);
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
