/**
 * The port contracts (test/contracts/) against the AWS adapters on the local emulators
 * (fauxqs for S3 and SQS, DynamoDB Local), started once per run by
 * test/support/global-emulators.ts. Every harness gets a bucket, queue, table or source
 * id of its own.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, inject } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, DeleteMessageBatchCommand, DeleteQueueCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { CreateTableCommand, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CopyTask } from '../shared/core/ports/index.ts';
import { DynamoExportState, S3ObjectStore, SqsTaskQueue, createTableInput, parseTaskMessage } from '../shared/adapters/aws/index.ts';
import { DynamoImportState, createImportTableInput } from '../shared/adapters/aws/dynamo-import-state.ts';
import { makeDynamoClient, makeS3Client, makeSqsClient } from './support/emulators.ts';
import { objectStoreContract } from './contracts/object-store.ts';
import { exportStateContract } from './contracts/export-state.ts';
import { importStateContract } from './contracts/import-state.ts';
import { taskQueueContract } from './contracts/task-queue.ts';

const awsEndpoint = inject('awsEndpoint');
const dynamoEndpoint = inject('dynamoEndpoint');

let s3: S3Client;
let sqs: SQSClient;
let dynamo: DynamoDBDocumentClient;
const exportTable = `ferry-contract-export-${randomUUID()}`;

beforeAll(async () => {
  s3 = makeS3Client(awsEndpoint);
  sqs = makeSqsClient(awsEndpoint);
  dynamo = makeDynamoClient(dynamoEndpoint);
  await dynamo.send(new CreateTableCommand(createTableInput(exportTable)));
});

afterAll(async () => {
  await dynamo.send(new DeleteTableCommand({ TableName: exportTable })).catch(() => undefined);
  s3.destroy();
  sqs.destroy();
  dynamo.destroy();
});

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('S3ObjectStore (ObjectStore contract)', () => {
  objectStoreContract(async () => {
    const bucket = `ferry-${randomUUID().slice(0, 18)}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const store = new S3ObjectStore({ client: s3, bucket, prefix: 'ferry/' });
    return {
      store,
      reopen: async () => new S3ObjectStore({ client: s3, bucket, prefix: 'ferry/' }),
      readBundle: async (name) => {
        const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `ferry/bundles/${name}` }));
        return readAll(object.Body as Readable);
      },
      close: async () => {},
    };
  });
});

describe('DynamoExportState (ExportState contract)', () => {
  exportStateContract(async () => {
    const sourceId = `source-${randomUUID()}`;
    return {
      state: new DynamoExportState({ client: dynamo, table: exportTable, sourceId }),
      sourceId,
      open: async () => new DynamoExportState({ client: dynamo, table: exportTable, sourceId }),
      close: async () => {},
    };
  });
});

describe('DynamoImportState (ImportState contract)', () => {
  importStateContract(async () => {
    // Bundle digests key the table, so every harness gets a table of its own.
    const table = `ferry-contract-import-${randomUUID()}`;
    await dynamo.send(new CreateTableCommand(createImportTableInput(table)));
    return {
      state: new DynamoImportState({ client: dynamo, table }),
      reopen: async () => new DynamoImportState({ client: dynamo, table }),
      close: async () => {
        await dynamo.send(new DeleteTableCommand({ TableName: table }));
      },
    };
  });
});

describe('SqsTaskQueue (TaskQueue contract)', () => {
  taskQueueContract(async () => {
    const created = await sqs.send(new CreateQueueCommand({ QueueName: `ferry-tasks-${randomUUID()}` }));
    const queueUrl = created.QueueUrl as string;
    return {
      open: async () => ({ queue: new SqsTaskQueue({ client: sqs, queueUrl }), close: async () => {} }),
      // As the copy Lambda reads its batches: each body through parseTaskMessage; until a long poll comes back empty.
      receive: async () => {
        const received: CopyTask[] = [];
        for (;;) {
          const batch = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
          const messages = batch.Messages ?? [];
          if (messages.length === 0) return received;
          for (const message of messages) received.push(parseTaskMessage(message.Body ?? ''));
          await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: messages.map((m, i) => ({ Id: `m${i}`, ReceiptHandle: m.ReceiptHandle ?? '' })),
            }),
          );
        }
      },
      close: async () => {
        await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
      },
    };
  });
});
