/**
 * The export side's four functions (webhook, scan, copy, seal) and what starts them: the
 * webhook's Function URL, the queue that feeds copy, and the scan and seal schedules.
 */
import { Duration } from 'aws-cdk-lib';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { FunctionUrlAuthType, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { ferryFunction } from './common.ts';
import type { ExportSettings, FerryExportProps } from './export-construct.ts';
import type { ExportResources } from './export-storage.ts';
import { acknowledge } from './nag.ts';

/** Longest a copy may run: big artifacts stream for minutes. The queue's visibility is 6× this. */
export const COPY_TIMEOUT = Duration.minutes(15);

export type ExportFunctions = Record<'webhook' | 'scan' | 'copy' | 'seal', NodejsFunction>;

/**
 * The four functions, created on `ferry`, each with the environment its stage reads
 * (functions/env.ts). Seal comes first: copy names it (`FERRY_SEAL_FUNCTION_NAME`) to seal early.
 */
export function exportFunctions(ferry: Construct & ExportResources, props: FerryExportProps, settings: ExportSettings, logRetention: RetentionDays): ExportFunctions {
  const common = {
    FERRY_SOURCE_ID: props.sourceId,
    FERRY_TABLE: ferry.table.tableName,
    FERRY_BUCKET: ferry.bucket.bucketName,
    FERRY_QUEUE_URL: ferry.queue.queueUrl,
    FERRY_NEXUS_URL: props.nexusUrl,
    FERRY_NEXUS_SECRET_ARN: ferry.nexusSecret.secretArn,
    // The carried repositories are the sync definitions in the table (definitions.ts), not the environment.
  };
  const seal = ferryFunction(ferry, 'Seal', 'seal', {
    description: 'Seals pending entries into signed, chained, size-capped bundles under bundles/',
    memorySize: 1024,
    timeout: Duration.minutes(15),
    logRetention,
    // Bundles are numbered in sequence per source: one sealer at a time.
    reservedConcurrentExecutions: 1,
    environment: { ...common, FERRY_KMS_KEY_ID: ferry.signingKey.keyId, FERRY_MAX_BUNDLE_BYTES: String(settings.maxBundleBytes) },
  });
  const webhook = ferryFunction(ferry, 'Webhook', 'webhook', {
    description: 'Receives HMAC-signed Nexus webhook deliveries and queues copy tasks',
    memorySize: 512,
    timeout: Duration.seconds(30),
    logRetention,
    environment: {
      ...common,
      FERRY_WEBHOOK_SECRET_ARN: ferry.webhookSecret.secretArn,
      FERRY_WEBHOOK_MAX_BYTES: String(64 * 1024),
      FERRY_IDEMPOTENCY_TABLE: ferry.idempotencyTable.tableName,
    },
  });
  const scan = ferryFunction(ferry, 'Scan', 'scan', {
    description: 'Scans each repository for components changed since its watermark and queues copy tasks',
    memorySize: 512,
    timeout: Duration.minutes(10),
    logRetention,
    // Overlapping scans of one repository would race for the watermark: one at a time.
    reservedConcurrentExecutions: 1,
    environment: { ...common, FERRY_OVERLAP_SECONDS: String(settings.overlapSeconds) },
  });
  const copy = ferryFunction(ferry, 'Copy', 'copy', {
    description: 'Streams each queued artifact from Nexus, verifies its checksum and stages it content-addressed',
    memorySize: 1024,
    timeout: COPY_TIMEOUT,
    logRetention,
    environment: {
      ...common,
      FERRY_IDEMPOTENCY_TABLE: ferry.idempotencyTable.tableName,
      FERRY_SEAL_FUNCTION_NAME: seal.functionName,
      FERRY_SEAL_THRESHOLD_BYTES: String(settings.sealThresholdBytes),
    },
  });
  return { webhook, scan, copy, seal };
}

/**
 * Starts the functions: Nexus calls the webhook's public Function URL, the task queue feeds
 * copy, and schedules run the safety-net scan, the reconcile of deletions and the seal. Returns the webhook URL.
 */
export function exportTriggers(ferry: Construct & ExportResources, functions: ExportFunctions, sourceId: string, settings: ExportSettings): FunctionUrl {
  const { webhook, scan, copy, seal } = functions;
  const webhookUrl = webhook.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });
  acknowledge(webhook, 'Ferry-LambdaFunctionUrlAuth', 'Nexus webhook deliveries cannot carry AWS SigV4 credentials; the function authenticates every request by the HMAC-SHA1 signature Nexus computes with the shared webhook secret and rejects unsigned or oversized bodies before doing any work.');

  copy.addEventSource(new SqsEventSource(ferry.queue, { batchSize: 10, maxBatchingWindow: Duration.seconds(5), reportBatchItemFailures: true, maxConcurrency: settings.copyConcurrency }));
  new Rule(ferry, 'ScanSchedule', { description: `Ferry ${sourceId}: safety-net scan`, schedule: Schedule.expression(settings.scanSchedule), targets: [new LambdaFunction(scan, { retryAttempts: 2 })] });
  // The same function, told to list carried repositories in full (functions/reconcile.ts); it runs one at a time with scans.
  new Rule(ferry, 'ReconcileSchedule', {
    description: `Ferry ${sourceId}: reconcile deletions (deletions: carry)`,
    schedule: Schedule.expression(settings.reconcileSchedule),
    targets: [new LambdaFunction(scan, { retryAttempts: 2, event: RuleTargetInput.fromObject({ reconcile: true }) })],
  });
  new Rule(ferry, 'SealSchedule', { description: `Ferry ${sourceId}: seal pending entries`, schedule: Schedule.expression(settings.sealSchedule), targets: [new LambdaFunction(seal, { retryAttempts: 2 })] });
  return webhookUrl;
}
