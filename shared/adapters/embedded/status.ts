/**
 * `ferry status` on the embedded default: the state file read through a read-only
 * connection (WAL lets it read while an export or import runs), and the receipts directory
 * listed. Nothing is migrated, recovered or created: a table a component has not made yet
 * reads as empty.
 */
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Digest } from '../../digest.ts';
import type { CopyTask, ScanCheckpoint } from '../../core/ports/index.ts';
import { taskLabel } from '../../core/export/copy.ts';
import {
  summariseImports,
  type ExportStateSnapshot,
  type ExportStatusReader,
  type FailedTask,
  type FarSideFile,
  type ImportStateSnapshot,
  type ImportStatusReader,
  type ReceiptShelf,
  type RepositorySnapshot,
  type TaskQueueStatus,
  type TaskStatusReader,
} from '../../core/status.ts';
import { integer, optionalInteger, optionalText, text, type Row } from './database.ts';

/** How long a read waits for a writer's lock (WAL readers rarely wait at all). */
const BUSY_TIMEOUT_MS = 10_000;

/** The state file opened read-only, or undefined when there is none yet (that side never ran). */
export function openStateForStatus(file: string): DatabaseSync | undefined {
  if (!existsSync(file)) return undefined;
  return new DatabaseSync(file, { readOnly: true, timeout: BUSY_TIMEOUT_MS });
}

/** A read-only view of the export side's state file: watermarks, ledgers, bundles and the task queue. */
export class SqliteExportStatus implements ExportStatusReader, TaskStatusReader {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  async readExportState(sourceId: string): Promise<ExportStateSnapshot> {
    return {
      repositories: this.#repositories(),
      bundles: this.#bundles(sourceId),
      farSide: this.#farSide(),
      resendsWaiting: this.#count(
        'resend_requests',
        'SELECT COUNT(*) AS n FROM resend_requests r WHERE NOT EXISTS (SELECT 1 FROM shipped_blobs s WHERE s.digest = r.digest)',
      ),
      notes: [],
    };
  }

  /**
   * The queue's dead tasks (failed every attempt; the next export retries them) and tasks
   * waiting for a retry, each with its last error.
   */
  async readTaskStatus(): Promise<TaskQueueStatus> {
    const counts = { ready: 0, running: 0, retrying: 0, dead: 0 };
    if (!this.#has('tasks')) return { kept: 'task-queue', queued: 0, running: 0, retrying: 0, dead: 0, failed: [], note: null };
    for (const row of this.#db.prepare("SELECT state, COUNT(*) AS n, SUM(attempts > 0 AND state = 'ready') AS retrying FROM tasks GROUP BY state").all()) {
      const state = text(row, 'state');
      if (state === 'ready' || state === 'running' || state === 'dead') counts[state] = integer(row, 'n');
      if (state === 'ready') counts.retrying = optionalInteger(row, 'retrying') ?? 0;
    }
    const failed = this.#db
      .prepare("SELECT id, json, state, attempts, last_error, updated_at FROM tasks WHERE state = 'dead' OR (state = 'ready' AND attempts > 0) ORDER BY state, updated_at, rowid")
      .all()
      .map(failedTask);
    return { kept: 'task-queue', queued: counts.ready - counts.retrying, running: counts.running, retrying: counts.retrying, dead: counts.dead, failed, note: null };
  }

  #repositories(): RepositorySnapshot[] {
    const byName = new Map<string, RepositorySnapshot>();
    const of = (repository: string) => {
      let r = byName.get(repository);
      if (r === undefined) byName.set(repository, (r = { repository, watermark: null, scan: null, pending: { entries: 0, bytes: 0 } }));
      return r;
    };
    if (this.#has('watermarks')) for (const row of this.#db.prepare('SELECT repository, value FROM watermarks').all()) of(text(row, 'repository')).watermark = text(row, 'value');
    if (this.#has('scan_checkpoints')) {
      for (const row of this.#db.prepare('SELECT repository, json FROM scan_checkpoints').all()) {
        of(text(row, 'repository')).scan = JSON.parse(text(row, 'json')) as ScanCheckpoint;
      }
    }
    if (this.#has('entries')) {
      const pending = this.#db.prepare("SELECT source_repository, COUNT(*) AS n, SUM(size) AS bytes FROM entries WHERE state = 'pending' GROUP BY source_repository");
      for (const row of pending.all()) of(text(row, 'source_repository')).pending = { entries: integer(row, 'n'), bytes: integer(row, 'bytes') };
    }
    return [...byName.values()];
  }

  #bundles(sourceId: string): ExportStateSnapshot['bundles'] {
    if (!this.#has('bundles')) return { sealed: 0, bytes: 0, last: null };
    const totals = this.#db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM bundles WHERE source_id = ?').get(sourceId)!;
    const last = this.#db.prepare('SELECT * FROM bundles WHERE source_id = ? ORDER BY sequence DESC LIMIT 1').get(sourceId);
    return {
      sealed: integer(totals, 'n'),
      bytes: integer(totals, 'bytes'),
      last:
        last === undefined
          ? null
          : {
              sourceId: text(last, 'source_id'),
              sequence: integer(last, 'sequence'),
              digest: text(last, 'digest') as Digest,
              name: text(last, 'name'),
              size: integer(last, 'size'),
              sealedAt: text(last, 'sealed_at'),
              published: integer(last, 'published') === 1,
            },
    };
  }

  /** One pass over the shipped ledger (it may hold millions of blobs). */
  #farSide(): ExportStateSnapshot['farSide'] {
    const farSide = { shippedInBundles: 0, reportedByReceipts: 0 };
    if (!this.#has('shipped_blobs')) return farSide;
    for (const row of this.#db.prepare('SELECT via, COUNT(*) AS n FROM shipped_blobs GROUP BY via').all()) {
      if (text(row, 'via') === 'receipt') farSide.reportedByReceipts = integer(row, 'n');
      else farSide.shippedInBundles += integer(row, 'n');
    }
    return farSide;
  }

  #count(table: string, sql: string): number {
    return this.#has(table) ? integer(this.#db.prepare(sql).get()!, 'n') : 0;
  }

  #has(table: string): boolean {
    return hasTable(this.#db, table);
  }
}

/** A read-only view of the import side's state file: chain heads and imported bundles. */
export class SqliteImportStatus implements ImportStatusReader {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  async readImportState(): Promise<ImportStateSnapshot> {
    const heads = hasTable(this.#db, 'chain')
      ? this.#db.prepare('SELECT source_id, sequence, digest FROM chain').all().map((row) => ({
          sourceId: text(row, 'source_id'),
          sequence: integer(row, 'sequence'),
          digest: text(row, 'digest') as Digest,
        }))
      : [];
    const imported = hasTable(this.#db, 'bundles_imported')
      ? this.#db.prepare('SELECT source_id, sequence, digest, imported_at FROM bundles_imported').all().map((row) => ({
          sourceId: text(row, 'source_id'),
          sequence: integer(row, 'sequence'),
          digest: text(row, 'digest') as Digest,
          importedAt: text(row, 'imported_at'),
        }))
      : [];
    return { sources: summariseImports(heads, imported) };
  }
}

/** The receipts directory: receipts and resend requests, with when each was written (mtime). */
export class DirReceiptShelf implements ReceiptShelf {
  readonly location: string;

  constructor(directory: string) {
    this.location = path.resolve(directory);
  }

  async listFarSideFiles(): Promise<FarSideFile[]> {
    let names: string[];
    try {
      names = await readdir(this.location);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const files: FarSideFile[] = [];
    for (const name of names.filter((n) => n.endsWith('.receipt.json') || n.endsWith('.resend-request.json')).sort()) {
      const file = path.join(this.location, name);
      const info = await stat(file).catch(() => undefined);
      if (info?.isFile()) files.push({ name, location: file, writtenAt: info.mtime.toISOString() });
    }
    return files;
  }
}

function hasTable(db: DatabaseSync, table: string): boolean {
  return db.prepare("SELECT 1 AS hit FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
}

function failedTask(row: Row): FailedTask {
  const task = JSON.parse(text(row, 'json')) as CopyTask;
  return {
    id: text(row, 'id'),
    task: taskLabel(task),
    state: text(row, 'state') === 'dead' ? 'dead' : 'retrying',
    attempts: integer(row, 'attempts'),
    lastError: optionalText(row, 'last_error') ?? '',
    failedAt: text(row, 'updated_at'),
  };
}
