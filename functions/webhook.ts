/**
 * Nexus webhook receiver behind a Lambda Function URL. The signature is checked on the raw
 * bytes before anything else looks at the body, so a forged request changes nothing (not
 * even an idempotency record). A delivery is idempotent on `X-Nexus-Webhook-Delivery`, and
 * each task's enqueue on the task id (same content, same id), so duplicates queue nothing
 * new. 202 means the tasks are in SQS.
 *
 * Nexus never retries a failed delivery: a 4xx/5xx here is only counted on the Nexus side,
 * and the scheduled scan picks the change up. Statuses are still honest, for operators.
 */
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { DynamoExportState } from '../shared/adapters/aws/dynamo-export-state.ts';
import { SqsTaskQueue } from '../shared/adapters/aws/sqs-task-queue.ts';
import type { CopyTask } from '../shared/core/ports/index.ts';
import { headerValue, parseWebhook, verifyWebhookSignature, WebhookPayloadError, type WebhookDelivery } from '../shared/adapters/nexus/webhook.ts';
import { tasksForWebhook } from '../shared/core/export/webhook-tasks.ts';
import { loadEnv, webhookEnvSchema } from './env.ts';
import { clients, coreLog, errorFields, idempotencyStore, nexusClient, once, powertools, secretString, exporterSettings } from './wiring.ts';

const env = loadEnv(webhookEnvSchema);
const { logger, metrics } = powertools();

/** Enqueueing failed: SQS is down or refused. Nothing was acknowledged to Nexus. */
class EnqueueError extends Error {
  override readonly name = 'EnqueueError';
}

/** Reading the component or asset back from Nexus failed. */
class SourceError extends Error {
  override readonly name = 'SourceError';
}

interface DeliveryOutcome {
  queued: number;
  alreadyQueued: number;
  alreadyStaged: number;
  ignored?: string | undefined;
  /** Set by the idempotency response hook when the outcome is a stored one (a duplicate delivery). */
  duplicate?: boolean;
}

const deliveryConfig = new IdempotencyConfig({
  eventKeyJmesPath: 'deliveryId',
  expiresAfterSeconds: 24 * 3600,
  responseHook: (response) => ({ ...(response as object), duplicate: true }),
});
const taskConfig = new IdempotencyConfig({
  eventKeyJmesPath: 'id',
  expiresAfterSeconds: 24 * 3600,
  responseHook: (response) => ({ ...(response as object), duplicate: true }),
});

const wired = once(async () => {
  const [secret, source] = await Promise.all([
    secretString(env.FERRY_WEBHOOK_SECRET_ARN, 'FERRY_WEBHOOK_SECRET_ARN'),
    nexusClient(env.FERRY_NEXUS_URL, env.FERRY_NEXUS_SECRET_ARN, 'FERRY_NEXUS_SECRET_ARN', logger),
  ]);
  const state = new DynamoExportState({ client: clients.documents(), table: env.FERRY_TABLE, sourceId: env.FERRY_SOURCE_ID });
  const queue = new SqsTaskQueue({ client: clients.sqs(), queueUrl: env.FERRY_QUEUE_URL });
  // A 404 passes through as is (the core treats it as "gone"); anything else is a SourceError.
  const asSourceError = (what: string) => (error: unknown) => {
    if ((error as { status?: unknown }).status === 404) throw error;
    throw new SourceError(`could not read ${what} back from Nexus: ${(error as Error).message}`, { cause: error });
  };
  const readBack = {
    getComponent: (id: string) => source.getComponent(id).catch(asSourceError(`component ${id}`)),
    getAsset: (id: string) => source.getAsset(id).catch(asSourceError(`asset ${id}`)),
  };

  const enqueueTask = makeIdempotent(
    async (task: CopyTask): Promise<{ id: string; duplicate?: boolean }> => {
      try {
        await queue.enqueue([task]);
      } catch (error) {
        throw new EnqueueError(`could not queue task ${task.id}: ${(error as Error).message}`, { cause: error });
      }
      return { id: task.id };
    },
    { persistenceStore: idempotencyStore(env.FERRY_IDEMPOTENCY_TABLE), keyPrefix: `${env.FERRY_SOURCE_ID}.webhook.task`, config: taskConfig },
  );

  const handleDelivery = makeIdempotent(
    async (delivery: WebhookDelivery): Promise<DeliveryOutcome> => {
      const result = await tasksForWebhook({ source: readBack, state, log: coreLog(logger) }, delivery.event, exporterSettings(env).repositories);
      if (result.deletion !== undefined) logger.info('deletion reported by Nexus (not shipped yet)', { deletion: result.deletion });
      let queued = 0;
      let alreadyQueued = 0;
      for (const task of result.tasks) {
        const outcome = await enqueueTask(task);
        if (outcome.duplicate) alreadyQueued += 1;
        else queued += 1;
      }
      // Stored as the idempotent result: DynamoDB takes no undefined members.
      return { queued, alreadyQueued, alreadyStaged: result.alreadyStaged, ...(result.ignored ? { ignored: result.ignored } : {}) };
    },
    { persistenceStore: idempotencyStore(env.FERRY_IDEMPOTENCY_TABLE), keyPrefix: `${env.FERRY_SOURCE_ID}.webhook.delivery`, config: deliveryConfig },
  );
  return { secret, handleDelivery };
});

function reply(statusCode: number, body: Record<string, unknown>): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

export async function handler(event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyStructuredResultV2> {
  logger.resetKeys();
  logger.addContext(context);
  try {
    const response = await handle(event, context);
    metrics.addMetric(`WebhookStatus${response.statusCode}`, MetricUnit.Count, 1);
    return response;
  } finally {
    metrics.publishStoredMetrics();
  }
}

async function handle(event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyStructuredResultV2> {
  const raw = event.body === undefined || event.body === null ? Buffer.alloc(0) : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  if (raw.length > env.FERRY_WEBHOOK_MAX_BYTES) {
    logger.warn('webhook body too large', { bytes: raw.length, maxBytes: env.FERRY_WEBHOOK_MAX_BYTES });
    return reply(413, { message: `body of ${raw.length} bytes exceeds ${env.FERRY_WEBHOOK_MAX_BYTES}` });
  }
  const { secret, handleDelivery } = await wired();
  if (!verifyWebhookSignature(raw, headerValue(event.headers, 'X-Nexus-Webhook-Signature'), secret)) {
    logger.warn('webhook refused: signature missing or invalid', { sourceIp: event.requestContext?.http?.sourceIp });
    return reply(401, { message: 'X-Nexus-Webhook-Signature: missing or invalid' });
  }

  let delivery: WebhookDelivery;
  try {
    delivery = parseWebhook(raw, event.headers);
  } catch (error) {
    if (!(error instanceof WebhookPayloadError)) throw error;
    logger.warn('webhook body refused', { problem: error.message });
    return reply(400, { message: error.message });
  }
  logger.setCorrelationId(delivery.deliveryId);
  const about = { deliveryId: delivery.deliveryId, webhookId: delivery.webhookId, repository: delivery.event.repositoryName, action: delivery.event.action };

  deliveryConfig.registerLambdaContext(context);
  taskConfig.registerLambdaContext(context);
  try {
    const outcome = await handleDelivery(delivery);
    logger.info(outcome.duplicate ? 'duplicate delivery: nothing queued again' : 'webhook accepted', { ...about, ...outcome });
    metrics.addMetric('WebhookTasksQueued', MetricUnit.Count, outcome.duplicate ? 0 : outcome.queued);
    return reply(202, { deliveryId: delivery.deliveryId, ...outcome });
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'IdempotencyAlreadyInProgressError') {
      logger.warn('the same delivery or task is being handled by another invocation', { ...about, ...errorFields(error) });
      return reply(409, { message: 'this delivery (or one of its tasks) is being processed by another request' });
    }
    logger.error('webhook not processed; the scheduled scan will pick the change up', { ...about, ...errorFields(error) });
    if (error instanceof SourceError) return reply(502, { message: 'could not read the change back from Nexus' });
    if (error instanceof EnqueueError) return reply(503, { message: 'could not queue the copy tasks' });
    return reply(503, { message: 'could not process the delivery' });
  }
}
