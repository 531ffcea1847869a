/**
 * The AWS adapters: S3 for blobs and bundles and the import inbox, SQS for copy tasks
 * (sent once each through Powertools idempotency), DynamoDB for the export state, KMS for
 * signing, Lambda for the early seal, Secrets Manager through Powertools Parameters. Each
 * takes a ready SDK client, so handlers configure clients (region, retries, endpoints) once
 * and tests point them at emulators or mocks.
 */
export { S3ObjectStore, type S3ObjectStoreOptions } from './s3-object-store.ts';
export { SqsTaskQueue, parseTaskMessage, batches, MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, type SqsTaskQueueOptions } from './sqs-task-queue.ts';
export {
  DynamoExportState,
  createTableInput,
  FIRST_BUNDLE_SEQUENCE,
  MAX_TRANSACTION_ITEMS,
  PENDING_INDEX,
  type DynamoExportStateOptions,
} from './dynamo-export-state.ts';
export { KmsSigner, MAX_RAW_MESSAGE, type KmsSignerOptions } from './kms-signer.ts';
export { S3BundleInbox, READ_RANGE_BYTES, type S3BundleInboxOptions } from './s3-inbox.ts';
export { LambdaEarlySeal, EarlySealError, type LambdaEarlySealOptions } from './lambda-early-seal.ts';
export { Secrets, SecretError, SECRET_MAX_AGE_SECONDS, type SecretsOptions } from './secrets.ts';
export { IdempotentTaskQueue, EnqueueError, type IdempotentTaskQueueOptions } from './idempotent-queue.ts';
export * from './errors.ts';
