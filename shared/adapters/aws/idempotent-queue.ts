/**
 * A task queue that sends each task once: Powertools idempotency on the task id, its records
 * in DynamoDB for `expiresAfterSeconds`. A duplicate webhook delivery, or a new delivery for
 * content already queued (same content, same task id), queues nothing new. A failed send
 * deletes its record, so a retry sends again.
 */
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import { TaskQueueError } from '../../core/ports/errors.ts';
import type { CopyTask, TaskQueue } from '../../core/ports/index.ts';

/** The queue did not take a task; nothing claims it was queued. */
export class EnqueueError extends TaskQueueError {
  override readonly name = 'EnqueueError';
}

export interface IdempotentTaskQueueOptions {
  queue: TaskQueue;
  /** A store of its own: a store keeps the first key prefix it is used with. */
  persistenceStore: BasePersistenceLayer;
  keyPrefix: string;
  expiresAfterSeconds?: number;
}

export class IdempotentTaskQueue {
  /** Register each invocation's Lambda context here (in-progress records expire with it). */
  readonly config: IdempotencyConfig;
  readonly #send: (task: CopyTask) => Promise<{ id: string; duplicate?: boolean }>;

  constructor(options: IdempotentTaskQueueOptions) {
    const { queue } = options;
    this.config = new IdempotencyConfig({
      eventKeyJmesPath: 'id',
      expiresAfterSeconds: options.expiresAfterSeconds ?? 24 * 3600,
      // A stored result means the task was sent before.
      responseHook: (response) => ({ ...(response as object), duplicate: true }),
    });
    this.#send = makeIdempotent(
      async (task: CopyTask): Promise<{ id: string; duplicate?: boolean }> => {
        try {
          await queue.enqueue([task]);
        } catch (error) {
          throw new EnqueueError(`could not queue task ${task.id}: ${(error as Error).message}`, { cause: error });
        }
        return { id: task.id };
      },
      { persistenceStore: options.persistenceStore, keyPrefix: options.keyPrefix, config: this.config },
    );
  }

  /** Sends, one at a time, the tasks not sent before; counts those sent and those sent before. */
  async enqueue(tasks: readonly CopyTask[]): Promise<{ queued: number; alreadyQueued: number }> {
    let queued = 0;
    let alreadyQueued = 0;
    for (const task of tasks) {
      if ((await this.#send(task)).duplicate) alreadyQueued += 1;
      else queued += 1;
    }
    return { queued, alreadyQueued };
  }
}
