/**
 * The TaskQueue contract (shared/core/ports.ts), run against every adapter: the SQLite
 * queue, SQS and the in-memory fake. The port only enqueues; each harness reads back what
 * arrived the way that queue's consumer does. Delivery is at least once, so a task may
 * arrive more than once but never not at all, and never altered.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { sha256Of } from '../../shared/digest.ts';
import type { CopyTask, ImageCopyTask, RawCopyTask, TaskQueue } from '../../shared/core/ports/index.ts';

export interface TaskQueueHarness {
  /** A new adapter instance on this harness's queue (the same file, URL or map every time). */
  open(): Promise<{ queue: TaskQueue; close(): Promise<void> }>;
  /** Takes every task that has arrived, decoded as the queue's consumer decodes it, through a reader of its own. */
  receive(): Promise<CopyTask[]>;
  close(): Promise<void>;
}

export function taskQueueContract(makeHarness: () => Promise<TaskQueueHarness>): void {
  let harness: TaskQueueHarness;
  let opened: { queue: TaskQueue; close(): Promise<void> }[];

  beforeEach(async () => {
    harness = await makeHarness();
    opened = [];
  });

  afterEach(async () => {
    for (const instance of opened) await instance.close();
    await harness.close();
  });

  async function open(): Promise<TaskQueue> {
    const instance = await harness.open();
    opened.push(instance);
    return instance.queue;
  }

  it('delivers a raw task with every field intact', async () => {
    // Prepare
    const queue = await open();
    const task = rawTask('full', {
      checksums: { sha1: hex('sha1', 'full'), md5: hex('md5', 'full'), sha256: hex('sha256', 'full'), sha512: hex('sha512', 'full') },
      size: 1234,
      lastModified: '2025-01-01T00:00:00.000Z',
    });
    const bare = rawTask('bare');

    // Act
    await queue.enqueue([task, bare]);
    const received = await harness.receive();

    // Assess
    expectArrived(received, task);
    expectArrived(received, bare);
  });

  it('delivers image tasks with every field intact, with or without a digest', async () => {
    // Prepare
    const queue = await open();
    const pinned = imageTask('pinned', sha256Of('manifest'));
    const floating = imageTask('floating');

    // Act
    await queue.enqueue([pinned, floating]);
    const received = await harness.receive();

    // Assess
    expectArrived(received, pinned);
    expectArrived(received, floating);
  });

  it('delivers all 25 tasks of one call, each at least once and unaltered', async () => {
    // Prepare
    const queue = await open();
    const tasks: CopyTask[] = Array.from({ length: 25 }, (_, i) =>
      i % 5 === 4 ? imageTask(`image ${i} ✓`, sha256Of(String(i))) : rawTask(`task/${i} ✓`, { checksums: { sha1: hex('sha1', String(i)) }, size: i }),
    );

    // Act
    await queue.enqueue(tasks);
    const received = await harness.receive();

    // Assess
    expect([...byId(received).keys()].sort()).toEqual(tasks.map((t) => t.id).sort());
    for (const task of tasks) expectArrived(received, task);
  });

  it('accepts an empty call and delivers nothing for it', async () => {
    // Prepare
    const queue = await open();

    // Act
    await queue.enqueue([]);
    const received = await harness.receive();

    // Assess
    expect(received).toEqual([]);
  });

  it('keeps the tasks of an enqueue that resolved for a fresh instance opened on the same queue', async () => {
    // Prepare
    const first = await harness.open();
    const before = [rawTask('before-a'), imageTask('before-b')];
    await first.queue.enqueue(before);
    await first.close();

    // Act
    const fresh = await open();
    await fresh.enqueue([rawTask('after')]);
    const received = await harness.receive();

    // Assess
    expect([...byId(received).keys()].sort()).toEqual(['after', 'before-a', 'before-b']);
    for (const task of before) expectArrived(received, task);
  });
}

function rawTask(id: string, extra: Partial<RawCopyTask> = {}): RawCopyTask {
  return {
    kind: 'raw',
    id,
    sourceRepository: 'raw-src',
    path: `/files/${encodeURIComponent(id)}.bin`,
    targetRepository: 'raw-dst',
    checksums: {},
    ...extra,
  };
}

function imageTask(id: string, digest?: ImageCopyTask['digest']): ImageCopyTask {
  return {
    kind: 'image',
    id,
    sourceRepository: 'docker-hosted',
    name: 'team/app',
    tag: 'v1.2.0',
    targetRepository: 'docker-mirror',
    ...(digest !== undefined ? { digest } : {}),
  };
}

function hex(algorithm: string, input: string): string {
  return createHash(algorithm).update(input).digest('hex');
}

/** `task` arrived at least once, and every copy of it is unaltered. */
function expectArrived(received: CopyTask[], task: CopyTask): void {
  const copies = byId(received).get(task.id) ?? [];
  expect(copies.length).toBeGreaterThanOrEqual(1);
  for (const copy of copies) expect(copy).toEqual(task);
}

/** Arrivals grouped by task id (a task delivered twice appears twice). */
function byId(tasks: CopyTask[]): Map<string, CopyTask[]> {
  const grouped = new Map<string, CopyTask[]>();
  for (const task of tasks) grouped.set(task.id, [...(grouped.get(task.id) ?? []), task]);
  return grouped;
}
