/**
 * The embedded default adapters: one machine, no AWS. Objects and bundles in a directory,
 * state and the task queue in one SQLite file, tasks run by an in-process worker pool.
 */
import path from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { openDatabase } from './database.ts';
import { SqliteExportState } from './export-state.ts';
import { DirObjectStore } from './object-store.ts';
import { SqliteTaskQueue } from './task-queue.ts';

export { DirObjectStore, type DirObjectStoreOptions } from './object-store.ts';
export { bundleFileInput } from './bundle-file.ts';
export { openDatabase, migrate, transaction } from './database.ts';
export { SqliteExportState, FIRST_BUNDLE_SEQUENCE } from './export-state.ts';
export { normaliseInstant } from '../../core/ports/instants.ts';
export {
  SqliteTaskQueue,
  type DrainOptions,
  type DrainResult,
  type SqliteTaskQueueOptions,
  type TaskCounts,
  type TaskEvent,
} from './task-queue.ts';
export { SqliteImportState } from './import-state.ts';
export * from './errors.ts';

export interface EmbeddedExportAdapters {
  objects: DirObjectStore;
  db: DatabaseSync;
  state: SqliteExportState;
  queue: SqliteTaskQueue;
  close(): void;
}

/**
 * The export side's adapters under one work directory: `<dir>/objects/` for blobs and
 * bundles, `<dir>/state.db` for state and queue (one connection shared by both).
 */
export function openEmbeddedExport(dir: string): EmbeddedExportAdapters {
  const db = openDatabase(path.join(dir, 'state.db'));
  const state = new SqliteExportState(db);
  const queue = new SqliteTaskQueue(db);
  return {
    objects: new DirObjectStore(path.join(dir, 'objects')),
    db,
    state,
    queue,
    close: () => {
      if (db.isOpen) db.close();
    },
  };
}
