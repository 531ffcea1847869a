/**
 * Copy-task ids for content the entry ledger does not know at its path. Ids derive from
 * content, and task queues remember them (the embedded queue for good, the idempotent queue
 * for a day): content coming back to a path (v1, v2, then v1 again; or uploaded again after
 * a deletion) would otherwise be taken for the task that staged it the first time, and never
 * run. Such a task's id also names the path's latest entry, whatever the repository: the same
 * situation (duplicate webhooks, a scan and a webhook, re-runs) still gives the same id, and
 * content at a path with nothing recorded keeps the id its content gives.
 */
import { createHash } from 'node:crypto';
import type { CopyTask, EntryAt } from '../ports/index.ts';

/** The task to queue for content the ledger does not know at its path (`at`: `ExportState.entryAt`'s answer). */
export function afterLatestEntry<T extends CopyTask>(task: T, at: EntryAt): T {
  if (at.latestSeq === undefined) return task;
  return { ...task, id: createHash('sha256').update(`${task.id}\nafter entry ${at.latestSeq}`).digest('hex').slice(0, 40) };
}
