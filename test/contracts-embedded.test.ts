/**
 * The port contracts (test/contracts/) against the embedded adapters: a directory and
 * SQLite files, each harness in a temp directory of its own.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe } from 'vitest';
import type { CopyTask } from '../shared/core/ports/index.ts';
import { DirObjectStore, SqliteExportState, SqliteImportState, SqliteTaskQueue } from '../shared/adapters/embedded/index.ts';
import { objectStoreContract } from './contracts/object-store.ts';
import { exportStateContract } from './contracts/export-state.ts';
import { importStateContract } from './contracts/import-state.ts';
import { taskQueueContract } from './contracts/task-queue.ts';

async function tempDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-contract-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

describe('DirObjectStore (ObjectStore contract)', () => {
  objectStoreContract(async () => {
    const { dir, remove } = await tempDir();
    const root = path.join(dir, 'objects');
    const store = new DirObjectStore(root);
    return {
      store,
      reopen: async () => new DirObjectStore(root),
      readBundle: (name) => readFile(path.join(root, 'bundles', name)),
      close: remove,
    };
  });
});

describe('DirObjectStore with a separate bundles directory (ObjectStore contract)', () => {
  objectStoreContract(async () => {
    const { dir, remove } = await tempDir();
    const root = path.join(dir, 'objects');
    const bundlesDir = path.join(dir, 'outbox');
    const store = new DirObjectStore(root, { bundlesDir });
    return {
      store,
      reopen: async () => new DirObjectStore(root, { bundlesDir }),
      readBundle: (name) => readFile(path.join(bundlesDir, name)),
      close: remove,
    };
  });
});

describe('SqliteExportState (ExportState contract)', () => {
  exportStateContract(async () => {
    const { dir, remove } = await tempDir();
    const file = path.join(dir, 'state.db');
    const instances = [new SqliteExportState(file)];
    return {
      state: instances[0]!,
      sourceId: 'connected',
      open: async () => {
        const other = new SqliteExportState(file);
        instances.push(other);
        return other;
      },
      close: async () => {
        for (const instance of instances) instance.close();
        await remove();
      },
    };
  });
});

describe('SqliteImportState (ImportState contract)', () => {
  importStateContract(async () => {
    const { dir, remove } = await tempDir();
    const file = path.join(dir, 'import.db');
    const instances = [new SqliteImportState(file)];
    return {
      state: instances[0]!,
      reopen: async () => {
        instances[0]!.close();
        const reopened = new SqliteImportState(file);
        instances.push(reopened);
        return reopened;
      },
      close: async () => {
        for (const instance of instances) instance.close();
        await remove();
      },
    };
  });
});

describe('SqliteTaskQueue (TaskQueue contract)', () => {
  taskQueueContract(async () => {
    const { dir, remove } = await tempDir();
    const file = path.join(dir, 'queue.db');
    return {
      open: async () => {
        const queue = new SqliteTaskQueue(file);
        return { queue, close: async () => queue.close() };
      },
      receive: async () => {
        const reader = new SqliteTaskQueue(file);
        try {
          const received: CopyTask[] = [];
          await reader.drain(async (task) => void received.push(task), { concurrency: 4 });
          return received;
        } finally {
          reader.close();
        }
      },
      close: remove,
    };
  });
});
