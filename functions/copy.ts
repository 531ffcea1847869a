/**
 * SQS consumer: one copy task per message, partial-batch responses so one bad task does not
 * send its nine neighbours back to the queue. Each task runs at most once to completion
 * (Powertools idempotency on the task id; the core's ledger dedupes anyway). A message that
 * is not a task is logged with the reason and failed, so after maxReceiveCount it lands in
 * the DLQ where someone can look at it.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { LambdaEarlySeal } from '../shared/adapters/aws/lambda-early-seal.ts';
import { parseTaskMessage } from '../shared/adapters/aws/sqs-task-queue.ts';
import type { CopyOutcome } from '../shared/core/export/copy.ts';
import { allDefinitions } from '../shared/config/definitions.ts';
import { makeExporter, type ExporterPorts, type ExporterSettings } from '../shared/core/export/exporter.ts';
import { sealIfDue } from '../shared/core/export/early-seal.ts';
import type { CopyTask } from '../shared/core/ports/index.ts';
import { TaskQueueError } from '../shared/core/ports/errors.ts';
import { copyEnvSchema, loadEnv } from './env.ts';
import { definitionStore, exporterSettings, exportPorts, registriesFor } from './export-wiring.ts';
import { idempotencyStore } from './idempotency.ts';
import { COPY_METRICS } from './metrics.ts';
import { coreLog, errorFields, once, powertools } from './wiring.ts';

const env = loadEnv(copyEnvSchema);
const { logger, metrics } = powertools();
const processor = new BatchProcessor(EventType.SQS);

/** The message body is not a copy task: retrying cannot help, the DLQ is where it belongs. */
export class PoisonMessageError extends TaskQueueError {
  override readonly name = 'PoisonMessageError';
}

const copyConfig = new IdempotencyConfig({ eventKeyJmesPath: 'id', expiresAfterSeconds: 24 * 3600 });

/** The carried repositories as this batch reads them (once per batch). */
let batchRepositories: Promise<{ settings: ExporterSettings; registryFor: ExporterPorts['registryFor'] }> | undefined;

const wired = once(async () => {
  const ports = await exportPorts(env, logger);
  const definitions = definitionStore(env);
  const registries = registriesFor(env, logger);
  // Removed definitions included: a task queued before its repository was removed still finishes.
  const carried = async () => {
    const repositories = allDefinitions(await definitions.read());
    return { settings: exporterSettings(env, repositories), registryFor: await registries(repositories) };
  };
  /** The task's own exporter logs through a child logger whose correlation id is the task id. */
  const copy = async (task: CopyTask): Promise<CopyOutcome> => {
    const { settings, registryFor } = await (batchRepositories ??= carried());
    const log = logger.createChild();
    log.setCorrelationId(task.id);
    return makeExporter({ ...ports, registryFor, log: coreLog(log) }, settings).copy(task);
  };
  const copyOnce = makeIdempotent(copy, { persistenceStore: idempotencyStore(env.FERRY_IDEMPOTENCY_TABLE), keyPrefix: `${env.FERRY_SOURCE_ID}.copy`, config: copyConfig });
  // Both or neither: without them the schedule alone seals.
  const { FERRY_SEAL_FUNCTION_NAME: functionName, FERRY_SEAL_THRESHOLD_BYTES: threshold } = env;
  const earlySeal = functionName === undefined ? undefined : new LambdaEarlySeal({ client: new LambdaClient({}), functionName });
  /** Starts the seal function asynchronously once the pending entries pass the threshold. */
  const sealEarlyIfDue = async () => earlySeal && threshold !== undefined && sealIfDue({ state: ports.state, earlySeal, log: coreLog(logger) }, threshold);
  return { copyOnce, sealEarlyIfDue };
});

let stagedThisBatch = 0;

async function copyRecord(record: SQSRecord): Promise<CopyOutcome> {
  let task: CopyTask;
  try {
    task = parseTaskMessage(record.body);
  } catch (error) {
    logger.error('poison message: not a copy task', { messageId: record.messageId, reason: (error as Error).message, receiveCount: record.attributes?.ApproximateReceiveCount });
    metrics.addMetric(COPY_METRICS.poisonMessages, MetricUnit.Count, 1);
    throw new PoisonMessageError(`message ${record.messageId}: ${(error as Error).message}`, { cause: error });
  }
  const about = { correlation_id: task.id, taskId: task.id, messageId: record.messageId, repository: task.sourceRepository, path: 'path' in task ? task.path : undefined };
  try {
    const { copyOnce } = await wired();
    const outcome = await copyOnce(task);
    metrics.addMetric(COPY_METRICS.tasks, MetricUnit.Count, 1);
    if (outcome.status === 'staged' || outcome.status === 'deduplicated') {
      stagedThisBatch += outcome.bytes;
      metrics.addMetric(outcome.status === 'staged' ? COPY_METRICS.bytesStaged : COPY_METRICS.bytesDeduplicated, MetricUnit.Bytes, outcome.bytes);
    }
    logger.info(`copy task ${outcome.status}`, { ...about, ...outcome });
    return outcome;
  } catch (error) {
    metrics.addMetric(COPY_METRICS.taskFailures, MetricUnit.Count, 1);
    logger.error('copy task failed; SQS will redeliver it', { ...about, ...errorFields(error) });
    throw error;
  }
}

export async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  logger.resetKeys();
  logger.addContext(context);
  copyConfig.registerLambdaContext(context);
  stagedThisBatch = 0;
  batchRepositories = undefined;
  try {
    const response = await processPartialResponse(event, copyRecord, processor, { context, throwOnFullBatchFailure: false });
    if (response.batchItemFailures.length > 0) {
      logger.warn(`${response.batchItemFailures.length} of ${event.Records.length} messages failed`, { failed: response.batchItemFailures.map((f) => f.itemIdentifier) });
    }
    if (stagedThisBatch > 0) await (await wired()).sealEarlyIfDue();
    return response;
  } finally {
    metrics.publishStoredMetrics();
  }
}
