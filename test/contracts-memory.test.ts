/**
 * The port contracts (test/contracts/) against the in-memory fakes core tests use, so a
 * core test's green means the same as it would with a real adapter. The fakes hold
 * nothing durable: "another instance on the same storage" shares the first one's data.
 */
import { describe } from 'vitest';
import { MemoryExportState, MemoryImportState, MemoryObjectStore, MemoryQueue } from './support/fakes.ts';
import { objectStoreContract } from './contracts/object-store.ts';
import { exportStateContract } from './contracts/export-state.ts';
import { importStateContract } from './contracts/import-state.ts';
import { taskQueueContract } from './contracts/task-queue.ts';

describe('MemoryObjectStore (ObjectStore contract)', () => {
  objectStoreContract(async () => {
    const store = new MemoryObjectStore();
    return {
      store,
      reopen: async () => store,
      readBundle: async (name) => {
        const bytes = store.bundles.get(name);
        if (bytes === undefined) throw new Error(`no published bundle ${name}`);
        return bytes;
      },
      close: async () => {},
    };
  });
});

describe('MemoryExportState (ExportState contract)', () => {
  exportStateContract(async () => {
    const state = new MemoryExportState();
    return { state, sourceId: 'connected', open: async () => state, close: async () => {} };
  });
});

describe('MemoryImportState (ImportState contract)', () => {
  importStateContract(async () => {
    const state = new MemoryImportState();
    return { state, reopen: async () => state, close: async () => {} };
  });
});

describe('MemoryQueue (TaskQueue contract)', () => {
  taskQueueContract(async () => {
    const shared = new MemoryQueue();
    return {
      open: async () => {
        const queue = new MemoryQueue();
        queue.tasks = shared.tasks;
        return { queue, close: async () => {} };
      },
      receive: async () => {
        const received = [...shared.tasks.values()];
        shared.tasks.clear();
        return received;
      },
      close: async () => {},
    };
  });
});
