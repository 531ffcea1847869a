/**
 * Errors raised by the AWS adapters themselves. The errors the ports promise
 * (`BlobNotFoundError`, `SequenceConflictError`, …) are the core's (`core/ports/errors.ts`),
 * so the core handles every adapter alike. The families: DynamoDB and S3 failures are
 * {@link StateError}s, as the ports' own errors are; the queue's are {@link TaskQueueError}s;
 * a KMS key that cannot sign is a {@link SigningError}.
 */
import { StateError, TaskQueueError } from '../../core/ports/errors.ts';
import { SigningError } from '../../signing-errors.ts';

export { messageOf } from '../embedded/errors.ts';

/** Some tasks could not be queued (SQS kept failing them, or the call itself failed). */
export class QueueSendError extends TaskQueueError {
  override readonly name = 'QueueSendError';
  /** Ids of the tasks that were not sent; every other task of the call was. */
  readonly taskIds: string[];
  constructor(queueUrl: string, taskIds: string[], detail: string, options?: { cause?: unknown }) {
    super(
      `${taskIds.length} task(s) not sent to ${queueUrl}: ${detail}; not sent: ${preview(taskIds)}`,
      options,
    );
    this.taskIds = taskIds;
  }
}

/** SQS refused tasks as the sender's fault (a malformed message): retrying cannot help. */
export class TaskRejectedError extends TaskQueueError {
  override readonly name = 'TaskRejectedError';
  readonly rejected: { taskId: string; code: string; message: string }[];
  /** Every task not sent, the rejected ones included. */
  readonly taskIds: string[];
  constructor(queueUrl: string, rejected: { taskId: string; code: string; message: string }[], notSent: string[]) {
    const first = rejected[0];
    super(
      `${queueUrl} rejected task ${JSON.stringify(first?.taskId)} (${first?.code}: ${first?.message})` +
        (rejected.length > 1 ? ` and ${rejected.length - 1} more` : '') +
        `; not sent: ${preview(notSent)}`,
    );
    this.rejected = rejected;
    this.taskIds = notSent;
  }
}

/** One task serialises to more than one SQS message may hold. */
export class TaskTooLargeError extends TaskQueueError {
  override readonly name = 'TaskTooLargeError';
  readonly taskId: string;
  constructor(taskId: string, bytes: number, limit: number) {
    super(`task ${JSON.stringify(taskId)} is ${bytes} bytes as JSON, over the SQS message limit of ${limit} bytes`);
    this.taskId = taskId;
  }
}

/** A queue message body that is not a copy task. */
export class InvalidTaskMessageError extends TaskQueueError {
  override readonly name = 'InvalidTaskMessageError';
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`invalid task message: ${detail}`, options);
  }
}

/** A DynamoDB call failed for a reason that is not a domain outcome (throttled past retries, …). */
export class StateStoreError extends StateError {
  override readonly name = 'StateStoreError';
  readonly operation: string;
  constructor(table: string, operation: string, key: string, options?: { cause?: unknown }) {
    const cause = options?.cause;
    const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`DynamoDB ${operation} on ${table} (${key}) failed: ${reason}`, options);
    this.operation = operation;
  }
}

/** An item in the state table that does not have the shape this build writes. */
export class MalformedStateItemError extends StateError {
  override readonly name = 'MalformedStateItemError';
  constructor(table: string, key: string, field: string) {
    super(`${table}: item ${key}: ${field} missing or of the wrong type`);
  }
}

/** An S3 call failed; names the bucket and key, never credentials. */
export class ObjectStoreError extends StateError {
  override readonly name = 'ObjectStoreError';
  constructor(operation: string, location: string, options?: { cause?: unknown }) {
    const cause = options?.cause;
    const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`S3 ${operation} ${location} failed: ${reason}`, options);
  }
}

/**
 * An object read in several requests (a bundle of the inbox) no longer has the ETag it had
 * when it was opened: replaced or deleted mid-read. Every byte read so far came from the
 * object as opened (each request is pinned to its ETag); the read stops there rather than
 * go on in another object, and importing it again reads the new one from the start.
 */
export class BundleChangedError extends StateError {
  override readonly name = 'BundleChangedError';
  constructor(location: string, etag: string, how: 'replaced' | 'deleted', options?: { cause?: unknown }) {
    super(`${location} was ${how} while it was being read (opened with ETag ${etag}); stopped rather than mix bytes of two objects — import it again`, options);
  }
}

/** The dead-letter queue's depth could not be read (`ferry status --dlq-url`). */
export class DeadLetterQueueError extends TaskQueueError {
  override readonly name = 'DeadLetterQueueError';
  constructor(queueUrl: string, options?: { cause?: unknown }) {
    const cause = options?.cause;
    super(`SQS GetQueueAttributes ${queueUrl} failed: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`, options);
  }
}

/** The KMS key cannot sign Ferry signatures (wrong key spec or usage), or KMS answered oddly. */
export class KmsSignerError extends SigningError {
  override readonly name = 'KmsSignerError';
  constructor(keyId: string, detail: string, options?: { cause?: unknown }) {
    super(`KMS key ${keyId}: ${detail}`, options);
  }
}

function preview(ids: string[]): string {
  const shown = ids.slice(0, 10).map((id) => JSON.stringify(id)).join(', ');
  return ids.length > 10 ? `${shown} and ${ids.length - 10} more` : shown;
}
