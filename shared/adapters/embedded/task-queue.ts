/**
 * The embedded task queue: a SQLite table plus an in-process worker pool.
 *
 * Delivery is at least once. A task is marked `running` (with the worker's pid) before
 * its handler starts and `done` after it resolves; a process killed in between leaves it
 * `running`, and the next queue opened on the file puts it back to `ready`. Tasks are
 * idempotent by design, so running one twice is harmless.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DatabaseSync } from 'node:sqlite';
import type { CopyTask, TaskQueue } from '../../core/ports/index.ts';
import { integer, optionalText, SqliteComponent, text, transaction, type Row } from './database.ts';
import { messageOf } from './errors.ts';

const MIGRATIONS = [
  `
  CREATE TABLE tasks (
    id           TEXT PRIMARY KEY,
    json         TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('ready', 'running', 'done', 'dead')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    updated_at   TEXT NOT NULL,
    available_at INTEGER NOT NULL DEFAULT 0,
    owner_pid    INTEGER
  );
  CREATE INDEX tasks_ready ON tasks (state, available_at);
  `,
];

export interface TaskEvent {
  type: 'start' | 'done' | 'retry' | 'dead';
  task: CopyTask;
  error?: unknown;
  /** 1 for the first attempt. */
  attempt: number;
}

export interface DrainOptions {
  /** Most handlers in flight at once (at least 1). */
  concurrency: number;
  /** Attempts before a task goes to the dead-letter state. Default 5. */
  maxAttempts?: number;
  /** Stops taking new tasks; tasks in flight are awaited, the rest stay ready. */
  signal?: AbortSignal;
  onEvent?: (event: TaskEvent) => void;
  /** Delay before retry n is `backoffMs * 2^(n-1)`, capped at 30 s. Default 200. */
  backoffMs?: number;
}

export interface SqliteTaskQueueOptions {
  /**
   * A task running for longer than this is presumed orphaned when a queue is opened, even
   * if a process with its owner's pid exists (pids are reused). Default 1 hour: a
   * wrongly recovered task merely runs twice, which idempotent tasks tolerate.
   */
  orphanAfterMs?: number;
}

export interface DrainResult {
  done: number;
  dead: { task: CopyTask; error: string }[];
}

export interface TaskCounts {
  ready: number;
  running: number;
  done: number;
  dead: number;
}

export class SqliteTaskQueue extends SqliteComponent implements TaskQueue {
  readonly #orphanAfterMs: number;
  /** Wake drains waiting for work when this instance enqueues. */
  readonly #wakers = new Set<() => void>();

  /**
   * `db`: an open database (e.g. shared with the export state) or a file path to open.
   * Tasks left `running` by a process that no longer exists return to `ready`
   * (see {@link recoverOrphans}).
   */
  constructor(db: DatabaseSync | string, options: SqliteTaskQueueOptions = {}) {
    super(db, 'task-queue', MIGRATIONS);
    this.#orphanAfterMs = options.orphanAfterMs ?? 60 * 60 * 1000;
    this.recoverOrphans();
  }

  /**
   * Queues tasks in one transaction; durable once this resolves. An id seen before, in
   * any state (even done or dead), is not queued again: re-scans and duplicate webhooks
   * collapse here.
   */
  async enqueue(tasks: CopyTask[]): Promise<void> {
    const now = new Date().toISOString();
    transaction(this.db, () => {
      const insert = this.db.prepare(
        "INSERT INTO tasks (id, json, state, attempts, updated_at) VALUES (?, ?, 'ready', 0, ?) ON CONFLICT (id) DO NOTHING",
      );
      for (const task of tasks) insert.run(task.id, JSON.stringify(task), now);
    });
    this.#wakeAll();
  }

  /**
   * Returns to `ready` the tasks marked running by a process that is gone (crash, kill -9),
   * or running for longer than `orphanAfterMs` (the pid may have been reused since).
   * Tasks a live process is working on are left alone, so several processes may share
   * one queue file. Returns how many were recovered.
   */
  recoverOrphans(): number {
    const now = new Date();
    const staleBefore = new Date(now.getTime() - this.#orphanAfterMs).toISOString();
    return transaction(this.db, () => {
      const rows = this.db.prepare("SELECT id, owner_pid, updated_at FROM tasks WHERE state = 'running'").all();
      const reset = this.db.prepare(
        "UPDATE tasks SET state = 'ready', owner_pid = NULL, available_at = 0, updated_at = ? WHERE id = ? AND state = 'running'",
      );
      let recovered = 0;
      for (const row of rows) {
        const pid = row.owner_pid === null ? undefined : integer(row, 'owner_pid');
        const orphaned = pid === undefined || !isAlive(pid) || text(row, 'updated_at') < staleBefore;
        if (orphaned) recovered += Number(reset.run(now.toISOString(), text(row, 'id')).changes);
      }
      return recovered;
    });
  }

  counts(): TaskCounts {
    const counts: TaskCounts = { ready: 0, running: 0, done: 0, dead: 0 };
    for (const row of this.db.prepare('SELECT state, COUNT(*) AS n FROM tasks GROUP BY state').all()) {
      counts[text(row, 'state') as keyof TaskCounts] = integer(row, 'n');
    }
    return counts;
  }

  /** Tasks ready to run, and the bytes of those whose size the source listed (an image tag's is not known before its copy). */
  readyWork(): { tasks: number; bytes: number } {
    const row = this.db.prepare("SELECT COUNT(*) AS n, COALESCE(SUM(json_extract(json, '$.size')), 0) AS bytes FROM tasks WHERE state = 'ready'").get();
    return { tasks: row === undefined ? 0 : integer(row, 'n'), bytes: row === undefined ? 0 : integer(row, 'bytes') };
  }

  /** The embedded dead-letter queue: tasks that failed `maxAttempts` times, with their last error. */
  deadTasks(): { task: CopyTask; error: string; attempts: number; updatedAt: string }[] {
    return this.db
      .prepare("SELECT * FROM tasks WHERE state = 'dead' ORDER BY rowid")
      .all()
      .map((row) => ({
        task: parseTask(row),
        error: optionalText(row, 'last_error') ?? '',
        attempts: integer(row, 'attempts'),
        updatedAt: text(row, 'updated_at'),
      }));
  }

  /** Puts dead tasks (all, or those named) back to `ready` with a fresh attempt budget. */
  requeueDead(ids?: string[]): number {
    const now = new Date().toISOString();
    const count = transaction(this.db, () => {
      const sql = "UPDATE tasks SET state = 'ready', attempts = 0, available_at = 0, updated_at = ? WHERE state = 'dead'";
      if (ids === undefined) return Number(this.db.prepare(sql).run(now).changes);
      const one = this.db.prepare(`${sql} AND id = ?`);
      return ids.reduce((sum, id) => sum + Number(one.run(now, id).changes), 0);
    });
    if (count > 0) this.#wakeAll();
    return count;
  }

  /**
   * Runs ready tasks through `handler`, at most `concurrency` at a time, until none is
   * ready or waiting for a retry (tasks enqueued meanwhile are included), or `signal`
   * aborts. A handler that throws is retried after a backoff; after `maxAttempts` the
   * task is dead, its error kept. Resolves with what this drain completed.
   */
  async drain(handler: (task: CopyTask) => Promise<void>, options: DrainOptions): Promise<DrainResult> {
    const concurrency = Math.max(1, Math.floor(options.concurrency));
    const maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    const backoffMs = options.backoffMs ?? 200;
    const { signal, onEvent } = options;
    const result: DrainResult = { done: 0, dead: [] };
    const inFlight = new Set<Promise<void>>();

    const run = async (task: CopyTask, attempt: number): Promise<void> => {
      emit(onEvent, { type: 'start', task, attempt });
      try {
        await handler(task);
      } catch (error) {
        const message = messageOf(error);
        if (attempt >= maxAttempts) {
          this.#finish(task.id, 'dead', attempt, message, 0);
          result.dead.push({ task, error: message });
          emit(onEvent, { type: 'dead', task, error, attempt });
        } else {
          const delay = Math.min(backoffMs * 2 ** (attempt - 1), 30_000);
          this.#finish(task.id, 'ready', attempt, message, Date.now() + delay);
          emit(onEvent, { type: 'retry', task, error, attempt });
        }
        return;
      }
      this.#finish(task.id, 'done', attempt, null, 0);
      result.done++;
      emit(onEvent, { type: 'done', task, attempt });
    };

    while (!signal?.aborted) {
      while (inFlight.size < concurrency && !signal?.aborted) {
        const claimed = this.#claim();
        if (claimed === undefined) break;
        const job = run(claimed.task, claimed.attempt).finally(() => inFlight.delete(job));
        inFlight.add(job);
      }
      const nextDue = this.#nextDue();
      if (inFlight.size === 0 && nextDue === undefined) break;
      if (inFlight.size === concurrency || nextDue === undefined || nextDue > Date.now()) {
        await this.#waitForWork(inFlight, nextDue, signal);
      }
    }
    await Promise.all(inFlight);
    return result;
  }

  /** Atomically takes the oldest task that is ready now. */
  #claim(): { task: CopyTask; attempt: number } | undefined {
    const row = this.db
      .prepare(
        `UPDATE tasks SET state = 'running', owner_pid = ?, updated_at = ?
         WHERE id = (SELECT id FROM tasks WHERE state = 'ready' AND available_at <= ? ORDER BY available_at, rowid LIMIT 1)
         RETURNING json, attempts`,
      )
      .get(process.pid, new Date().toISOString(), Date.now());
    return row === undefined ? undefined : { task: parseTask(row), attempt: integer(row, 'attempts') + 1 };
  }

  /** When the earliest waiting ready task becomes due (ms epoch), or undefined if none is ready. */
  #nextDue(): number | undefined {
    const row = this.db.prepare("SELECT MIN(available_at) AS due FROM tasks WHERE state = 'ready'").get();
    return row === undefined || row.due === null ? undefined : integer(row, 'due');
  }

  #finish(id: string, state: 'ready' | 'done' | 'dead', attempts: number, error: string | null, availableAt: number): void {
    this.db
      .prepare(
        `UPDATE tasks SET state = ?, attempts = ?, last_error = COALESCE(?, last_error), available_at = ?,
           owner_pid = NULL, updated_at = ? WHERE id = ?`,
      )
      .run(state, attempts, error, availableAt, new Date().toISOString(), id);
  }

  /** Waits for a handler to settle, a retry to come due, a local enqueue, or the abort. */
  async #waitForWork(inFlight: Set<Promise<void>>, nextDue: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    const controller = new AbortController();
    const waits: Promise<unknown>[] = [...inFlight];
    let wake: (() => void) | undefined;
    waits.push(new Promise<void>((resolve) => (wake = resolve)));
    this.#wakers.add(wake!);
    if (nextDue !== undefined) {
      waits.push(sleep(Math.max(0, nextDue - Date.now()), undefined, { signal: controller.signal }).catch(() => undefined));
    }
    if (signal !== undefined) {
      waits.push(new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true, signal: controller.signal })));
    }
    try {
      await Promise.race(waits);
    } finally {
      controller.abort();
      this.#wakers.delete(wake!);
    }
  }

  #wakeAll(): void {
    for (const wake of this.#wakers) wake();
  }
}

function parseTask(row: Row): CopyTask {
  return JSON.parse(text(row, 'json')) as CopyTask;
}

function emit(onEvent: DrainOptions['onEvent'], event: TaskEvent): void {
  if (onEvent === undefined) return;
  try {
    onEvent(event);
  } catch {
    // A faulty progress listener must not fail or wedge the queue.
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
