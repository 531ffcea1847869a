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
import { EnqueueError, IdempotentTaskQueue } from '../shared/adapters/aws/idempotent-queue.ts';
import { headerValue, parseWebhook, verifyWebhookSignature, WebhookPayloadError, type WebhookDelivery } from '../shared/adapters/nexus/webhook.ts';
import { memberLookup } from '../shared/core/export/groups.ts';
import { tasksForWebhook } from '../shared/core/export/webhook-tasks.ts';
import { NexusError } from '../shared/adapters/nexus/errors.ts';
import { loadEnv, webhookEnvSchema } from './env.ts';
import { activeDefinitions } from '../shared/config/definitions.ts';
import { definitionStore, exporterSettings, exportPorts } from './export-wiring.ts';
import { idempotencyStore } from './idempotency.ts';
import { WEBHOOK_METRICS } from './metrics.ts';
import { errorFields, once, powertools, secrets } from './wiring.ts';

const env = loadEnv(webhookEnvSchema);
const { logger, metrics } = powertools();

/** Stored as the delivery's idempotent result (DynamoDB takes no undefined members); `duplicate` when it is a stored one. */
type DeliveryOutcome = { queued: number; alreadyQueued: number; alreadyStaged: number; ignored?: string; tombstones?: number; stillAtSource?: number; duplicate?: boolean };

const deliveryConfig = new IdempotencyConfig({ eventKeyJmesPath: 'deliveryId', expiresAfterSeconds: 24 * 3600, responseHook: (r) => ({ ...(r as object), duplicate: true }) });

const wired = once(async () => {
  const [secret, ports] = await Promise.all([secrets().text(env.FERRY_WEBHOOK_SECRET_ARN, 'FERRY_WEBHOOK_SECRET_ARN'), exportPorts(env, logger)]);
  const queue = new IdempotentTaskQueue({ queue: ports.queue, persistenceStore: idempotencyStore(env.FERRY_IDEMPOTENCY_TABLE), keyPrefix: `${env.FERRY_SOURCE_ID}.webhook.task` });
  const definitions = definitionStore(env);
  // Groups have no webhooks: their members' events count for them (listing cached 5 min).
  const membersOf = memberLookup(ports.source);
  const accept = makeIdempotent(
    async (delivery: WebhookDelivery): Promise<DeliveryOutcome> => {
      // Read at each delivery: a repository defined or removed by API counts from the next one.
      const repositories = exporterSettings(env, activeDefinitions(await definitions.read())).repositories;
      const { tasks, alreadyStaged, ignored, deletion, carried } = await tasksForWebhook({ source: ports.source, state: ports.state, log: ports.log, membersOf }, delivery.event, repositories);
      if (deletion !== undefined) logger.info(carried ? 'deletion reported by Nexus: tombstones pending' : 'deletion reported by Nexus (not carried)', { deletion, carried });
      return { ...(await queue.enqueue(tasks)), alreadyStaged, ...(ignored ? { ignored } : {}), ...(carried ? { tombstones: carried.staged } : {}), ...(carried?.stillAtSource ? { stillAtSource: carried.stillAtSource } : {}) };
    },
    { persistenceStore: idempotencyStore(env.FERRY_IDEMPOTENCY_TABLE), keyPrefix: `${env.FERRY_SOURCE_ID}.webhook.delivery`, config: deliveryConfig },
  );
  return { secret, accept, taskConfig: queue.config };
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
  const raw = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
  if (raw.length > env.FERRY_WEBHOOK_MAX_BYTES) {
    logger.warn('webhook body too large', { bytes: raw.length, maxBytes: env.FERRY_WEBHOOK_MAX_BYTES });
    return reply(413, { message: `body of ${raw.length} bytes exceeds ${env.FERRY_WEBHOOK_MAX_BYTES}` });
  }
  const { secret, accept, taskConfig } = await wired();
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
    const outcome = await accept(delivery);
    logger.info(outcome.duplicate ? 'duplicate delivery: nothing queued again' : 'webhook accepted', { ...about, ...outcome });
    metrics.addMetric(WEBHOOK_METRICS.tasksQueued, MetricUnit.Count, outcome.duplicate ? 0 : outcome.queued);
    return reply(202, { deliveryId: delivery.deliveryId, ...outcome });
  } catch (error) {
    if ((error as Error).name === 'IdempotencyAlreadyInProgressError') {
      logger.warn('the same delivery or task is being handled by another invocation', { ...about, ...errorFields(error) });
      return reply(409, { message: 'this delivery (or one of its tasks) is being processed by another request' });
    }
    logger.error('webhook not processed; the scheduled scan will pick the change up', { ...about, ...errorFields(error) });
    // Reading the change back, or asking whether a deleted path is gone, failed (a 404 never gets here: the core takes it as "gone").
    if (error instanceof NexusError) return reply(502, { message: 'could not read the change back from Nexus' });
    return reply(503, { message: error instanceof EnqueueError ? 'could not queue the copy tasks' : 'could not process the delivery' });
  }
}
