/**
 * `POST /webhook` of `ferry serve`: the same checks and core as the deployed webhook Lambda
 * (functions/webhook.ts). The signature is checked on the raw bytes before anything looks at
 * the body, so a forged request changes nothing, not even a delivery record. 202 is
 * answered only once the tasks are committed to the state file (a kill -9 right after loses
 * nothing); a delivery id answered before is answered again from the record, queuing nothing.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { SqliteWebhookDeliveries } from '../../shared/adapters/embedded/webhook-deliveries.ts';
import { NexusError } from '../../shared/adapters/nexus/errors.ts';
import { headerValue, parseWebhook, verifyWebhookSignature, WebhookPayloadError, type WebhookDelivery } from '../../shared/adapters/nexus/webhook.ts';
import { memberLookup } from '../../shared/core/export/groups.ts';
import type { ScanRepository } from '../../shared/core/export/scan.ts';
import { tasksForWebhook, type WebhookSource } from '../../shared/core/export/webhook-tasks.ts';
import type { Log } from '../../shared/core/log.ts';
import type { ArtifactSource, ExportState, TaskQueue } from '../../shared/core/ports/index.ts';
import type { DeliveryOutcome, ServeMetrics } from './metrics.ts';

/** Nexus bodies are a few hundred bytes; the Lambda's default cap. */
export const WEBHOOK_MAX_BYTES = 1_048_576;

export interface WebhookEndpointDeps {
  /** Never logged, never answered. */
  secret: string;
  source: WebhookSource & Pick<ArtifactSource, 'repositories'>;
  state: ExportState;
  queue: TaskQueue;
  deliveries: SqliteWebhookDeliveries;
  repositories: readonly ScanRepository[];
  log: Log;
  metrics: ServeMetrics;
  /** Tasks were queued: the copier should look now. */
  queued(): void;
  /** A deletion named only by ids (PURGED): the full reconcile should run now. */
  reconcileSoon?: (() => void) | undefined;
}

export interface Reply {
  status: number;
  body: Record<string, unknown>;
}

export type WebhookEndpoint = (raw: Buffer, headers: IncomingHttpHeaders, remote: string | undefined) => Promise<Reply>;

export function makeWebhookEndpoint(deps: WebhookEndpointDeps): WebhookEndpoint {
  const { log, metrics } = deps;
  // Groups have no webhooks: their members' events count for them (listing cached 5 min).
  const membersOf = memberLookup(deps.source);
  const refuse = (outcome: DeliveryOutcome, status: number, message: string): Reply => {
    metrics.delivery(outcome);
    return { status, body: { message } };
  };

  return async (raw, headers, remote) => {
    if (!verifyWebhookSignature(raw, headerValue(headers, 'X-Nexus-Webhook-Signature'), deps.secret)) {
      log.warn('webhook refused: signature missing or invalid', { remote });
      return refuse('forged', 401, 'X-Nexus-Webhook-Signature: missing or invalid');
    }
    let delivery: WebhookDelivery;
    try {
      delivery = parseWebhook(raw, headers);
    } catch (error) {
      if (!(error instanceof WebhookPayloadError)) throw error;
      log.warn(`webhook body refused: ${error.message}`, { remote });
      return refuse('invalid', 400, error.message);
    }
    const about = { deliveryId: delivery.deliveryId, repository: delivery.event.repositoryName, action: delivery.event.action };
    const recorded = deps.deliveries.find(delivery.deliveryId);
    if (recorded !== undefined) {
      metrics.delivery('duplicate');
      log.info(`duplicate webhook delivery ${delivery.deliveryId} (first received ${recorded.receivedAt}): nothing queued again`, about);
      return { status: 200, body: { deliveryId: delivery.deliveryId, duplicate: true, ...recorded.outcome } };
    }
    try {
      return await accept(deps, delivery, membersOf, about);
    } catch (error) {
      metrics.failed('webhook');
      log.error(`webhook delivery ${delivery.deliveryId} not processed; the scheduled scan will pick the change up: ${(error as Error).message}`, about);
      // Reading the change back, or asking whether a deleted path is gone, failed (a 404 never gets here: the core takes it as "gone").
      if (error instanceof NexusError) return refuse('failed', 502, 'could not read the change back from Nexus');
      return refuse('failed', 503, 'could not process the delivery');
    }
  };
}

async function accept(deps: WebhookEndpointDeps, delivery: WebhookDelivery, membersOf: (group: string) => Promise<string[]>, about: Record<string, unknown>): Promise<Reply> {
  const { log, metrics } = deps;
  const { tasks, alreadyStaged, ignored, deletion, carried } = await tasksForWebhook({ source: deps.source, state: deps.state, log, membersOf }, delivery.event, deps.repositories);
  if (carried?.reconcileRequested !== undefined) deps.reconcileSoon?.();
  if (carried !== undefined) {
    const still = carried.stillAtSource ? `; ${carried.stillAtSource} path(s) still served by the source (uploaded again since): no tombstone` : '';
    log.info(`deletion reported by Nexus: ${carried.staged} tombstone(s) pending for the next bundle${still}${carried.unresolved ? ` (not resolved: ${carried.unresolved})` : ''}${carried.reconcileRequested ? `; the full reconcile of ${carried.reconcileRequested} runs now` : ''}`, { ...about, deletion });
  } else if (deletion !== undefined) log.info('deletion reported by Nexus (not carried: the repository does not say deletions: carry)', { ...about, deletion });
  // Durable before the answer: the queue commits with synchronous=FULL and drops ids it has seen.
  if (tasks.length > 0) await deps.queue.enqueue(tasks);
  const outcome = { tasks: tasks.length, alreadyStaged, ...(ignored !== undefined ? { ignored } : {}), ...(carried !== undefined ? { tombstones: carried.staged } : {}), ...(carried?.stillAtSource ? { stillAtSource: carried.stillAtSource } : {}) };
  deps.deliveries.record(delivery.deliveryId, outcome);
  if (tasks.length > 0) deps.queued();
  metrics.delivery(ignored !== undefined ? 'ignored' : 'accepted', tasks.length);
  log.info(`webhook delivery ${delivery.deliveryId}: ${ignored ?? `${tasks.length} task(s) queued, ${alreadyStaged} already staged`}`, about);
  return { status: 202, body: { deliveryId: delivery.deliveryId, ...outcome } };
}
