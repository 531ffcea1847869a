/**
 * The task queue on SQS: one message per copy task, its body the task as JSON.
 *
 * Tasks go out in SendMessageBatch calls of at most 10 entries and 256 KiB of bodies.
 * Entries SQS reports as failed through no fault of ours are retried with backoff, a
 * bounded number of times; entries refused as the sender's fault, and entries still
 * failing at the end, are named in the error `enqueue` throws. Tasks that did go out
 * stay queued: tasks are idempotent, so the caller simply enqueues the batch again.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { PACKAGE_FORMATS, type CopyTask, type TaskQueue } from '../../core/ports/index.ts';
import { isDigest } from '../../digest.ts';
import { issueLines } from '../../issues.ts';
import { IMAGE_NAME, IMAGE_TAG } from '../registry/index.ts';
import { InvalidTaskMessageError, QueueSendError, TaskRejectedError, TaskTooLargeError, messageOf } from './errors.ts';

/** SQS's limits for one SendMessageBatch call. */
export const MAX_BATCH_ENTRIES = 10;
export const MAX_BATCH_BYTES = 256 * 1024;

export interface SqsTaskQueueOptions {
  client: SQSClient;
  queueUrl: string;
  /** Calls per batch before its still-failing entries are given up on. Default 5. */
  maxAttempts?: number;
  /** Delay before retry n is about `backoffMs × 2^(n-1)` (with jitter), capped at 5 s. Default 100. */
  backoffMs?: number;
}

export class SqsTaskQueue implements TaskQueue {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly #maxAttempts: number;
  readonly #backoffMs: number;
  readonly #fifo: boolean;

  constructor(options: SqsTaskQueueOptions) {
    this.client = options.client;
    this.queueUrl = options.queueUrl;
    this.#maxAttempts = Math.max(options.maxAttempts ?? 5, 1);
    this.#backoffMs = options.backoffMs ?? 100;
    this.#fifo = options.queueUrl.endsWith('.fifo');
  }

  async enqueue(tasks: CopyTask[]): Promise<void> {
    const messages = tasks.map((task) => {
      const body = JSON.stringify(task);
      const bytes = Buffer.byteLength(body, 'utf8');
      if (bytes > MAX_BATCH_BYTES) throw new TaskTooLargeError(task.id, bytes, MAX_BATCH_BYTES);
      return { task, body, bytes };
    });
    const rejected: { taskId: string; code: string; message: string }[] = [];
    const unsent: string[] = [];
    let lastError: unknown;
    for (const batch of batches(messages)) {
      const outcome = await this.#sendBatch(batch);
      rejected.push(...outcome.rejected);
      unsent.push(...outcome.unsent);
      lastError ??= outcome.error;
    }
    if (rejected.length > 0) throw new TaskRejectedError(this.queueUrl, rejected, [...rejected.map((r) => r.taskId), ...unsent]);
    if (unsent.length > 0) {
      const detail = lastError === undefined ? `still failing after ${this.#maxAttempts} attempts` : messageOf(lastError);
      throw new QueueSendError(this.queueUrl, unsent, detail, { cause: lastError });
    }
  }

  /** Sends one batch, retrying what SQS failed for its own reasons; reports what never went. */
  async #sendBatch(batch: Message[]): Promise<{
    rejected: { taskId: string; code: string; message: string }[];
    unsent: string[];
    error?: unknown;
  }> {
    // Entry ids only need to be unique within the call; task ids may hold any character.
    let pending = new Map(batch.map((message, index) => [`t${index}`, message]));
    const rejected: { taskId: string; code: string; message: string }[] = [];
    let error: unknown;
    for (let attempt = 1; pending.size > 0 && attempt <= this.#maxAttempts; attempt++) {
      if (attempt > 1) await sleep(this.#delay(attempt - 1));
      let failed: { Id?: string; SenderFault?: boolean; Code?: string; Message?: string }[];
      try {
        const response = await this.client.send(
          new SendMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: [...pending].map(([id, message]) => this.#entry(id, message)),
          }),
        );
        failed = response.Failed ?? [];
        error = undefined;
      } catch (caught) {
        // The SDK has already retried what it considers transient; a throttle or 5xx that
        // outlived those retries still gets this loop's attempts, anything else ends here.
        error = caught;
        if (!isTransient(caught)) break;
        continue;
      }
      const next = new Map<string, Message>();
      for (const failure of failed) {
        const message = failure.Id === undefined ? undefined : pending.get(failure.Id);
        if (message === undefined) continue;
        if (failure.SenderFault) {
          rejected.push({ taskId: message.task.id, code: failure.Code ?? 'unknown', message: failure.Message ?? '' });
        } else {
          next.set(failure.Id as string, message);
        }
      }
      pending = next;
    }
    return { rejected, unsent: [...pending.values()].map((m) => m.task.id), ...(error !== undefined ? { error } : {}) };
  }

  #entry(id: string, message: Message): SendMessageBatchRequestEntry {
    const entry: SendMessageBatchRequestEntry = { Id: id, MessageBody: message.body };
    if (this.#fifo) {
      // Tasks are idempotent by id, so SQS may drop a repeat within its 5-minute window;
      // one group per task keeps FIFO from serialising unrelated tasks.
      const hash = createHash('sha256').update(message.task.id).digest('hex');
      entry.MessageDeduplicationId = hash;
      entry.MessageGroupId = hash;
    }
    return entry;
  }

  #delay(retry: number): number {
    const base = Math.min(this.#backoffMs * 2 ** (retry - 1), 5000);
    return base / 2 + Math.random() * (base / 2);
  }
}

interface Message {
  task: CopyTask;
  body: string;
  bytes: number;
}

/** Greedy, in order: a batch closes at 10 entries or when the next body would pass 256 KiB. */
export function batches<T extends { bytes: number }>(messages: T[]): T[][] {
  const result: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const message of messages) {
    if (current.length === MAX_BATCH_ENTRIES || (current.length > 0 && bytes + message.bytes > MAX_BATCH_BYTES)) {
      result.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += message.bytes;
  }
  if (current.length > 0) result.push(current);
  return result;
}

function isTransient(error: unknown): boolean {
  const e = error as { name?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } } | undefined;
  if (e?.$retryable) return true;
  const status = e?.$metadata?.httpStatusCode;
  if (status !== undefined && (status === 429 || status >= 500)) return true;
  return /Throttl|RequestThrottled|ServiceUnavailable|InternalError|KmsThrottled/i.test(e?.name ?? '');
}

const checksumsSchema = z
  .object({
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/).optional(),
    sha1: z.string().regex(/^[0-9a-fA-F]{40}$/).optional(),
    md5: z.string().regex(/^[0-9a-fA-F]{32}$/).optional(),
    sha512: z.string().regex(/^[0-9a-fA-F]{128}$/).optional(),
  });

const rawTaskSchema = z.object({
  kind: z.literal('raw'),
  id: z.string().min(1),
  sourceRepository: z.string().min(1),
  path: z.string().startsWith('/'),
  targetRepository: z.string().min(1),
  checksums: checksumsSchema,
  size: z.number().int().nonnegative().optional(),
  lastModified: z.string().optional(),
});

const imageTaskSchema = z.object({
  kind: z.literal('image'),
  id: z.string().min(1),
  sourceRepository: z.string().min(1),
  name: z.string().regex(IMAGE_NAME, 'not a valid image name'),
  tag: z.string().regex(IMAGE_TAG, 'not a valid tag'),
  targetRepository: z.string().min(1),
  digest: z.string().refine(isDigest, 'expected sha256:<64 hex>').optional(),
});

const packageTaskSchema = rawTaskSchema.extend({
  kind: z.enum(PACKAGE_FORMATS),
  component: z.object({ group: z.string().min(1).nullable(), name: z.string().min(1), version: z.string().min(1) }),
  attributes: z.record(z.string(), z.string()).optional(),
});

const blobTaskSchema = z
  .object({
    kind: z.literal('blob'),
    id: z.string().min(1),
    sourceRepository: z.string().min(1),
    digest: z.string().refine(isDigest, 'expected sha256:<64 hex>'),
    size: z.number().int().nonnegative(),
    name: z.string().regex(IMAGE_NAME, 'not a valid image name').optional(),
    path: z.string().startsWith('/').optional(),
  })
  .refine((task) => (task.name === undefined) !== (task.path === undefined), { message: 'exactly one of name and path', path: ['name'] });

const copyTaskSchema = z.discriminatedUnion('kind', [rawTaskSchema, imageTaskSchema, packageTaskSchema, blobTaskSchema]);

/** Parses a message body written by {@link SqsTaskQueue}; the error names the field at fault. */
export function parseTaskMessage(body: string): CopyTask {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    throw new InvalidTaskMessageError('body is not JSON', { cause: error });
  }
  const parsed = copyTaskSchema.safeParse(value);
  if (!parsed.success) {
    throw new InvalidTaskMessageError(issueLines(parsed.error, '(body)')[0] ?? '(body): invalid', { cause: parsed.error });
  }
  return parsed.data as CopyTask;
}
