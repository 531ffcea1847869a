/**
 * What `ferry status` reads on the serverless side besides the state tables: the receipts
 * the import function left in its inbox bucket, and the depth of the export side's
 * dead-letter queue (where copy tasks that failed every attempt wait; the state table does
 * not keep them). Reads only: the queue's messages are counted, never received, so none
 * is hidden from whoever works the queue.
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import type { FarSideFile, ReceiptShelf, TaskQueueStatus } from '../../core/status.ts';
import { DeadLetterQueueError, ObjectStoreError } from './errors.ts';

export interface S3ReceiptShelfOptions {
  client: S3Client;
  bucket: string;
  /** Where receipts and resend requests are written, e.g. `receipts/` (the import stack's). */
  prefix: string;
}

/** Receipts and resend requests under a prefix of the import inbox bucket. */
export class S3ReceiptShelf implements ReceiptShelf {
  readonly location: string;
  readonly #options: S3ReceiptShelfOptions;

  constructor(options: S3ReceiptShelfOptions) {
    this.#options = options;
    this.location = `s3://${options.bucket}/${options.prefix}`;
  }

  async listFarSideFiles(): Promise<FarSideFile[]> {
    const { client, bucket, prefix } = this.#options;
    const files: FarSideFile[] = [];
    try {
      for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: prefix })) {
        for (const object of page.Contents ?? []) {
          const name = (object.Key ?? '').slice(prefix.length);
          if (name.includes('/') || !(name.endsWith('.receipt.json') || name.endsWith('.resend-request.json'))) continue;
          files.push({ name, location: `s3://${bucket}/${object.Key}`, writtenAt: (object.LastModified ?? new Date(0)).toISOString() });
        }
      }
    } catch (error) {
      throw new ObjectStoreError('ListObjectsV2', this.location, { cause: error });
    }
    return files;
  }
}

/** The serverless copy tasks as far as the dead-letter queue tells: an approximate count of failed tasks. */
export async function deadLetterStatus(client: SQSClient, queueUrl: string): Promise<TaskQueueStatus> {
  let attributes: Record<string, string> | undefined;
  try {
    ({ Attributes: attributes } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    ));
  } catch (error) {
    throw new DeadLetterQueueError(queueUrl, { cause: error });
  }
  const dead = Number(attributes?.ApproximateNumberOfMessages ?? 0) + Number(attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  return {
    kept: 'dead-letter-queue',
    queued: null,
    running: null,
    retrying: null,
    dead,
    failed: [],
    note: `${dead} failed task(s) in ${queueUrl} (SQS's approximate count); each message is the task itself, its errors are in the copy function's logs`,
  };
}

/** When no dead-letter queue is named: say where failed tasks are rather than guess. */
export function deadLetterNotRead(): TaskQueueStatus {
  return {
    kept: 'dead-letter-queue',
    queued: null,
    running: null,
    retrying: null,
    dead: null,
    failed: [],
    note: 'the state table does not keep failed tasks: they wait in the dead-letter queue (FerryExportStack output DeadLetterQueueUrl); add --dlq-url <url> to count them',
  };
}
